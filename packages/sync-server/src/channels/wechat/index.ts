import crypto from 'node:crypto';
import { z } from 'zod';
import { decideChannelWindow, type Inbox } from '@goutong/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ChannelProvider, ProviderDeps, SendContext, SendResult, SendVeto } from '../provider.js';
import type { StagedAttachment } from '../../domain/workspace.js';
import { findInbound } from '../../domain/channelFacts.js';
import { bindNonce, lastInteraction, WECHAT_NONCE_MIGRATION, WECHAT_TOKEN_MIGRATION } from '../../domain/wechat.js';
import { label, localized } from '../label.js';
import { MAX_ATTACHMENT_BYTES } from '../../attachments/store.js';
import { ApiError } from '../../errors.js';
import { egressFetch } from '../../net/egress.js';
import { signatureMatches, staleTimestamp, wechatDecrypt, WechatCryptoError } from '../wechat-common/crypto.js';
import { parseWechatXml, xmlText, XmlError, MAX_XML_BYTES } from '../wechat-common/xml.js';
import { WechatApi, multipartFile, type TokenSource } from '../wechat-common/api.js';
import { flatFields, mapWechatInbound, WechatInbound } from './inbound.js';

export { mapWechatInbound, WechatInbound, flatFields } from './inbound.js';

const HttpUrl = z
  .string()
  .url()
  .refine((u) => /^https?:\/\//i.test(u), 'http(s) only')
  .transform((u) => u.replace(/\/+$/, ''));

export const WechatOfficialConfig = z
  .object({
    /** 开发者ID(AppID), e.g. wx1234567890abcdef. */
    appId: z.string().regex(/^wx[0-9A-Za-z]{16}$/, 'an AppID: wx followed by 16 letters or digits').meta(label('AppID', '开发者ID (AppID)')),
    /** 消息加解密方式: plaintext 明文模式, compatible 兼容模式, safe 安全模式 (recommended). */
    encryptMode: z
      .enum(['plaintext', 'compatible', 'safe'])
      .default('safe')
      .meta(label('Message encryption', '消息加解密方式', localized('safe: every message AES-encrypted (recommended); compatible: both; plaintext: none. Use the same as in the Official Account settings.', 'safe 安全模式（推荐）、compatible 兼容模式、plaintext 明文模式：与公众号后台设置保持一致。'))),
    /** The WeChat API (default the real one; tests point it at a fake). */
    apiBaseUrl: HttpUrl.default('https://api.weixin.qq.com').meta(label('API base URL', 'API 地址')),
    /** Refuse callbacks whose signed timestamp is further than this from our clock (replays); 0 = off. */
    maxCallbackAgeSeconds: z.number().int().min(0).max(86_400).default(300).meta(label('Callback max age (s)', '回调最大时差（秒）', localized('Callbacks whose signed timestamp differs more from this server\'s clock are refused as replays; 0 turns the check off.', '签名时间戳与本服务器时钟相差超过此值的回调视为重放而拒绝；0 表示不检查。'))),
    timeoutMs: z.number().int().min(100).max(120_000).default(15_000).meta(label('Timeout (ms)', '超时（毫秒）')),
  })
  .meta(label('WeChat · Official Account 公众号', '微信 · 公众号'));
export type WechatOfficialConfig = z.infer<typeof WechatOfficialConfig>;

export const WechatOfficialSecrets = z
  .object({
    appSecret: z.string().min(1).max(256).meta(label('AppSecret', '开发者密码 (AppSecret)')),
    /** 令牌(Token): 3–32 letters or digits, the same as in the account's server configuration. */
    token: z.string().regex(/^[A-Za-z0-9]{3,32}$/, '3–32 letters or digits').meta(label('Token', '令牌 (Token)')),
    /** 消息加解密密钥: 43 characters; required in safe and compatible mode. */
    encodingAesKey: z.string().regex(/^[A-Za-z0-9]{43}$/, '43 letters or digits').meta(label('EncodingAESKey', '消息加解密密钥 (EncodingAESKey)')).optional(),
  })
  .meta(label('WeChat Official Account secrets', '公众号密钥'));
export type WechatOfficialSecrets = z.infer<typeof WechatOfficialSecrets>;

export type WechatInboundOutcome = 'stored' | 'duplicate' | 'ignored';

export interface WechatOfficialOptions {
  fetch?: typeof fetch;
  /** The clock of the reply window and the token cache (tests move it). */
  now?: () => number;
}

const WebhookQuery = z.object({
  signature: z.string().max(64).optional(),
  timestamp: z.string().regex(/^\d{1,13}$/).optional(),
  nonce: z.string().max(64).optional(),
  echostr: z.string().max(1024).optional(),
  openid: z.string().max(128).optional(),
  encrypt_type: z.string().max(16).optional(),
  msg_signature: z.string().max(64).optional(),
});

function tokenSource(cfg: WechatOfficialConfig, secrets: Record<string, string>): TokenSource {
  const q = new URLSearchParams({ grant_type: 'client_credential', appid: cfg.appId, secret: secrets.appSecret ?? '' });
  // Keyed by the account and a hash of its secret: a new AppSecret never reuses the old token.
  const h = crypto.createHash('sha256').update(secrets.appSecret ?? '').digest('hex').slice(0, 16);
  return { key: `wechat:${cfg.appId}:${h}`, tokenUrl: `${cfg.apiBaseUrl}/cgi-bin/token?${q.toString()}`, platform: 'WeChat' };
}

/**
 * WeChat Official Account (公众号): the server URL `/webhooks/wechat/{inboxId}` (GET: URL verification;
 * POST: messages and events, plaintext or AES-encrypted), media fetched with `media/get`, answers as
 * customer-service messages (`message/custom/send`, images uploaded with `media/upload`) inside the
 * 48-hour window (core rule `decideChannelWindow`).
 */
export function wechatOfficialProvider(opts: WechatOfficialOptions = {}): ChannelProvider {
  const doFetch = opts.fetch ?? egressFetch;
  const now = opts.now ?? Date.now;
  let deps: ProviderDeps | null = null;
  const apis = new Map<number, WechatApi>();
  const apiFor = (d: ProviderDeps, timeoutMs: number) => {
    let a = apis.get(timeoutMs);
    if (!a) {
      a = new WechatApi({ db: d.workspace.db, fetch: doFetch, timeoutMs, now });
      apis.set(timeoutMs, a);
    }
    return a;
  };

  async function fetchMedia(d: ProviderDeps, inbox: Inbox, cfg: WechatOfficialConfig, secrets: Record<string, string>, media: { mediaId: string; fallbackName: string; fallbackMime: string }): Promise<StagedAttachment> {
    const url = `${cfg.apiBaseUrl}/cgi-bin/media/get?media_id=${encodeURIComponent(media.mediaId)}`;
    const r = await apiFor(d, cfg.timeoutMs).download(tokenSource(cfg, secrets), url, MAX_ATTACHMENT_BYTES);
    if (!('bytes' in r)) throw new Error(r.ok ? 'no media' : r.outcome.reason);
    const mime = r.mime && r.mime !== 'application/octet-stream' ? r.mime : media.fallbackMime;
    const staged = d.attachments.stage(inbox.tenantId, r.bytes, { name: r.name ?? media.fallbackName, mime });
    return { id: staged.id, name: staged.name, mime: staged.mime, size: staged.size, sha256: staged.sha256 };
  }

  async function receive(d: ProviderDeps, inbox: Inbox, cfg: WechatOfficialConfig, secrets: Record<string, string>, m: WechatInbound): Promise<WechatInboundOutcome> {
    const mapped = mapWechatInbound(m);
    if (mapped.kind === 'ignored') return 'ignored';
    // Checked before fetching media; ingestInbound is idempotent on (inbox, externalId) for races.
    if (await findInbound(d.workspace.db, inbox.id, mapped.externalId)) return 'duplicate';
    const meta = { ...mapped.meta };
    const stagedAttachments: StagedAttachment[] = [];
    if (mapped.kind === 'message' && mapped.media) {
      try {
        stagedAttachments.push(await fetchMedia(d, inbox, cfg, secrets, mapped.media));
      } catch (e) {
        // Temporary media lives 3 days at WeChat: keep the message and the media id rather than lose it.
        meta.mediaError = (e as Error).message.slice(0, 300);
        d.logger.warn('wechat: media not fetched', { inbox: inbox.id, msgId: mapped.externalId, error: meta.mediaError });
      }
    }
    try {
      const res = await d.ingest(inbox, {
        externalId: mapped.externalId,
        from: { identifier: m.FromUserName },
        text: mapped.text,
        kind: mapped.kind === 'event' ? 'event' : mapped.msgKind,
        stagedAttachments,
        meta,
        sentAt: Number(m.CreateTime) * 1000,
      });
      return res.duplicate ? 'duplicate' : 'stored';
    } catch (e) {
      // WeChat retried while the first delivery was being stored: that one stored it.
      if (e instanceof ApiError && e.code === 'conflict') return 'duplicate';
      throw e;
    }
  }

  /** Posts a customer-service message; the platform answers only {errcode, errmsg}. */
  async function customSend(d: ProviderDeps, cfg: WechatOfficialConfig, secrets: Record<string, string>, body: Record<string, unknown>): Promise<SendResult> {
    const a = await apiFor(d, cfg.timeoutMs).call(tokenSource(cfg, secrets), `${cfg.apiBaseUrl}/cgi-bin/message/custom/send`, () => ({
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8' },
      // WeChat wants UTF-8 characters, not \u escapes (JSON.stringify keeps them as they are).
      body: JSON.stringify(body),
    }));
    return a.ok ? { kind: 'accepted', providerMessageId: null } : a.outcome;
  }

  async function uploadImage(d: ProviderDeps, cfg: WechatOfficialConfig, secrets: Record<string, string>, name: string, mime: string, bytes: Buffer): Promise<{ mediaId: string } | SendResult> {
    const a = await apiFor(d, cfg.timeoutMs).call(tokenSource(cfg, secrets), `${cfg.apiBaseUrl}/cgi-bin/media/upload?type=image`, () => {
      const mp = multipartFile('media', name, mime, bytes);
      return { method: 'POST', headers: { 'content-type': mp.contentType }, body: new Uint8Array(mp.body) };
    });
    if (!a.ok) return a.outcome;
    const id = a.json.media_id;
    if (typeof id !== 'string' || !id) return { kind: 'retry', reason: 'WeChat media/upload answered without media_id' };
    return { mediaId: id };
  }

  async function send(ctx: SendContext): Promise<SendResult> {
    const d = deps;
    if (!d) return { kind: 'retry', reason: 'WeChat provider not started yet' };
    const cfg = WechatOfficialConfig.parse(ctx.config);
    const openid = ctx.contact.identities.find((i) => i.channel === 'wechat')?.identifier;
    if (!openid) return { kind: 'rejected', reason: 'the contact has no WeChat openid', code: 'no_recipient' };
    const images = ctx.message.attachments.filter((a) => /^image\/(jpeg|png|gif|bmp)$/i.test(a.mime));
    const others = ctx.message.attachments.filter((a) => !images.includes(a));
    if (others.length > 0) {
      return { kind: 'rejected', reason: `WeChat customer-service messages carry text and images (jpg, png, gif, bmp); not sent: ${others.map((a) => a.name).join(', ')}`, code: 'unsupported_content' };
    }
    const text = ctx.message.text.trim();
    if (!text && images.length === 0) return { kind: 'rejected', reason: 'nothing to send', code: 'empty' };
    // Each part is its own message at WeChat. Nothing tells whether an earlier attempt got through, so
    // once one part went out a later failure is final (never resent twice).
    let sent = 0;
    const partFailed = (r: SendResult): SendResult =>
      sent === 0 || r.kind === 'accepted' ? r : { kind: 'rejected', reason: `${sent} part(s) were delivered, then: ${r.reason}`, code: r.kind === 'rejected' ? (r.code ?? 'partial') : 'partial' };
    if (text) {
      const r = await customSend(d, cfg, ctx.secrets, { touser: openid, msgtype: 'text', text: { content: text } });
      if (r.kind !== 'accepted') return r;
      sent++;
    }
    for (const img of images) {
      const bytes = await d.attachments.bytes(ctx.message.tenantId, img.id);
      if (!bytes) return partFailed({ kind: 'rejected', reason: `attachment ${img.name} is missing from the store`, code: 'attachment_missing' });
      if (bytes.length > 10 * 1024 * 1024) return partFailed({ kind: 'rejected', reason: `image ${img.name} exceeds WeChat's 10 MB`, code: 'too_large' });
      const up = await uploadImage(d, cfg, ctx.secrets, img.name, img.mime, bytes);
      if ('kind' in up) return partFailed(up);
      const r = await customSend(d, cfg, ctx.secrets, { touser: openid, msgtype: 'image', image: { media_id: up.mediaId } });
      if (r.kind !== 'accepted') return partFailed(r);
      sent++;
    }
    return { kind: 'accepted', providerMessageId: null };
  }

  /** The 48-hour window (core rule): a closed window fails the message with the reason, before anything is sent. */
  async function beforeSend(ctx: SendContext, d: ProviderDeps): Promise<SendVeto | null> {
    const last = await lastInteraction(d.workspace.db, ctx.inbox.id, ctx.contact.id);
    const w = decideChannelWindow('wechat_official', { lastUserInteractionAt: last.at, unsubscribed: last.event === 'unsubscribe', now: now() });
    return w.open ? null : { reason: w.reason, code: w.code };
  }

  return {
    channel: 'wechat',
    name: 'official',
    configSchema: WechatOfficialConfig as unknown as z.ZodType<Record<string, unknown>>,
    secretsSchema: WechatOfficialSecrets as unknown as z.ZodType<Record<string, string>>,
    migrations: [WECHAT_TOKEN_MIGRATION, WECHAT_NONCE_MIGRATION],
    send,
    beforeSend,
    async start(d) {
      deps = d;
      return { stop: async () => {} };
    },
    urls: ({ inbox }) => [
      {
        key: 'server',
        what: localized('Server URL (Official Account: Settings and Development › Basic configuration › Server configuration)', '服务器地址 URL（公众号：设置与开发 › 基本配置 › 服务器配置）'),
        method: 'POST',
        url: `/webhooks/wechat/${encodeURIComponent(inbox.id)}`,
      },
    ],
    openapi: {
      '/webhooks/wechat/{inboxId}': {
        get: {
          summary: 'WeChat Official Account URL verification: signature = sha1(sorted token, timestamp, nonce); answers echostr',
          tags: ['webhooks'],
          responses: { '200': { description: 'echostr (text/plain)' }, '403': { description: 'Bad signature' }, '404': { description: 'Unknown inbox' } },
        },
        post: {
          summary: 'WeChat Official Account messages and events (XML; safe mode: encrypt_type=aes, msg_signature, AES-256-CBC)',
          tags: ['webhooks'],
          responses: { '200': { description: 'success' }, '400': { description: 'Malformed XML' }, '403': { description: 'Bad signature' }, '404': { description: 'Unknown inbox' } },
        },
      },
    },
    routes(app: FastifyInstance, d: ProviderDeps) {
      deps ??= d;
      const notFound = (reply: FastifyReply) => reply.status(404).send({ error: 'not_found', message: 'no such WeChat inbox' });
      const bad = (reply: FastifyReply, message: string) => reply.status(400).send({ error: 'bad_request', message });
      const forbidden = (reply: FastifyReply, message: string) => reply.status(403).send({ error: 'forbidden', message });

      async function settingsOf(req: FastifyRequest<{ Params: { inboxId: string } }>) {
        const { inboxId } = req.params;
        if (!/^[A-Za-z0-9_.:-]{1,128}$/.test(inboxId)) return null;
        const s = await d.inboxSettings(inboxId).catch(() => null);
        if (!s || s.inbox.channel !== 'wechat' || s.inbox.provider !== 'official') return null;
        const cfg = WechatOfficialConfig.safeParse(s.config);
        const sec = WechatOfficialSecrets.safeParse(s.secrets);
        if (!cfg.success || !sec.success) return null;
        return { inbox: s.inbox, cfg: cfg.data, secrets: s.secrets, sec: sec.data };
      }

      app.get<{ Params: { inboxId: string } }>('/webhooks/wechat/:inboxId', async (req, reply) => {
        const s = await settingsOf(req);
        if (!s) return notFound(reply);
        const q = WebhookQuery.safeParse(req.query);
        if (!q.success || !q.data.timestamp || !q.data.nonce || q.data.echostr === undefined) return bad(reply, 'expected signature, timestamp, nonce and echostr');
        if (!signatureMatches(q.data.signature, [s.sec.token, q.data.timestamp, q.data.nonce])) {
          d.logger.warn('wechat: URL verification with a bad signature refused', { inbox: s.inbox.id });
          return forbidden(reply, 'bad signature');
        }
        if (staleTimestamp(q.data.timestamp, s.cfg.maxCallbackAgeSeconds, now())) return forbidden(reply, 'timestamp too far from the server clock');
        return reply.status(200).header('content-type', 'text/plain; charset=utf-8').send(q.data.echostr);
      });

      app.post<{ Params: { inboxId: string } }>('/webhooks/wechat/:inboxId', async (req, reply) => {
        const s = await settingsOf(req);
        if (!s) return notFound(reply);
        const q = WebhookQuery.safeParse(req.query);
        if (!q.success || !q.data.timestamp || !q.data.nonce) return bad(reply, 'expected signature, timestamp and nonce in the query');
        const { timestamp, nonce } = q.data;
        // Every POST carries `signature` (over token, timestamp, nonce), in every mode.
        if (!signatureMatches(q.data.signature, [s.sec.token, timestamp, nonce])) {
          d.logger.warn('wechat: callback with a bad signature refused', { inbox: s.inbox.id });
          return forbidden(reply, 'bad signature');
        }
        if (staleTimestamp(timestamp, s.cfg.maxCallbackAgeSeconds, now())) {
          d.logger.warn('wechat: callback with a stale timestamp refused', { inbox: s.inbox.id });
          return forbidden(reply, 'timestamp too far from the server clock');
        }
        const raw = Buffer.isBuffer(req.body) ? req.body.toString('utf8') : typeof req.body === 'string' ? req.body : (req.rawBody ?? '');
        if (!raw || raw.length > MAX_XML_BYTES) return bad(reply, 'expected an XML body');
        let outer;
        try {
          outer = parseWechatXml(raw);
        } catch (e) {
          return bad(reply, `malformed XML: ${(e as XmlError).message}`);
        }
        let fields: Record<string, string>;
        const encrypted = xmlText(outer, 'Encrypt');
        if (q.data.encrypt_type === 'aes' || (encrypted !== undefined && s.cfg.encryptMode === 'safe')) {
          if (!encrypted) return bad(reply, 'encrypt_type=aes without an Encrypt element');
          if (!s.sec.encodingAesKey) return forbidden(reply, 'this inbox has no EncodingAESKey: set it to receive encrypted messages');
          if (!signatureMatches(q.data.msg_signature, [s.sec.token, timestamp, nonce, encrypted])) {
            d.logger.warn('wechat: encrypted callback with a bad msg_signature refused', { inbox: s.inbox.id });
            return forbidden(reply, 'bad msg_signature');
          }
          try {
            const plain = wechatDecrypt(s.sec.encodingAesKey, encrypted, s.cfg.appId);
            fields = flatFields(parseWechatXml(plain.message));
          } catch (e) {
            if (e instanceof WechatCryptoError) {
              d.logger.warn('wechat: message does not decrypt for this account', { inbox: s.inbox.id, code: e.code });
              return forbidden(reply, e.code === 'bad_receive_id' ? 'the message is for another AppID' : 'the message does not decrypt with this EncodingAESKey');
            }
            return bad(reply, `malformed XML in Encrypt: ${(e as Error).message}`);
          }
        } else {
          // Safe mode never accepts plaintext: an attacker who strips the encryption gets nowhere.
          if (s.cfg.encryptMode === 'safe') return forbidden(reply, 'this inbox is in safe mode: plaintext messages are refused');
          // The signature does not cover a plaintext body: bind the body to its signed (timestamp, nonce).
          const bodyHash = crypto.createHash('sha256').update(raw).digest('hex');
          if (!(await bindNonce(d.workspace.db, `${s.inbox.id}:${timestamp}:${nonce}`, bodyHash, now(), 2 * 86_400_000))) {
            d.logger.warn('wechat: signed parameters replayed with another body refused', { inbox: s.inbox.id });
            return forbidden(reply, 'these signed parameters came with another body before');
          }
          fields = flatFields(outer);
        }
        const m = WechatInbound.safeParse(fields);
        if (!m.success) {
          // An unknown message type or a shape we do not read: acknowledge (WeChat would retry) without storing.
          d.logger.info('wechat: message type not handled', { inbox: s.inbox.id, msgType: fields.MsgType ?? null });
          return reply.status(200).header('content-type', 'text/plain; charset=utf-8').send('success');
        }
        if (q.data.openid && q.data.openid !== m.data.FromUserName) return forbidden(reply, 'openid does not match the message sender');
        const outcome = await receive(d, s.inbox, s.cfg, s.secrets, m.data);
        d.logger.debug('wechat: callback', { inbox: s.inbox.id, outcome });
        // "success" (or an empty body) tells WeChat not to retry and not to show "该公众号暂时无法提供服务".
        return reply.status(200).header('content-type', 'text/plain; charset=utf-8').send('success');
      });
    },
  };
}

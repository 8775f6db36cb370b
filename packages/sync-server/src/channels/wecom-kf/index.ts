import crypto from 'node:crypto';
import { z } from 'zod';
import { decideChannelWindow, type Inbox } from '@goutong/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ChannelProvider, ProviderDeps, SendContext, SendResult, SendVeto } from '../provider.js';
import type { StagedAttachment } from '../../domain/workspace.js';
import { contactNameByIdentity, findInbound } from '../../domain/channelFacts.js';
import { advanceKfCursor, claimKfCursor, lastInteraction, releaseKfCursor, WECOM_KF_CURSOR_MIGRATION } from '../../domain/wechat.js';
import { label, localized } from '../label.js';
import { MAX_ATTACHMENT_BYTES } from '../../attachments/store.js';
import { ApiError } from '../../errors.js';
import { egressFetch } from '../../net/egress.js';
import { signatureMatches, staleTimestamp, wechatDecrypt, WechatCryptoError } from '../wechat-common/crypto.js';
import { parseWechatXml, xmlText, MAX_XML_BYTES } from '../wechat-common/xml.js';
import { WechatApi, multipartFile, type TokenSource } from '../wechat-common/api.js';
import { KF_STATES, KfMessage, mapKfMessage, ServiceStateAnswer, SyncMsgAnswer } from './protocol.js';

export { mapKfMessage, KfMessage, KF_STATES } from './protocol.js';

const HttpUrl = z
  .string()
  .url()
  .refine((u) => /^https?:\/\//i.test(u), 'http(s) only')
  .transform((u) => u.replace(/\/+$/, ''));

export const WecomKfConfig = z
  .object({
    /** 企业ID (CorpID), e.g. ww1436e0e65a779aee. */
    corpId: z.string().regex(/^w[wx][0-9A-Za-z]{16}$/, 'a CorpID: ww followed by 16 letters or digits').meta(label('CorpID', '企业ID (CorpID)')),
    /** The customer-service account of this inbox (客服账号ID), e.g. wkAJ2GCAAASSm4_FhToWMFea0xAFfd3Q. */
    openKfId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'an open_kfid').meta(label('Customer-service account (open_kfid)', '客服账号ID (open_kfid)')),
    /** The WeCom API (default the real one; tests point it at a fake). */
    apiBaseUrl: HttpUrl.default('https://qyapi.weixin.qq.com').meta(label('API base URL', 'API 地址')),
    /**
     * Before sending, take an untreated session (state 0) for the API (state 1, "smart assistant");
     * sessions a human servicer holds in WeCom (2, 3) are never taken over.
     */
    claimUntreatedSessions: z.boolean().default(true).meta(label('Take untreated sessions', '接管未处理的会话')),
    /** Refuse callbacks whose signed timestamp is further than this from our clock (replays); 0 = off. */
    maxCallbackAgeSeconds: z.number().int().min(0).max(86_400).default(300).meta(label('Callback max age (s)', '回调最大时差（秒）', localized('Callbacks whose signed timestamp differs more from this server\'s clock are refused as replays; 0 turns the check off.', '签名时间戳与本服务器时钟相差超过此值的回调视为重放而拒绝；0 表示不检查。'))),
    timeoutMs: z.number().int().min(100).max(120_000).default(15_000).meta(label('Timeout (ms)', '超时（毫秒）')),
  })
  .meta(label('WeChat · Customer Service (WeCom) 微信客服', '微信 · 微信客服（企业微信）'));
export type WecomKfConfig = z.infer<typeof WecomKfConfig>;

export const WecomKfSecrets = z
  .object({
    /** The Secret of 微信客服 (应用管理 › 微信客服 › API). */
    secret: z.string().min(1).max(256).meta(label('Secret', 'Secret')),
    /** The callback's Token (3–32 letters or digits). */
    token: z.string().regex(/^[A-Za-z0-9]{3,32}$/, '3–32 letters or digits').meta(label('Token', 'Token')),
    /** The callback's EncodingAESKey (43 characters). */
    encodingAesKey: z.string().regex(/^[A-Za-z0-9]{43}$/, '43 letters or digits').meta(label('EncodingAESKey', 'EncodingAESKey')),
  })
  .meta(label('WeChat Customer Service secrets', '微信客服密钥'));

export interface WecomKfOptions {
  fetch?: typeof fetch;
  now?: () => number;
  /** The pull lease (ms) and how long a callback waits for another process's pull to end. */
  leaseMs?: number;
}

const CustomerList = z.looseObject({
  customer_list: z.array(z.looseObject({ external_userid: z.string(), nickname: z.string().max(400).optional() })).max(100).default([]),
});

const CallbackQuery = z.object({
  msg_signature: z.string().max(64).optional(),
  timestamp: z.string().regex(/^\d{1,13}$/).optional(),
  nonce: z.string().max(64).optional(),
  echostr: z.string().max(2048).optional(),
});

function tokenSource(cfg: WecomKfConfig, secrets: Record<string, string>): TokenSource {
  const q = new URLSearchParams({ corpid: cfg.corpId, corpsecret: secrets.secret ?? '' });
  const h = crypto.createHash('sha256').update(secrets.secret ?? '').digest('hex').slice(0, 16);
  return { key: `wecom:${cfg.corpId}:${h}`, tokenUrl: `${cfg.apiBaseUrl}/cgi-bin/gettoken?${q.toString()}`, platform: 'WeCom' };
}

/** A caller-chosen send_msg msgid (≤ 32 of [0-9a-zA-Z_-]) derived from the message's idempotency key and the part. */
export function kfMsgId(idempotencyKey: string, part: number): string {
  return crypto.createHash('sha256').update(`${idempotencyKey}#${part}`).digest('hex').slice(0, 32);
}

/**
 * WeChat Customer Service (微信客服) through WeCom: the callback `/webhooks/wecom-kf/{inboxId}` says
 * when to pull; messages come from `kf/sync_msg` with a durable cursor per inbox (leased, so one
 * process pulls at a time); answers go out with `kf/send_msg` after the session state allows it.
 */
export function wecomKfProvider(opts: WecomKfOptions = {}): ChannelProvider {
  const doFetch = opts.fetch ?? egressFetch;
  const now = opts.now ?? Date.now;
  const leaseMs = opts.leaseMs ?? 60_000;
  const owner = `kf-${crypto.randomBytes(6).toString('hex')}`;
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
  /** Pulls running in this process, per inbox; `again` when a callback arrived during one. */
  const pulls = new Map<string, { again: { token: string | null } | null; done: Promise<void> }>();
  let stopped = false;

  async function fetchMedia(d: ProviderDeps, inbox: Inbox, cfg: WecomKfConfig, secrets: Record<string, string>, media: { mediaId: string; fallbackName: string; fallbackMime: string }): Promise<StagedAttachment> {
    const r = await apiFor(d, cfg.timeoutMs).download(tokenSource(cfg, secrets), `${cfg.apiBaseUrl}/cgi-bin/media/get?media_id=${encodeURIComponent(media.mediaId)}`, MAX_ATTACHMENT_BYTES);
    if (!('bytes' in r)) throw new Error(r.ok ? 'no media' : r.outcome.reason);
    const mime = r.mime && r.mime !== 'application/octet-stream' ? r.mime : media.fallbackMime;
    const staged = d.attachments.stage(inbox.tenantId, r.bytes, { name: r.name ?? media.fallbackName, mime });
    return { id: staged.id, name: staged.name, mime: staged.mime, size: staged.size, sha256: staged.sha256 };
  }

  /** Customers' nicknames from kf/customer/batchget (null: unknown), for 10 minutes. */
  const names = new Map<string, { name: string | null; at: number }>();
  async function nickname(d: ProviderDeps, inbox: Inbox, cfg: WecomKfConfig, secrets: Record<string, string>, user: string): Promise<string | undefined> {
    const known = await contactNameByIdentity(d.workspace.db, inbox.tenantId, 'wechat', user);
    if (known !== null && known !== user) return undefined;
    const key = `${inbox.id}:${user}`;
    const hit = names.get(key);
    if (hit && now() - hit.at < 600_000) return hit.name ?? undefined;
    const a = await apiFor(d, Math.min(cfg.timeoutMs, 5000)).call(tokenSource(cfg, secrets), `${cfg.apiBaseUrl}/cgi-bin/kf/customer/batchget`, () => ({
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify({ external_userid_list: [user], need_enter_session_context: 0 }),
    }));
    let name: string | null = null;
    if (a.ok) {
      const list = CustomerList.safeParse(a.json);
      const c = list.success ? list.data.customer_list.find((x) => x.external_userid === user) : undefined;
      name = c?.nickname?.trim().slice(0, 200) || null;
    }
    if (names.size > 5000) names.clear();
    names.set(key, { name, at: now() });
    return name ?? undefined;
  }

  async function store(d: ProviderDeps, inbox: Inbox, cfg: WecomKfConfig, secrets: Record<string, string>, m: KfMessage): Promise<'stored' | 'duplicate' | 'ignored'> {
    if (m.open_kfid && m.open_kfid !== cfg.openKfId) return 'ignored';
    const mapped = mapKfMessage(m);
    if (mapped.kind === 'ignored') return 'ignored';
    if (await findInbound(d.workspace.db, inbox.id, m.msgid)) return 'duplicate';
    const meta = { ...mapped.meta };
    const stagedAttachments: StagedAttachment[] = [];
    if (mapped.kind === 'message' && mapped.media) {
      try {
        stagedAttachments.push(await fetchMedia(d, inbox, cfg, secrets, mapped.media));
      } catch (e) {
        meta.mediaError = (e as Error).message.slice(0, 300);
        d.logger.warn('wecom-kf: media not fetched', { inbox: inbox.id, msgid: m.msgid, error: meta.mediaError });
      }
    }
    const name = await nickname(d, inbox, cfg, secrets, mapped.externalUserId).catch(() => undefined);
    try {
      const res = await d.ingest(inbox, {
        externalId: m.msgid,
        from: { identifier: mapped.externalUserId, ...(name ? { name } : {}) },
        text: mapped.text,
        kind: mapped.kind === 'event' ? 'event' : mapped.msgKind,
        stagedAttachments,
        meta,
        sentAt: m.send_time ? m.send_time * 1000 : undefined,
      });
      return res.duplicate ? 'duplicate' : 'stored';
    } catch (e) {
      if (e instanceof ApiError && e.code === 'conflict') return 'duplicate';
      throw e;
    }
  }

  /**
   * Pulls every page since the stored cursor: each page's messages are stored before its
   * next_cursor is saved, so a crash mid-way pulls that page again (stored once by msgid).
   */
  async function pullOnce(d: ProviderDeps, inboxId: string, syncToken: string | null): Promise<{ stored: number; pages: number } | null> {
    const s = await d.inboxSettings(inboxId);
    if (!s || s.inbox.channel !== 'wechat' || s.inbox.provider !== 'wecom-kf') return null;
    const cfg = WecomKfConfig.parse(s.config);
    const db = d.workspace.db;
    const claim = await claimKfCursor(db, inboxId, cfg.openKfId, owner, now(), leaseMs);
    if (!claim) return null;
    let cursor = claim.cursor;
    let stored = 0;
    let pages = 0;
    try {
      for (;;) {
        const body = { cursor: cursor ?? '', ...(syncToken ? { token: syncToken } : {}), limit: 1000, voice_format: 0, open_kfid: cfg.openKfId };
        const a = await apiFor(d, cfg.timeoutMs).call(tokenSource(cfg, s.secrets), `${cfg.apiBaseUrl}/cgi-bin/kf/sync_msg`, () => ({
          method: 'POST',
          headers: { 'content-type': 'application/json; charset=utf-8' },
          body: JSON.stringify(body),
        }));
        if (!a.ok) {
          d.logger.warn('wecom-kf: sync_msg failed', { inbox: inboxId, reason: a.outcome.reason });
          break;
        }
        const page = SyncMsgAnswer.safeParse(a.json);
        if (!page.success) {
          d.logger.warn('wecom-kf: sync_msg answer not understood', { inbox: inboxId });
          break;
        }
        pages++;
        for (const raw of page.data.msg_list) {
          const m = KfMessage.safeParse(raw);
          if (!m.success) {
            d.logger.warn('wecom-kf: a pulled message was not understood', { inbox: inboxId });
            continue;
          }
          if ((await store(d, s.inbox, cfg, s.secrets, m.data)) === 'stored') stored++;
        }
        const next = page.data.next_cursor;
        if (next && next !== cursor) {
          if (!(await advanceKfCursor(db, inboxId, cfg.openKfId, owner, next, now(), leaseMs))) {
            d.logger.warn('wecom-kf: lost the pull lease', { inbox: inboxId });
            return { stored, pages };
          }
          cursor = next;
        }
        if (page.data.has_more !== 1 || stopped) break;
      }
    } finally {
      await releaseKfCursor(db, inboxId, cfg.openKfId, owner).catch(() => undefined);
    }
    return { stored, pages };
  }

  /** Pull now, or after the pull running in this process (a callback during a pull is never lost). */
  function schedulePull(d: ProviderDeps, inboxId: string, syncToken: string | null): Promise<void> {
    const running = pulls.get(inboxId);
    if (running) {
      running.again = { token: syncToken };
      return running.done;
    }
    const entry: { again: { token: string | null } | null; done: Promise<void> } = { again: null, done: Promise.resolve() };
    entry.done = (async () => {
      let token = syncToken;
      for (let round = 0; round < 50 && !stopped; round++) {
        let r = await pullOnce(d, inboxId, token);
        // Another process holds the lease: wait for it, then pull what arrived after its last page.
        for (let wait = 0; r === null && wait < 20 && !stopped; wait++) {
          await new Promise((res) => setTimeout(res, Math.min(250, leaseMs / 4)));
          r = await pullOnce(d, inboxId, token);
        }
        if (!entry.again) break;
        token = entry.again.token ?? token;
        entry.again = null;
      }
    })()
      .catch((e: unknown) => d.logger.error('wecom-kf: pull failed', { inbox: inboxId, error: String(e) }))
      .finally(() => pulls.delete(inboxId));
    pulls.set(inboxId, entry);
    return entry.done;
  }

  async function sessionAllowsSend(d: ProviderDeps, cfg: WecomKfConfig, secrets: Record<string, string>, user: string): Promise<SendResult | null> {
    const api = apiFor(d, cfg.timeoutMs);
    const src = tokenSource(cfg, secrets);
    const post = (body: unknown) => () => ({ method: 'POST', headers: { 'content-type': 'application/json; charset=utf-8' }, body: JSON.stringify(body) });
    const got = await api.call(src, `${cfg.apiBaseUrl}/cgi-bin/kf/service_state/get`, post({ open_kfid: cfg.openKfId, external_userid: user }));
    if (!got.ok) return got.outcome;
    const st = ServiceStateAnswer.safeParse(got.json);
    if (!st.success) return { kind: 'retry', reason: 'WeCom service_state/get answered without service_state' };
    const state = st.data.service_state;
    if (state === 2 || state === 3) {
      return {
        kind: 'rejected',
        reason: `WeChat Customer Service: the session is ${KF_STATES[state]}${st.data.servicer_userid ? ` (${st.data.servicer_userid})` : ''}; answer in WeCom, or end that session there first`,
        code: 'kf_session_taken',
      };
    }
    if (state === 0 && cfg.claimUntreatedSessions) {
      const t = await api.call(src, `${cfg.apiBaseUrl}/cgi-bin/kf/service_state/trans`, post({ open_kfid: cfg.openKfId, external_userid: user, service_state: 1 }));
      if (!t.ok) return t.outcome;
    }
    return null;
  }

  async function sendMsg(d: ProviderDeps, cfg: WecomKfConfig, secrets: Record<string, string>, body: Record<string, unknown>): Promise<SendResult> {
    const a = await apiFor(d, cfg.timeoutMs).call(tokenSource(cfg, secrets), `${cfg.apiBaseUrl}/cgi-bin/kf/send_msg`, () => ({
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify(body),
    }));
    if (!a.ok) return a.outcome;
    return { kind: 'accepted', providerMessageId: typeof a.json.msgid === 'string' ? a.json.msgid : null };
  }

  async function send(ctx: SendContext): Promise<SendResult> {
    const d = deps;
    if (!d) return { kind: 'retry', reason: 'WeCom customer-service provider not started yet' };
    const cfg = WecomKfConfig.parse(ctx.config);
    const user = ctx.contact.identities.find((i) => i.channel === 'wechat')?.identifier;
    if (!user) return { kind: 'rejected', reason: 'the contact has no WeChat external_userid', code: 'no_recipient' };
    const images = ctx.message.attachments.filter((a) => /^image\/(jpeg|png|gif|bmp)$/i.test(a.mime));
    const others = ctx.message.attachments.filter((a) => !images.includes(a));
    if (others.length > 0) return { kind: 'rejected', reason: `WeChat Customer Service messages carry text and images here; not sent: ${others.map((a) => a.name).join(', ')}`, code: 'unsupported_content' };
    const text = ctx.message.text.trim();
    if (!text && images.length === 0) return { kind: 'rejected', reason: 'nothing to send', code: 'empty' };
    const session = await sessionAllowsSend(d, cfg, ctx.secrets, user);
    if (session) return session;
    // Every part carries a msgid derived from the message: a retry of the same part is the same msgid.
    let part = 0;
    let first: string | null = null;
    if (text) {
      const r = await sendMsg(d, cfg, ctx.secrets, { touser: user, open_kfid: cfg.openKfId, msgid: kfMsgId(ctx.idempotencyKey, part++), msgtype: 'text', text: { content: text } });
      if (r.kind !== 'accepted') return r;
      first = r.providerMessageId;
    }
    for (const img of images) {
      const bytes = await d.attachments.bytes(ctx.message.tenantId, img.id);
      if (!bytes) return { kind: 'rejected', reason: `attachment ${img.name} is missing from the store`, code: 'attachment_missing' };
      if (bytes.length > 10 * 1024 * 1024) return { kind: 'rejected', reason: `image ${img.name} exceeds WeCom's 10 MB`, code: 'too_large' };
      const up = await apiFor(d, cfg.timeoutMs).call(tokenSource(cfg, ctx.secrets), `${cfg.apiBaseUrl}/cgi-bin/media/upload?type=image`, () => {
        const mp = multipartFile('media', img.name, img.mime, bytes);
        return { method: 'POST', headers: { 'content-type': mp.contentType }, body: new Uint8Array(mp.body) };
      });
      if (!up.ok) return up.outcome;
      const mediaId = up.json.media_id;
      if (typeof mediaId !== 'string' || !mediaId) return { kind: 'retry', reason: 'WeCom media/upload answered without media_id' };
      const r = await sendMsg(d, cfg, ctx.secrets, { touser: user, open_kfid: cfg.openKfId, msgid: kfMsgId(ctx.idempotencyKey, part++), msgtype: 'image', image: { media_id: mediaId } });
      if (r.kind !== 'accepted') return r;
      first ??= r.providerMessageId;
    }
    return { kind: 'accepted', providerMessageId: first };
  }

  async function beforeSend(ctx: SendContext, d: ProviderDeps): Promise<SendVeto | null> {
    const last = await lastInteraction(d.workspace.db, ctx.inbox.id, ctx.contact.id, { messagesOnly: true });
    const w = decideChannelWindow('wecom_kf', { lastUserInteractionAt: last.at, sentSinceInteraction: last.sentSince, now: now() });
    return w.open ? null : { reason: w.reason, code: w.code };
  }

  return {
    channel: 'wechat',
    name: 'wecom-kf',
    configSchema: WecomKfConfig as unknown as z.ZodType<Record<string, unknown>>,
    secretsSchema: WecomKfSecrets as unknown as z.ZodType<Record<string, string>>,
    migrations: [WECOM_KF_CURSOR_MIGRATION],
    send,
    beforeSend,
    async start(d) {
      deps = d;
      stopped = false;
      return {
        stop: async () => {
          stopped = true;
          await Promise.all([...pulls.values()].map((p) => p.done));
        },
      };
    },
    urls: ({ inbox }) => [
      {
        key: 'callback',
        what: localized('Callback URL (WeCom admin › WeChat Customer Service › API › callback)', '回调 URL（企业微信管理后台 › 微信客服 › API › 接收事件服务器）'),
        method: 'POST',
        url: `/webhooks/wecom-kf/${encodeURIComponent(inbox.id)}`,
      },
    ],
    openapi: {
      '/webhooks/wecom-kf/{inboxId}': {
        get: {
          summary: 'WeCom callback URL verification: msg_signature = sha1(sorted token, timestamp, nonce, echostr); answers the decrypted echostr',
          tags: ['webhooks'],
          responses: { '200': { description: 'the decrypted echostr' }, '403': { description: 'Bad signature' }, '404': { description: 'Unknown inbox' } },
        },
        post: {
          summary: 'WeCom callback (encrypted XML); kf_msg_or_event starts a sync_msg pull from the stored cursor',
          tags: ['webhooks'],
          responses: { '200': { description: 'success' }, '400': { description: 'Malformed' }, '403': { description: 'Bad signature' }, '404': { description: 'Unknown inbox' } },
        },
      },
    },
    routes(app: FastifyInstance, d: ProviderDeps) {
      deps ??= d;
      const notFound = (reply: FastifyReply) => reply.status(404).send({ error: 'not_found', message: 'no such WeCom customer-service inbox' });
      const bad = (reply: FastifyReply, message: string) => reply.status(400).send({ error: 'bad_request', message });
      const forbidden = (reply: FastifyReply, message: string) => reply.status(403).send({ error: 'forbidden', message });

      async function settingsOf(req: FastifyRequest<{ Params: { inboxId: string } }>) {
        const { inboxId } = req.params;
        if (!/^[A-Za-z0-9_.:-]{1,128}$/.test(inboxId)) return null;
        const s = await d.inboxSettings(inboxId).catch(() => null);
        if (!s || s.inbox.channel !== 'wechat' || s.inbox.provider !== 'wecom-kf') return null;
        const cfg = WecomKfConfig.safeParse(s.config);
        const sec = WecomKfSecrets.safeParse(s.secrets);
        if (!cfg.success || !sec.success) return null;
        return { inbox: s.inbox, cfg: cfg.data, sec: sec.data };
      }

      app.get<{ Params: { inboxId: string } }>('/webhooks/wecom-kf/:inboxId', async (req, reply) => {
        const s = await settingsOf(req);
        if (!s) return notFound(reply);
        const q = CallbackQuery.safeParse(req.query);
        if (!q.success || !q.data.timestamp || !q.data.nonce || !q.data.echostr) return bad(reply, 'expected msg_signature, timestamp, nonce and echostr');
        if (!signatureMatches(q.data.msg_signature, [s.sec.token, q.data.timestamp, q.data.nonce, q.data.echostr])) return forbidden(reply, 'bad msg_signature');
        if (staleTimestamp(q.data.timestamp, s.cfg.maxCallbackAgeSeconds, now())) return forbidden(reply, 'timestamp too far from the server clock');
        try {
          const plain = wechatDecrypt(s.sec.encodingAesKey, q.data.echostr, s.cfg.corpId);
          return reply.status(200).header('content-type', 'text/plain; charset=utf-8').send(plain.message);
        } catch (e) {
          if (e instanceof WechatCryptoError) return forbidden(reply, 'echostr does not decrypt for this CorpID and EncodingAESKey');
          throw e;
        }
      });

      app.post<{ Params: { inboxId: string } }>('/webhooks/wecom-kf/:inboxId', async (req, reply) => {
        const s = await settingsOf(req);
        if (!s) return notFound(reply);
        const q = CallbackQuery.safeParse(req.query);
        if (!q.success || !q.data.timestamp || !q.data.nonce) return bad(reply, 'expected msg_signature, timestamp and nonce in the query');
        const raw = Buffer.isBuffer(req.body) ? req.body.toString('utf8') : typeof req.body === 'string' ? req.body : (req.rawBody ?? '');
        if (!raw || raw.length > MAX_XML_BYTES) return bad(reply, 'expected an XML body');
        let encrypted: string | undefined;
        try {
          encrypted = xmlText(parseWechatXml(raw), 'Encrypt');
        } catch (e) {
          return bad(reply, `malformed XML: ${(e as Error).message}`);
        }
        if (!encrypted) return bad(reply, 'expected an Encrypt element');
        if (!signatureMatches(q.data.msg_signature, [s.sec.token, q.data.timestamp, q.data.nonce, encrypted])) {
          d.logger.warn('wecom-kf: callback with a bad msg_signature refused', { inbox: s.inbox.id });
          return forbidden(reply, 'bad msg_signature');
        }
        if (staleTimestamp(q.data.timestamp, s.cfg.maxCallbackAgeSeconds, now())) return forbidden(reply, 'timestamp too far from the server clock');
        let ev: Record<string, string>;
        try {
          const node = parseWechatXml(wechatDecrypt(s.sec.encodingAesKey, encrypted, s.cfg.corpId).message);
          ev = Object.fromEntries(Object.entries(node).filter((e): e is [string, string] => typeof e[1] === 'string'));
        } catch (e) {
          if (e instanceof WechatCryptoError) return forbidden(reply, 'the callback does not decrypt for this CorpID and EncodingAESKey');
          return bad(reply, `malformed XML in Encrypt: ${(e as Error).message}`);
        }
        if (ev.MsgType === 'event' && ev.Event === 'kf_msg_or_event') {
          const token = ev.Token && /^[A-Za-z0-9_-]{1,256}$/.test(ev.Token) ? ev.Token : null;
          if (!ev.OpenKfId || ev.OpenKfId === s.cfg.openKfId) {
            // Answer at once (WeCom waits 5 s); the pull runs on, from the durable cursor.
            void schedulePull(d, s.inbox.id, token);
          }
        }
        return reply.status(200).header('content-type', 'text/plain; charset=utf-8').send('success');
      });
    },
  };
}

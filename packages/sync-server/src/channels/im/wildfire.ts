import { z } from 'zod';
import type { Inbox } from '@goutong/core';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ChannelProvider, ProviderDeps, SendContext, SendResult } from '../provider.js';
import type { StagedAttachment } from '../../domain/workspace.js';
import { contactNameByIdentity, findInbound, findOutgoing } from '../../domain/channelFacts.js';
import { label, localized } from '../label.js';
import { randomToken, safeEqual } from '../../auth/crypto.js';
import { MAX_ATTACHMENT_BYTES } from '../../attachments/store.js';
import { ApiError } from '../../errors.js';
import { Cidr, cidrMatcher } from './cidr.js';
import { callWildfire, parseWildfireJson, SendMessageResult, wildfireFailure } from './wildfireApi.js';
import { mapPayload, mediaMime, mediaName, WfOutputMessage, type MappedInbound } from './wildfirePayload.js';
import { egressFetch } from '../../net/egress.js';

const HttpUrl = z
  .string()
  .url()
  .refine((u) => /^https?:\/\//i.test(u), 'http(s) only')
  .transform((u) => u.replace(/\/+$/, ''));

export const WildfireConfig = z
  .object({
    /** The Server (admin) API, e.g. http://im.internal:18080 (keep port 18080 on a private network). */
    serverApiBaseUrl: HttpUrl.meta(label('Server API URL', 'Server API 地址')),
    /** The robot customers talk to; inbound 1:1 chats are those addressed to it, replies go out as it. */
    robotId: z.string().min(1).max(64).meta(label('Robot id', '机器人 ID')).optional(),
    /** The user id replies are sent as through the admin API (default: robotId). */
    senderId: z.string().min(1).max(64).meta(label('Sender id', '发送者 ID')).optional(),
    /** `admin`: POST /admin/message/send (admin secret, any sender); `robot`: POST /robot/message/send (robot secret, header rid). */
    sendVia: z.enum(['admin', 'robot']).default('admin').meta(label('Send via', '发送方式', localized('admin: the Server API with the admin secret; robot: the Robot API with the robot secret.', 'admin：用管理密钥调用 Server API；robot：用机器人密钥调用 Robot API。'))),
    /** The Robot API (the IM server's public HTTP port, default 80); required with sendVia robot. */
    robotApiBaseUrl: HttpUrl.meta(label('Robot API URL', 'Robot API 地址')).optional(),
    /** Accept callbacks only from these source addresses (checked against the socket's address, not X-Forwarded-For). */
    allowedSourceCidrs: z.array(Cidr).max(100).meta(label('Allowed source addresses (CIDR)', '允许的来源地址（CIDR）', localized('Accept callbacks only from these addresses (the socket address, not X-Forwarded-For).', '只接受来自这些地址的回调（按连接地址判断，不看 X-Forwarded-For）。'))).optional(),
    /** Group messages (to a group the robot is in) become one conversation per group; off by default. */
    acceptGroupMessages: z.boolean().default(false).meta(label('Accept group messages', '接收群消息')),
    /** When set, media is fetched only from URLs starting with one of these (the IM server's media/OSS host). */
    mediaUrlPrefixes: z.array(HttpUrl).max(20).meta(label('Media URL prefixes', '媒体地址前缀')).optional(),
    timeoutMs: z.number().int().min(100).max(120_000).default(15_000).meta(label('Timeout (ms)', '超时（毫秒）')),
  })
  .meta(label('IM · WildfireChat 野火IM', '即时通讯 · 野火IM'))
  .refine((c) => Boolean(c.robotId || c.senderId), { message: 'set robotId (or senderId): the account customers write to and replies come from', path: ['robotId'] })
  .refine((c) => c.sendVia !== 'robot' || Boolean(c.robotId && c.robotApiBaseUrl), { message: 'sendVia robot needs robotId and robotApiBaseUrl', path: ['sendVia'] });
export type WildfireConfig = z.infer<typeof WildfireConfig>;

export const WildfireSecrets = z
  .object({
    /** `http.admin.secret_key` of wildfirechat.conf. */
    adminSecret: z.string().min(1).max(256).meta(label('Admin secret', '管理密钥')),
    /** The robot's secret (Robot API, sendVia robot). */
    robotSecret: z.string().min(1).max(256).meta(label('Robot secret', '机器人密钥')).optional(),
    /** The path token of the callback URL (the IM server signs nothing it posts); generated when absent. */
    callbackToken: z.string().regex(/^[A-Za-z0-9_-]{16,128}$/, '16–128 characters of A–Z, a–z, 0–9, _ and -').meta(label('Callback token', '回调令牌')).optional(),
  })
  .meta(label('WildfireChat secrets', '野火IM 密钥'))
  .transform((s) => ({ ...s, callbackToken: s.callbackToken ?? randomToken(24) }));

export type WildfireInboundResult = 'stored' | 'duplicate' | 'echo' | 'ignored';

export interface WildfireOptions {
  fetch?: typeof fetch;
  /** Time allowed for fetching one media file while the callback waits. */
  mediaTimeoutMs?: number;
}

/** The account ids that are "us" on this inbox: messages from them are our own (echoes). */
function ownIds(cfg: WildfireConfig): Set<string> {
  return new Set([cfg.robotId, cfg.senderId].filter((x): x is string => Boolean(x)));
}

/** The conversation a reply goes to: the group for a group contact, else the contact (1:1, target = the user). */
export function replyTarget(identifier: string): { type: number; target: string; line: number } {
  return identifier.startsWith('group:') ? { type: 1, target: identifier.slice('group:'.length), line: 0 } : { type: 0, target: identifier, line: 0 };
}

/**
 * WildfireChat (野火IM): an `im` inbox whose customers write to a robot (or a service account).
 * Inbound: the robot's callback URL or the server's `message.forward.url`, both set to
 * `{base}/webhooks/wildfire/{inboxId}/{callbackToken}`. Outbound: `/admin/message/send` (or
 * `/robot/message/send`) with the nonce/timestamp/sign headers.
 */
export function wildfireProvider(opts: WildfireOptions = {}): ChannelProvider {
  const doFetch = opts.fetch ?? egressFetch;
  // im-server posts callbacks with OkHttp's async client (win/liyufan/im/HttpUtils.java: enqueue, default
  // 10 s read timeout, 5 concurrent calls per host): fetch media inline but answer within that budget.
  // Past it the message is still stored (the handler runs on); the IM server only logs a timeout.
  const mediaTimeoutMs = opts.mediaTimeoutMs ?? 8_000;
  /** Display names looked up with /admin/user/get_info (null: lookup failed), for 10 minutes. */
  const names = new Map<string, { name: string | null; at: number }>();

  async function send(ctx: SendContext): Promise<SendResult> {
    const cfg = WildfireConfig.parse(ctx.config);
    const identifier = ctx.contact.identities.find((i) => i.channel === 'im')?.identifier;
    if (!identifier) return { kind: 'rejected', reason: 'the contact has no WildfireChat user id', code: 'no_recipient' };
    const text = ctx.message.text;
    if (!text.trim()) {
      return { kind: 'rejected', reason: 'WildfireChat replies carry text; attachments alone are not sent yet', code: 'unsupported_content' };
    }
    // Text message: {type:1, searchableContent, persistFlag:3} (docs md/server/predefined_message_content.md).
    const payload = { type: 1, searchableContent: text, persistFlag: 3 };
    const conv = replyTarget(identifier);
    const call =
      cfg.sendVia === 'robot'
        ? await callWildfire(doFetch, `${cfg.robotApiBaseUrl}/robot/message/send`, ctx.secrets.robotSecret ?? '', { conv, payload }, { rid: cfg.robotId!, timeoutMs: cfg.timeoutMs })
        : await callWildfire(doFetch, `${cfg.serverApiBaseUrl}/admin/message/send`, ctx.secrets.adminSecret ?? '', { sender: cfg.senderId ?? cfg.robotId, conv, payload }, { timeoutMs: cfg.timeoutMs });
    if (!call.ok) return call.outcome;
    if (call.code !== 0) return wildfireFailure(call.code, call.msg, call.httpStatus);
    const r = SendMessageResult.safeParse(call.result);
    // Accepted but no id: it went out; echo suppression still works by sender.
    return { kind: 'accepted', providerMessageId: r.success ? r.data.messageUid : null };
  }

  async function displayName(deps: ProviderDeps, inbox: Inbox, cfg: WildfireConfig, secrets: Record<string, string>, userId: string): Promise<string | undefined> {
    // Only when we have no name for the contact yet.
    const known = await contactNameByIdentity(deps.workspace.db, inbox.tenantId, 'im', userId);
    if (known !== null && known !== userId) return undefined;
    const key = `${inbox.id}:${userId}`;
    const hit = names.get(key);
    if (hit && Date.now() - hit.at < 600_000) return hit.name ?? undefined;
    let name: string | null = null;
    const call = await callWildfire(doFetch, `${cfg.serverApiBaseUrl}/admin/user/get_info`, secrets.adminSecret ?? '', { userId }, { timeoutMs: Math.min(cfg.timeoutMs, 3000) });
    if (call.ok && call.code === 0 && call.result && typeof call.result === 'object') {
      const u = call.result as { displayName?: unknown; name?: unknown };
      name = (typeof u.displayName === 'string' && u.displayName.trim()) || (typeof u.name === 'string' && u.name.trim()) || null;
    }
    if (names.size > 5000) names.clear();
    names.set(key, { name, at: Date.now() });
    return name?.slice(0, 200) ?? undefined;
  }

  async function fetchMedia(deps: ProviderDeps, tenantId: string, cfg: WildfireConfig, media: NonNullable<MappedInbound['media']>): Promise<StagedAttachment> {
    const url = new URL(media.url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`media URL is not http(s): ${url.protocol}`);
    if (cfg.mediaUrlPrefixes && !cfg.mediaUrlPrefixes.some((p) => url.href.startsWith(p.endsWith('/') ? p : `${p}/`))) {
      throw new Error(`media host ${url.host} is not in mediaUrlPrefixes`);
    }
    if (media.size !== undefined && media.size > MAX_ATTACHMENT_BYTES) throw new Error(`media of ${media.size} bytes exceeds ${MAX_ATTACHMENT_BYTES}`);
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), mediaTimeoutMs);
    try {
      const res = await doFetch(url, { signal: ac.signal, redirect: 'follow' });
      if (res.status !== 200 || !res.body) throw new Error(`media server answered ${res.status}`);
      const declared = Number(res.headers.get('content-length') ?? NaN);
      if (Number.isFinite(declared) && declared > MAX_ATTACHMENT_BYTES) throw new Error(`media of ${declared} bytes exceeds ${MAX_ATTACHMENT_BYTES}`);
      const chunks: Buffer[] = [];
      let total = 0;
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        total += chunk.length;
        if (total > MAX_ATTACHMENT_BYTES) {
          ac.abort();
          throw new Error(`media exceeds ${MAX_ATTACHMENT_BYTES} bytes`);
        }
        chunks.push(Buffer.from(chunk));
      }
      const name = media.name ?? mediaName(url, 'media');
      // Bytes stored now; the row is written with the message, in the inbound's transaction.
      const { id, mime, size, sha256, name: clean } = deps.attachments.stage(tenantId, Buffer.concat(chunks), { name, mime: mediaMime(res.headers.get('content-type'), name, media.fallbackMime) });
      return { id, name: clean, mime, size, sha256 };
    } catch (e) {
      if ((e as Error).name === 'AbortError') throw new Error(`media not fetched within ${mediaTimeoutMs} ms`);
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Stores one message the IM server posted, unless it is our own (sent as the robot/sender, or an id
   * we sent), not addressed to this inbox, not a message (typing, recall…) or a duplicate (by messageId).
   */
  async function receive(deps: ProviderDeps, inbox: Inbox, cfg: WildfireConfig, secrets: Record<string, string>, ev: WfOutputMessage): Promise<WildfireInboundResult> {
    const ws = deps.workspace;
    const own = ownIds(cfg);
    // The relay's own messages come back through the forward URL (message.no_forward_admin_message
    // is false by default): by sender, and by the id /admin/message/send gave us.
    if (own.has(ev.sender)) return 'echo';
    if (await findOutgoing(ws.db, inbox.id, { providerMessageId: ev.messageId })) return 'echo';
    let identifier: string;
    if (ev.conv.type === 0) {
      // In a 1:1 chat with the robot, conv.target is the robot's own id (robot_server ServiceImpl.onReceiveMessage).
      if (!own.has(ev.conv.target)) return 'ignored';
      identifier = ev.sender;
    } else if (ev.conv.type === 1 && cfg.acceptGroupMessages) {
      identifier = `group:${ev.conv.target}`;
    } else {
      return 'ignored';
    }
    const mapped = mapPayload(ev.payload);
    if (!mapped) return 'ignored';
    // Checked before fetching media; ingestInbound is idempotent on (inbox, messageId) for races.
    if (await findInbound(ws.db, inbox.id, ev.messageId)) return 'duplicate';

    const meta: Record<string, unknown> = {
      provider: 'wildfire',
      messageId: ev.messageId,
      sender: ev.sender,
      conv: { type: ev.conv.type, target: ev.conv.target, line: ev.conv.line },
      ...mapped.meta,
    };
    const stagedAttachments: StagedAttachment[] = [];
    if (mapped.media) {
      try {
        stagedAttachments.push(await fetchMedia(deps, inbox.tenantId, cfg, mapped.media));
      } catch (e) {
        // The IM server never retries: keep the message with the link rather than lose it.
        meta.remoteMediaUrl = mapped.media.url;
        meta.mediaError = (e as Error).message.slice(0, 300);
        deps.logger.warn('wildfire: media not fetched', { inbox: inbox.id, messageId: ev.messageId, error: meta.mediaError });
      }
    }
    const name = ev.conv.type === 0 ? await displayName(deps, inbox, cfg, secrets, ev.sender).catch(() => undefined) : undefined;
    const input = {
      externalId: ev.messageId,
      from: { identifier, ...(name ? { name } : {}) },
      text: mapped.text,
      kind: mapped.kind,
      stagedAttachments,
      meta,
      sentAt: ev.timestamp && ev.timestamp > 0 ? ev.timestamp : undefined,
    };
    try {
      const res = await deps.ingest(inbox, input);
      return res.duplicate ? 'duplicate' : 'stored';
    } catch (e) {
      // The same message by the robot callback and the forward at once: the other request stored it.
      if (e instanceof ApiError && e.code === 'conflict') return 'duplicate';
      throw e;
    }
  }

  return {
    channel: 'im',
    name: 'wildfire',
    configSchema: WildfireConfig as unknown as z.ZodType<Record<string, unknown>>,
    secretsSchema: WildfireSecrets as unknown as z.ZodType<Record<string, string>>,
    send,
    urls: ({ inbox, secret }) => [
      {
        key: 'callback',
        what: localized('WildfireChat robot callback / message.forward.url', '野火IM 机器人回调 / message.forward.url'),
        method: 'POST',
        url: `/webhooks/wildfire/${encodeURIComponent(inbox.id)}/${secret('callbackToken')}`,
      },
    ],
    openapi: {
      '/webhooks/wildfire/{inboxId}/{token}': {
        post: { summary: 'WildfireChat robot callback and message forward (OutputMessageData; the path carries the callbackToken)', tags: ['webhooks'], responses: { '200': { description: '{"code":0}' }, '403': { description: 'Source not allowed' }, '404': { description: 'Unknown inbox or token' } } },
      },
    },
    routes(app: FastifyInstance, deps: ProviderDeps) {
      const notFound = (reply: FastifyReply) => reply.status(404).send({ error: { code: 'not_found', message: 'no such callback' } });
      const matchers = new Map<string, { key: string; allowed: (a: string | undefined) => boolean }>();
      const allowedBy = (inboxId: string, cidrs: string[]) => {
        const key = cidrs.join(',');
        let m = matchers.get(inboxId);
        if (!m || m.key !== key) {
          m = { key, allowed: cidrMatcher(cidrs) };
          matchers.set(inboxId, m);
        }
        return m.allowed;
      };

      // The robot callback and the global message forward post the same OutputMessageData here,
      // unsigned: the path carries the inbox's secret token, and the inbox may restrict source addresses.
      app.post<{ Params: { inboxId: string; token: string } }>('/webhooks/wildfire/:inboxId/:token', async (req, reply) => {
        const { inboxId, token } = req.params;
        if (!/^[A-Za-z0-9_.:-]{1,128}$/.test(inboxId) || token.length > 128) return notFound(reply);
        const s = await deps.inboxSettings(inboxId).catch(() => null);
        if (!s || s.inbox.channel !== 'im' || s.inbox.provider !== 'wildfire') return notFound(reply);
        const cfg = WildfireConfig.safeParse(s.config);
        if (!cfg.success) return notFound(reply);
        const source = req.socket.remoteAddress;
        if (cfg.data.allowedSourceCidrs?.length && !allowedBy(inboxId, cfg.data.allowedSourceCidrs)(source)) {
          deps.logger.warn('wildfire: callback from a source outside allowedSourceCidrs refused', { inbox: inboxId, source });
          return reply.status(403).send({ error: { code: 'forbidden', message: 'source address not allowed' } });
        }
        if (!safeEqual(token, s.secrets.callbackToken ?? '')) {
          deps.logger.warn('wildfire: callback with a wrong path token refused', { inbox: inboxId, source });
          return notFound(reply);
        }
        const raw = req.rawBody ?? (Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '');
        let parsed: unknown;
        try {
          // Not req.body: JSON.parse has already rounded the 64-bit messageId there.
          parsed = parseWildfireJson(raw);
        } catch {
          return reply.status(400).send({ error: { code: 'bad_request', message: 'malformed JSON body' } });
        }
        const ev = WfOutputMessage.safeParse(parsed);
        if (!ev.success) {
          deps.logger.warn('wildfire: callback body is not a message', { inbox: inboxId, issues: ev.error.issues.slice(0, 3).map((i) => `${i.path.join('.')}: ${i.message}`) });
          return reply.status(400).send({ error: { code: 'bad_request', message: 'expected OutputMessageData {messageId, sender, conv, payload}' } });
        }
        const outcome = await receive(deps, s.inbox, cfg.data, s.secrets, ev.data);
        deps.logger.debug('wildfire: callback', { inbox: inboxId, messageId: ev.data.messageId, outcome });
        // The IM server only logs the answer; answer in its own envelope.
        return reply.status(200).header('content-type', 'application/json; charset=utf-8').send({ code: 0, msg: 'success' });
      });
    },
  };
}

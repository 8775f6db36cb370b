import crypto from 'node:crypto';
import { z } from 'zod';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ChannelProvider, ProviderDeps, SendResult } from '../provider.js';
import { label, localized } from '../label.js';
import { isGsm7 } from '../sms/segments.js';
import {
  PublicBaseUrl,
  SmsPricing,
  SMS_USES,
  eventSeen,
  fetchWithTimeout,
  findOutgoing,
  httpOutcome,
  markEventSeen,
  smsRecipient,
  outboundCost,
  receiveSms,
  safeEqualStr,
  webhookInbox,
} from '../sms/common.js';
import { egressFetch } from '../../net/egress.js';

/** Percent-decodes to bytes (`+` is a space): Kannel's %a is the SMS payload, which need not be UTF-8. */
export function percentDecodeBytes(s: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '+') out.push(0x20);
    else if (c === '%' && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 1, i + 3))) {
      out.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else out.push(...Buffer.from(c, 'utf8'));
  }
  return Buffer.from(out);
}

/** The raw query of a URL as byte values per key (first value wins). */
export function rawQuery(url: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const q = url.indexOf('?');
  if (q < 0) return out;
  for (const part of url.slice(q + 1).split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const k = percentDecodeBytes(eq < 0 ? part : part.slice(0, eq)).toString('utf8');
    if (!out.has(k)) out.set(k, percentDecodeBytes(eq < 0 ? '' : part.slice(eq + 1)));
  }
  return out;
}

/** Decodes an MO text by Kannel's %c (coding: 0 7-bit, 1 8-bit, 2 UCS-2) and %C (charset). */
export function decodeKannelText(bytes: Buffer, coding: string | undefined, charset: string | undefined): string {
  const cs = (charset ?? '').toUpperCase();
  if (coding === '2' || cs === 'UTF-16BE' || cs === 'UCS-2' || cs === 'UCS2' || cs === 'UTF-16') {
    const b = Buffer.from(bytes.subarray(0, bytes.length - (bytes.length % 2)));
    return b.swap16().toString('utf16le');
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return bytes.toString('latin1');
  }
}

export const KannelConfig = z
  .object({
    /** smsbox's sendsms interface. */
    sendsmsUrl: z.string().url().default('http://127.0.0.1:13013/cgi-bin/sendsms').meta(label('sendsms URL', 'sendsms 地址')),
    /** A `group = sendsms-user` of smsbox. */
    username: z.string().min(1).max(64).meta(label('sendsms user', 'sendsms 用户')),
    /** Sender number (else the sendsms-user's or smsbox's default). */
    from: z.string().min(1).max(32).meta(label('Sender number', '发送号码')).optional(),
    /** Route through this smsc-id. */
    smsc: z.string().min(1).max(64).meta(label('SMSC id', 'SMSC 标识')).optional(),
    /**
     * This server's base URL as Kannel reaches it. Delivery reports come to
     * {base}/webhooks/kannel/{inboxId}/dlr; the sms-service get-url is
     * {base}/webhooks/kannel/{inboxId}/inbound?token=…&from=%p&to=%P&text=%a&coding=%c&charset=%C&id=%I&ts=%t
     */
    webhookBaseUrl: PublicBaseUrl.meta(
      label('This server as the provider reaches it', '服务商访问本服务器的地址', localized('The base URL Kannel calls for inbound messages (sms-service get-url) and delivery reports.', 'Kannel 调用入站消息（sms-service get-url）与状态报告的基础地址。')),
    ),
    /** 1 delivered, 2 undelivered, 4 buffered, 8 SMSC submit, 16 SMSC reject. */
    dlrMask: z.number().int().min(0).max(31).default(31).meta(label('Delivery report mask', '状态报告掩码', localized('Sum of 1 delivered, 2 undelivered, 4 buffered, 8 SMSC submit, 16 SMSC reject; 0 asks for none.', '1 已送达、2 未送达、4 缓存、8 已提交 SMSC、16 SMSC 拒绝之和；0 表示不要状态报告。'))),
    timeoutMs: z.number().int().min(100).max(120_000).default(15_000).meta(label('Timeout (ms)', '超时（毫秒）')),
    ...SmsPricing,
  })
  .meta(label('SMS · Kannel', '短信 · Kannel'));
export const KannelSecrets = z
  .object({
    password: z.string().min(1).max(256).meta(label('Password', '密码')),
    /** Shared secret in the get-url and dlr-url (Kannel signs nothing). */
    webhookToken: z.string().min(16).max(256).meta(label('Webhook token', 'Webhook 令牌')),
  })
  .meta(label('Kannel secrets', 'Kannel 密钥'));

/** Kannel DLR types → ours. */
export function mapKannelDlr(type: number): 'delivered' | 'failed' | 'accepted' | null {
  if (type & 1) return 'delivered';
  if (type & 2 || type & 16) return 'failed';
  if (type & 8 || type & 4) return 'accepted';
  return null;
}

/**
 * Kannel (any SMSC it speaks to: SMPP, modems, fakesmsc): `sendsms` over HTTP with a dlr-url;
 * inbound through the sms-service get-url. Both URLs carry a shared token.
 */
export function kannelProvider(opts: { fetch?: typeof fetch } = {}): ChannelProvider {
  const doFetch = opts.fetch ?? egressFetch;
  return {
    channel: 'sms',
    name: 'kannel',
    configSchema: KannelConfig,
    secretsSchema: KannelSecrets,
    uses: SMS_USES,
    urls: ({ inbox, config, secret }) => [
      {
        key: 'get-url',
        what: localized('Kannel sms-service get-url (delivery reports are requested per message)', 'Kannel sms-service 的 get-url（状态报告按消息请求）'),
        method: 'GET',
        url: `${String(config.webhookBaseUrl ?? '').replace(/\/+$/, '')}/webhooks/kannel/${encodeURIComponent(inbox.id)}/inbound?token=${secret('webhookToken')}&from=%p&to=%P&text=%a&coding=%c&charset=%C&id=%I&ts=%t&smsc=%i`,
      },
    ],
    openapi: {
      '/webhooks/kannel/{inboxId}/inbound': { get: { summary: 'Kannel sms-service get-url (?token=webhookToken&from=%p&text=%a…)', tags: ['webhooks'], responses: { '200': { description: 'Stored' }, '403': { description: 'Bad token' } } } },
      '/webhooks/kannel/{inboxId}/dlr': { get: { summary: 'Kannel delivery report (?token=webhookToken&m=…&type=%d)', tags: ['webhooks'], responses: { '200': { description: 'Recorded' }, '403': { description: 'Bad token' } } } },
    },
    async send(ctx): Promise<SendResult> {
      const cfg = KannelConfig.parse(ctx.config);
      const recipient = smsRecipient(ctx);
      if ('refused' in recipient) return recipient.refused;
      const { to } = recipient;
      const token = ctx.secrets.webhookToken ?? '';
      const dlrUrl = `${cfg.webhookBaseUrl}/webhooks/kannel/${ctx.inbox.id}/dlr?token=${encodeURIComponent(token)}&m=${encodeURIComponent(ctx.message.id)}&type=%d&ans=%A&ts=%T`;
      const q = new URLSearchParams({
        username: cfg.username,
        password: ctx.secrets.password ?? '',
        to,
        text: ctx.message.text,
        charset: 'UTF-8',
        // Kannel converts the UTF-8 text to the coding: GSM-7 when it fits, else UCS-2.
        coding: isGsm7(ctx.message.text) ? '0' : '2',
      });
      if (cfg.from) q.set('from', cfg.from);
      if (cfg.smsc) q.set('smsc', cfg.smsc);
      if (cfg.dlrMask > 0) {
        q.set('dlr-mask', String(cfg.dlrMask));
        q.set('dlr-url', dlrUrl);
      }
      const url = `${cfg.sendsmsUrl}${cfg.sendsmsUrl.includes('?') ? '&' : '?'}${q.toString().replace(/\+/g, '%20')}`;
      const r = await fetchWithTimeout(doFetch, url, { method: 'GET' }, cfg.timeoutMs);
      if (!r.ok) return r.result;
      const answer = r.body.trim();
      // "0: Accepted for delivery" / "3: Queued for later delivery" (202).
      if (r.res.status >= 200 && r.res.status < 300 && /^[03]:/.test(answer)) {
        const { cost } = outboundCost(ctx.message.text, cfg);
        return { kind: 'accepted', providerMessageId: null, cost };
      }
      return httpOutcome(r.res.status >= 300 ? r.res.status : 502, `Kannel ${r.res.status}: ${answer.slice(0, 200)}`);
    },
    routes(app: FastifyInstance, deps: ProviderDeps) {
      const authorized = async (req: FastifyRequest<{ Params: { inboxId: string } }>) => {
        const s = await webhookInbox(deps, req.params.inboxId, 'kannel');
        if (!s) return null;
        const token = (req.query as Record<string, unknown>)?.token;
        if (typeof token !== 'string' || !safeEqualStr(token, s.secrets.webhookToken ?? '')) {
          deps.logger.warn('kannel: callback with a bad token refused', { inbox: req.params.inboxId });
          return null;
        }
        const cfg = KannelConfig.safeParse(s.config);
        return cfg.success ? { ...s, cfg: cfg.data } : null;
      };

      app.get<{ Params: { inboxId: string } }>('/webhooks/kannel/:inboxId/inbound', async (req, reply) => {
        const s = await authorized(req);
        if (!s) return reply.status(403).send('forbidden');
        const raw = rawQuery(req.raw.url ?? req.url);
        const str = (k: string) => raw.get(k)?.toString('utf8');
        const from = str('from');
        if (!from) return reply.status(400).send('from is required');
        const text = decodeKannelText(raw.get('text') ?? Buffer.alloc(0), str('coding'), str('charset'));
        const id = str('id');
        const externalId = id ? `kannel:${id}` : `kannel:${crypto.createHash('sha256').update(`${from}|${str('ts')}|${text}`).digest('hex').slice(0, 32)}`;
        await receiveSms(deps, s.inbox, s.cfg, {
          externalId,
          from,
          to: str('to'),
          text,
          meta: { provider: 'kannel', ...(str('smsc') ? { smsc: str('smsc') } : {}), ...(str('ts') ? { smscTime: str('ts') } : {}) },
        });
        // An empty answer: Kannel sends nothing back to the phone.
        return reply.status(200).header('content-type', 'text/plain; charset=utf-8').send('');
      });

      app.get<{ Params: { inboxId: string } }>('/webhooks/kannel/:inboxId/dlr', async (req, reply) => {
        const s = await authorized(req);
        if (!s) return reply.status(403).send('forbidden');
        const q = req.query as Record<string, string | undefined>;
        const type = Number(q.type);
        const ours = Number.isInteger(type) ? mapKannelDlr(type) : null;
        const key = `kannel:${s.inbox.id}:dlr:${q.m}:${q.type}:${q.ts}`;
        if (await eventSeen(deps.workspace, key)) return reply.status(200).send('');
        const messageId = await findOutgoing(deps.workspace, s.inbox.id, { messageId: q.m ?? null });
        if (messageId && ours && ours !== 'accepted') {
          await deps.workspace.setMessageStatus(messageId, ours, {
            ...(ours === 'failed' ? { reason: `Kannel DLR ${type}${q.ans ? `: ${q.ans}` : ''}` } : {}),
            meta: { providerStatus: `dlr ${type}${q.ans ? ` ${q.ans}` : ''}` },
          });
        }
        await markEventSeen(deps.workspace, key);
        return reply.status(200).send('');
      });
    },
  };
}

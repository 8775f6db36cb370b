import crypto from 'node:crypto';
import { z } from 'zod';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ChannelProvider, ProviderDeps, SendResult } from '../provider.js';
import { label, localized } from '../label.js';
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
  recipientOf,
  safeEqualStr,
  twiml,
  webhookInbox,
} from '../sms/common.js';
import { egressFetch, providerErrorExcerpt } from '../../net/egress.js';

export type FormParams = Record<string, string[]>;

/** Parses an application/x-www-form-urlencoded body, keeping repeated keys. */
export function parseForm(raw: string): FormParams {
  const out: FormParams = {};
  for (const [k, v] of new URLSearchParams(raw)) (out[k] ??= []).push(v);
  return out;
}

const first = (p: FormParams, k: string): string | undefined => p[k]?.[0];

/**
 * X-Twilio-Signature: base64(HMAC-SHA1(AuthToken, URL + for each key in sorted order, key + value)).
 * A repeated key contributes each of its values (sorted) as key+value. The URL is the full URL
 * Twilio requested, query string included.
 */
export function twilioSignature(authToken: string, url: string, params: FormParams | Record<string, string>): string {
  let data = url;
  for (const key of Object.keys(params).sort()) {
    const v = params[key];
    const values = Array.isArray(v) ? [...new Set(v)].sort() : [v ?? ''];
    for (const value of values) data += key + value;
  }
  return crypto.createHmac('sha1', authToken).update(Buffer.from(data, 'utf8')).digest('base64');
}

/** The URL with and without its default port (:443/:80), as twilio-node accepts both. */
function urlVariants(url: string): string[] {
  const out = new Set([url]);
  const m = /^(https?:\/\/[^/:?#]+)(:\d+)?(.*)$/is.exec(url);
  if (m) {
    const def = m[1]!.toLowerCase().startsWith('https') ? ':443' : ':80';
    if (!m[2] || m[2] === def) {
      out.add(m[1]! + m[3]!);
      out.add(m[1]! + def + m[3]!);
    }
  }
  return [...out];
}

export function verifyTwilioSignature(authToken: string, url: string, params: FormParams, signature: string | undefined): boolean {
  if (!signature || !authToken) return false;
  return urlVariants(url).some((u) => safeEqualStr(twilioSignature(authToken, u, params), signature));
}

export const TwilioConfig = z
  .object({
    accountSid: z.string().regex(/^AC[0-9a-fA-F]{32}$/, 'an Account SID (AC + 32 hex digits)').meta(label('Account SID', 'Account SID')),
    /** Sender number (E.164) or alphanumeric sender id; or use messagingServiceSid. */
    from: z.string().min(1).max(32).meta(label('Sender number', '发送号码')).optional(),
    messagingServiceSid: z.string().regex(/^MG[0-9a-fA-F]{32}$/).meta(label('Messaging service SID', 'Messaging Service SID')).optional(),
    /** This server's public base URL as Twilio reaches it: webhooks are {base}/webhooks/twilio/{inboxId}/inbound and …/status. */
    webhookBaseUrl: PublicBaseUrl.meta(
      label('This server as the provider reaches it', '服务商访问本服务器的地址', localized('The public base URL Twilio posts webhooks and status callbacks to (…/webhooks/twilio/{inbox}/…); also signed over.', 'Twilio 推送 webhook 与状态回调的公网基础地址（…/webhooks/twilio/{收件箱}/…），也参与签名校验。')),
    ),
    /** The REST API (a test double in tests). */
    apiBaseUrl: PublicBaseUrl.default('https://api.twilio.com').meta(label('API base URL', 'API 地址')),
    timeoutMs: z.number().int().min(100).max(120_000).default(15_000).meta(label('Timeout (ms)', '超时（毫秒）')),
    ...SmsPricing,
  })
  .meta(label('SMS · Twilio', '短信 · Twilio'))
  .refine((c) => Boolean(c.from) !== Boolean(c.messagingServiceSid), { message: 'set exactly one of from and messagingServiceSid', path: ['from'] });
export const TwilioSecrets = z.object({ authToken: z.string().min(8).max(256).meta(label('Auth token', 'Auth Token')) }).meta(label('Twilio secrets', 'Twilio 密钥'));

/** Twilio message statuses → ours (null: nothing to record). */
export function mapTwilioStatus(s: string): 'accepted' | 'delivered' | 'failed' | null {
  switch (s) {
    case 'delivered':
    case 'read':
      return 'delivered';
    case 'failed':
    case 'undelivered':
    case 'canceled':
      return 'failed';
    case 'queued':
    case 'accepted':
    case 'scheduled':
    case 'sending':
    case 'sent':
      return 'accepted';
    default:
      return null;
  }
}

/**
 * Twilio Programmable Messaging: send with a form POST (basic auth) to Messages.json; inbound
 * messages and status callbacks arrive as signed form posts (X-Twilio-Signature), deduplicated on
 * I-Twilio-Idempotency-Token and MessageSid.
 */
export function twilioProvider(opts: { fetch?: typeof fetch } = {}): ChannelProvider {
  const doFetch = opts.fetch ?? egressFetch;
  return {
    channel: 'sms',
    name: 'twilio',
    configSchema: TwilioConfig as unknown as z.ZodType<Record<string, unknown>>,
    secretsSchema: TwilioSecrets,
    uses: SMS_USES,
    urls: ({ inbox, config }) => [
      {
        key: 'inbound',
        what: localized("Twilio number's messaging webhook (status callbacks are set per message)", 'Twilio 号码的消息 webhook（状态回调按消息设置）'),
        method: 'POST',
        url: `${String(config.webhookBaseUrl ?? '').replace(/\/+$/, '')}/webhooks/twilio/${encodeURIComponent(inbox.id)}/inbound`,
      },
    ],
    openapi: {
      '/webhooks/twilio/{inboxId}/inbound': { post: { summary: 'Twilio inbound message webhook (X-Twilio-Signature over the form)', tags: ['webhooks'], responses: { '200': { description: 'TwiML' }, '403': { description: 'Bad signature' } } } },
      '/webhooks/twilio/{inboxId}/status': { post: { summary: 'Twilio status callback (X-Twilio-Signature)', tags: ['webhooks'], responses: { '204': { description: 'Recorded' }, '403': { description: 'Bad signature' } } } },
    },
    async send(ctx): Promise<SendResult> {
      const cfg = TwilioConfig.parse(ctx.config);
      const recipient = smsRecipient(ctx);
      if ('refused' in recipient) return recipient.refused;
      const { to } = recipient;
      const form = new URLSearchParams({ To: to, Body: ctx.message.text });
      if (cfg.from) form.set('From', cfg.from);
      else form.set('MessagingServiceSid', cfg.messagingServiceSid!);
      form.set('StatusCallback', `${cfg.webhookBaseUrl}/webhooks/twilio/${ctx.inbox.id}/status?m=${encodeURIComponent(ctx.message.id)}`);
      const auth = Buffer.from(`${cfg.accountSid}:${ctx.secrets.authToken ?? ''}`).toString('base64');
      const r = await fetchWithTimeout(
        doFetch,
        `${cfg.apiBaseUrl}/2010-04-01/Accounts/${cfg.accountSid}/Messages.json`,
        { method: 'POST', headers: { authorization: `Basic ${auth}`, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }, body: form.toString() },
        cfg.timeoutMs,
      );
      if (!r.ok) return r.result;
      let json: { sid?: string; status?: string; code?: number; message?: string } = {};
      try {
        json = JSON.parse(r.body) as typeof json;
      } catch {
        /* an HTML error page from a proxy */
      }
      if (r.res.status === 200 || r.res.status === 201) {
        if (!json.sid) return { kind: 'retry', reason: 'Twilio answered without a message sid' };
        // Our own count (GSM-7/UCS-2, concatenation) × the inbox's price: Twilio's price arrives later, if ever.
        const { cost } = outboundCost(ctx.message.text, cfg);
        return { kind: 'accepted', providerMessageId: json.sid, cost };
      }
      const reason = `Twilio ${r.res.status}${json.code ? ` error ${json.code}` : ''}: ${providerErrorExcerpt(json.message ?? r.body)}`;
      const out = httpOutcome(r.res.status, reason, r.res.headers.get('retry-after'));
      return out.kind === 'rejected' && json.code ? { ...out, code: `twilio_${json.code}` } : out;
    },
    async reconcile(ctx, since) {
      // Twilio has no idempotency key on Messages.create: look for our message among those sent
      // to the same number from the same sender since the job began (same body).
      const cfg = TwilioConfig.parse(ctx.config);
      const to = recipientOf(ctx);
      if (!to) return { kind: 'absent' };
      const q = new URLSearchParams({ To: to, PageSize: '50', 'DateSent>': new Date(since).toISOString().slice(0, 10) });
      if (cfg.from) q.set('From', cfg.from);
      const auth = Buffer.from(`${cfg.accountSid}:${ctx.secrets.authToken ?? ''}`).toString('base64');
      const r = await fetchWithTimeout(
        doFetch,
        `${cfg.apiBaseUrl}/2010-04-01/Accounts/${cfg.accountSid}/Messages.json?${q.toString()}`,
        { method: 'GET', headers: { authorization: `Basic ${auth}`, accept: 'application/json' } },
        cfg.timeoutMs,
      );
      if (!r.ok || r.res.status !== 200) return { kind: 'unknown', reason: `Twilio message list: ${r.ok ? r.res.status : 'unreachable'}` };
      let list: { messages?: { sid?: string; body?: string; date_created?: string; direction?: string }[] } = {};
      try {
        list = JSON.parse(r.body) as typeof list;
      } catch {
        return { kind: 'unknown', reason: 'Twilio message list was not JSON' };
      }
      const hit = (list.messages ?? []).find(
        (m) => m.body === ctx.message.text && (m.direction ?? 'outbound-api').startsWith('outbound') && Date.parse(m.date_created ?? '') >= since - 60_000,
      );
      return hit?.sid ? { kind: 'found', providerMessageId: hit.sid } : { kind: 'absent' };
    },
    routes(app: FastifyInstance, deps: ProviderDeps) {
      /** Verifies the signature over the URL and every posted parameter; null (after a 403) when it fails. */
      const verified = async (req: FastifyRequest, inboxId: string) => {
        const s = await webhookInbox(deps, inboxId, 'twilio');
        if (!s) return null;
        const cfg = TwilioConfig.safeParse(s.config);
        if (!cfg.success) return null;
        const params = parseForm(req.rawBody ?? '');
        const sig = req.headers['x-twilio-signature'];
        const ok = verifyTwilioSignature(s.secrets.authToken ?? '', `${cfg.data.webhookBaseUrl}${req.url}`, params, typeof sig === 'string' ? sig : undefined);
        if (!ok) {
          deps.logger.warn('twilio: webhook with a bad signature refused', { inbox: inboxId, url: req.url.split('?')[0] });
          return null;
        }
        return { ...s, cfg: cfg.data, params };
      };
      const idempotencyKey = (req: FastifyRequest, inboxId: string) => {
        const t = req.headers['i-twilio-idempotency-token'];
        return typeof t === 'string' && t.length > 0 && t.length <= 200 ? `twilio:${inboxId}:${t}` : null;
      };

      app.post<{ Params: { inboxId: string } }>('/webhooks/twilio/:inboxId/inbound', async (req, reply) => {
        const v = await verified(req, req.params.inboxId);
        if (!v) return reply.status(403).send({ error: { code: 'forbidden', message: 'bad signature' } });
        const key = idempotencyKey(req, v.inbox.id);
        if (key && (await eventSeen(deps.workspace, key))) return twiml(reply);
        const sid = first(v.params, 'MessageSid') ?? first(v.params, 'SmsMessageSid') ?? first(v.params, 'SmsSid');
        const from = first(v.params, 'From');
        if (!sid || !from) return reply.status(400).send({ error: { code: 'bad_request', message: 'MessageSid and From are required' } });
        const media = Number(first(v.params, 'NumMedia') ?? 0);
        await receiveSms(deps, v.inbox, v.cfg, {
          externalId: sid,
          from,
          to: first(v.params, 'To'),
          text: first(v.params, 'Body') ?? '',
          meta: {
            provider: 'twilio',
            messageSid: sid,
            ...(media > 0 ? { media: Array.from({ length: Math.min(media, 10) }, (_, i) => ({ url: first(v.params, `MediaUrl${i}`), type: first(v.params, `MediaContentType${i}`) })) } : {}),
          },
        });
        if (key) await markEventSeen(deps.workspace, key);
        return twiml(reply);
      });

      app.post<{ Params: { inboxId: string } }>('/webhooks/twilio/:inboxId/status', async (req, reply) => {
        const v = await verified(req, req.params.inboxId);
        if (!v) return reply.status(403).send({ error: { code: 'forbidden', message: 'bad signature' } });
        const key = idempotencyKey(req, v.inbox.id);
        if (key && (await eventSeen(deps.workspace, key))) return reply.status(204).send();
        const sid = first(v.params, 'MessageSid') ?? first(v.params, 'SmsSid');
        const status = first(v.params, 'MessageStatus') ?? first(v.params, 'SmsStatus') ?? '';
        const m = typeof (req.query as Record<string, unknown>)?.m === 'string' ? String((req.query as Record<string, string>).m) : null;
        const messageId = await findOutgoing(deps.workspace, v.inbox.id, { messageId: m, providerMessageId: sid ?? null });
        const ours = mapTwilioStatus(status);
        if (messageId && ours && ours !== 'accepted') {
          const code = first(v.params, 'ErrorCode');
          await deps.workspace.setMessageStatus(messageId, ours, {
            ...(sid ? { providerMessageId: sid } : {}),
            ...(ours === 'failed' ? { reason: `Twilio: ${status}${code ? ` (error ${code})` : ''}` } : {}),
            meta: { providerStatus: status, ...(code ? { errorCode: `twilio_${code}` } : {}) },
          });
        }
        if (key) await markEventSeen(deps.workspace, key);
        return reply.status(204).send();
      });
    },
  };
}

import crypto from 'node:crypto';
import { z } from 'zod';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ChannelProvider, ProviderDeps, SendResult } from '../provider.js';
import { label, localized } from '../label.js';
import {
  PublicBaseUrl,
  SmsPricing,
  SMS_USES,
  eventSeen,
  fetchWithTimeout,
  findOutgoing,
  markEventSeen,
  smsRecipient,
  outboundCost,
  receiveSms,
  recipientOf,
  safeEqualStr,
  webhookInbox,
} from '../sms/common.js';
import { egressFetch, providerErrorExcerpt } from '../../net/egress.js';

/** RFC 3986 percent-encoding as Aliyun's RPC signature wants it (`!'()*` escaped too, space as %20). */
export function aliyunPercentEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The canonicalized query string: every parameter but Signature, percent-encoded, sorted by key. */
export function aliyunCanonicalQuery(params: Record<string, string>): string {
  return Object.keys(params)
    .filter((k) => k !== 'Signature')
    .sort((a, b) => (Buffer.compare(Buffer.from(a), Buffer.from(b))))
    .map((k) => `${aliyunPercentEncode(k)}=${aliyunPercentEncode(params[k]!)}`)
    .join('&');
}

/** Signature v1 (HMAC-SHA1) of an RPC-style call: base64(HMAC-SHA1(secret + "&", METHOD&%2F&encode(canonical))). */
export function aliyunSignature(method: 'GET' | 'POST', params: Record<string, string>, accessKeySecret: string): string {
  const stringToSign = `${method}&${aliyunPercentEncode('/')}&${aliyunPercentEncode(aliyunCanonicalQuery(params))}`;
  return crypto.createHmac('sha1', `${accessKeySecret}&`).update(stringToSign, 'utf8').digest('base64');
}

/** `YYYY-MM-DDThh:mm:ssZ` (UTC, no milliseconds). */
export function aliyunTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Phone numbers as Dysmsapi wants them: mainland numbers without +86, others as country code + number without '+'. */
export function aliyunPhone(e164: string): string {
  const n = e164.replace(/[\s-]/g, '');
  if (n.startsWith('+86')) return n.slice(3);
  if (n.startsWith('+')) return n.slice(1);
  return n;
}

/** Aliyun's push times are China Standard Time, `YYYY-MM-DD hh:mm:ss`. */
function cstTime(s: unknown): number | undefined {
  if (typeof s !== 'string' || !/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(s)) return undefined;
  const t = Date.parse(`${s.replace(' ', 'T')}+08:00`);
  return Number.isFinite(t) ? t : undefined;
}

export const AliyunConfig = z
  .object({
    accessKeyId: z.string().min(1).max(128).meta(label('AccessKey ID', 'AccessKey ID')),
    /** 短信签名 */
    signName: z.string().min(1).max(64).meta(label('Signature name', '短信签名')),
    /** 模板 CODE of an approved template that carries the agent's text in one variable. */
    templateCode: z.string().min(1).max(64).meta(label('Template code', '模板编号')),
    /** The template variable that receives the reply text (e.g. `content` for a template "${content}"). */
    templateParam: z.string().min(1).max(64).default('content').meta(label('Template variable for the text', '承载内容的模板变量', localized('The variable of the approved template that receives the reply text, e.g. content for a template "${content}".', '已审核模板中承载回复内容的变量，例如模板“${content}”中的 content。'))),
    endpoint: PublicBaseUrl.default('https://dysmsapi.aliyuncs.com').meta(label('Endpoint', '接入地址')),
    regionId: z.string().min(1).max(64).default('cn-hangzhou').meta(label('Region', '地域')),
    timeoutMs: z.number().int().min(100).max(120_000).default(15_000).meta(label('Timeout (ms)', '超时（毫秒）')),
    ...SmsPricing,
    currency: z.string().regex(/^[A-Z]{3}$/).default('CNY').meta(label('Currency', '货币')),
    /** Where Aliyun reaches this server (only for the URLs shown to the admin; default: this server). */
    webhookBaseUrl: PublicBaseUrl.meta(label('This server as the provider reaches it', '服务商访问本服务器的地址')).optional(),
  })
  .meta(label('SMS · Aliyun 阿里云短信', '短信 · 阿里云短信'));
export const AliyunSecrets = z
  .object({
    accessKeySecret: z.string().min(1).max(256).meta(label('AccessKey secret', 'AccessKey Secret')),
    /** Shared secret in the push URLs (Aliyun signs nothing it pushes): …/smsup?token=… and …/smsreport?token=… */
    pushToken: z.string().min(16).max(256).meta(label('Push token', '推送令牌')),
  })
  .meta(label('Aliyun secrets', '阿里云密钥'));

/** Error codes worth another try later (flow control, clock or nonce trouble, their side). */
const ALIYUN_RETRY = new Set(['isv.BUSINESS_LIMIT_CONTROL', 'Throttling.User', 'Throttling', 'SignatureNonceUsed', 'InvalidTimeStamp.Expired', 'isp.SYSTEM_ERROR', 'ServiceUnavailable', 'InternalError']);

export interface AliyunSmsUp {
  phone_number: string;
  content: string;
  send_time?: string;
  dest_code?: string;
  sequence_id?: number | string;
  sign_name?: string;
}
export interface AliyunSmsReport {
  phone_number: string;
  send_time?: string;
  report_time?: string;
  success: boolean;
  err_code?: string;
  err_msg?: string;
  sms_size?: string;
  biz_id?: string;
  out_id?: string;
}

/**
 * 阿里云短信 (Dysmsapi): SendSms signed with the v1 RPC signature (templated: the agent's text fills
 * one template variable); inbound (SmsUp) and receipts (SmsReport) are pushed as JSON arrays to
 * token-protected URLs and answered {"code":0}.
 */
export function aliyunProvider(opts: { fetch?: typeof fetch; now?: () => number } = {}): ChannelProvider {
  const doFetch = opts.fetch ?? egressFetch;
  const now = opts.now ?? Date.now;
  return {
    channel: 'sms',
    name: 'aliyun',
    configSchema: AliyunConfig,
    secretsSchema: AliyunSecrets,
    uses: SMS_USES,
    urls: ({ inbox, config, secret }) => {
      const base = `${String(config.webhookBaseUrl ?? '').replace(/\/+$/, '')}/webhooks/aliyun/${encodeURIComponent(inbox.id)}`;
      return [
        { key: 'smsup', what: localized('Aliyun SmsUp (inbound) HTTP batch push', '阿里云上行短信（SmsUp）HTTP 批量推送'), method: 'POST', url: `${base}/smsup?token=${secret('pushToken')}` },
        { key: 'smsreport', what: localized('Aliyun SmsReport (receipts) HTTP batch push', '阿里云状态报告（SmsReport）HTTP 批量推送'), method: 'POST', url: `${base}/smsreport?token=${secret('pushToken')}` },
      ];
    },
    openapi: {
      '/webhooks/aliyun/{inboxId}/smsup': { post: { summary: 'Aliyun SmsUp push (JSON array; ?token=pushToken)', tags: ['webhooks'], responses: { '200': { description: '{"code":0}' }, '403': { description: 'Bad token' } } } },
      '/webhooks/aliyun/{inboxId}/smsreport': { post: { summary: 'Aliyun SmsReport push (JSON array; ?token=pushToken)', tags: ['webhooks'], responses: { '200': { description: '{"code":0}' }, '403': { description: 'Bad token' } } } },
    },
    async send(ctx): Promise<SendResult> {
      const cfg = AliyunConfig.parse(ctx.config);
      const recipient = smsRecipient(ctx);
      if ('refused' in recipient) return recipient.refused;
      const { to } = recipient;
      const params: Record<string, string> = {
        AccessKeyId: cfg.accessKeyId,
        Action: 'SendSms',
        Format: 'JSON',
        RegionId: cfg.regionId,
        SignatureMethod: 'HMAC-SHA1',
        SignatureNonce: crypto.randomUUID(),
        SignatureVersion: '1.0',
        Timestamp: aliyunTimestamp(now()),
        Version: '2017-05-25',
        PhoneNumbers: aliyunPhone(to),
        SignName: cfg.signName,
        TemplateCode: cfg.templateCode,
        TemplateParam: JSON.stringify({ [cfg.templateParam]: ctx.message.text }),
        OutId: ctx.message.id,
      };
      params.Signature = aliyunSignature('POST', params, ctx.secrets.accessKeySecret ?? '');
      const body = Object.entries(params).map(([k, v]) => `${aliyunPercentEncode(k)}=${aliyunPercentEncode(v)}`).join('&');
      const r = await fetchWithTimeout(doFetch, `${cfg.endpoint}/`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body }, cfg.timeoutMs);
      if (!r.ok) return r.result;
      let json: { Code?: string; Message?: string; BizId?: string; RequestId?: string } = {};
      try {
        json = JSON.parse(r.body) as typeof json;
      } catch {
        /* not JSON */
      }
      if (json.Code === 'OK' && json.BizId) {
        const { cost } = outboundCost(`【${cfg.signName}】${ctx.message.text}`, cfg, 'cn');
        return { kind: 'accepted', providerMessageId: json.BizId, cost };
      }
      const reason = `Aliyun ${r.res.status} ${json.Code ?? ''}: ${providerErrorExcerpt(json.Message ?? r.body)}`.trim();
      if (r.res.status >= 500 || (json.Code && ALIYUN_RETRY.has(json.Code))) return { kind: 'retry', reason };
      return { kind: 'rejected', reason, code: json.Code ? `aliyun_${json.Code}` : `http_${r.res.status}` };
    },
    async reconcile(ctx, since) {
      // SendSms is not idempotent: before a second attempt, look for our OutId (= message id) in
      // QuerySendDetails for the recipient, on each China-time day since the job began.
      const cfg = AliyunConfig.parse(ctx.config);
      const to = recipientOf(ctx);
      if (!to) return { kind: 'absent' };
      const days = new Set<string>();
      for (let t = since; t <= now() + 86_400_000; t += 86_400_000) days.add(new Date(Math.min(t, now()) + 8 * 3_600_000).toISOString().slice(0, 10).replaceAll('-', ''));
      for (const day of days) {
        const params: Record<string, string> = {
          AccessKeyId: cfg.accessKeyId, Action: 'QuerySendDetails', Format: 'JSON', RegionId: cfg.regionId, SignatureMethod: 'HMAC-SHA1',
          SignatureNonce: crypto.randomUUID(), SignatureVersion: '1.0', Timestamp: aliyunTimestamp(now()), Version: '2017-05-25',
          PhoneNumber: aliyunPhone(to), SendDate: day, PageSize: '50', CurrentPage: '1',
        };
        params.Signature = aliyunSignature('POST', params, ctx.secrets.accessKeySecret ?? '');
        const body = Object.entries(params).map(([k, v]) => `${aliyunPercentEncode(k)}=${aliyunPercentEncode(v)}`).join('&');
        const r = await fetchWithTimeout(doFetch, `${cfg.endpoint}/`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body }, cfg.timeoutMs);
        if (!r.ok) return { kind: 'unknown', reason: 'Aliyun QuerySendDetails unreachable' };
        let json: { Code?: string; Message?: string; SmsSendDetailDTOs?: { SmsSendDetailDTO?: { OutId?: string }[] } } = {};
        try {
          json = JSON.parse(r.body) as typeof json;
        } catch {
          return { kind: 'unknown', reason: 'Aliyun QuerySendDetails answered without JSON' };
        }
        if (json.Code !== 'OK') return { kind: 'unknown', reason: `Aliyun QuerySendDetails ${json.Code ?? r.res.status}: ${json.Message ?? ''}` };
        if ((json.SmsSendDetailDTOs?.SmsSendDetailDTO ?? []).some((d) => d.OutId === ctx.message.id)) return { kind: 'found', providerMessageId: null };
      }
      return { kind: 'absent' };
    },
    routes(app: FastifyInstance, deps: ProviderDeps) {
      const ok = (reply: FastifyReply) => reply.status(200).header('content-type', 'application/json; charset=utf-8').send({ code: 0, msg: '接收成功' });
      const authorized = async (req: FastifyRequest<{ Params: { inboxId: string } }>) => {
        const s = await webhookInbox(deps, req.params.inboxId, 'aliyun');
        if (!s) return null;
        const token = (req.query as Record<string, unknown>)?.token;
        if (typeof token !== 'string' || !safeEqualStr(token, s.secrets.pushToken ?? '')) {
          deps.logger.warn('aliyun: push with a bad token refused', { inbox: req.params.inboxId });
          return null;
        }
        const cfg = AliyunConfig.safeParse(s.config);
        return cfg.success ? { ...s, cfg: cfg.data } : null;
      };
      const items = <T>(body: unknown): T[] | null => (Array.isArray(body) ? (body as T[]).filter((x) => x && typeof x === 'object') : body && typeof body === 'object' ? [body as T] : null);

      app.post<{ Params: { inboxId: string } }>('/webhooks/aliyun/:inboxId/smsup', async (req, reply) => {
        const s = await authorized(req);
        if (!s) return reply.status(403).send({ code: 403, msg: 'forbidden' });
        const list = items<AliyunSmsUp>(req.body);
        if (!list) return reply.status(400).send({ code: 400, msg: 'expected a JSON array' });
        for (const up of list) {
          if (typeof up.phone_number !== 'string' || typeof up.content !== 'string') continue;
          const externalId = up.sequence_id !== undefined ? `up:${up.sequence_id}` : `up:${crypto.createHash('sha256').update(`${up.phone_number}|${up.send_time}|${up.content}`).digest('hex').slice(0, 32)}`;
          await receiveSms(
            deps,
            s.inbox,
            s.cfg,
            { externalId, from: up.phone_number, to: up.dest_code, text: up.content, sentAt: cstTime(up.send_time), meta: { provider: 'aliyun', ...(up.sign_name ? { signName: up.sign_name } : {}) } },
            'cn',
          );
        }
        return ok(reply);
      });

      app.post<{ Params: { inboxId: string } }>('/webhooks/aliyun/:inboxId/smsreport', async (req, reply) => {
        const s = await authorized(req);
        if (!s) return reply.status(403).send({ code: 403, msg: 'forbidden' });
        const list = items<AliyunSmsReport>(req.body);
        if (!list) return reply.status(400).send({ code: 400, msg: 'expected a JSON array' });
        for (const rep of list) {
          // Pushes are not idempotent: dedupe on biz id + number + report time.
          const key = `aliyun:${s.inbox.id}:report:${rep.biz_id ?? rep.out_id}:${rep.phone_number}:${rep.report_time}`;
          if (await eventSeen(deps.workspace, key)) continue;
          const messageId = await findOutgoing(deps.workspace, s.inbox.id, { messageId: rep.out_id ?? null, providerMessageId: rep.biz_id ?? null });
          if (messageId) {
            await deps.workspace.setMessageStatus(
              messageId,
              rep.success ? 'delivered' : 'failed',
              {
                ...(rep.biz_id ? { providerMessageId: rep.biz_id } : {}),
                ...(rep.success ? {} : { reason: `Aliyun: ${rep.err_code ?? 'failed'}${rep.err_msg ? ` ${rep.err_msg}` : ''}` }),
                meta: { providerStatus: rep.err_code ?? (rep.success ? 'DELIVERED' : 'FAILED'), ...(rep.sms_size ? { providerSegments: Number(rep.sms_size) } : {}) },
              },
            );
          }
          await markEventSeen(deps.workspace, key);
        }
        return ok(reply);
      });
    },
  };
}

import { z } from 'zod';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { hmacHex, safeEqual } from '../auth/crypto.js';
import { markEventSeen } from '../domain/channelFacts.js';
import { scopeHas } from '../domain/scope.js';
import { ApiError, badRequest, forbidden, notFound, parse, unauthorized } from '../errors.js';
import { bearer } from '../auth/request.js';
import type { ChannelProvider, ProviderDeps, SendResult } from './provider.js';
import { label, localized } from './label.js';
import { egressFetch, providerErrorExcerpt } from '../net/egress.js';

/** Signature of outbound webhooks and signed inbound posts: HMAC-SHA256 over `${timestamp}.${rawBody}`. */
export function signApiPayload(secret: string, timestamp: string, rawBody: string): string {
  return `sha256=${hmacHex(secret, `${timestamp}.${rawBody}`)}`;
}

export const ApiConfig = z
  .object({
    /** Where outbound messages are POSTed; without it they are accepted for the integration to fetch. */
    webhookUrl: z.string().url().meta(label('Outbound webhook URL', '出站 webhook 地址')).refine((u) => /^https?:\/\//.test(u), 'http(s) only').optional(),
  })
  .meta(label('API (your own system)', 'API（自有系统）'));
export const ApiSecrets = z.object({ secret: z.string().min(16).max(256).meta(label('Signing secret', '签名密钥')) }).meta(label('API secrets', 'API 密钥'));

export const InboundBody = z.object({
  externalId: z.string().min(1).max(256),
  from: z.object({ identifier: z.string().trim().min(1).max(320), name: z.string().trim().max(200).optional() }),
  text: z.string().max(100_000),
  subject: z.string().max(998).optional(),
});

/** Replay window for signed requests. */
const SIGNATURE_WINDOW_S = 300;

const IdParam = z.object({ id: z.string().min(1).max(128) });

/**
 * `POST /api/v1/inboxes/:id/inbound`: an inbound message posted by the integration, with either an
 * agent's bearer token (with access to the inbox) or the inbox secret's signature over the raw body.
 */
function registerInbound(app: FastifyInstance, deps: ProviderDeps): void {
  const ws = deps.workspace;

  async function authorizeInbound(req: FastifyRequest, inboxId: string) {
    const sig = req.headers['x-goutong-signature'];
    const ts = req.headers['x-goutong-timestamp'];
    if (typeof sig === 'string' && typeof ts === 'string') {
      const settings = await deps.inboxSettings(inboxId);
      if (!settings || settings.inbox.channel !== 'api') throw notFound(`inbox ${inboxId} not found`);
      const t = Number(ts);
      if (!Number.isInteger(t) || Math.abs(Date.now() / 1000 - t) > SIGNATURE_WINDOW_S) throw unauthorized('stale or invalid timestamp');
      const expected = `sha256=${hmacHex(settings.secrets.secret ?? '', `${ts}.${req.rawBody ?? ''}`)}`;
      if (!safeEqual(expected, sig)) throw forbidden('bad signature');
      if (!(await markEventSeen(ws.db, `api:${inboxId}:${sig}`))) throw new ApiError('conflict', 'replayed request');
      return settings.inbox;
    }
    const token = bearer(req);
    if (!token) throw unauthorized('missing bearer token or signature');
    const agent = await deps.authenticate(token);
    const inbox = await ws.inbox(agent.tenantId, inboxId);
    const scope = await ws.scope(agent);
    if (!inbox || !scopeHas(scope, inboxId)) throw notFound(`inbox ${inboxId} not found`);
    if (inbox.channel !== 'api') throw badRequest('only api inboxes accept posted inbound messages');
    return inbox;
  }

  app.post('/api/v1/inboxes/:id/inbound', async (req, reply) => {
    const { id } = parse(IdParam, req.params, 'path');
    const inbox = await authorizeInbound(req, id);
    const body = parse(InboundBody, req.body, 'inbound message');
    const res = await deps.ingest(inbox, { externalId: body.externalId, from: body.from, text: body.text, subject: body.subject });
    return reply.status(res.duplicate ? 200 : 201).send({ duplicate: res.duplicate, conversationId: res.conversation.id, contactId: res.conversation.contactId, message: res.message });
  });
}

const errorBody = { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } };

/**
 * The `api` channel (like Chatwoot's API inbox): an external system posts inbound messages to
 * `/api/v1/inboxes/{id}/inbound` and receives outbound ones as signed webhooks.
 */
export function apiProvider(opts: { fetch?: typeof fetch; timeoutMs?: number } = {}): ChannelProvider {
  const doFetch = opts.fetch ?? egressFetch;
  return {
    channel: 'api',
    name: 'api',
    configSchema: ApiConfig,
    secretsSchema: ApiSecrets,
    routes: registerInbound,
    openapi: {
      '/api/v1/inboxes/{id}/inbound': {
        post: {
          summary: 'Post an inbound message to an api inbox (bearer token, or X-Goutong-Timestamp + X-Goutong-Signature: sha256=HMAC(secret, `${ts}.${rawBody}`)). The same externalId again changes nothing.',
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
          security: [{ bearer: [] }, {}],
          requestBody: { required: true, content: { 'application/json': { schema: z.toJSONSchema(InboundBody, { io: 'input', unrepresentable: 'any' }) } } },
          responses: {
            '201': { description: 'Stored', content: { 'application/json': { schema: { type: 'object' } } } },
            '200': { description: 'Duplicate, nothing changed', content: { 'application/json': { schema: { type: 'object' } } } },
            ...Object.fromEntries(['400', '401', '403', '404', '409'].map((c) => [c, { description: 'Error', content: errorBody }])),
          },
        },
      },
    },
    urls: ({ inbox }) => [
      {
        key: 'inbound',
        what: localized('Inbound messages (your system posts here, signed with the inbox secret)', '入站消息（您的系统用收件箱密钥签名后提交到此地址）'),
        method: 'POST',
        url: `/api/v1/inboxes/${encodeURIComponent(inbox.id)}/inbound`,
      },
    ],
    async send(ctx): Promise<SendResult> {
      const cfg = ApiConfig.parse(ctx.config);
      if (!cfg.webhookUrl) return { kind: 'accepted', providerMessageId: null };
      const body = JSON.stringify({
        event: 'message.created',
        inboxId: ctx.inbox.id,
        conversationId: ctx.conversation.id,
        contact: { id: ctx.contact.id, name: ctx.contact.name, identifiers: ctx.contact.identities.filter((i) => i.channel === 'api').map((i) => i.identifier) },
        message: { id: ctx.message.id, text: ctx.message.text, subject: ctx.message.subject, attachments: ctx.message.attachments, createdAt: ctx.message.createdAt, authorId: ctx.message.authorId },
      });
      const ts = String(Math.floor(Date.now() / 1000));
      const ac = new AbortController();
      const timer = setTimeout(() => ac.abort(), opts.timeoutMs ?? 10_000);
      try {
        const res = await doFetch(cfg.webhookUrl, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-goutong-timestamp': ts,
            'x-goutong-signature': signApiPayload(ctx.secrets.secret ?? '', ts, body),
            'idempotency-key': ctx.idempotencyKey,
          },
          body,
          signal: ac.signal,
        });
        const text = await res.text().catch(() => '');
        if (res.ok) {
          let id: string | null = null;
          try {
            const j = JSON.parse(text) as { id?: unknown };
            if (typeof j.id === 'string' || typeof j.id === 'number') id = String(j.id);
          } catch {
            /* a 2xx without JSON is fine */
          }
          return { kind: 'accepted', providerMessageId: id };
        }
        if (res.status >= 500 || res.status === 429 || res.status === 408) return { kind: 'retry', reason: `webhook answered ${res.status}` };
        return { kind: 'rejected', reason: `webhook answered ${res.status}: ${providerErrorExcerpt(text)}`, code: `http_${res.status}` };
      } catch (e) {
        return { kind: 'retry', reason: `webhook unreachable: ${(e as Error).message}` };
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

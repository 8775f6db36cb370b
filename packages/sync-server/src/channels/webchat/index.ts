import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Agent, Conversation, Inbox, Message } from '@goutong/core';
import { Emitter } from '@goutong/core';
import { ApiError, badRequest, forbidden, notFound, parse, unauthorized } from '../../errors.js';
import { agentOf, bearer } from '../../auth/request.js';
import { safeEqual } from '../../auth/crypto.js';
import { scopeHas } from '../../domain/scope.js';
import { inboxCalendar, recordVisitorDetails, visitorConversation, visitorMessages, webConversation } from '../../domain/webchat.js';
import { findInbound } from '../../domain/channelFacts.js';
import { answerInPlace } from '../../domain/csat.js';
import type { ChannelProvider, ProviderDeps, SendResult } from '../provider.js';
import { localized } from '../label.js';
import { AfterQuery, CsatBody, InboxParam, SendBody, SessionBody, TypingBody, WebchatConfig, WebchatSecrets } from './config.js';
import { identityHash, inboxIdOfToken, inboxToken, newVisitorIdentifier, signStaged, signVisitor, verifyStaged, verifyVisitor, type VisitorClaims } from './token.js';
import { RateLimiter } from './limits.js';
import { availability } from './hours.js';
import { AgentTypingTracker } from './presence.js';
import { js, json } from '../../jsonSchema.js';

export const ATTACHMENT_LIMIT = 10 * 1024 * 1024;
const TYPING_TTL_MS = 6_000;
const HEARTBEAT_MS = 20_000;
const POLL_MS = 5_000;
/** Presence says when typing stops; this only bounds a state whose agent vanished without a word. */
const PRESENCE_TYPING_TTL_MS = 60_000;

/** The built widget (packages/widget/dist), served at /widget/*: src|dist/channels/webchat → packages/widget/dist. */
function widgetDir(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../widget/dist');
}
const WIDGET_TYPES: Record<string, string> = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.map': 'application/json', '.html': 'text/html; charset=utf-8' };

/** What a visitor sees of a message. */
export interface VisitorMessage {
  id: string;
  clientId: string | null;
  direction: 'in' | 'out';
  text: string;
  attachments: { name: string; mime: string; size: number; url: string | null }[];
  status: Message['status'];
  createdAt: number;
  seq: number;
  agent: { name: string } | null;
}

interface Typing {
  visitorUntil: number;
  agent: { name: string; until: number } | null;
}

interface VisitorContext {
  inbox: Inbox;
  config: WebchatConfig;
  secrets: Record<string, string>;
  key: string;
  origin: string;
}

/** Where an agent's reply goes: stored already (the message fact); the visitor's stream or poll picks it up. */
async function deliver(): Promise<SendResult> {
  return { kind: 'accepted', providerMessageId: null };
}

export function webchatProvider(): ChannelProvider {
  const limiter = new RateLimiter();
  const typing = new Map<string, Typing>();
  const typingChanged = new Emitter<string>();
  const agentNames = new Map<string, { at: number; names: Map<string, string> }>();

  function setTyping(conversationId: string, who: 'visitor' | 'agent', on: boolean, agentName?: string, ttlMs = TYPING_TTL_MS): void {
    const now = Date.now();
    const t = typing.get(conversationId) ?? { visitorUntil: 0, agent: null };
    if (who === 'visitor') t.visitorUntil = on ? now + ttlMs : 0;
    else t.agent = on ? { name: agentName ?? '', until: now + ttlMs } : null;
    if (t.visitorUntil === 0 && !t.agent) typing.delete(conversationId);
    else typing.set(conversationId, t);
    typingChanged.emit(conversationId);
  }
  function typingOf(conversationId: string): { visitor: boolean; agent: { name: string } | null } {
    const t = typing.get(conversationId);
    const now = Date.now();
    return { visitor: !!t && t.visitorUntil > now, agent: t?.agent && t.agent.until > now ? { name: t.agent.name } : null };
  }

  async function agentName(deps: ProviderDeps, tenantId: string, id: string | null): Promise<string | null> {
    if (!id) return null;
    let cached = agentNames.get(tenantId);
    if (!cached || Date.now() - cached.at > 60_000 || !cached.names.has(id)) {
      const agents: Agent[] = await deps.workspace.agents(tenantId);
      cached = { at: Date.now(), names: new Map(agents.map((a) => [a.id, a.name])) };
      agentNames.set(tenantId, cached);
    }
    return cached.names.get(id) ?? null;
  }

  async function toVisitor(deps: ProviderDeps, m: Message): Promise<VisitorMessage> {
    const withUrls = deps.workspace.withAttachmentUrls(m);
    const name = m.direction === 'out' ? await agentName(deps, m.tenantId, m.authorId) : null;
    return {
      id: m.id,
      clientId: typeof m.meta['clientId'] === 'string' ? m.meta['clientId'] : null,
      direction: m.direction,
      text: m.text,
      attachments: withUrls.attachments.map((a) => ({ name: a.name, mime: a.mime, size: a.size, url: a.url ?? null })),
      status: m.status,
      createdAt: m.createdAt,
      seq: m.seq,
      agent: m.direction === 'out' ? { name: name ?? (m.authorType === 'system' ? '' : 'Agent') } : null,
    };
  }

  function keyOf(deps: ProviderDeps): string {
    if (!deps.keyFor) throw new ApiError('unavailable', 'the server gives extensions no signing key');
    return deps.keyFor('webchat');
  }

  /** The inbox of the path's token, its settings, and the request's allowed Origin (403 otherwise). */
  async function visitorContext(deps: ProviderDeps, req: FastifyRequest, reply: FastifyReply): Promise<VisitorContext> {
    const key = keyOf(deps);
    const { inbox: token } = parse(InboxParam, req.params, 'path');
    const inboxId = inboxIdOfToken(key, token);
    const settings = inboxId ? await deps.inboxSettings(inboxId) : null;
    if (!settings || settings.inbox.channel !== 'web') throw notFound('no such website chat');
    const config = WebchatConfig.parse(settings.config);
    const origin = req.headers.origin;
    if (typeof origin !== 'string' || !config.allowedOrigins.some((o) => o.toLowerCase() === origin.toLowerCase())) {
      throw forbidden(`origin ${typeof origin === 'string' ? origin : '(none)'} may not use this chat`);
    }
    reply.header('access-control-allow-origin', origin).header('vary', 'origin');
    limiter.hit(`${settings.inbox.id}:ip:${req.ip}`, config.perIpPerMinute, 'address');
    return { inbox: settings.inbox, config, secrets: settings.secrets, key, origin };
  }

  function visitorOf(ctx: VisitorContext, token: string | null | undefined): VisitorClaims {
    if (!token) throw unauthorized('missing visitor token');
    const claims = verifyVisitor(ctx.key, ctx.inbox.id, token);
    if (!claims) throw unauthorized('invalid visitor token');
    return claims;
  }

  /** Marks the agents' replies the visitor has now received as delivered (statuses only move forward). */
  async function markDelivered(deps: ProviderDeps, list: Message[]): Promise<void> {
    for (const m of list) if (m.direction === 'out' && m.status === 'accepted') await deps.workspace.setMessageStatus(m.id, 'delivered');
  }

  async function changes(deps: ProviderDeps, ctx: VisitorContext, v: VisitorClaims, after: number) {
    const conv = await visitorConversation(deps.workspace.db, ctx.inbox.tenantId, ctx.inbox.id, v.s);
    const list = conv ? await visitorMessages(deps.workspace.db, conv.id, after) : [];
    await markDelivered(deps, list);
    const messages = await Promise.all(list.map((m) => toVisitor(deps, m)));
    const seq = list.reduce((s, m) => Math.max(s, m.seq), after);
    return { conversation: conv ? conversationView(conv) : null, messages, seq, typing: conv ? typingOf(conv.id).agent : null };
  }

  function conversationView(c: Conversation) {
    return { id: c.id, status: c.status, ended: c.status === 'resolved' || c.status === 'closed' };
  }

  /** The signing key, known once the server registered the routes (urls() signs the widget token with it). */
  let boundKey: string | null = null;

  function routes(app: FastifyInstance, deps: ProviderDeps): void {
    const ws = deps.workspace;
    boundKey = deps.keyFor ? keyOf(deps) : null;
    // The agent apps announce "typing a reply" in their presence on the conversation (Yjs awareness): the visitor sees it.
    const tracker = new AgentTypingTracker();
    deps.presence?.on(({ doc, update }) => {
      const r = tracker.apply(doc, update);
      if (r && (r.agent || typing.get(r.conversationId)?.agent)) setTyping(r.conversationId, 'agent', !!r.agent, r.agent?.name, PRESENCE_TYPING_TTL_MS);
    });
    const base = '/api/v1/webchat/:inbox';

    // CORS preflight: only the inbox's allowed origins.
    app.options(`${base}/*`, async (req, reply) => {
      await visitorContext(deps, req, reply);
      return reply
        .status(204)
        .header('access-control-allow-methods', 'GET, POST, OPTIONS')
        .header('access-control-allow-headers', 'authorization, content-type, x-file-name, x-file-type')
        .header('access-control-max-age', '600')
        .send();
    });

    app.post(`${base}/session`, async (req, reply) => {
      const ctx = await visitorContext(deps, req, reply);
      const body = parse(SessionBody, req.body ?? {}, 'session');
      let subject: string | null = null;
      if (body.visitorToken) subject = verifyVisitor(ctx.key, ctx.inbox.id, body.visitorToken)?.s ?? null;
      if (body.identifier !== undefined) {
        const secret = ctx.secrets['identitySecret'];
        if (!secret) throw forbidden('this chat does not verify user identities (no identity secret is set)');
        if (!safeEqual(identityHash(secret, body.identifier), (body.identifierHash ?? '').toLowerCase())) throw forbidden('the user identity signature does not match');
        subject = `user:${body.identifier}`;
      }
      subject ??= newVisitorIdentifier();
      const conv = await visitorConversation(ws.db, ctx.inbox.tenantId, ctx.inbox.id, subject);
      const open = availability(ctx.config, await inboxCalendar(ws.db, ctx.inbox.tenantId, ctx.inbox.ops?.businessHoursId));
      return reply.send({
        visitorToken: signVisitor(ctx.key, ctx.inbox.id, subject),
        visitor: { identified: subject.startsWith('user:') },
        settings: { greeting: ctx.config.greeting ?? null, preChatFields: ctx.config.preChatFields, online: open.online, nextOpening: open.nextOpening, csat: ctx.config.csat, inboxName: ctx.inbox.name },
        conversation: conv ? conversationView(conv) : null,
      });
    });

    app.post(`${base}/messages`, async (req, reply) => {
      const ctx = await visitorContext(deps, req, reply);
      const v = visitorOf(ctx, bearer(req));
      limiter.hit(`${ctx.inbox.id}:v:${v.s}`, ctx.config.perVisitorPerMinute, 'visitor');
      const body = parse(SendBody, req.body, 'message');
      const staged = body.attachments.map((ref) => {
        const f = verifyStaged(ctx.key, v.s, ref);
        if (!f) throw badRequest('an attachment reference is invalid or belongs to another visitor');
        return f;
      });
      const contact = body.offline ?? body.preChat;
      const externalId = `web:${v.s}:${body.clientId}`;
      const res = await deps.ingest(ctx.inbox, {
        externalId,
        from: { identifier: v.s, ...(contact?.name ? { name: contact.name } : {}) },
        text: body.text,
        sentAt: body.deviceTime,
        stagedAttachments: staged,
        meta: {
          clientId: body.clientId,
          origin: ctx.origin,
          ...(body.offline ? { offlineForm: true, contact: body.offline } : {}),
          ...(body.preChat ? { preChat: body.preChat } : {}),
        },
      }).catch(async (e: unknown) => {
        // Two tabs (or two server processes) sending the same client id at once: the unique
        // (inbox, external id) lets one commit; the other answers with what was stored.
        const stored = await findInbound(ws.db, ctx.inbox.id, externalId);
        if (!stored) throw e;
        const conv = await webConversation(ws.db, ctx.inbox.id, stored.conversationId);
        const m = conv ? (await visitorMessages(ws.db, conv.id, 0, 10_000)).find((x) => x.id === stored.id) : undefined;
        if (!conv || !m) throw e;
        return { duplicate: true, conversation: conv, message: m };
      });
      setTyping(res.conversation.id, 'visitor', false);
      if (!res.duplicate && (contact?.email || contact?.phone)) await recordVisitorDetails(ws, res.conversation.contactId, contact);
      // Acknowledged after the commit: the browser drops it from its outbox only now.
      return reply.status(res.duplicate ? 200 : 201).send({ duplicate: res.duplicate, conversation: conversationView(res.conversation), message: await toVisitor(deps, res.message) });
    });

    app.get(`${base}/messages`, async (req, reply) => {
      const ctx = await visitorContext(deps, req, reply);
      const q = parse(AfterQuery, req.query, 'query');
      const v = visitorOf(ctx, bearer(req) ?? q.token);
      return reply.send(await changes(deps, ctx, v, q.after));
    });

    // Server-sent events: the agents' replies, status changes and typing, as they commit.
    app.get(`${base}/stream`, async (req, reply) => {
      const ctx = await visitorContext(deps, req, reply);
      const q = parse(AfterQuery, req.query, 'query');
      const v = visitorOf(ctx, q.token ?? bearer(req));
      let after = q.after;
      let conversationId: string | null = null;
      let lastStatus: string | null = null;
      let first = true;
      let running = false;
      let again = false;
      let closed = false;
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
        'access-control-allow-origin': ctx.origin,
        vary: 'origin',
        'x-content-type-options': 'nosniff',
      });
      const write = (event: string, data: unknown) => {
        if (!closed) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      };
      const pump = async () => {
        if (running) {
          again = true;
          return;
        }
        running = true;
        try {
          do {
            again = false;
            const c = await changes(deps, ctx, v, after);
            const status = c.conversation ? `${c.conversation.id}:${c.conversation.status}` : null;
            // New or changed messages, a new or resolved conversation, or the first answer of the stream.
            if (c.messages.length > 0 || status !== lastStatus || first) write('changes', c);
            first = false;
            lastStatus = status;
            conversationId = c.conversation?.id ?? conversationId;
            after = c.seq;
          } while (again && !closed);
        } catch (e) {
          deps.logger.warn('webchat: stream read failed', { error: String(e) });
        } finally {
          running = false;
        }
      };
      const offCommit = ws.committed.on(({ tenantId }) => {
        if (tenantId === ctx.inbox.tenantId) void pump();
      });
      const offTyping = typingChanged.on((id) => {
        if (id === conversationId) write('typing', { agent: typingOf(id).agent });
      });
      const beat = setInterval(() => !closed && res.write(': ping\n\n'), HEARTBEAT_MS);
      // Commits of other server processes (several on one PostgreSQL) do not reach this emitter: look again now and then.
      const poll = setInterval(() => void pump(), POLL_MS);
      req.raw.on('close', () => {
        closed = true;
        offCommit();
        offTyping();
        clearInterval(beat);
        clearInterval(poll);
      });
      await pump();
    });

    app.post(`${base}/typing`, async (req, reply) => {
      const ctx = await visitorContext(deps, req, reply);
      const v = visitorOf(ctx, bearer(req));
      const body = parse(TypingBody, req.body, 'typing');
      const conv = await visitorConversation(ws.db, ctx.inbox.tenantId, ctx.inbox.id, v.s);
      if (conv) setTyping(conv.id, 'visitor', body.typing);
      return reply.status(204).send();
    });

    app.post(`${base}/attachments`, { bodyLimit: ATTACHMENT_LIMIT }, async (req, reply) => {
      const ctx = await visitorContext(deps, req, reply);
      const v = visitorOf(ctx, bearer(req));
      limiter.hit(`${ctx.inbox.id}:v:${v.s}`, ctx.config.perVisitorPerMinute, 'visitor');
      if (!Buffer.isBuffer(req.body) || req.body.length === 0) throw badRequest('send the file bytes as the body (content-type of the file, x-file-name header)');
      let rawName: string;
      try {
        rawName = decodeURIComponent(String(req.headers['x-file-name'] ?? 'file'));
      } catch {
        throw badRequest('x-file-name must be URL-encoded');
      }
      const name = parse(z.string().min(1).max(255), rawName, 'x-file-name');
      // The body goes as application/octet-stream (a .json or .txt file must not be parsed); the file's type rides in x-file-type.
      const mime = parse(z.string().max(255), String(req.headers['x-file-type'] ?? req.headers['content-type'] ?? 'application/octet-stream'), 'x-file-type');
      const staged = deps.attachments.stage(ctx.inbox.tenantId, req.body, { name, mime });
      const file = { id: staged.id, name: staged.name, mime: staged.mime, size: staged.size, sha256: staged.sha256 };
      return reply.status(201).send({ ref: signStaged(ctx.key, v.s, file), name: file.name, mime: file.mime, size: file.size });
    });

    // CSAT: one 1–5 rating per conversation: an event in its timeline and the conversation's `csat` (a second rating changes nothing).
    app.post(`${base}/csat`, async (req, reply) => {
      const ctx = await visitorContext(deps, req, reply);
      const v = visitorOf(ctx, bearer(req));
      const body = parse(CsatBody, req.body, 'rating');
      const latest = await visitorConversation(ws.db, ctx.inbox.tenantId, ctx.inbox.id, v.s);
      if (!latest || latest.id !== body.conversationId) throw notFound('no such conversation of this visitor');
      const res = await deps.ingest(ctx.inbox, {
        externalId: `csat:${latest.id}`,
        from: { identifier: v.s },
        conversationId: latest.id,
        kind: 'event',
        text: `CSAT ${body.rating}/5${body.comment ? `: ${body.comment}` : ''}`,
        meta: { csat: { rating: body.rating, ...(body.comment ? { comment: body.comment } : {}) } },
      });
      // The rating itself is the conversation's CSAT fact, written by the one CSAT writer (domain/csat.ts).
      if (!res.duplicate) await answerInPlace(ws, latest.id, { rating: body.rating, comment: body.comment ?? null }, Date.now());
      const stored = (res.message.meta['csat'] as { rating?: number } | undefined)?.rating ?? body.rating;
      return reply.status(res.duplicate ? 200 : 201).send({ duplicate: res.duplicate, rating: stored });
    });

    // Agents: typing towards the visitor, and whether the visitor is typing.
    const agentTyping = async (req: FastifyRequest) => {
      const agent = agentOf(req);
      const { id } = parse(z.object({ id: z.string().min(1).max(128) }), req.params, 'path');
      const conv = await ws.visibleConversation(agent, id);
      const scope = await ws.scope(agent);
      if (conv.channel !== 'web' || !scopeHas(scope, conv.inboxId) || !(await webConversation(ws.db, conv.inboxId, conv.id))) throw notFound(`web conversation ${id} not found`);
      return { agent, conv };
    };
    app.post('/api/v1/webchat/conversations/:id/typing', { preHandler: deps.requireAgent }, async (req, reply) => {
      const { agent, conv } = await agentTyping(req);
      const body = parse(TypingBody, req.body, 'typing');
      setTyping(conv.id, 'agent', body.typing, agent.name);
      return reply.status(204).send();
    });
    app.get('/api/v1/webchat/conversations/:id/typing', { preHandler: deps.requireAgent }, async (req, reply) => {
      const { conv } = await agentTyping(req);
      return reply.send({ visitor: typingOf(conv.id).visitor });
    });

    // The widget's files, at a stable URL; public and loadable from any site (module chunks need CORS).
    app.get('/widget/*', async (req, reply) => {
      const dir = widgetDir();
      const rel = (req.params as { '*': string })['*'] ?? '';
      const file = path.resolve(dir, rel);
      if (!file.startsWith(dir + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) throw notFound(fs.existsSync(dir) ? `no widget file ${rel}` : 'the widget is not built (pnpm --filter @goutong/widget build)');
      const hashed = /-[A-Za-z0-9_-]{8,}\.js$/.test(file);
      return reply
        .header('access-control-allow-origin', '*')
        .header('cross-origin-resource-policy', 'cross-origin')
        .header('cache-control', hashed ? 'public, max-age=31536000, immutable' : 'public, max-age=300')
        .type(WIDGET_TYPES[path.extname(file)] ?? 'application/octet-stream')
        .send(fs.createReadStream(file));
    });
  }

  const errorBody = { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } };
  const errors = Object.fromEntries(['400', '401', '403', '404', '429'].map((c) => [c, { description: 'Error', content: errorBody }]));
  const inboxParam = { name: 'inbox', in: 'path', required: true, schema: { type: 'string' }, description: "The inbox's public widget token (data-inbox-token)" };
  const body = (schema: z.ZodType) => ({ required: true, content: json(js(schema)) });
  const ok = { description: 'OK', content: { 'application/json': { schema: { type: 'object' } } } };

  return {
    channel: 'web',
    name: 'webchat',
    configSchema: WebchatConfig as unknown as z.ZodType<Record<string, unknown>>,
    secretsSchema: WebchatSecrets as unknown as z.ZodType<Record<string, string>>,
    routes,
    openapi: {
      '/api/v1/webchat/{inbox}/session': { post: { summary: 'Website chat: start or resume a visitor session (Origin must be allowed); returns a signed visitor token. identifier + identifierHash (HMAC-SHA256 with the identity secret) upgrade it to a verified user.', parameters: [inboxParam], security: [], requestBody: body(SessionBody), responses: { '200': ok, ...errors } } },
      '/api/v1/webchat/{inbox}/messages': {
        post: { summary: "Website chat: a visitor's message (Bearer visitor token). clientId is the idempotency key: the same one again stores nothing new (200).", parameters: [inboxParam], security: [], requestBody: body(SendBody), responses: { '201': ok, '200': ok, ...errors } },
        get: { summary: "Website chat: the visitor's conversation changed after `after` (seq)", parameters: [inboxParam, { name: 'after', in: 'query', schema: { type: 'integer' } }], security: [], responses: { '200': ok, ...errors } },
      },
      '/api/v1/webchat/{inbox}/stream': { get: { summary: 'Website chat: server-sent events (changes, typing) for the visitor (token in the query)', parameters: [inboxParam, { name: 'token', in: 'query', schema: { type: 'string' } }, { name: 'after', in: 'query', schema: { type: 'integer' } }], security: [], responses: { '200': { description: 'text/event-stream' }, ...errors } } },
      '/api/v1/webchat/{inbox}/typing': { post: { summary: 'Website chat: the visitor is typing (or stopped)', parameters: [inboxParam], security: [], requestBody: body(TypingBody), responses: { '204': { description: 'Noted' }, ...errors } } },
      '/api/v1/webchat/{inbox}/attachments': { post: { summary: 'Website chat: upload a file (raw body as application/octet-stream, x-file-name and x-file-type headers); returns a reference to send with a message', parameters: [inboxParam], security: [], responses: { '201': ok, ...errors } } },
      '/api/v1/webchat/{inbox}/csat': { post: { summary: 'Website chat: rate the conversation 1–5 (once)', parameters: [inboxParam], security: [], requestBody: body(CsatBody), responses: { '201': ok, '200': ok, ...errors } } },
      '/api/v1/webchat/conversations/{id}/typing': {
        post: { summary: 'Agent typing towards the website visitor', parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }], requestBody: body(TypingBody), responses: { '204': { description: 'Noted' }, ...errors } },
        get: { summary: 'Whether the website visitor is typing', parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }], responses: { '200': ok, ...errors } },
      },
    },
    urls: ({ inbox }) =>
      boundKey
        ? [
            {
              key: 'widget',
              what: localized('Widget script (paste the snippet before </body> of your site)', '聊天窗口脚本（将代码片段粘贴到网站 </body> 之前）'),
              method: 'GET',
              url: `/widget/widget.js?inbox=${encodeURIComponent(inboxToken(boundKey, inbox.id))}`,
            },
          ]
        : [],
    send: deliver,
  };
}

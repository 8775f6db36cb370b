import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import {
  CommandBatch,
  ConversationStatus,
  Id,
  LoginRequest,
  PullRequest,
  RefreshRequest,
  type Command,
  type Conversation,
} from '@goutong/core';
import type { AuthService } from '../auth/service.js';
import type { Workspace } from '../domain/workspace.js';
import type { InboxAdmin } from '../channels/inboxAdmin.js';
import { ApiError, badRequest, notFound } from '../errors.js';
import { agentOf, parse, requireAgent, requirePermission } from './app.js';
import { buildOpenApi } from './openapi.js';
import { scopeHas } from '../domain/scope.js';
import { tenantById } from '../domain/tenants.js';
import { messageInConversation } from '../domain/reads.js';
import { maskerFor } from '../domain/masking.js';
import { insertAudit } from '../domain/audit.js';
import { ConversationListQuery, PageQuery, PatchConversationBody, SendMessageBody } from './schemas.js';

const IdParam = z.object({ id: Id });
const OptInBody = z.object({ reason: z.string().trim().min(1).max(500).optional() }).strict();

/** GOUTONG_FAULT, a test hook only: `kill-after-commit` or `kill-after-commit:N`. */
const FaultEnv = z.string().regex(/^kill-after-commit(:[1-9][0-9]*)?$/, 'GOUTONG_FAULT must be kill-after-commit[:N]').optional();

export function registerRoutes(app: FastifyInstance, d: { auth: AuthService; workspace: Workspace; inboxes: InboxAdmin; version: string }): void {
  const { auth, workspace: ws } = d;
  const authed = { preHandler: requireAgent(auth) };

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/api/v1/openapi.json', async () => buildOpenApi(d.version, d.inboxes.providers));

  // ----- auth -------------------------------------------------------------------------
  app.post('/api/v1/auth/login', async (req) => {
    const body = parse(LoginRequest, req.body, 'login');
    // [accounts] Two-step when the agent has two-factor on: {mfaRequired, mfaToken}, then /api/v1/auth/mfa.
    // The auth service audits every outcome (signed in, password right but a code pending, refused, failed).
    const step = await auth.beginLogin(body.email, body.password, req.ip, body.tenant, { deviceName: body.deviceName, platform: body.platform });
    if (step.kind === 'mfa') {
      await insertAudit(ws.db, { tenantId: step.agent.tenantId, agentId: step.agent.id }, { action: 'auth.password_ok_mfa_pending', target: step.agent.id, details: { ip: req.ip } }, Date.now());
      return { mfaRequired: true, mfaToken: step.mfaToken, expiresIn: step.expiresIn };
    }
    return step.tokens;
  });
  app.post('/api/v1/auth/refresh', async (req) => auth.refresh(parse(RefreshRequest, req.body, 'refresh request').refreshToken));
  app.post('/api/v1/auth/logout', async (req, reply) => {
    const body = parse(RefreshRequest, req.body, 'logout request');
    await auth.logout(body.refreshToken);
    return reply.status(204).send();
  });
  app.get('/api/v1/me', authed, async (req) => {
    const agent = agentOf(req);
    return { agent, tenant: await tenantById(ws.db, agent.tenantId) };
  });

  // ----- directory ---------------------------------------------------------------------
  app.get('/api/v1/inboxes', authed, async (req) => {
    const agent = agentOf(req);
    const scope = await ws.scope(agent);
    const items = (await ws.inboxes(agent.tenantId)).filter((i) => scopeHas(scope, i.id));
    return { items: await Promise.all(items.map((i) => d.inboxes.publicView(i))) };
  });
  app.post('/api/v1/inboxes', authed, async (req, reply) => {
    const agent = agentOf(req);
    requirePermission(agent, 'settings.manage');
    const created = await d.inboxes.create(agent, req.body);
    return reply.status(201).send(created);
  });
  app.get('/api/v1/inboxes/:id', authed, async (req) => {
    const agent = agentOf(req);
    const { id } = parse(IdParam, req.params, 'path');
    const scope = await ws.scope(agent);
    const inbox = await ws.inbox(agent.tenantId, id);
    if (!inbox || !scopeHas(scope, id)) throw notFound(`inbox ${id} not found`);
    return d.inboxes.publicView(inbox);
  });
  app.patch('/api/v1/inboxes/:id', authed, async (req) => {
    const agent = agentOf(req);
    requirePermission(agent, 'settings.manage');
    const { id } = parse(IdParam, req.params, 'path');
    return d.inboxes.update(agent, id, req.body);
  });
  app.get('/api/v1/agents', authed, async (req) => ({ items: await ws.agents(agentOf(req).tenantId) }));
  app.get('/api/v1/teams', authed, async (req) => ({ items: await ws.teams(agentOf(req).tenantId) }));
  app.get('/api/v1/contacts/:id', authed, async (req) => {
    const { id } = parse(IdParam, req.params, 'path');
    const agent = agentOf(req);
    return (await maskerFor(ws.db, agent)).contact(await ws.visibleContact(agent, id));
  });

  // An admin clears a contact's SMS opt-out (audited in the same transaction); agents cannot, by any command.
  app.post('/api/v1/contacts/:id/opt-in', authed, async (req) => {
    const agent = agentOf(req);
    const { id } = parse(IdParam, req.params, 'path');
    const body = parse(OptInBody, req.body ?? {}, 'opt-in');
    return (await maskerFor(ws.db, agent)).contact(await ws.optInContact(agent, id, body.reason));
  });

  // The api channel's inbound (`POST /api/v1/inboxes/:id/inbound`) is the api provider's route (channels/api.ts).

  // ----- conversations -------------------------------------------------------------------
  app.get('/api/v1/conversations', authed, async (req) => {
    const agent = agentOf(req);
    const q = parse(ConversationListQuery, req.query, 'query');
    const status = q.status ? q.status.split(',').map((s) => parse(ConversationStatus, s.trim(), 'status')) : undefined;
    const assigneeId = q.assigneeId === undefined ? undefined : q.assigneeId === 'none' || q.assigneeId === '' ? null : q.assigneeId === 'me' ? agent.id : parse(Id, q.assigneeId, 'assigneeId');
    return ws.listConversations(agent, { ...(status ? { status } : {}), ...(assigneeId !== undefined ? { assigneeId } : {}), ...(q.inboxId ? { inboxId: q.inboxId } : {}), ...(q.cursor ? { cursor: q.cursor } : {}), ...(q.q ? { q: q.q } : {}), limit: q.limit });
  });
  app.get('/api/v1/conversations/:id', authed, async (req) => {
    const { id } = parse(IdParam, req.params, 'path');
    const agent = agentOf(req);
    return (await maskerFor(ws.db, agent)).conversation(await ws.visibleConversation(agent, id));
  });
  app.get('/api/v1/conversations/:id/messages', authed, async (req) => {
    const { id } = parse(IdParam, req.params, 'path');
    const q = parse(PageQuery, req.query, 'query');
    return ws.listMessages(agentOf(req), id, q.cursor, q.limit);
  });
  app.post('/api/v1/conversations/:id/messages', authed, async (req, reply) => {
    const agent = agentOf(req);
    const { id } = parse(IdParam, req.params, 'path');
    const key = req.headers['idempotency-key'];
    if (typeof key !== 'string' || key.length < 1 || key.length > 255) throw badRequest('the Idempotency-Key header is required (1-255 characters)');
    const body = parse(SendMessageBody, req.body, 'message');
    const command: Command =
      body.kind === 'note'
        ? { type: 'add_note', id: ws.ids.next(), deviceTime: Date.now(), conversationId: id, text: body.text }
        : { type: 'send_reply', id: ws.ids.next(), deviceTime: Date.now(), conversationId: id, text: body.text, ...(body.subject ? { subject: body.subject } : {}) };
    const outcome = await ws.applyCommand(agent, command, undefined, key);
    if (outcome.outcome === 'rejected') throw new ApiError(outcome.error.code as never, outcome.error.message);
    const message = await messageInConversation(ws.db, outcome.id, id);
    if (!message) throw new ApiError('conflict', 'this Idempotency-Key was already used for another request');
    return reply.status(outcome.outcome === 'applied' ? 201 : 200).send((await maskerFor(ws.db, agent)).message(ws.withAttachmentUrls(message)));
  });
  app.patch('/api/v1/conversations/:id', authed, async (req) => {
    const agent = agentOf(req);
    const { id } = parse(IdParam, req.params, 'path');
    const body = parse(PatchConversationBody, req.body, 'conversation patch');
    const conv = await ws.visibleConversation(agent, id);
    const commands = patchToCommands(conv, body, () => ws.ids.next());
    for (const c of commands) {
      const r = await ws.applyCommand(agent, c);
      if (r.outcome === 'rejected') throw new ApiError(r.error.code as never, r.error.message);
    }
    return (await maskerFor(ws.db, agent)).conversation(await ws.visibleConversation(agent, id));
  });

  // ----- sync --------------------------------------------------------------------------
  // Test hook (README, "Fault injection"): GOUTONG_FAULT=kill-after-commit[:N] SIGKILLs this process
  // right after the Nth command batch (default 1) committed, before it answers.
  const fault = FaultEnv.parse(process.env.GOUTONG_FAULT || undefined);
  let batches = 0;
  app.post('/api/v1/commands', authed, async (req) => {
    const agent = agentOf(req);
    const body = parse(CommandBatch, req.body, 'command batch');
    const results = await ws.applyCommands(agent, body.commands);
    if (fault && ++batches === Number(fault.split(':')[1] ?? 1)) process.kill(process.pid, 'SIGKILL');
    return { results };
  });
  app.post('/api/v1/sync/pull', authed, async (req, reply) => {
    const body = parse(PullRequest, req.body ?? {}, 'pull request');
    reply.type('application/json; charset=utf-8').header('vary', 'accept-encoding');
    // [push] Lean catch-up: gzip when the client accepts it (browsers, Node and uni-app do).
    if (acceptsGzip(req.headers['accept-encoding'])) return reply.header('content-encoding', 'gzip').send(await ws.pullGzip(agentOf(req), body));
    return reply.send(await ws.pullJson(agentOf(req), body));
  });
}

/** PATCH is sugar over commands, so REST and the outbox share one path of validation and facts. */
export function patchToCommands(conv: Conversation, body: z.infer<typeof PatchConversationBody>, id: () => string): Command[] {
  const now = Date.now();
  const out: Command[] = [];
  const base = { conversationId: conv.id, deviceTime: now };
  if (body.status !== undefined && body.status !== conv.status) out.push({ ...base, id: id(), type: 'set_status', status: body.status, ...(body.snoozedUntil ? { snoozedUntil: body.snoozedUntil } : {}) });
  if (body.priority !== undefined && body.priority !== conv.priority) out.push({ ...base, id: id(), type: 'set_priority', priority: body.priority });
  if ((body.assigneeId !== undefined && body.assigneeId !== conv.assigneeId) || (body.teamId !== undefined && body.teamId !== conv.teamId)) {
    out.push({ ...base, id: id(), type: 'assign', assigneeId: body.assigneeId === undefined ? conv.assigneeId : body.assigneeId, ...(body.teamId !== undefined ? { teamId: body.teamId } : {}) });
  }
  if (body.labels) {
    const want = new Set(body.labels);
    for (const l of conv.labels) if (!want.has(l)) out.push({ ...base, id: id(), type: 'remove_label', label: l });
    for (const l of want) if (!conv.labels.includes(l)) out.push({ ...base, id: id(), type: 'add_label', label: l });
  }
  return out;
}

/** [push] Whether an Accept-Encoding header accepts gzip (a `q=0` refuses it). */
export function acceptsGzip(header: string | string[] | undefined): boolean {
  const v = Array.isArray(header) ? header.join(',') : (header ?? '');
  return v.split(',').some((part) => {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    if (name !== 'gzip' && name !== '*') return false;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

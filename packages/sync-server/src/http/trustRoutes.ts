// [trust] Roles (permission sets), masking patterns, reveals, the audit trail and API keys.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { BUILTIN_ROLES, Id, PERMISSIONS } from '@goutong/core';
import type { AuthService } from '../auth/service.js';
import type { Workspace } from '../domain/workspace.js';
import { notFound } from '../errors.js';
import { agentOf, parse, requireAgent, requirePermission } from './app.js';
import { createRole, deleteRole, listRoles, updateRole, RoleBody, RolePatch, setAgentRole } from '../domain/permissions.js';
import { conversationOfMessage, maskerFor, MaskPatternList, maskPatterns, reveal, revealedAgain, RevealBody, saveMaskPatterns } from '../domain/masking.js';
import { AuditQuery, auditCsv, insertAudit, searchAudit } from '../domain/audit.js';
import { ApiKeyBody, createApiKey, listApiKeys, revokeApiKey } from '../domain/apiKeys.js';

const IdParam = z.object({ id: Id });
const RevealIdParam = z.object({ id: z.string().regex(/^[A-Za-z0-9_-]{10,64}$/, 'invalid reveal id') });
const AgentRoleBody = z.object({ roleId: Id.nullable() }).strict();
const PatternsBody = z.object({ patterns: MaskPatternList }).strict();
const CSV_MAX_ROWS = 50_000;

export function registerTrustRoutes(app: FastifyInstance, d: { auth: AuthService; workspace: Workspace }): void {
  const ws = d.workspace;
  const authed = { preHandler: requireAgent(d.auth) };
  const now = () => Date.now();

  // ----- permissions and roles -----------------------------------------------------------
  app.get('/api/v1/permissions', authed, async (req) => {
    const agent = agentOf(req);
    return { permissions: PERMISSIONS, builtInRoles: BUILTIN_ROLES, mine: (agent as { permissions?: unknown }).permissions ?? BUILTIN_ROLES[agent.role] };
  });
  app.get('/api/v1/roles', authed, async (req) => {
    const agent = agentOf(req);
    requirePermission(agent, 'roles.manage');
    return { items: await listRoles(ws.db, agent.tenantId) };
  });
  app.post('/api/v1/roles', authed, async (req, reply) => {
    const body = parse(RoleBody, req.body, 'role');
    return reply.status(201).send(await createRole(ws.db, agentOf(req), body, now()));
  });
  app.patch('/api/v1/roles/:id', authed, async (req) => {
    const { id } = parse(IdParam, req.params, 'path');
    return updateRole(ws.db, agentOf(req), id, parse(RolePatch, req.body, 'role patch'), now());
  });
  app.delete('/api/v1/roles/:id', authed, async (req, reply) => {
    const { id } = parse(IdParam, req.params, 'path');
    await deleteRole(ws.db, agentOf(req), id, now());
    return reply.status(204).send();
  });
  app.put('/api/v1/agents/:id/custom-role', authed, async (req) => {
    const { id } = parse(IdParam, req.params, 'path');
    const body = parse(AgentRoleBody, req.body, 'agent role');
    return setAgentRole(ws.db, agentOf(req), id, body.roleId, now());
  });

  // ----- masking ---------------------------------------------------------------------------
  app.get('/api/v1/masking/patterns', authed, async (req) => {
    const agent = agentOf(req);
    requirePermission(agent, 'settings.manage');
    return { patterns: await maskPatterns(ws.db, agent.tenantId) };
  });
  app.put('/api/v1/masking/patterns', authed, async (req) => {
    const agent = agentOf(req);
    const body = parse(PatternsBody, req.body, 'mask patterns');
    await saveMaskPatterns(ws.db, agent, body.patterns, now());
    return { patterns: body.patterns };
  });

  // ----- reveal ----------------------------------------------------------------------------
  app.post('/api/v1/contacts/:id/reveal', authed, async (req) => {
    const agent = agentOf(req);
    const { id } = parse(IdParam, req.params, 'path');
    const body = parse(RevealBody, req.body, 'reveal');
    return reveal(ws.db, agent, { kind: 'contact', id }, body, { sessionId: req.sessionId ?? null, now: now(), visible: async (q) => void (await ws.visibleContact(agent, id, q)) });
  });
  app.post('/api/v1/messages/:id/reveal', authed, async (req) => {
    const agent = agentOf(req);
    const { id } = parse(IdParam, req.params, 'path');
    const body = parse(RevealBody, req.body, 'reveal');
    return reveal(ws.db, agent, { kind: 'message', id }, body, {
      sessionId: req.sessionId ?? null,
      now: now(),
      visible: async (q) => {
        const conversationId = await conversationOfMessage(q, agent.tenantId, id);
        if (!conversationId) throw notFound(`message ${id} not found`);
        await ws.visibleConversation(agent, conversationId, q);
      },
    });
  });
  app.get('/api/v1/reveals/:id', authed, async (req) => {
    const { id } = parse(RevealIdParam, req.params, 'path');
    return revealedAgain(ws.db, agentOf(req), id, req.sessionId ?? null, now());
  });

  // ----- audit trail -------------------------------------------------------------------------
  app.get('/api/v1/audit-events', authed, async (req, reply) => {
    const agent = agentOf(req);
    requirePermission(agent, 'audit.view');
    const query = parse(AuditQuery, req.query, 'query');
    const accept = String(req.headers.accept ?? '');
    // A reader without pii.view reads the trail masked too.
    const mask = await maskerFor(ws.db, agent);
    if (!/text\/csv/i.test(accept)) {
      const page = await searchAudit(ws.db, agent.tenantId, query);
      return { ...page, items: page.items.map((e) => ({ ...e, target: mask.json(e.target), details: mask.json(e.details) })) };
    }
    requirePermission(agent, 'data.export');
    // The export: every matching row (bounded), recorded in the trail itself.
    const items = [];
    let cursor = query.cursor;
    while (items.length < CSV_MAX_ROWS) {
      const page = await searchAudit(ws.db, agent.tenantId, { ...query, limit: 1000, ...(cursor ? { cursor } : {}) });
      items.push(...page.items.map((e) => ({ ...e, target: mask.json(e.target), details: mask.json(e.details) })));
      if (!page.nextCursor) break;
      cursor = page.nextCursor;
    }
    const { cursor: _c, limit: _l, ...filters } = query;
    await insertAudit(ws.db, { tenantId: agent.tenantId, agentId: agent.id }, { action: 'audit.export', target: null, details: { format: 'csv', filters, rows: items.length } }, now());
    return reply
      .type('text/csv; charset=utf-8')
      .header('content-disposition', `attachment; filename="audit-${new Date().toISOString().slice(0, 10)}.csv"`)
      .send(auditCsv(items));
  });

  // ----- API keys --------------------------------------------------------------------------------
  app.post('/api/v1/api-keys', authed, async (req, reply) => {
    const body = parse(ApiKeyBody, req.body, 'api key');
    const { key, token } = await createApiKey(ws.db, agentOf(req), body, now());
    // The token is shown once: only its hash is stored.
    return reply.status(201).header('cache-control', 'no-store').send({ ...key, token });
  });
  app.get('/api/v1/api-keys', authed, async (req) => ({ items: await listApiKeys(ws.db, agentOf(req)) }));
  app.delete('/api/v1/api-keys/:id', authed, async (req, reply) => {
    const { id } = parse(z.object({ id: z.string().regex(/^[a-f0-9]{16}$/, 'invalid key id') }), req.params, 'path');
    await revokeApiKey(ws.db, agentOf(req), id, now());
    return reply.status(204).send();
  });
}

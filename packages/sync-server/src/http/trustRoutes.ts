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
import { js } from '../jsonSchema.js';

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

/** The trust routes in the OpenAPI document (generated from the same zod schemas that validate them). */
export function trustOpenApiPaths(): Record<string, unknown> {
  const body = (s: z.ZodType) => ({ required: true, content: { 'application/json': { schema: js(s) } } });
  const err = Object.fromEntries(['400', '401', '403', '404', '409', '429'].map((c) => [c, { description: 'Error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } }]));
  const ok = (description: string) => ({ '200': { description, content: { 'application/json': { schema: { type: 'object' } } } }, ...err });
  const created = { '201': { description: 'Created', content: { 'application/json': { schema: { type: 'object' } } } }, ...err };
  const gone = { '204': { description: 'Done' }, ...err };
  const security = [{ bearer: [] }];
  const id = [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }];
  const auditParams = Object.entries((js(AuditQuery) as { properties: Record<string, unknown> }).properties).map(([name, schema]) => ({ name, in: 'query', required: false, schema }));
  return {
    '/api/v1/permissions': { get: { summary: 'The permission catalogue, the built-in roles and the caller\'s own permission set', security, responses: ok('Permissions') } },
    '/api/v1/roles': {
      get: { summary: 'Custom roles (roles.manage)', security, responses: ok('Roles') },
      post: { summary: 'Create a custom role: a permission set (actions, scope, optional sign-in IP ranges and hours); never more than the creator holds. Audited with before/after.', security, requestBody: body(RoleBody), responses: created },
    },
    '/api/v1/roles/{id}': {
      patch: { summary: 'Change a custom role (audited with before/after); its agents\' devices pull again', security, parameters: id, requestBody: body(RolePatch), responses: ok('The role') },
      delete: { summary: 'Delete a custom role no agent has', security, parameters: id, responses: gone },
    },
    '/api/v1/agents/{id}/custom-role': { put: { summary: 'Give an agent a custom role (`roleId`), or back to its built-in role (null)', security, parameters: id, requestBody: body(AgentRoleBody), responses: ok('The agent') } },
    '/api/v1/masking/patterns': {
      get: { summary: 'Admin-defined masking patterns (settings.manage)', security, responses: ok('Patterns') },
      put: { summary: 'Replace the masking patterns (validated: no nested quantifiers, backreferences or lookarounds; at most 200 characters). Audited.', security, requestBody: body(PatternsBody), responses: ok('Patterns') },
    },
    '/api/v1/contacts/{id}/reveal': { post: { summary: 'Reveal one clear value of a contact (pii.reveal) for 5 minutes, bound to the session; audited with the reason', security, parameters: id, requestBody: body(RevealBody), responses: ok('The clear value and its reveal id') } },
    '/api/v1/messages/{id}/reveal': { post: { summary: 'Reveal a message\'s clear text, subject or attachment name (pii.reveal), audited with the reason', security, parameters: id, requestBody: body(RevealBody), responses: ok('The clear value and its reveal id') } },
    '/api/v1/reveals/{id}': { get: { summary: 'A reveal read again while it lasts, in the session that made it', security, parameters: id, responses: ok('The clear value') } },
    '/api/v1/audit-events': {
      get: {
        summary: 'The audit trail (audit.view), newest first. `action` may end in `*` (prefix). With `Accept: text/csv` (also data.export) the matching rows as CSV; the export is itself audited. Append-only: no API edits or deletes rows.',
        security,
        parameters: auditParams,
        responses: { ...ok('Audit events and nextCursor'), '200': { description: 'Audit events', content: { 'application/json': { schema: { type: 'object' } }, 'text/csv': { schema: { type: 'string' } } } } },
      },
    },
    '/api/v1/api-keys': {
      get: { summary: 'API keys of the tenant (apikeys.manage); secrets are never returned', security, responses: ok('Keys') },
      post: { summary: 'Create an API key: its permission set (never more than the creator\'s) and rate per minute. The token `gtk_…` is returned once; use it as `Authorization: Bearer gtk_…`.', security, requestBody: body(ApiKeyBody), responses: created },
    },
    '/api/v1/api-keys/{id}': { delete: { summary: 'Revoke an API key (audited)', security, parameters: id, responses: gone } },
  };
}

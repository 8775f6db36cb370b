import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { CannedResponse, Id } from '@goutong/core';
import type { AuthService } from '../auth/service.js';
import type { Workspace } from '../domain/workspace.js';
import { conflict, notFound } from '../errors.js';
import { agentOf, parse, requireAgent, requireRole } from './app.js';

const Body = CannedResponse.pick({ shortCode: true, title: true, body: true });
const toCanned = (r: Record<string, unknown>) =>
  CannedResponse.parse({ id: r.id, tenantId: r.tenant_id, shortCode: r.short_code, title: r.title, body: r.body, createdAt: Number(r.created_at), updatedAt: Number(r.updated_at) });

/** Canned responses: every agent reads them (and caches them for offline use); admins and supervisors edit. */
export function registerCannedRoutes(app: FastifyInstance, d: { auth: AuthService; workspace: Workspace }): void {
  const ws = d.workspace;
  const authed = { preHandler: requireAgent(d.auth) };
  app.get('/api/v1/canned-responses', authed, async (req) => {
    const rows = await ws.db.all('SELECT * FROM canned_responses WHERE tenant_id = ? ORDER BY short_code', [agentOf(req).tenantId]);
    return { items: rows.map(toCanned) };
  });
  app.post('/api/v1/canned-responses', authed, async (req, reply) => {
    const agent = agentOf(req);
    requireRole(agent, ['admin', 'supervisor']);
    const b = parse(Body, req.body, 'canned response');
    if (await ws.db.one('SELECT id FROM canned_responses WHERE tenant_id = ? AND short_code = ?', [agent.tenantId, b.shortCode])) throw conflict(`short code /${b.shortCode} exists`);
    const id = ws.ids.next();
    const now = Date.now();
    await ws.db.run('INSERT INTO canned_responses (id, tenant_id, short_code, title, body, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)', [id, agent.tenantId, b.shortCode, b.title, b.body, now, now]);
    await ws.audit(agent.tenantId, agent.id, 'canned.create', id, { shortCode: b.shortCode });
    return reply.status(201).send(toCanned((await ws.db.one('SELECT * FROM canned_responses WHERE id = ?', [id]))!));
  });
  app.patch('/api/v1/canned-responses/:id', authed, async (req) => {
    const agent = agentOf(req);
    requireRole(agent, ['admin', 'supervisor']);
    const { id } = parse(z.object({ id: Id }), req.params, 'path');
    const b = parse(Body.partial().strict(), req.body, 'canned response');
    const cur = await ws.db.one('SELECT * FROM canned_responses WHERE id = ? AND tenant_id = ?', [id, agent.tenantId]);
    if (!cur) throw notFound(`canned response ${id} not found`);
    const c = toCanned(cur);
    await ws.db.run('UPDATE canned_responses SET short_code = ?, title = ?, body = ?, updated_at = ? WHERE id = ?', [b.shortCode ?? c.shortCode, b.title ?? c.title, b.body ?? c.body, Date.now(), id]);
    await ws.audit(agent.tenantId, agent.id, 'canned.update', id, { fields: Object.keys(b) });
    return toCanned((await ws.db.one('SELECT * FROM canned_responses WHERE id = ?', [id]))!);
  });
  app.delete('/api/v1/canned-responses/:id', authed, async (req, reply) => {
    const agent = agentOf(req);
    requireRole(agent, ['admin', 'supervisor']);
    const { id } = parse(z.object({ id: Id }), req.params, 'path');
    const r = await ws.db.run('DELETE FROM canned_responses WHERE id = ? AND tenant_id = ?', [id, agent.tenantId]);
    if (r.changes === 0) throw notFound(`canned response ${id} not found`);
    await ws.audit(agent.tenantId, agent.id, 'canned.delete', id, {});
    return reply.status(204).send();
  });
}

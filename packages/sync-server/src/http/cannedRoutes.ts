import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { CannedResponse, Id } from '@goutong/core';
import type { AuthService } from '../auth/service.js';
import type { Workspace } from '../domain/workspace.js';
import { CannedResponses } from '../domain/canned.js';
import { agentOf, parse, requireAgent, requirePermission } from './app.js';

const Body = CannedResponse.pick({ shortCode: true, title: true, body: true });

/** Canned responses: every agent reads them (and caches them for offline use); admins and supervisors edit. */
export function registerCannedRoutes(app: FastifyInstance, d: { auth: AuthService; workspace: Workspace }): void {
  const ws = d.workspace;
  const canned = new CannedResponses(ws.db);
  const authed = { preHandler: requireAgent(d.auth) };
  app.get('/api/v1/canned-responses', authed, async (req) => ({ items: await canned.list(agentOf(req).tenantId) }));
  app.post('/api/v1/canned-responses', authed, async (req, reply) => {
    const agent = agentOf(req);
    requirePermission(agent, 'canned.manage');
    const b = parse(Body, req.body, 'canned response');
    return reply.status(201).send(await canned.create({ tenantId: agent.tenantId, agentId: agent.id }, ws.ids.next(), b));
  });
  app.patch('/api/v1/canned-responses/:id', authed, async (req) => {
    const agent = agentOf(req);
    requirePermission(agent, 'canned.manage');
    const { id } = parse(z.object({ id: Id }), req.params, 'path');
    const b = parse(Body.partial().strict(), req.body, 'canned response');
    return canned.update({ tenantId: agent.tenantId, agentId: agent.id }, id, b);
  });
  app.delete('/api/v1/canned-responses/:id', authed, async (req, reply) => {
    const agent = agentOf(req);
    requirePermission(agent, 'canned.manage');
    const { id } = parse(z.object({ id: Id }), req.params, 'path');
    await canned.remove({ tenantId: agent.tenantId, agentId: agent.id }, id);
    return reply.status(204).send();
  });
}

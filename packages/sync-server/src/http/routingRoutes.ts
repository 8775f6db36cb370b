import { VoiceQueue } from '../domain/voiceQueue.js';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { AgentRoutingPatch, Id, InboxRouting } from '@goutong/core';
import type { AuthService } from '../auth/service.js';
import type { Workspace } from '../domain/workspace.js';
import { scopeHas } from '../domain/scope.js';
import { saveTeamRouting, teamRoutingOf } from '../domain/routing.js';
import type { RoutingService } from '../ops/routing.js';
import { agentOf, parse, requireAgent, requireRole } from './app.js';

/**
 * The body routing owns in `PATCH /api/v1/agents/{id}`: availability (the agent's switch), onCall
 * (the softphone), capacity, skills, languages. Another module owns role/teamIds/active of the same
 * route; the coordinator merges the two handlers on these exported schemas.
 */
export { AgentRoutingPatch };

/** The fields of AgentRoutingPatch, so a merged handler can split one body between the two modules. */
export const AGENT_ROUTING_FIELDS = Object.keys(AgentRoutingPatch.shape) as (keyof AgentRoutingPatch)[];

const IdParam = z.object({ id: Id });

/** The tenant's routing settings: how long an offline agent keeps their conversations (0 to 24 h). */
export const RoutingSettingsBody = z.object({ graceMinutes: z.number().min(0).max(24 * 60) }).strict();

/** A team's own routing (wins over its inboxes' routing); null removes it. */
export const TeamRoutingBody = z.object({ routing: InboxRouting.nullable() }).strict();

/** Routing's routes: an agent's availability/capacity/skills, and the supervisors' queue view. */
export function registerRoutingRoutes(app: FastifyInstance, d: { auth: AuthService; workspace: Workspace; routing: RoutingService }): void {
  const authed = { preHandler: requireAgent(d.auth) };

  // An agent sets their own availability (and the softphone its call state); admins set anyone's fields.
  // PATCH /api/v1/agents/{id} (routing fields with the account fields) is in agentRoutes.ts.
  // The same for clients that cannot send PATCH (uni.request in WeChat mini programs).
  app.post('/api/v1/agents/:id/availability', authed, async (req) => {
    const actor = agentOf(req);
    const { id } = parse(IdParam, req.params, 'path');
    const body = parse(AgentRoutingPatch, req.body ?? {}, 'agent patch');
    return d.routing.patchAgent(actor, id === 'me' ? actor.id : id, body);
  });

  app.get('/api/v1/routing/settings', authed, async (req) => {
    const agent = agentOf(req);
    requireRole(agent, ['admin', 'supervisor']);
    const s = await d.routing.settings(agent.tenantId);
    return { graceMinutes: s.graceMs / 60_000, source: s.source };
  });
  app.patch('/api/v1/routing/settings', authed, async (req) => {
    const agent = agentOf(req);
    requireRole(agent, ['admin']);
    const body = parse(RoutingSettingsBody, req.body, 'routing settings');
    const s = await d.routing.setGraceMs(agent, Math.round(body.graceMinutes * 60_000));
    return { graceMinutes: s.graceMs / 60_000, source: s.source };
  });

  // Routing per team: a team's conversations route by its settings when it has them, else by their inbox's.
  app.get('/api/v1/teams/:id/routing', authed, async (req) => {
    const agent = agentOf(req);
    const { id } = parse(IdParam, req.params, 'path');
    return { routing: await teamRoutingOf(d.workspace.db, agent.tenantId, id) };
  });
  app.patch('/api/v1/teams/:id/routing', authed, async (req) => {
    const agent = agentOf(req);
    requireRole(agent, ['admin']);
    const { id } = parse(IdParam, req.params, 'path');
    const body = parse(TeamRoutingBody, req.body, 'team routing');
    const routing = await saveTeamRouting(d.workspace.db, agent.tenantId, agent.id, id, body.routing, Date.now());
    // Waiting conversations of the team may now have someone to go to.
    await d.routing.offerQueue(agent.tenantId);
    return { routing };
  });

  // Supervisors and admins see the queues (per inbox and team) and re-route with the assign command.
  app.get('/api/v1/queues', authed, async (req) => {
    const agent = agentOf(req);
    requireRole(agent, ['admin', 'supervisor']);
    const scope = await d.workspace.scope(agent);
    // [voice queues] callers waiting in the IVR's queues per inbox and team (no table without the voice provider: none)
    const calls = (await new VoiceQueue(d.workspace.db).stats(agent.tenantId).catch(() => [])).filter((c) => scopeHas(scope, c.inboxId));
    return { items: await d.routing.queues(agent, (inboxId) => scopeHas(scope, inboxId)), calls };
  });
}

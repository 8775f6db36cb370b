import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { AgentPatch, AgentRoutingPatch, Id, Role, type Agent } from '@goutong/core';
import type { AuthService } from '../auth/service.js';
import type { AccountService } from '../auth/accounts.js';
import { bearer } from '../auth/request.js';
import { badRequest, unauthorized } from '../errors.js';
import type { RoutingService } from '../ops/routing.js';
import { agentOf, parse, requireAgent, requireRole } from './app.js';

/** [accounts] The body of POST /api/v1/agents (an admin's invite). */
export const InviteAgentBody = z
  .object({
    name: z.string().trim().min(1).max(200),
    email: z.string().trim().email().max(320),
    role: Role.default('agent'),
    teamIds: z.array(Id).max(100).default([]),
  })
  .strict();

/**
 * [accounts] The body of PATCH /api/v1/agents/{id}: `name`, `role`, `teamIds`, `active` (the core
 * rule decideAgentPatch decides). A separate export, so another schema can be merged with it.
 */
export const PatchAgentBody = AgentPatch;

/** A link's body: the token from the invite or reset link and the new password. */
export const LinkPasswordBody = z.object({ token: z.string().min(10).max(200), password: z.string().min(1).max(1024) }).strict();
export const EndSessionQuery = z.object({ wipe: z.enum(['true', 'false', '1', '0']).optional() });

const IdParam = z.object({ id: Id });
const SessionParam = z.object({ id: Id, sessionId: z.string().min(1).max(64).regex(/^[A-Za-z0-9_-]+$/) });

/** The origin people reach this server at (invite and reset links point there). */
export function originOf(req: FastifyRequest): string {
  return `${req.protocol}://${req.headers.host ?? 'localhost'}`;
}

/** The session (refresh family) of the request's access token. */
export function sessionOf(auth: AuthService, req: FastifyRequest): string {
  const token = bearer(req);
  const check = token ? auth.tokens.verify(token) : null;
  if (!check?.ok) throw unauthorized();
  return check.claims.sid;
}

export function registerAgentRoutes(app: FastifyInstance, d: { auth: AuthService; accounts: AccountService; routing: RoutingService }): void {
  const { accounts } = d;
  const authed = { preHandler: requireAgent(d.auth) };

  app.post('/api/v1/agents', authed, async (req, reply) => {
    const actor = agentOf(req);
    requireRole(actor, ['admin']);
    const body = parse(InviteAgentBody, req.body, 'invite');
    const r = await accounts.invite(actor, body);
    const invitePath = `/#/accept-invite?token=${encodeURIComponent(r.token)}`;
    return reply.status(201).send({ agent: r.agent, inviteToken: r.token, inviteUrl: `${originOf(req)}${invitePath}`, expiresAt: r.expiresAt });
  });

  // One PATCH for an agent: the account fields (name, role, teamIds, active: admins, core's
  // decideAgentPatch) and the routing fields (availability, onCall, capacity, skills, languages:
  // an agent for itself, admins for anyone, core's decideAgentRoutingPatch). `me` names the caller.
  app.patch('/api/v1/agents/:id', authed, async (req) => {
    const actor = agentOf(req);
    const { id: raw } = parse(IdParam, req.params, 'path');
    const id = raw === 'me' ? actor.id : raw;
    const body = req.body ?? {};
    if (typeof body !== 'object' || Array.isArray(body)) throw badRequest('agent patch: an object is expected');
    const routingKeys = new Set(Object.keys(AgentRoutingPatch.shape));
    const entries = Object.entries(body as Record<string, unknown>);
    const routingPart = Object.fromEntries(entries.filter(([k]) => routingKeys.has(k)));
    const accountPart = Object.fromEntries(entries.filter(([k]) => !routingKeys.has(k)));
    // Both parts are checked before either is written.
    const accountPatch = Object.keys(accountPart).length > 0 ? parse(PatchAgentBody, accountPart, 'agent patch') : null;
    const routingPatch = Object.keys(routingPart).length > 0 || !accountPatch ? parse(AgentRoutingPatch, routingPart, 'agent patch') : null;
    let agent: Agent | null = null;
    if (accountPatch) {
      requireRole(actor, ['admin']);
      agent = await accounts.patch(actor, id, accountPatch);
    }
    if (routingPatch) agent = await d.routing.patchAgent(actor, id, routingPatch);
    return agent;
  });

  app.post('/api/v1/agents/:id/password-reset', authed, async (req) => {
    const actor = agentOf(req);
    requireRole(actor, ['admin']);
    const { id } = parse(IdParam, req.params, 'path');
    const r = await accounts.resetLink(actor, id);
    return { resetToken: r.token, resetUrl: `${originOf(req)}/#/reset-password?token=${encodeURIComponent(r.token)}`, expiresAt: r.expiresAt };
  });

  app.post('/api/v1/agents/:id/mfa/reset', authed, async (req, reply) => {
    const actor = agentOf(req);
    requireRole(actor, ['admin']);
    const { id } = parse(IdParam, req.params, 'path');
    await accounts.mfaReset(actor, id);
    return reply.status(204).send();
  });

  app.get('/api/v1/agents/:id/sessions', authed, async (req) => {
    const actor = agentOf(req);
    const { id } = parse(IdParam, req.params, 'path');
    if (id !== actor.id) requireRole(actor, ['admin']);
    return { items: await accounts.sessions(actor.tenantId, id, id === actor.id ? sessionOf(d.auth, req) : null) };
  });

  app.delete('/api/v1/agents/:id/sessions/:sessionId', authed, async (req, reply) => {
    const actor = agentOf(req);
    const { id, sessionId } = parse(SessionParam, req.params, 'path');
    const q = parse(EndSessionQuery, req.query, 'query');
    await accounts.endSession(actor, id, sessionId, q.wipe === 'true' || q.wipe === '1');
    return reply.status(204).send();
  });

  // Links: no bearer token (the link's token is the credential, single use).
  app.post('/api/v1/auth/accept-invite', async (req) => {
    const body = parse(LinkPasswordBody, req.body, 'invite acceptance');
    return { agent: await accounts.useLink(body.token, body.password) };
  });
  app.post('/api/v1/auth/reset-password', async (req) => {
    const body = parse(LinkPasswordBody, req.body, 'password reset');
    return { agent: await accounts.useLink(body.token, body.password) };
  });
}

import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { MfaLoginRequest } from '@goutong/core';
import type { AuthService } from '../auth/service.js';
import type { AccountService } from '../auth/accounts.js';
import { agentOf, parse, requireAgent } from './app.js';
import { EndSessionQuery, sessionOf } from './agentRoutes.js';

export const ChangePasswordBody = z.object({ currentPassword: z.string().min(1).max(1024), newPassword: z.string().min(1).max(1024) }).strict();
const CodeBody = z.object({ code: z.string().trim().min(6).max(12) }).strict();
const PasswordBody = z.object({ password: z.string().min(1).max(1024) }).strict();
const EndSessionBody = z.object({ wipe: z.boolean().optional() }).strict();
const SessionParam = z.object({ id: z.string().min(1).max(64).regex(/^[A-Za-z0-9_-]+$/) });

/** [accounts] The signed-in agent's own account: password, two-factor, sessions and devices; the login's second step. */
export function registerAccountRoutes(app: FastifyInstance, d: { auth: AuthService; accounts: AccountService; issuer?: string }): void {
  const { accounts } = d;
  const authed = { preHandler: requireAgent(d.auth) };

  app.post('/api/v1/auth/mfa', async (req, reply) => {
    const body = parse(MfaLoginRequest, req.body, 'two-factor code');
    const r = await d.auth.completeMfa(body.mfaToken, body.code);
    reply.header('cache-control', 'no-store');
    return r.tokens;
  });

  app.post('/api/v1/me/password', authed, async (req) => {
    const body = parse(ChangePasswordBody, req.body, 'password change');
    return accounts.changePassword(agentOf(req), sessionOf(d.auth, req), body.currentPassword, body.newPassword);
  });

  app.get('/api/v1/me/mfa', authed, async (req) => accounts.mfaStatus(agentOf(req)));
  app.post('/api/v1/me/mfa/setup', authed, async (req, reply) => {
    reply.header('cache-control', 'no-store');
    return accounts.mfaSetup(agentOf(req), d.issuer ?? 'Goutong');
  });
  app.post('/api/v1/me/mfa/enable', authed, async (req, reply) => {
    reply.header('cache-control', 'no-store');
    return accounts.mfaEnable(agentOf(req), parse(CodeBody, req.body, 'code').code);
  });
  app.post('/api/v1/me/mfa/disable', authed, async (req, reply) => {
    await accounts.mfaDisable(agentOf(req), parse(PasswordBody, req.body, 'password').password);
    return reply.status(204).send();
  });
  app.post('/api/v1/me/mfa/recovery-codes', authed, async (req, reply) => {
    reply.header('cache-control', 'no-store');
    return accounts.mfaRecoveryCodes(agentOf(req), parse(PasswordBody, req.body, 'password').password);
  });

  app.get('/api/v1/me/sessions', authed, async (req) => {
    const agent = agentOf(req);
    return { items: await accounts.sessions(agent.tenantId, agent.id, sessionOf(d.auth, req)) };
  });
  app.delete('/api/v1/me/sessions/:id', authed, async (req, reply) => {
    const agent = agentOf(req);
    const { id } = parse(SessionParam, req.params, 'path');
    const q = parse(EndSessionQuery, req.query, 'query');
    await accounts.endSession(agent, agent.id, id, q.wipe === 'true' || q.wipe === '1');
    return reply.status(204).send();
  });
  // The same as DELETE, for clients whose HTTP layer sends only GET and POST (uni-app's request).
  app.post('/api/v1/me/sessions/:id/end', authed, async (req, reply) => {
    const agent = agentOf(req);
    const { id } = parse(SessionParam, req.params, 'path');
    const body = parse(EndSessionBody, req.body ?? {}, 'session end');
    await accounts.endSession(agent, agent.id, id, body.wipe ?? false);
    return reply.status(204).send();
  });
  app.post('/api/v1/me/sessions/end-others', authed, async (req) => {
    const agent = agentOf(req);
    return { ended: await accounts.endOtherSessions(agent, sessionOf(d.auth, req)) };
  });
}

// Request authentication helpers shared by the HTTP routes and the channel (provider) routes; they sit
// below both layers, so channels never import the http layer (eslint.config.js layer rules).
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Agent } from '@goutong/core';
import { forbidden, unauthorized } from '../errors.js';
import type { AuthService } from './service.js';
import { currentAuditContext, runWithAuditContext } from '../domain/audit.js';
import { can, type Permission } from '@goutong/core';

declare module 'fastify' {
  interface FastifyRequest {
    agent?: Agent;
    /** The session of the access token (null for an API key). */
    sessionId?: string | null;
  }
}

/**
 * The request context of audit rows (from where: address, user agent; authentication adds the
 * session or key). Registered first, as a callback hook, so the whole request runs inside it.
 */
export function auditContextHook(req: FastifyRequest, _reply: FastifyReply, done: () => void): void {
  const ua = req.headers['user-agent'];
  runWithAuditContext({ ip: req.ip, userAgent: typeof ua === 'string' ? ua : null, sessionId: null, apiKeyId: null }, done);
}

export function bearer(req: FastifyRequest): string | null {
  const h = req.headers.authorization;
  if (!h) return null;
  const m = /^Bearer\s+(.+)$/i.exec(h);
  return m?.[1]?.trim() ?? null;
}

/** Marks the authentication hook: createHttp moves it to onRequest, before any byte of the body is read. */
export const AUTH_HOOK = Symbol.for('goutong.authHook');

/**
 * Requires a valid access token and loads the agent. Given as a route's preHandler (or onRequest), it
 * runs at onRequest (see createHttp): the token is checked before any byte of the body is read.
 */
export function requireAgent(auth: AuthService): (req: FastifyRequest) => Promise<void> {
  const hook = async (req: FastifyRequest): Promise<void> => {
    const token = bearer(req);
    if (!token) throw unauthorized('missing bearer token');
    const p = await auth.authenticateRequest(token, req.ip);
    req.agent = p.agent;
    req.sessionId = p.sessionId;
    // Audit rows written while serving this request record the session or key (auditContextHook).
    const ctx = currentAuditContext();
    if (ctx) {
      ctx.sessionId = p.sessionId;
      ctx.apiKeyId = p.apiKeyId;
    }
  };
  return Object.assign(hook, { [AUTH_HOOK]: true });
}

export function agentOf(req: FastifyRequest): Agent {
  if (!req.agent) throw unauthorized();
  return req.agent;
}

/** @deprecated a role name decides nothing: use requirePermission. */
export function requireRole(agent: Agent, roles: Agent['role'][]): void {
  if (!roles.includes(agent.role)) throw forbidden(`requires role ${roles.join(' or ')}`);
}

/** Refuses (403) a principal whose permission set (built-in or custom role, API key) lacks `action`. */
export function requirePermission(agent: Agent, action: Permission): void {
  if (!can(agent, action)) throw forbidden(`requires the ${action} permission`);
}

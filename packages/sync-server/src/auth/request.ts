// Request authentication helpers shared by the HTTP routes and the channel (provider) routes; they sit
// below both layers, so channels never import the http layer (eslint.config.js layer rules).
import type { FastifyRequest } from 'fastify';
import type { Agent } from '@goutong/core';
import { forbidden, unauthorized } from '../errors.js';
import type { AuthService } from './service.js';

declare module 'fastify' {
  interface FastifyRequest {
    agent?: Agent;
  }
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
    req.agent = await auth.authenticate(token);
  };
  return Object.assign(hook, { [AUTH_HOOK]: true });
}

export function agentOf(req: FastifyRequest): Agent {
  if (!req.agent) throw unauthorized();
  return req.agent;
}

export function requireRole(agent: Agent, roles: Agent['role'][]): void {
  if (!roles.includes(agent.role)) throw forbidden(`requires role ${roles.join(' or ')}`);
}

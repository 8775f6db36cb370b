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

/** preHandler: requires a valid access token and loads the agent. */
export function requireAgent(auth: AuthService) {
  return async (req: FastifyRequest) => {
    const token = bearer(req);
    if (!token) throw unauthorized('missing bearer token');
    req.agent = await auth.authenticate(token);
  };
}

export function agentOf(req: FastifyRequest): Agent {
  if (!req.agent) throw unauthorized();
  return req.agent;
}

export function requireRole(agent: Agent, roles: Agent['role'][]): void {
  if (!roles.includes(agent.role)) throw forbidden(`requires role ${roles.join(' or ')}`);
}

import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import type { AuthService } from '../auth/service.js';
import { agentOf, requireAgent, requireRole } from '../auth/request.js';
import { parse } from '../errors.js';
import type { ServerClock } from '../ops/clock.js';

const ClockBody = z.object({ advanceMs: z.number().int().min(0).max(400 * 86_400_000) }).strict();

/**
 * Test-only routes, registered only when the server runs under a test clock (GOUTONG_TEST_CLOCK):
 * an admin moves the clock of every server process forward.
 */
export function registerTestRoutes(app: FastifyInstance, d: { auth: AuthService; clock: ServerClock }): void {
  if (!d.clock.adjustable) return;
  const authed = { onRequest: requireAgent(d.auth) };
  app.post('/api/v1/test/clock', authed, async (req) => {
    requireRole(agentOf(req), ['admin']);
    const body = parse(ClockBody, req.body, 'clock');
    d.clock.advance(body.advanceMs);
    return { now: d.clock.now() };
  });
  app.get('/api/v1/test/clock', authed, async () => ({ now: d.clock.now() }));
}

import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import type { ProviderDeps } from '../channels/provider.js';
import { agentOf, requireRole } from '../auth/request.js';
import { notFound, parse } from '../errors.js';
import { Transcriptions } from '../domain/transcriptions.js';
import { VoiceQueue } from '../domain/voiceQueue.js';
import type { VoiceService } from './service.js';

/**
 * `GET /api/v1/voice/ivr` (supervisors, admins): the IVR media endpoints this process runs.
 * `GET /api/v1/voice/queues` (supervisors, admins): callers in the voice queues (length, longest wait).
 * `POST /api/v1/messages/{id}/transcript/retry` (supervisors, admins): a failed transcript again.
 */
export function registerVoiceRuntimeRoutes(app: FastifyInstance, deps: ProviderDeps, service: () => VoiceService | null): void {
  app.get('/api/v1/voice/ivr', { preHandler: deps.requireAgent }, async (req, reply) => {
    requireRole(agentOf(req), ['admin', 'supervisor']);
    const own = new Set((await deps.workspace.inboxes(agentOf(req).tenantId)).map((i) => i.id));
    return reply.header('cache-control', 'no-store').send({ items: (service()?.status() ?? []).filter((e) => own.has(e.inboxId)) });
  });
  app.get('/api/v1/voice/queues', { preHandler: deps.requireAgent }, async (req, reply) => {
    const agent = agentOf(req);
    requireRole(agent, ['admin', 'supervisor']);
    const own = new Set((await deps.workspace.inboxes(agent.tenantId)).map((i) => i.id));
    const items = (await new VoiceQueue(deps.workspace.db).stats(agent.tenantId)).filter((q) => own.has(q.inboxId));
    return reply.header('cache-control', 'no-store').send({ items });
  });
  app.post('/api/v1/messages/:id/transcript/retry', { preHandler: deps.requireAgent }, async (req, reply) => {
    const agent = agentOf(req);
    requireRole(agent, ['admin', 'supervisor']);
    const { id } = parse(z.object({ id: z.string().min(1).max(128) }), req.params, 'path');
    const ok = await new Transcriptions(deps.workspace.db, deps.workspace).retry(agent.tenantId, id);
    if (!ok) throw notFound(`no failed transcript on message ${id}`);
    return reply.status(202).send({ retrying: true });
  });
}

export const VOICE_RUNTIME_OPENAPI: Record<string, unknown> = {
  '/api/v1/voice/ivr': {
    get: {
      summary: 'The IVR media endpoints (SIP/UDP) this server process runs for the voice inboxes of the tenant: inbox, SIP port, registered with the registrar or not. Supervisors and admins.',
      security: [{ bearer: [] }],
      responses: { '200': { description: 'OK', content: { 'application/json': { schema: { type: 'object' } } } }, '403': { description: 'Not a supervisor or admin' } },
    },
  },
  '/api/v1/voice/queues': {
    get: {
      summary: 'Callers in the voice queues (ACD) of the tenant, per inbox and team: waiting (not yet talking to an agent), connected, and the longest wait in ms; live across server processes. Supervisors and admins.',
      security: [{ bearer: [] }],
      responses: { '200': { description: 'OK', content: { 'application/json': { schema: { type: 'object' } } } }, '403': { description: 'Not a supervisor or admin' } },
    },
  },
  '/api/v1/messages/{id}/transcript/retry': {
    post: {
      summary: 'Transcribe a voicemail or call recording again after its transcript failed (state pending, attempts from zero). Supervisors and admins.',
      security: [{ bearer: [] }],
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
      responses: { '202': { description: 'Queued' }, '404': { description: 'No failed transcript on that message' } },
    },
  },
};

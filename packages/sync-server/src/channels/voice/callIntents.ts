// [trust] Click-to-call of a masked number (domain/callIntents.ts):
//  - `POST /api/v1/voice/call-intents {conversationId, identity?, inboxId?}` (the agent's token): an
//    opaque SIP target to dial and the number as the agent may see it;
//  - `POST /api/v1/inboxes/{id}/call-intents/resolve {target}` (the SIP server, with the inbox's
//    `voicemailToken` as its Bearer token): the real number, once. Kamailio asks it from its routing
//    script (http_client) for an INVITE to `gtcall-…` and rewrites the request URI.
import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import { callIntentToken, canAccessInbox, type Agent } from '@goutong/core';
import type { ProviderDeps } from '../provider.js';
import { safeEqual } from '../../auth/crypto.js';
import { ApiError, badRequest, notFound, parse, unauthorized } from '../../errors.js';
import { agentOf, bearer } from '../../auth/request.js';
import { CallIntentBody, createCallIntent, resolveCallIntent } from '../../domain/callIntents.js';
import { VoiceConfig } from './config.js';
import { sipUserOf } from './credentials.js';

const ResolveBody = z.object({ target: z.string().trim().min(1).max(300) }).strict();

export function registerCallIntentRoutes(app: FastifyInstance, deps: ProviderDeps, now: () => number = Date.now): void {
  app.post('/api/v1/voice/call-intents', { preHandler: deps.requireAgent }, async (req, reply) => {
    const agent: Agent = agentOf(req);
    const body = parse(CallIntentBody, req.body, 'body');
    const conversation = await deps.workspace.visibleConversation(agent, body.conversationId);
    // The agent's line: a voice inbox they may use with a SIP user for them.
    let line: string | null = null;
    for (const inbox of await deps.workspace.inboxes(agent.tenantId)) {
      if (inbox.channel !== 'voice' || inbox.provider !== 'sip' || (body.inboxId && inbox.id !== body.inboxId) || !canAccessInbox(agent, inbox)) continue;
      const s = await deps.inboxSettings(inbox.id);
      const cfg = VoiceConfig.safeParse(s?.config ?? {});
      if (s && cfg.success && sipUserOf(cfg.data, agent)) {
        line = inbox.id;
        break;
      }
    }
    if (!line) throw new ApiError('conflict', 'you have no phone line (a voice inbox with a SIP user for you)');
    const intent = await createCallIntent(deps.workspace.db, agent, conversation, line, body.identity, now());
    return reply.header('cache-control', 'no-store').status(201).send({ ...intent, inboxId: line });
  });

  app.post('/api/v1/inboxes/:id/call-intents/resolve', async (req, reply) => {
    const { id } = parse(z.object({ id: z.string().min(1).max(128) }), req.params, 'path');
    const settings = await deps.inboxSettings(id);
    if (!settings || settings.inbox.channel !== 'voice' || settings.inbox.provider !== 'sip') throw notFound(`inbox ${id} not found`);
    const token = bearer(req);
    const expected = settings.secrets.voicemailToken;
    if (!token || !expected || !safeEqual(token, expected)) throw unauthorized('missing or wrong SIP server token (the inbox voicemailToken)');
    const { target } = parse(ResolveBody, req.body, 'body');
    const intent = callIntentToken(target);
    if (!intent) throw badRequest('target is not a call intent (gtcall-…)');
    const r = await resolveCallIntent(deps.workspace.db, id, intent, now());
    const cfg = VoiceConfig.safeParse(settings.config);
    const agent = await deps.workspace.agent(r.agentId);
    const sipUser = cfg.success && agent ? sipUserOf(cfg.data, agent) : null;
    return reply.header('cache-control', 'no-store').send({
      number: r.number,
      /** Digits with a leading + when international: what a trunk dials. */
      dial: r.number.startsWith('+') ? `+${r.number.replace(/\D/g, '')}` : r.number.replace(/\D/g, ''),
      agentId: r.agentId,
      sipUser,
      conversationId: r.conversationId,
    });
  });
}

export const CALL_INTENT_OPENAPI: Record<string, unknown> = {
  '/api/v1/voice/call-intents': {
    post: {
      summary:
        "Click-to-call without the clear number on the device: an opaque one-time SIP target (`gtcall-<token>`, 2 minutes) for the contact of a conversation the agent may see (`identity`: which identity; default a voice, then SMS identity, then a phone attribute), the number as the agent may see it (masked without pii.view) and the line's inbox. Audited (`call.intent`).",
      security: [{ bearer: [] }],
      requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['conversationId'], properties: { conversationId: { type: 'string' }, identity: { type: 'integer' }, inboxId: { type: 'string' } } } } } },
      responses: { '201': { description: '{dialTarget, display, expiresAt, inboxId}' }, '400': { description: 'No phone number' }, '404': { description: 'No such conversation' }, '409': { description: 'No phone line' } },
    },
  },
  '/api/v1/inboxes/{id}/call-intents/resolve': {
    post: {
      summary:
        "For the SIP server (Authorization: Bearer <the inbox voicemailToken>): the real number of a call intent the softphone dialled (`target`: `gtcall-…` or its SIP URI), once; the agent's SIP user and the conversation. Audited (`call.dial`).",
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
      requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['target'], properties: { target: { type: 'string' } } } } } },
      responses: { '200': { description: '{number, dial, agentId, sipUser, conversationId}' }, '401': { description: 'Missing or wrong token' }, '404': { description: 'No such intent on this inbox' }, '409': { description: 'Used or expired' } },
    },
  },
};

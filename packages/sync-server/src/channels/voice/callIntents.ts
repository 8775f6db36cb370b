// [trust] Click-to-call of a masked number (domain/callIntents.ts):
//  - `POST /api/v1/voice/call-intents {conversationId, identity?, inboxId?}` (the agent's token): an
//    opaque SIP target to dial and the number as the agent may see it;
//  - `POST /api/v1/inboxes/{id}/call-intents/resolve {target}` (the SIP server, with the inbox's
//    `voicemailToken` as its Bearer token): the real number, once. Kamailio asks it from its routing
//    script (http_client) for an INVITE to `gtcall-…` and rewrites the request URI;
//  - `POST /api/v1/voice/privacy-bindings {conversationId, agentPhone, identity?, inboxId?}` (the
//    agent's token): a privacy number X bound to the agent's phone and the contact's number, for the
//    mobile app's dialer; `POST /api/v1/voice/privacy-bindings/{id}/release` drops it early.
import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import { callIntentToken, canAccessInbox, type Agent } from '@goutong/core';
import type { ProviderDeps } from '../provider.js';
import { safeEqual } from '../../auth/crypto.js';
import { ApiError, badRequest, notFound, parse, unauthorized } from '../../errors.js';
import { agentOf, bearer } from '../../auth/request.js';
import { CallIntentBody, createCallIntent, ownBinding, PrivacyBindingBody, privacyBindingRequest, recordPrivacyBinding, releasePrivacyBinding, resolveCallIntent } from '../../domain/callIntents.js';
import { aliyunPrivacyNumber, PrivacyNumberError, type PrivacyNumberProvider } from './privacyNumber.js';
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

/** Why an agent cannot call through a privacy number (the app explains it in its language). */
export const NO_PRIVACY_NUMBER = 'no_privacy_number';

async function privacyLine(deps: ProviderDeps, agent: Agent, conversationInbox: string, wanted: string | undefined): Promise<{ inboxId: string; provider: PrivacyNumberProvider; bindingSeconds: number }> {
  const lines: { inboxId: string; provider: PrivacyNumberProvider; bindingSeconds: number }[] = [];
  for (const inbox of await deps.workspace.inboxes(agent.tenantId)) {
    if (inbox.channel !== 'voice' || inbox.provider !== 'sip' || (wanted && inbox.id !== wanted) || !canAccessInbox(agent, inbox)) continue;
    const s = await deps.inboxSettings(inbox.id);
    const cfg = VoiceConfig.safeParse(s?.config ?? {});
    const pn = cfg.success ? cfg.data.privacyNumber : undefined;
    const keyId = s?.secrets.aliyunAccessKeyId;
    const keySecret = s?.secrets.aliyunAccessKeySecret;
    if (!pn || !keyId || !keySecret) continue;
    const line = { inboxId: inbox.id, provider: aliyunPrivacyNumber(pn, { accessKeyId: keyId, accessKeySecret: keySecret }), bindingSeconds: pn.bindingSeconds };
    if (inbox.id === conversationInbox) return line;
    lines.push(line);
  }
  const first = lines[0];
  if (!first) throw new ApiError('conflict', 'no privacy-number provider is set up on a phone inbox you can use, so this masked number cannot be called from a phone', { reason: NO_PRIVACY_NUMBER });
  return first;
}

export function registerPrivacyNumberRoutes(app: FastifyInstance, deps: ProviderDeps, now: () => number = Date.now): void {
  app.post('/api/v1/voice/privacy-bindings', { preHandler: deps.requireAgent }, async (req, reply) => {
    const agent: Agent = agentOf(req);
    const body = parse(PrivacyBindingBody, req.body, 'body');
    const conversation = await deps.workspace.visibleConversation(agent, body.conversationId);
    const line = await privacyLine(deps, agent, conversation.inboxId, body.inboxId);
    const at = now();
    const request = await privacyBindingRequest(deps.workspace.db, agent, conversation, line.inboxId, body, at, () => deps.workspace.ids.next());
    let made: { provider: string; subsId: string; virtualNumber: string; expiresAt: number } | null = null;
    if (!request.live) {
      const expiresAt = at + line.bindingSeconds * 1000;
      try {
        const b = await line.provider.bind({ a: body.agentPhone, b: request.number, expiresAt, outId: request.id });
        made = { provider: 'aliyun', subsId: b.subsId, virtualNumber: b.virtualNumber, expiresAt };
      } catch (e) {
        if (e instanceof PrivacyNumberError) throw new ApiError('unavailable', e.message, { reason: 'provider', providerCode: e.providerCode });
        throw e;
      }
    }
    try {
      const view = await recordPrivacyBinding(deps.workspace.db, agent, conversation, line.inboxId, request, made, at);
      return reply.header('cache-control', 'no-store').status(made ? 201 : 200).send(view);
    } catch (e) {
      if (made) await line.provider.unbind({ subsId: made.subsId, virtualNumber: made.virtualNumber }).catch(() => undefined);
      throw e;
    }
  });

  app.post('/api/v1/voice/privacy-bindings/:id/release', { preHandler: deps.requireAgent }, async (req, reply) => {
    const agent: Agent = agentOf(req);
    const { id } = parse(z.object({ id: z.string().min(1).max(128) }), req.params, 'path');
    const b = await ownBinding(deps.workspace.db, agent, id);
    const at = now();
    if (b.expiresAt > at) {
      const line = await privacyLine(deps, agent, b.inboxId, b.inboxId);
      try {
        await line.provider.unbind({ subsId: b.subsId, virtualNumber: b.virtualNumber });
      } catch (e) {
        if (e instanceof PrivacyNumberError) throw new ApiError('unavailable', e.message, { reason: 'provider', providerCode: e.providerCode });
        throw e;
      }
    }
    await releasePrivacyBinding(deps.workspace.db, agent, b, at);
    return reply.send({ released: true });
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
  '/api/v1/voice/privacy-bindings': {
    post: {
      summary:
        "Click-to-call from a phone's dialer without the clear number on the device: the voice inbox's privacy-number provider (config `privacyNumber`, Aliyun 号码隐私保护 BindAxb) binds the agent's phone (`agentPhone`, A) and the contact's number (B) to a virtual number X for `bindingSeconds`; the app dials X. A live binding of the same A and B is given again (200). Audited (`call.bind`). 409 with details.reason `no_privacy_number` when no phone inbox the agent may use has a provider.",
      security: [{ bearer: [] }],
      requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['conversationId', 'agentPhone'], properties: { conversationId: { type: 'string' }, agentPhone: { type: 'string' }, identity: { type: 'integer' }, inboxId: { type: 'string' } } } } } },
      responses: { '201': { description: '{id, virtualNumber, display, expiresAt, inboxId}' }, '200': { description: 'The live binding, again' }, '400': { description: 'No phone number' }, '404': { description: 'No such conversation' }, '409': { description: 'No privacy-number provider' }, '503': { description: 'The provider refused or cannot be reached' } },
    },
  },
  '/api/v1/voice/privacy-bindings/{id}/release': {
    post: {
      summary: 'Drops the agent\'s own binding before it expires (UnbindSubscription). Audited (`call.unbind`).',
      security: [{ bearer: [] }],
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
      responses: { '200': { description: '{released: true}' }, '404': { description: 'No such binding of yours' }, '409': { description: 'Released already' } },
    },
  },
};

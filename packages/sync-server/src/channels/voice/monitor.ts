// Supervisor listen/whisper on a live softphone call, with Kamailio as a plain proxy:
//  - `POST /api/v1/voice/monitor {agentId, mode}` (the supervisor's token): core `mayMonitorCalls`
//    decides; the answer is the agent's SIP user to call and a short-lived signed grant the
//    supervisor's softphone sends in the INVITE (`X-Goutong-Monitor`);
//  - `POST /api/v1/voice/monitor/verify {token}` (the agent's token): the agent's softphone checks
//    the grant before it auto-answers — signed by this server, for this agent, not expired, and the
//    supervisor still allowed — and learns who listens and how. A forged or stale header rings
//    nowhere: the softphone refuses the call.
import crypto from 'node:crypto';
import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import { canAccessInbox, mayMonitorCalls, type Agent } from '@goutong/core';
import type { ProviderDeps } from '../provider.js';
import { safeEqual } from '../../auth/crypto.js';
import { agentOf } from '../../auth/request.js';
import { ApiError, forbidden, notFound, parse } from '../../errors.js';
import { withPermissions } from '../../domain/permissions.js';
import { insertAudit } from '../../domain/audit.js';
import { VoiceConfig } from './config.js';
import { sipUserOf } from './credentials.js';

const GRANT_TTL_MS = 60_000;

const GrantBody = z.object({ agentId: z.string().min(1).max(128), mode: z.enum(['listen', 'whisper']) }).strict();
const VerifyBody = z.object({ token: z.string().min(10).max(1000) }).strict();
const Grant = z.object({ t: z.string(), s: z.string(), a: z.string(), m: z.enum(['listen', 'whisper']), e: z.number().int() });
type Grant = z.infer<typeof Grant>;

function sign(key: string, g: Grant): string {
  const body = Buffer.from(JSON.stringify(g)).toString('base64url');
  return `${body}.${crypto.createHmac('sha256', key).update(body).digest('base64url')}`;
}

function open(key: string, token: string): Grant | null {
  const [body, mac] = token.split('.');
  if (!body || !mac || !safeEqual(mac, crypto.createHmac('sha256', key).update(body).digest('base64url'))) return null;
  try {
    const g = Grant.safeParse(JSON.parse(Buffer.from(body, 'base64url').toString('utf8')));
    return g.success ? g.data : null;
  } catch {
    return null;
  }
}

export function registerMonitorRoutes(app: FastifyInstance, deps: ProviderDeps, now: () => number = Date.now): void {
  const key = deps.keyFor?.('voice-monitor') ?? null;
  const keyOrFail = () => {
    if (!key) throw new ApiError('conflict', 'call monitoring needs the server key');
    return key;
  };

  app.post('/api/v1/voice/monitor', { preHandler: deps.requireAgent }, async (req, reply) => {
    const supervisor: Agent = agentOf(req);
    const body = parse(GrantBody, req.body, 'body');
    const agent = await deps.workspace.agent(body.agentId);
    if (!agent || agent.tenantId !== supervisor.tenantId) throw notFound(`agent ${body.agentId} not found`);
    const may = mayMonitorCalls(supervisor, agent);
    const actor = { tenantId: supervisor.tenantId, agentId: supervisor.id };
    // Listening in on a colleague is a privacy-sensitive act: grants and refusals are both audited.
    if (!may.ok) {
      await insertAudit(deps.workspace.db, actor, { action: 'call.monitor.refused', target: agent.id, details: { mode: body.mode, reason: may.reason } }, now());
      throw forbidden(may.reason);
    }
    // The agent's line: a voice inbox the supervisor may use where the agent has a SIP user.
    let target: { inboxId: string; sipUser: string } | null = null;
    for (const inbox of await deps.workspace.inboxes(supervisor.tenantId)) {
      if (inbox.channel !== 'voice' || inbox.provider !== 'sip' || !canAccessInbox(supervisor, inbox)) continue;
      const s = await deps.inboxSettings(inbox.id);
      const cfg = VoiceConfig.safeParse(s?.config ?? {});
      const user = cfg.success ? sipUserOf(cfg.data, agent) : null;
      if (user) {
        target = { inboxId: inbox.id, sipUser: user };
        break;
      }
    }
    if (!target) throw new ApiError('conflict', `${agent.name} has no phone line you can reach`);
    const expiresAt = now() + GRANT_TTL_MS;
    const token = sign(keyOrFail(), { t: supervisor.tenantId, s: supervisor.id, a: agent.id, m: body.mode, e: expiresAt });
    await insertAudit(deps.workspace.db, actor, { action: 'call.monitor', target: agent.id, details: { mode: body.mode, inboxId: target.inboxId, expiresAt } }, now());
    return reply.header('cache-control', 'no-store').status(201).send({ token, target: target.sipUser, inboxId: target.inboxId, mode: body.mode, expiresAt });
  });

  app.post('/api/v1/voice/monitor/verify', { preHandler: deps.requireAgent }, async (req, reply) => {
    const me: Agent = agentOf(req);
    const { token } = parse(VerifyBody, req.body, 'body');
    const g = open(keyOrFail(), token);
    if (!g || g.t !== me.tenantId || g.a !== me.id) throw forbidden('not a monitor grant for you');
    if (g.e < now()) throw forbidden('the monitor grant expired');
    const sup = await deps.workspace.agent(g.s);
    if (!sup) throw forbidden('the supervisor is gone');
    // Asked again now: a supervisor who lost the permission since the grant is refused.
    const may = mayMonitorCalls({ ...(await withPermissions(deps.workspace.db, sup)), id: sup.id, tenantId: sup.tenantId }, { ...me, active: true });
    if (!may.ok || !sup.active) throw forbidden(may.ok ? 'the supervisor is deactivated' : may.reason);
    return reply.header('cache-control', 'no-store').send({ supervisorId: sup.id, supervisorName: sup.name, mode: g.m });
  });
}

export const MONITOR_OPENAPI: Record<string, unknown> = {
  '/api/v1/voice/monitor': {
    post: {
      summary:
        "Listen to (mode `listen`) or whisper on (`whisper`) an agent's live softphone call (calls.monitor): the agent's SIP user to call and a grant (60 s) to send as the `X-Goutong-Monitor` header of the INVITE; the agent's softphone verifies it and answers by itself. Every grant is audited as `call.monitor`, every refusal as `call.monitor.refused`.",
      security: [{ bearer: [] }],
      requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['agentId', 'mode'], properties: { agentId: { type: 'string' }, mode: { type: 'string', enum: ['listen', 'whisper'] } } } } } },
      responses: { '201': { description: '{token, target, inboxId, mode, expiresAt}' }, '403': { description: 'Not allowed (calls.monitor)' }, '404': { description: 'No such agent' }, '409': { description: 'The agent has no line' } },
    },
  },
  '/api/v1/voice/monitor/verify': {
    post: {
      summary: "The agent's softphone checks a monitor grant from an incoming INVITE: who listens and how, or 403 (forged, expired, for someone else, or the supervisor may no longer monitor).",
      security: [{ bearer: [] }],
      requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['token'], properties: { token: { type: 'string' } } } } } },
      responses: { '200': { description: '{supervisorId, supervisorName, mode}' }, '403': { description: 'Refused' } },
    },
  },
};

import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import { canAccessInbox, type Agent } from '@goutong/core';
import type { ChannelProvider, ProviderDeps } from '../provider.js';
import { localized } from '../label.js';
import { safeEqual } from '../../auth/crypto.js';
import { MAX_ATTACHMENT_BYTES } from '../../attachments/store.js';
import { ApiError, badRequest, notFound, parse, unauthorized } from '../../errors.js';
import { bearer, agentOf } from '../../auth/request.js';
import { VoiceConfig, VoiceSecrets } from './config.js';
import { credentialsFor, type SipCredentials } from './credentials.js';
import { storeVoicemail } from '../../voice/voicemail.js';
import { TRANSCRIPTION_MIGRATION } from '../../domain/transcriptions.js';
import { VOICE_QUEUE_MIGRATION } from '../../domain/voiceQueue.js';
import { VoiceService, type VoiceServiceOptions } from '../../voice/service.js';
import { watchCallRecordings } from '../../voice/callRecordings.js';
import { registerVoiceRuntimeRoutes, VOICE_RUNTIME_OPENAPI } from '../../voice/routes.js';
import { CALL_INTENT_OPENAPI, registerCallIntentRoutes, registerPrivacyNumberRoutes } from './callIntents.js';
import { MONITOR_OPENAPI, registerMonitorRoutes } from './monitor.js';

export { VoiceConfig, VoiceSecrets, SipUser } from './config.js';
export { credentialsFor, ephemeralCredentials, sipUserOf, type SipCredentials } from './credentials.js';

const VoicemailQuery = z.object({
  /** The caller's number (or SIP user): the contact's identity on the voice channel. */
  from: z.string().trim().min(1).max(64),
  /** The caller's display name, for a new contact. */
  name: z.string().trim().max(200).optional(),
  /** The number or user that was called. */
  to: z.string().trim().max(64).optional(),
  /** The SIP Call-ID: a second upload of the same call is a duplicate. */
  callId: z.string().trim().min(1).max(256).optional(),
  durationSeconds: z.coerce.number().int().min(0).max(24 * 3600).optional(),
});

/**
 * The phone channel: a `voice` inbox with provider `sip` holds the SIP server's WebSocket URL, the
 * domain and each agent's SIP user; the agents' softphones (JsSIP in the workspace) register there
 * and log every call with the `log_call` command. The server sends nothing over SIP itself: it
 * hands out credentials and takes voicemail the SIP side records.
 *
 * Voicemail: `POST /api/v1/inboxes/{id}/voicemail?from=+86…&callId=…&durationSeconds=…` with
 * `Authorization: Bearer <voicemailToken>` and the audio as the body (audio/*, up to 25 MiB) → an
 * inbound message of kind `voice` with the recording attached (a repeated callId is a duplicate).
 */
export function sipVoiceProvider(opts: VoiceServiceOptions = {}): ChannelProvider {
  let service: VoiceService | null = null;
  return {
    channel: 'voice',
    name: 'sip',
    migrations: [TRANSCRIPTION_MIGRATION, VOICE_QUEUE_MIGRATION],
    /** The IVR media endpoints and the transcription worker (src/voice). */
    async start(deps: ProviderDeps) {
      const s = new VoiceService(deps, opts);
      service = s;
      await s.start();
      // Softphone call recordings get the voicemail's transcription job (src/voice/callRecordings).
      const recordings = watchCallRecordings(deps);
      return {
        stop: async () => {
          recordings.stop();
          await s.stop();
        },
      };
    },
    configSchema: VoiceConfig as unknown as z.ZodType<Record<string, unknown>>,
    secretsSchema: VoiceSecrets as unknown as z.ZodType<Record<string, string>>,
    async send() {
      return { kind: 'rejected', reason: 'a voice inbox places no messages: call the customer, or answer on another channel', code: 'unsupported_channel' };
    },
    urls: ({ inbox }) => [
      {
        key: 'voicemail',
        what: localized(
          'Voicemail upload: your SIP server posts the recording here with the voicemail token as Bearer token',
          '语音留言上传：SIP 服务器以语音留言令牌作为 Bearer 令牌提交录音到此地址',
        ),
        method: 'POST',
        url: `/api/v1/inboxes/${encodeURIComponent(inbox.id)}/voicemail?from={caller}&callId={callId}&durationSeconds={seconds}`,
      },
    ],
    openapi: { ...VOICE_OPENAPI, ...VOICE_RUNTIME_OPENAPI, ...CALL_INTENT_OPENAPI, ...MONITOR_OPENAPI },
    routes(app: FastifyInstance, deps: ProviderDeps) {
      registerCredentialsRoute(app, deps);
      registerCallIntentRoutes(app, deps);
      registerPrivacyNumberRoutes(app, deps);
      registerMonitorRoutes(app, deps);
      registerVoiceRuntimeRoutes(app, deps, () => service);
      app.post('/api/v1/inboxes/:id/voicemail', { bodyLimit: MAX_ATTACHMENT_BYTES }, async (req, reply) => {
        const { id } = parse(z.object({ id: z.string().min(1).max(128) }), req.params, 'path');
        const settings = await deps.inboxSettings(id);
        if (!settings || settings.inbox.channel !== 'voice' || settings.inbox.provider !== 'sip') throw notFound(`inbox ${id} not found`);
        const token = bearer(req);
        const expected = settings.secrets.voicemailToken;
        if (!token || !expected || !safeEqual(token, expected)) throw unauthorized('missing or wrong voicemail token');
        const q = parse(VoicemailQuery, req.query, 'query');
        const mime = String(req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
        if (!mime.startsWith('audio/')) throw new ApiError('bad_request', 'send the recording as the body with an audio/* content type');
        const bytes = Buffer.isBuffer(req.body) ? req.body : null;
        if (!bytes || bytes.length === 0) throw badRequest('the recording is empty');
        const res = await storeVoicemail(deps, settings.inbox, q, bytes, mime);
        if (res.duplicate && !res.attachment) return reply.status(200).send({ duplicate: true, conversationId: res.conversationId, messageId: res.messageId });
        return reply.status(res.duplicate ? 200 : 201).send({ duplicate: res.duplicate, conversationId: res.conversationId, messageId: res.messageId, attachment: res.attachment });
      });
    },
  };
}

/**
 * `GET /api/v1/voice/credentials[?inboxId=]`: the signed-in agent's SIP registration on each voice
 * inbox they may use (WebSocket URL, URI, password or ephemeral credentials, recording and price).
 */
function registerCredentialsRoute(app: FastifyInstance, deps: ProviderDeps): void {
  app.get('/api/v1/voice/credentials', { preHandler: deps.requireAgent }, async (req, reply) => {
    const agent: Agent = agentOf(req);
    const { inboxId } = parse(z.object({ inboxId: z.string().min(1).max(128).optional() }), req.query, 'query');
    const items: SipCredentials[] = [];
    for (const inbox of await deps.workspace.inboxes(agent.tenantId)) {
      if (inbox.channel !== 'voice' || inbox.provider !== 'sip' || (inboxId && inbox.id !== inboxId) || !canAccessInbox(agent, inbox)) continue;
      const s = await deps.inboxSettings(inbox.id);
      const cfg = VoiceConfig.safeParse(s?.config ?? {});
      if (!s || !cfg.success) continue;
      const c = credentialsFor(inbox, cfg.data, s.secrets, agent);
      if (c) items.push(c);
    }
    return reply.header('cache-control', 'no-store').send({ items });
  });
}

const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };
const anyObject = { 'application/json': { schema: { type: 'object' } } };

/** The OpenAPI paths of the voice routes. */
const VOICE_OPENAPI: Record<string, unknown> = {
  '/api/v1/voice/credentials': {
    get: {
      summary:
        "The signed-in agent's SIP registration on each voice (sip) inbox they may use: WebSocket URL, domain, URI, password (static) or ephemeral credentials (Kamailio auth_ephemeral), recording and price. `?inboxId=` narrows to one inbox.",
      security: [{ bearer: [] }],
      parameters: [{ name: 'inboxId', in: 'query', required: false, schema: { type: 'string' } }],
      responses: { '200': { description: 'OK', content: { 'application/json': { schema: { type: 'object', properties: { items: { type: 'array', items: { type: 'object' } } } } } } }, '401': { description: 'Missing, invalid or expired token' } },
    },
  },
  '/api/v1/inboxes/{id}/voicemail': {
    post: {
      summary:
        'Voicemail from the SIP side (Authorization: Bearer <the inbox voicemailToken>): the recording as the body (audio/*, up to 25 MiB) becomes an inbound message of kind `voice` from `from`, with the audio attached. The same `callId` again is a duplicate (200).',
      parameters: [
        idParam,
        ...([['from', true], ['name', false], ['to', false], ['callId', false], ['durationSeconds', false]] as const).map(([name, required]) => ({ name, in: 'query', required, schema: { type: name === 'durationSeconds' ? 'integer' : 'string' } })),
      ],
      requestBody: { required: true, content: { 'audio/*': { schema: { type: 'string', format: 'binary' } } } },
      responses: { '201': { description: 'Stored', content: anyObject }, '200': { description: 'Duplicate', content: anyObject }, '401': { description: 'Missing or wrong voicemail token' }, '404': { description: 'No such voice inbox' } },
    },
  },
};

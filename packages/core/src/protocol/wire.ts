import { z } from 'zod';
import { Agent, Contact, Conversation, Id, Inbox, Message, Millis, Team } from '../domain/model.js';
import { Command } from '../commands/commands.js';
import { RetentionPolicy } from '../rules/accountRules.js';

/**
 * Version of the sync protocol; bumped on incompatible changes (see PROTOCOL.md). A peer may send
 * `major.minor`; only the major decides compatibility (minors are additive).
 */
export const PROTOCOL_VERSION = 1;
/**
 * [push] The minor version: 1.1 added pushed facts (the `facts` frame, the `push` opt-in of the auth
 * frame, the `ack` frame) and compressed pulls. Minors are additive: a 1.0 peer keeps working.
 */
export const PROTOCOL_MINOR = 1;
/** HTTP header that carries the protocol version: the client sends it on every request, the server answers with its own. */
export const PROTOCOL_HEADER = 'Goutong-Protocol';

export type ProtocolCheck = { ok: true } | { ok: false; reason: 'malformed' | 'incompatible'; message: string };

/**
 * Whether a peer that announced `announced` (a header value, or the `v` of a socket frame) speaks our
 * protocol. Nothing announced is accepted (peers older than the version check, provider webhooks,
 * scripts); a different major version is not.
 */
export function checkProtocolVersion(announced: unknown): ProtocolCheck {
  if (announced === undefined || announced === null) return { ok: true };
  const text = typeof announced === 'number' ? String(announced) : typeof announced === 'string' ? announced.trim() : '';
  const m = /^(\d{1,6})(?:\.\d{1,6})?$/.exec(text);
  if (!m) return { ok: false, reason: 'malformed', message: `malformed protocol version ${JSON.stringify(String(announced).slice(0, 40))}: send ${PROTOCOL_HEADER}: ${PROTOCOL_VERSION}` };
  const major = Number(m[1]);
  if (major === PROTOCOL_VERSION) return { ok: true };
  return { ok: false, reason: 'incompatible', message: `protocol version ${major} is not supported (this end speaks version ${PROTOCOL_VERSION}): update the app` };
}

export const ErrorCode = z.enum([
  'bad_request',
  'unauthorized',
  'forbidden',
  'not_found',
  'conflict',
  'payload_too_large',
  'rate_limited',
  'internal',
  'unavailable',
  /** HTTP 426: the client speaks another protocol version (see checkProtocolVersion). */
  'upgrade_required',
]);
export type ErrorCode = z.infer<typeof ErrorCode>;

export const ErrorBody = z.object({ error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }) });
export type ErrorBody = z.infer<typeof ErrorBody>;

export const LoginRequest = z.object({
  email: z.string().email().max(320),
  password: z.string().min(1).max(1024),
  tenant: z.string().max(64).optional(),
  /** [accounts] The device's name and platform, shown in the agent's sessions list. */
  deviceName: z.string().trim().max(120).optional(),
  platform: z.string().trim().max(40).optional(),
});
/** [accounts] The first step of a two-factor login: the password was right, a code is needed (POST /api/v1/auth/mfa). */
export const MfaRequiredResponse = z.object({ mfaRequired: z.literal(true), mfaToken: z.string(), expiresIn: z.number().int().positive() });
export type MfaRequiredResponse = z.infer<typeof MfaRequiredResponse>;
export const MfaLoginRequest = z.object({ mfaToken: z.string().min(1).max(200), code: z.string().trim().min(6).max(32) });
export const TokenResponse = z.object({ accessToken: z.string(), refreshToken: z.string(), expiresIn: z.number().int().positive() });
export type TokenResponse = z.infer<typeof TokenResponse>;
export const RefreshRequest = z.object({ refreshToken: z.string().min(1).max(512) });

export const Me = z.object({ agent: Agent, tenant: z.object({ id: z.string(), slug: z.string(), name: z.string() }) });
export type Me = z.infer<typeof Me>;

/** Replication pull: every fact in the caller's scope changed after the checkpoint. */
export const PullRequest = z.object({
  checkpoint: z.number().int().nonnegative(),
  limit: z.number().int().min(1).max(2000).default(500),
  /** The scope the client's data was pulled under; a different scope on the server resets the client. */
  scope: z.string().max(128).optional(),
});
export type PullRequest = z.infer<typeof PullRequest>;

/** [search-read] The caller's own read mark of a conversation: read up to this message time. */
export const ReadMark = z.object({ conversationId: Id, readUpTo: Millis, seq: z.number().int().nonnegative() });
export type ReadMark = z.infer<typeof ReadMark>;

export const PullResponse = z.object({
  checkpoint: z.number().int().nonnegative(),
  hasMore: z.boolean(),
  scope: z.string(),
  /** True when the client's checkpoint belongs to another scope: it must drop its facts and start over. */
  reset: z.boolean(),
  conversations: z.array(Conversation),
  messages: z.array(Message),
  contacts: z.array(Contact),
  inboxes: z.array(Inbox),
  agents: z.array(Agent),
  teams: z.array(Team),
  /** [accounts] The workspace's retention policy: the device evicts local messages past it. */
  retention: RetentionPolicy.optional(),
  /** [search-read] The caller's read marks changed in this range (never another agent's). */
  readMarks: z.array(ReadMark).optional(),
});
export type PullResponse = z.infer<typeof PullResponse>;

export const CommandBatch = z.object({ commands: z.array(z.unknown()).min(1).max(100) });
export type CommandBatchRequest = { commands: Command[] };

export const CommandOutcome = z.discriminatedUnion('outcome', [
  z.object({ id: z.string(), outcome: z.literal('applied'), seq: z.number().int().nonnegative() }),
  z.object({ id: z.string(), outcome: z.literal('duplicate'), seq: z.number().int().nonnegative() }),
  z.object({ id: z.string(), outcome: z.literal('rejected'), error: z.object({ code: z.string(), message: z.string() }) }),
]);
export type CommandOutcome = z.infer<typeof CommandOutcome>;
export const CommandBatchResponse = z.object({ results: z.array(CommandOutcome) });
export type CommandBatchResponse = z.infer<typeof CommandBatchResponse>;

export const MessagePage = z.object({ items: z.array(Message), nextCursor: z.string().nullable() });
export type MessagePage = z.infer<typeof MessagePage>;

/** JSON control frames on the sync socket. Binary frames carry Yjs (see ./yframe.ts). */
export const ClientControl = z.discriminatedUnion('t', [
  /** `v`: the client's PROTOCOL_VERSION (absent from clients older than the check). */
  z.object({
    t: z.literal('auth'),
    token: z.string().min(1).max(4096),
    v: z.number().int().nonnegative().max(999_999).optional(),
    /** [push] The client applies `facts` frames (protocol 1.1); without it the socket only gets pokes. */
    push: z.boolean().optional(),
  }),
  z.object({ t: z.literal('sub'), doc: z.string().min(1).max(200) }),
  z.object({ t: z.literal('unsub'), doc: z.string().min(1).max(200) }),
  z.object({ t: z.literal('ping') }),
  /** [push] The device's checkpoint after a pull: a socket moved to poke mode returns to pushes once it caught up. */
  z.object({ t: z.literal('ack'), seq: z.number().int().nonnegative() }),
]);
export type ClientControl = z.infer<typeof ClientControl>;

export const ServerControl = z.discriminatedUnion('t', [
  /** `v`: the server's PROTOCOL_VERSION (absent from servers older than the check). */
  z.object({ t: z.literal('ready'), agentId: z.string(), tenantId: z.string(), seq: z.number().int().nonnegative(), v: z.number().int().nonnegative().optional() }),
  z.object({ t: z.literal('poke'), seq: z.number().int().nonnegative() }),
  z.object({ t: z.literal('pong') }),
  z.object({ t: z.literal('error'), code: z.string(), message: z.string(), doc: z.string().optional() }),
]);
export type ServerControl = z.infer<typeof ServerControl>;

// ----- [push] facts over the socket (protocol 1.1) -------------------------------------------

/**
 * `{"t":"facts","from","to","scope",…rows}`: every fact of the scope with `from < seq ≤ to`, the
 * rows as a pull would carry them (each row once, at its latest version, masked for roles without
 * pii.view). A device applies it only when `from` equals its checkpoint and `scope` its scope, and
 * then sets its checkpoint to `to`; a frame with `to` ≤ its checkpoint is old news; anything else is
 * a gap, answered with a pull.
 */
export const FactsFrame = z.object({
  t: z.literal('facts'),
  from: z.number().int().nonnegative(),
  to: z.number().int().nonnegative(),
  scope: z.string().max(128),
  conversations: z.array(Conversation),
  messages: z.array(Message),
  contacts: z.array(Contact),
  inboxes: z.array(Inbox),
  agents: z.array(Agent),
  teams: z.array(Team),
  retention: RetentionPolicy.optional(),
  /** [search-read] The socket's agent's own read marks in the range (added per agent, never shared). */
  readMarks: z.array(ReadMark).optional(),
}).refine((f) => f.to > f.from, { message: 'to must be greater than from' });
export type FactsFrame = z.infer<typeof FactsFrame>;

/** Any text frame of the server: control frames and pushed facts. */
export const ServerFrame = z.union([ServerControl, FactsFrame]);
export type ServerFrame = z.infer<typeof ServerFrame>;

/** What a device does with a pushed frame, given its stored checkpoint and scope. */
export type PushDecision = 'apply' | 'stale' | 'gap';

/** The device's rule for a `facts` frame: apply it on its checkpoint, ignore old news, pull on a gap. */
export function decidePush(frame: Pick<FactsFrame, 'from' | 'to' | 'scope'>, stored: { checkpoint: number; scope: string | null }): PushDecision {
  if (stored.scope !== null && stored.scope !== frame.scope) return 'gap';
  if (frame.to <= stored.checkpoint) return 'stale';
  if (frame.from === stored.checkpoint && stored.scope !== null) return 'apply';
  return 'gap';
}

/** Flow control of one pushing socket (bytes queued on the socket, not yet sent). */
export const PUSH_FLOW = {
  /** Past this many queued bytes the socket drops to poke-and-pull mode. */
  highWater: 1024 * 1024,
  /** A socket in poke mode returns to pushes below this, once it acknowledged a pull that caught up. */
  lowWater: 64 * 1024,
} as const;

export type PushMode = { mode: 'push' } | { mode: 'poke'; since: number };

/**
 * The server's rule for a socket that asked for pushes, when facts up to `seq` are to be sent:
 * past the high-water mark it gets pokes instead (the server's memory stays bounded, the device
 * pulls); it returns to pushes once its queue drained and it acknowledged a checkpoint at or past
 * the seq at which it fell behind.
 */
export function decidePushFlow(state: PushMode, o: { buffered: number; acked: number; seq: number }, bounds: { highWater: number; lowWater: number } = PUSH_FLOW): PushMode {
  if (state.mode === 'push') return o.buffered > bounds.highWater ? { mode: 'poke', since: o.seq } : state;
  return o.buffered < bounds.lowWater && o.acked >= state.since ? { mode: 'push' } : state;
}

/** Socket close codes used by the server. */
export const CloseCode = {
  unauthorized: 4401,
  forbidden: 4403,
  badFrame: 4400,
  tokenExpired: 4419,
  /** The client's protocol version is not supported: update the app (HTTP's 426 Upgrade Required). */
  upgradeRequired: 4426,
  serverShutdown: 4503,
  /** [accounts] The session ended and the device must wipe its local data (deactivation, remote wipe). */
  wipe: 4410,
} as const;

/** Yjs document names: one per conversation. */
export function conversationDocName(conversationId: string): string {
  return `conv:${conversationId}`;
}
export function parseDocName(doc: string): { kind: 'conversation'; conversationId: string } | null {
  const m = /^conv:([A-Za-z0-9_.:-]{1,128})$/.exec(doc);
  return m?.[1] ? { kind: 'conversation', conversationId: m[1] } : null;
}

/** An ICE server for WebRTC (RTCIceServer's JSON shape). */
export const IceServer = z.object({
  urls: z.union([z.string().max(500), z.array(z.string().max(500)).max(5)]),
  username: z.string().max(200).optional(),
  credential: z.string().max(200).optional(),
});

/** What a softphone needs to register on one voice inbox (`GET /api/v1/voice/credentials`). */
export const SipCredentials = z.object({
  inboxId: z.string(),
  inboxName: z.string(),
  wsUrl: z.string().max(2000),
  domain: z.string().max(255),
  /** sip:user@domain */
  uri: z.string().max(500),
  user: z.string().max(200),
  /** The digest user name (differs from `user` for ephemeral credentials). */
  authorizationUser: z.string().max(500),
  password: z.string().max(500).nullable(),
  displayName: z.string().max(200),
  /** When ephemeral credentials stop working (ms), null for static ones. */
  expiresAt: z.number().nullable(),
  recordCalls: z.boolean(),
  pricePerMinute: z.number().nullable(),
  currency: z.string().max(8).nullable(),
  iceServers: z.array(IceServer).max(5),
});
export type SipCredentials = z.infer<typeof SipCredentials>;
export const SipCredentialsResponse = z.object({ items: z.array(SipCredentials) });

// [trust] Calls to customers whose numbers an agent may not see. The device never holds the clear
// number: click-to-call asks the server for a call intent (an opaque one-time SIP target the SIP
// server resolves with the server), and the caller-ID of an incoming call is shown masked.
import type { Contact } from '../domain/model.js';
import { can, type Principal } from './permissions.js';
import { maskText, type MaskPattern } from './masking.js';

/** Where a contact's number to dial is: a voice or SMS identity (its index), else a phone attribute. */
export type PhoneSource = { kind: 'identity'; index: number } | { kind: 'attribute'; key: string };

const PHONE_ATTRIBUTES = ['phone', 'mobile', '电话'] as const;

/** The number to dial for a contact: a voice identity, else an SMS identity, else a `phone` attribute. */
export function phoneSourceOf(contact: Pick<Contact, 'identities' | 'attributes'> | null): PhoneSource | null {
  if (!contact) return null;
  for (const channel of ['voice', 'sms'] as const) {
    const index = contact.identities.findIndex((i) => i.channel === channel);
    if (index >= 0) return { kind: 'identity', index };
  }
  const key = PHONE_ATTRIBUTES.find((k) => (contact.attributes[k] ?? '').trim() !== '');
  return key ? { kind: 'attribute', key } : null;
}

/** The value at a source (null when the contact has nothing there). */
export function phoneAt(contact: Pick<Contact, 'identities' | 'attributes'>, source: PhoneSource): string | null {
  const v = source.kind === 'identity' ? contact.identities[source.index]?.identifier : contact.attributes[source.key];
  return v?.trim() || null;
}

/** The number to dial for a contact (as the device has it: masked for an agent without pii.view). */
export function phoneOf(contact: Pick<Contact, 'identities' | 'attributes'> | null): string | null {
  const s = phoneSourceOf(contact);
  return s && contact ? phoneAt(contact, s) : null;
}

/** Whether a number the device holds is a masked form (it cannot be dialled; a call intent can). */
export function isMaskedNumber(number: string): boolean {
  return number.includes('*');
}

/** The SIP user a call intent is dialled as (`sip:gtcall-<token>@domain`); the token is hex. */
export const CALL_INTENT_PREFIX = 'gtcall-';

export function callIntentToken(sipUser: string): string | null {
  const m = /^(?:sips?:)?gtcall-([0-9a-f]{32,64})(?:@.*)?$/i.exec(sipUser.trim());
  return m ? m[1]!.toLowerCase() : null;
}

/**
 * What an agent's phone shows of a caller's number (SIP caller-ID, the call panel, notifications,
 * the call log's screen pop): the number with pii.view, else masked by the one masking rule.
 */
export function callerIdFor(viewer: Pick<Principal, 'role' | 'permissions'>, number: string, patterns: readonly MaskPattern[] = []): string {
  if (can(viewer, 'pii.view')) return number;
  const masked = maskText(number, patterns);
  if (masked !== number) return masked;
  // A bare number the detector does not take as personal data (short, or an unusual format): keep
  // at most its last 4 digits, as a card number is masked.
  const digits = number.replace(/\D/g, '');
  return digits.length >= 5 ? `${'*'.repeat(Math.min(digits.length - 4, 8))}${digits.slice(-4)}` : number;
}

/** How a supervisor joins an agent's live call: listen (hears caller and agent) or whisper (the agent also hears them; the caller never does). */
export type MonitorMode = 'listen' | 'whisper';

/**
 * Whether `supervisor` may listen to (or whisper on) `agent`'s live calls: the calls.monitor
 * permission, the same workspace, an active colleague (not themself). The server asks this when it
 * grants a monitor token and when the agent's softphone checks one before it auto-answers.
 */
export function mayMonitorCalls(
  supervisor: Pick<Principal, 'role' | 'permissions'> & { id: string; tenantId: string },
  agent: { id: string; tenantId: string; active?: boolean },
): { ok: true } | { ok: false; reason: string } {
  if (!can(supervisor, 'calls.monitor')) return { ok: false, reason: 'requires the calls.monitor permission' };
  if (supervisor.tenantId !== agent.tenantId) return { ok: false, reason: 'not in your workspace' };
  if (supervisor.id === agent.id) return { ok: false, reason: 'you cannot monitor your own calls' };
  if (agent.active === false) return { ok: false, reason: 'the agent is deactivated' };
  return { ok: true };
}

/**
 * The SIP header the server's ACD puts on the INVITE it rings an agent's softphone with (a queue
 * call from the IVR): its value is the queue call's id. The server bridges that call and is the one
 * writer of its facts (the call message with `meta.ivr.queue`, its recording and transcript).
 */
export const QUEUE_CALL_HEADER = 'X-Goutong-Queue';

/** The queue call id of an incoming SIP call's header value (null: not a queue call, or not a well-formed id). */
export function queueCallIdOf(headerValue: string | null | undefined): string | null {
  const v = (headerValue ?? '').trim();
  return /^[A-Za-z0-9._:@-]{1,128}$/.test(v) ? v : null;
}

/**
 * Whether an agent's softphone writes a call's facts: logs it (a `log_call` command) and records it
 * (when the inbox records calls). One writer per call: a queue call is the server's (the ACD bridged
 * it: its call message, recording and transcript are written there); a colleague's call is logged
 * by the colleague's softphone, the one that placed it; a supervisor's listening leg is not a call
 * with a customer (the agent's call is logged). Everything else is the softphone's.
 */
export function softphoneWritesCall(c: {
  direction: 'in' | 'out';
  /** The `X-Goutong-Queue` header of an incoming call (queueCallIdOf). */
  queueCallId: string | null;
  /** A colleague's call (`X-Goutong-Agent` names a known agent). */
  colleagueId: string | null;
  /** The call is a supervisor's listen/whisper leg. */
  monitoring: boolean;
  /** The inbox's `recordCalls` setting. */
  recordCalls: boolean;
}): { log: boolean; record: boolean } {
  const serverWrites = c.direction === 'in' && c.queueCallId !== null;
  const colleagueWrites = c.direction === 'in' && c.colleagueId !== null;
  const log = !serverWrites && !colleagueWrites && !c.monitoring;
  return { log, record: log && c.recordCalls };
}

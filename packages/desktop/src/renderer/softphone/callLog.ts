// Pure helpers of the softphone: how a finished call becomes a log_call intent, which outcome a
// SIP ending means, and how phone numbers compare.
import type { CallOutcome, Intent } from '@goutong/core';

export interface CallRecord {
  direction: 'in' | 'out';
  /** The far end's user part (number). */
  remote: string;
  remoteName: string | null;
  /** Our SIP user on the inbox. */
  me: string;
  inboxId: string;
  /** The conversation to log on; null: by number (the server finds or starts the contact's conversation). */
  conversationId: string | null;
  startedAt: number;
  answeredAt: number | null;
  endedAt: number;
  outcome: CallOutcome;
  transferTarget: string | null;
  transferKind?: 'blind' | 'attended' | null;
  /** The other parties of a conference on this call. */
  conference?: string[];
  monitoredBy?: { agentId: string; mode: 'listen' | 'whisper' } | null;
}

/** JsSIP's end causes that mean "nobody picked up". */
const UNANSWERED = new Set(['Canceled', 'No Answer', 'Request Timeout', 'Expires', 'Address Incomplete']);

/**
 * The outcome of a call from how it ended. `local` says who ended it; `rejectedByMe` and
 * `transferTarget` come from the agent's actions.
 */
export function outcomeOf(c: { direction: 'in' | 'out'; answeredAt: number | null; cause: string; failed: boolean; rejectedByMe: boolean; busyHere: boolean; transferTarget: string | null }): CallOutcome {
  if (c.transferTarget) return 'transferred';
  if (c.answeredAt !== null) return 'answered';
  if (c.direction === 'in') {
    if (c.busyHere) return 'busy';
    return c.rejectedByMe ? 'rejected' : 'missed';
  }
  if (c.cause === 'Busy') return 'busy';
  if (c.cause === 'Rejected') return 'rejected';
  if (UNANSWERED.has(c.cause)) return 'missed';
  return 'failed';
}

const clip = (s: string, n = 64) => (s.length > n ? s.slice(0, n) : s) || '?';

/** The log_call intent of a finished call (attachments are added once the recording is uploaded). */
export function logCallIntent(r: CallRecord): Intent {
  const [from, to] = r.direction === 'in' ? [r.remote, r.me] : [r.me, r.remote];
  const startedAt = Math.min(r.startedAt, r.endedAt);
  const answeredAt = r.answeredAt === null ? null : Math.min(Math.max(r.answeredAt, startedAt), r.endedAt);
  return {
    type: 'log_call',
    ...(r.conversationId ? { conversationId: r.conversationId } : { inboxId: r.inboxId, phone: clip(r.remote), ...(r.remoteName ? { contactName: r.remoteName.slice(0, 200) } : {}) }),
    direction: r.direction,
    from: clip(from),
    to: clip(to),
    startedAt,
    answeredAt,
    endedAt: r.endedAt,
    outcome: r.outcome,
    ...(r.transferTarget ? { transferTarget: r.transferTarget.slice(0, 128), transferKind: r.transferKind ?? 'blind' } : {}),
    ...(r.conference?.length ? { conference: r.conference.slice(0, 4).map((x) => clip(x)) } : {}),
    ...(r.monitoredBy ? { monitoredBy: r.monitoredBy } : {}),
  } as Intent;
}

/** Digits (and a leading +) of a phone number or SIP user. */
export function normalisePhone(s: string): string {
  const t = s.trim().replace(/^sips?:/i, '').replace(/@.*$/, '');
  const plus = t.startsWith('+');
  const digits = t.replace(/[^0-9A-Za-z]/g, '');
  return plus ? `+${digits}` : digits;
}

/** Same number: equal after normalising, or one ends with the other (national vs +country form, ≥ 7 digits). */
export function samePhone(a: string, b: string): boolean {
  const x = normalisePhone(a).replace(/^\+/, '');
  const y = normalisePhone(b).replace(/^\+/, '');
  if (!x || !y) return false;
  if (x === y) return true;
  const [short, long] = x.length < y.length ? [x, y] : [y, x];
  return /^\d{7,}$/.test(short) && /^\d+$/.test(long) && long.endsWith(short);
}

/** The number to dial for a contact: one rule, in core (rules/calls.ts). */
export { phoneOf } from '@goutong/core';

export function clock(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

import type { CommandOf } from '../commands/commands.js';
import { linkedIds } from '../commands/commands.js';
import { canAccessInbox } from '../domain/policy.js';
import type { Conversation, Conversation as Conv, Inbox } from '../domain/model.js';
import { accept, reject, type Decision, type Fact } from './facts.js';
import type { RuleContext } from './commandRules.js';

/** `[#1234]` in an email subject names a ticket. */
const TAG_RE = /\[#(\d{1,12})\]/;

/** The ticket number an email subject names (`Re: [#1234] Refund`), or null. */
export function ticketNumberOfSubject(subject: string | null | undefined): number | null {
  const m = subject ? TAG_RE.exec(subject) : null;
  if (!m) return null;
  const n = Number(m[1]);
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}

/** An outgoing email subject carrying the ticket's tag once: `Re: [#1234] Refund` (a tag already there stays). */
export function subjectWithTicket(subject: string | null, ticketNumber: number | undefined | null): string | null {
  if (!ticketNumber) return subject;
  const tag = `[#${ticketNumber}]`;
  const s = (subject ?? '').trim();
  if (s.includes(tag)) return s;
  const stripped = s.replace(TAG_RE, '').replace(/\s{2,}/g, ' ').trim();
  const re = /^((?:re|fw|fwd|aw|回复|答复|转发)\s*[:：]\s*)+/i.exec(stripped);
  if (re) return `${re[0]}${tag} ${stripped.slice(re[0].length)}`.trim();
  return stripped ? `${tag} ${stripped}` : tag;
}

/** Whether a search text is only a ticket reference (`#1234`): then nothing but the ticket number matches. */
export function isTicketQuery(text: string): boolean {
  return /^#\d{1,12}$/.test(text.trim());
}

/** Whether a search text names this conversation's ticket (`1234`, `#1234`). */
export function matchesTicket(c: Pick<Conversation, 'ticketNumber'>, text: string): boolean {
  const m = /^#?(\d{1,12})$/.exec(text.trim());
  return m !== null && c.ticketNumber !== undefined && c.ticketNumber === Number(m[1]);
}

/** The ticket as people read it: `#1234`. */
export function formatTicket(n: number | undefined | null): string {
  return n ? `#${n}` : '';
}

// ----- merge and link (commands; usable offline) ------------------------------------------------


/** What merge/link read besides the command's conversation: the other conversation and its inbox. */
export interface RelatedState {
  conversation: Conv | null;
  inbox: Inbox | null;
  related: Conv | null;
  relatedInbox: Inbox | null;
}

function visiblePair(ctx: RuleContext, s: RelatedState, id: string, otherId: string): { a: Conv; b: Conv } | Decision {
  const ok = (c: Conv | null, i: Inbox | null, want: string) =>
    c !== null && c.id === want && c.tenantId === ctx.actor.tenantId && i !== null && i.id === c.inboxId && canAccessInbox(ctx.actor, i);
  if (!ok(s.conversation, s.inbox, id)) return reject('not_found', `conversation ${id} not found`);
  if (!ok(s.related, s.relatedInbox, otherId)) return reject('not_found', `conversation ${otherId} not found`);
  return { a: s.conversation!, b: s.related! };
}

const label = (c: Conv) => (c.ticketNumber ? `#${c.ticketNumber}` : c.id);

function timelineEvent(ctx: RuleContext, conv: Conv, text: string, meta: Record<string, unknown>, deviceTime: number): Fact {
  return {
    kind: 'message', inboxId: conv.inboxId, externalId: null,
    message: {
      id: ctx.ids.next('event'), tenantId: conv.tenantId, conversationId: conv.id, direction: 'out', kind: 'event', authorType: 'agent', authorId: ctx.actor.id,
      text, subject: null, attachments: [], status: null, statusReason: null, deviceTime, serverTime: ctx.now, createdAt: ctx.now, meta, seq: ctx.seq,
    },
  };
}

/**
 * Merges a duplicate conversation of the same customer into another: every message moves to the
 * target (none is lost), the source closes pointing to the target with an event message, and the
 * target records where they came from. Same contact required; not into a closed or merged one.
 */
export function decideMerge(command: CommandOf<'merge_conversation'>, s: RelatedState, ctx: RuleContext): Decision {
  const pair = visiblePair(ctx, s, command.conversationId, command.targetId);
  if ('ok' in pair) return pair;
  const { a: source, b: target } = pair;
  if (source.contactId !== target.contactId) return reject('bad_request', 'only conversations of the same customer can be merged');
  if (source.mergedIntoId) return reject('conflict', `conversation ${label(source)} was merged already`);
  if (target.mergedIntoId || target.status === 'closed') return reject('conflict', `conversation ${label(target)} is closed; pick an open one`);
  const later = source.lastMessageAt > target.lastMessageAt ? source : target;
  const waiting = [source.waitingSince, target.waitingSince].filter((x): x is number => x !== null);
  const nextTarget: Conv = {
    ...target,
    messageCount: target.messageCount + source.messageCount,
    lastMessageAt: later.lastMessageAt, lastMessagePreview: later.lastMessagePreview, lastMessageDirection: later.lastMessageDirection,
    waitingSince: waiting.length ? Math.min(...waiting) : null,
    labels: [...new Set([...target.labels, ...source.labels])].slice(0, 50),
    relatedIds: linkedIds(target.relatedIds, source.id, true),
    updatedAt: ctx.now, seq: ctx.seq,
  };
  const nextSource: Conv = {
    ...source, status: 'closed', snoozedUntil: null, waitingSince: null, mergedIntoId: target.id, messageCount: 0,
    relatedIds: linkedIds(source.relatedIds, target.id, true), updatedAt: ctx.now, seq: ctx.seq,
  };
  return accept([
    { kind: 'message_move', fromConversationId: source.id, toConversationId: target.id, toInboxId: target.inboxId },
    { kind: 'conversation', conversation: nextTarget, isNew: false },
    { kind: 'conversation', conversation: nextSource, isNew: false },
    timelineEvent(ctx, nextSource, `Merged into ${label(target)}`, { action: 'merge', targetId: target.id }, command.deviceTime),
    timelineEvent(ctx, nextTarget, `Merged ${label(source)} into this conversation (${source.messageCount} messages)`, { action: 'merge', sourceId: source.id }, command.deviceTime),
  ]);
}

/** Links two related conversations (both list the other), or unlinks them. */
export function decideLink(command: CommandOf<'link_conversation'>, s: RelatedState, ctx: RuleContext): Decision {
  const pair = visiblePair(ctx, s, command.conversationId, command.relatedId);
  if ('ok' in pair) return pair;
  const { a, b } = pair;
  const unlink = command.unlink === true;
  const linked = (a.relatedIds ?? []).includes(b.id) && (b.relatedIds ?? []).includes(a.id);
  if (linked !== unlink) return accept([]);
  return accept([
    { kind: 'conversation', conversation: { ...a, relatedIds: linkedIds(a.relatedIds, b.id, unlink), updatedAt: ctx.now, seq: ctx.seq }, isNew: false },
    { kind: 'conversation', conversation: { ...b, relatedIds: linkedIds(b.relatedIds, a.id, unlink), updatedAt: ctx.now, seq: ctx.seq }, isNew: false },
  ]);
}

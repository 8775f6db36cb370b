import { can } from './permissions.js';
import type { Agent, Contact, Conversation, DeliveryStatus, Inbox, Message, Sentiment } from '../domain/model.js';
import { scoresSentiment, sentimentOf } from './sentiment.js';
import { withMessage } from '../domain/policy.js';
import { isOptedOut, newConversationOf, type IdSource } from './commandRules.js';
import { accept, reject, type Decision, type Fact } from './facts.js';
import { joinsConversation } from './lifecycle.js';

/** The context of a server event: no agent acts. */
export interface EventContext {
  now: number;
  seq: number;
  ids: IdSource;
}

/** A message from a customer, as a channel hands it over. */
export interface InboundEvent {
  externalId: string;
  from: { identifier: string; name?: string | undefined };
  text: string;
  subject?: string | undefined;
  kind?: Message['kind'] | undefined;
  attachments?: Message['attachments'] | undefined;
  meta?: Record<string, unknown> | undefined;
  /** When the provider says the message was sent (ms). */
  sentAt?: number | undefined;
  /** When the joined conversation is resolved or closed, reopen it. */
  reopen?: boolean | undefined;
}

/**
 * What the inbound decision reads: the inbox; the contact with the sender's identity on the inbox's
 * channel (or null); the conversation to join (the one the channel threaded it to, otherwise the
 * contact's latest conversation in the inbox with an OPEN_STATUSES status, or null for a new one).
 */
export interface InboundState {
  inbox: Inbox;
  contact: Contact | null;
  conversation: Conversation | null;
  /**
   * Set when `conversation` is the contact's latest conversation in the inbox found without
   * threading (it may be resolved or closed): a resolved one within this window reopens, otherwise
   * (or closed) the message starts a new conversation (lifecycle.ts#joinsConversation). Absent: the
   * conversation is joined as given.
   */
  reopenWindowMs?: number | null | undefined;
}

/** An inbound message: the contact (created or named), the conversation (created, woken, reopened) and the message. */
export function decideInbound(input: InboundEvent, s: InboundState, ctx: EventContext): { facts: Fact[]; message: Message; conversation: Conversation; contact: Contact } {
  const { inbox } = s;
  const identifier = input.from.identifier.trim();
  const facts: Fact[] = [];
  let contact: Contact;
  if (s.contact) {
    contact = s.contact;
    // A contact known only by their address gets the name the channel reports.
    if (input.from.name && (contact.name === '' || contact.name === identifier) && input.from.name !== contact.name) {
      contact = { ...contact, name: input.from.name, updatedAt: ctx.now, seq: ctx.seq };
    }
  } else {
    contact = {
      id: ctx.ids.next('contact'), tenantId: inbox.tenantId, name: input.from.name?.trim() || identifier,
      identities: [{ channel: inbox.channel, identifier }], attributes: {}, createdAt: ctx.now, updatedAt: ctx.now, seq: ctx.seq,
    };
  }
  const joined = s.conversation && s.reopenWindowMs !== undefined && !joinsConversation(s.conversation, s.reopenWindowMs, ctx.now) ? null : s.conversation;
  const isNew = joined === null;
  const conv = joined ?? newConversationOf(ctx, inbox, contact, input.subject ?? null);
  if (isNew && s.contact && contact.seq !== ctx.seq) {
    // The contact enters the scope of whoever sees this new conversation: announce it again.
    contact = { ...contact, seq: ctx.seq };
  }
  if (!s.contact) facts.push({ kind: 'contact', contact, isNew: true });
  else if (contact !== s.contact) facts.push({ kind: 'contact', contact, isNew: false });
  const message: Message = {
    id: ctx.ids.next('inbound'), tenantId: inbox.tenantId, conversationId: conv.id, direction: 'in', kind: input.kind ?? (inbox.channel === 'email' ? 'email' : 'text'),
    authorType: 'contact', authorId: contact.id, text: input.text, subject: input.subject ?? null, attachments: input.attachments ?? [],
    status: null, statusReason: null, deviceTime: input.sentAt ?? null, serverTime: ctx.now, createdAt: ctx.now, meta: input.meta ?? {}, seq: ctx.seq,
  };
  // [insight] The customer's mood, a fact of this write: on the message and as the conversation's latest.
  const sentiment: Sentiment | null = scoresSentiment(message) ? sentimentOf(message.text).sentiment : null;
  if (sentiment) message.meta = { ...message.meta, sentiment };
  let next = withMessage({ ...conv, contactName: contact.name }, message);
  if (sentiment) next = { ...next, sentiment };
  // A customer writing into a snoozed or pending conversation wakes it up; a threaded reply may reopen a finished one.
  // A resolved conversation found as the contact's latest one reopens (joinsConversation kept it: within the reopen window).
  const reopens = (input.reopen && (next.status === 'resolved' || next.status === 'closed')) || (s.reopenWindowMs !== undefined && next.status === 'resolved');
  if (next.status === 'snoozed' || next.status === 'pending' || reopens) {
    next = { ...next, status: 'open', snoozedUntil: null };
  }
  next = { ...next, seq: ctx.seq, updatedAt: ctx.now };
  facts.push({ kind: 'conversation', conversation: next, isNew });
  facts.push({ kind: 'message', message, inboxId: inbox.id, externalId: input.externalId });
  for (const a of message.attachments) facts.push({ kind: 'attachment_bind', attachmentId: a.id, messageId: message.id });
  return { facts, message, conversation: next, contact };
}

/** Delivery statuses only move forward: a late "accepted" never overwrites "delivered". */
const STATUS_RANK: Record<DeliveryStatus, number> = { queued: 0, sending: 1, accepted: 2, delivered: 3, failed: 3 };

export interface StatusReport {
  status: DeliveryStatus | null;
  reason?: string | null | undefined;
  providerMessageId?: string | null | undefined;
  meta?: Record<string, unknown> | undefined;
}

/**
 * A delivery status report for an outgoing message (`providerMessageId`: the one stored with it).
 * Returns the fact to write, or null when nothing changes (a status moving backwards, or a repeated
 * receipt: a provider retry, or one whose dedupe key differs).
 */
export function decideMessageStatus(message: Message, providerMessageId: string | null, report: StatusReport): Extract<Fact, { kind: 'message_status' }> | null {
  const { status } = report;
  if (message.status && status && STATUS_RANK[status] < STATUS_RANK[message.status] && !(message.status === 'sending' && status === 'queued')) return null;
  const sameMeta = Object.entries(report.meta ?? {}).every(([k, v]) => JSON.stringify(message.meta[k]) === JSON.stringify(v));
  const sameProviderId = !report.providerMessageId || report.providerMessageId === providerMessageId;
  const sameReason = report.reason === undefined || (report.reason ?? null) === message.statusReason;
  if (message.status === status && sameMeta && sameProviderId && sameReason) return null;
  return {
    kind: 'message_status',
    messageId: message.id,
    status,
    reason: report.reason ?? null,
    providerMessageId: report.providerMessageId ?? null,
    meta: { ...message.meta, ...(report.meta ?? {}) },
  };
}

/** The message after a status fact, stamped with the seq of its commit. */
export function withStatus(message: Message, fact: Extract<Fact, { kind: 'message_status' }>, seq: number): Message {
  return { ...message, status: fact.status, statusReason: fact.reason, meta: fact.meta, seq };
}

/**
 * An automatic outgoing message (authorType system, e.g. an auto-reply), sent through the relay like
 * an agent's reply. An acknowledgement is not an answer: the customer keeps waiting, only the count moves.
 */
export function decideSystemReply(conv: Conversation, input: { text: string; subject: string | null; meta: Record<string, unknown> }, ctx: EventContext): { facts: Fact[]; message: Message } {
  const message: Message = {
    id: ctx.ids.next('event'), tenantId: conv.tenantId, conversationId: conv.id, direction: 'out', kind: conv.channel === 'email' ? 'email' : 'text', authorType: 'system',
    authorId: null, text: input.text, subject: input.subject, attachments: [], status: 'queued', statusReason: null, deviceTime: null,
    serverTime: ctx.now, createdAt: ctx.now, meta: input.meta, seq: ctx.seq,
  };
  return {
    message,
    facts: [
      { kind: 'message', message, inboxId: conv.inboxId, externalId: null },
      { kind: 'conversation', conversation: { ...conv, messageCount: conv.messageCount + 1, updatedAt: ctx.now, seq: ctx.seq }, isNew: false },
      { kind: 'relay_job', messageId: message.id, inboxId: conv.inboxId },
    ],
  };
}

/** A customer's STOP/退订 (optedOut true) or START (false) on a channel. Null when already so. */
export function decideOptOut(contact: Contact, change: { optedOut: boolean; keyword: string; channel: string }, ctx: Pick<EventContext, 'now' | 'seq'>): Fact | null {
  if (isOptedOut(contact) === change.optedOut) return null;
  const attributes = withoutOptOut(contact.attributes);
  if (change.optedOut) {
    attributes['optedOut'] = 'true';
    attributes['optedOutAt'] = new Date(ctx.now).toISOString();
    attributes['optedOutKeyword'] = change.keyword.slice(0, 64);
    attributes['optedOutChannel'] = change.channel;
  }
  return { kind: 'contact', contact: { ...contact, attributes, updatedAt: ctx.now, seq: ctx.seq }, isNew: false };
}

function withoutOptOut(attrs: Record<string, string>): Record<string, string> {
  const out = { ...attrs };
  delete out['optedOut'];
  delete out['optedOutAt'];
  delete out['optedOutKeyword'];
  delete out['optedOutChannel'];
  return out;
}

/**
 * An admin clears a contact's opt-out (the customer agreed again by other means). Admins only; the
 * audit row is one of the facts. A contact that is not opted out changes nothing (no facts).
 */
export function decideAdminOptIn(actor: Agent, contact: Contact | null, contactId: string, ctx: Pick<EventContext, 'now' | 'seq'>, reason?: string): Decision {
  if (!can(actor, 'optout.manage')) return reject('forbidden', 'only admins can opt a contact in again');
  if (!contact || contact.id !== contactId || contact.tenantId !== actor.tenantId) return reject('not_found', `contact ${contactId} not found`);
  if (!isOptedOut(contact)) return accept([]);
  return accept([
    { kind: 'contact', contact: { ...contact, attributes: withoutOptOut(contact.attributes), updatedAt: ctx.now, seq: ctx.seq }, isNew: false },
    {
      kind: 'audit', agentId: actor.id, action: 'contact.opt_in', target: contact.id,
      details: { previous: { keyword: contact.attributes['optedOutKeyword'] ?? null, channel: contact.attributes['optedOutChannel'] ?? null, at: contact.attributes['optedOutAt'] ?? null }, ...(reason ? { reason } : {}) },
    },
  ]);
}

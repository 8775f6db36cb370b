import {
  applyToContact,
  applyToConversation,
  callMeta,
  type Command,
  type CommandOf,
} from '../commands/commands.js';
import type { Agent, Attachment, Contact, Conversation, ConversationStatus, Inbox, Message, Team } from '../domain/model.js';
import { canAccessInbox, withMessage } from '../domain/policy.js';
import { can, seesAllInboxes } from './permissions.js';
import { keepClearValue } from './masking.js';
import { attributeErrorsText, checkContactAttributes, type ContactField } from './customFields.js';
import { assertNever } from '../util/assert.js';
import { accept, reject, type Decision, type Fact } from './facts.js';
import { decideLink, decideMerge } from './tickets.js';

/** At most this many labels per conversation. */
export const MAX_LABELS = 50;

/** The statuses in which a conversation is still "the open one" of its contact in an inbox. */
export const OPEN_STATUSES: readonly ConversationStatus[] = ['open', 'pending', 'snoozed'];

/**
 * Contact attributes that only the server writes: the customer's STOP/退订 (and START) and an
 * admin's opt-in. No agent command may set or clear them.
 */
export const SERVER_CONTACT_ATTRIBUTES: readonly string[] = ['optedOut', 'optedOutAt', 'optedOutKeyword', 'optedOutChannel', 'mergedInto'];

/** Whether a contact opted out of messages (STOP/退订). */
export function isOptedOut(contact: Pick<Contact, 'attributes'>): boolean {
  return contact.attributes['optedOut'] === 'true';
}

/** Where new ids come from (the server: UUIDv7; the reference server: readable, deterministic ids). */
export interface IdSource {
  next(kind: 'contact' | 'conversation' | 'inbound' | 'event'): string;
}

/** What every decision is given besides its state: who acts, when, and the seq its facts carry. */
export interface RuleContext {
  actor: Agent;
  now: number;
  seq: number;
  ids: IdSource;
}

/** An uploaded file as the attachment store knows it. */
export interface StoredAttachment extends Attachment {
  tenantId: string;
  /** The message it belongs to, once bound. */
  messageId: string | null;
}

/** What a command's decision needs loaded (by id, within the actor's tenant). */
export interface CommandNeeds {
  /** The conversation named by the command, with its inbox and contact. */
  conversationId: string | null;
  /** update_contact: the contact, and the inboxes of its conversations (for scope). */
  contactId: string | null;
  /** assign: the assignee agent. */
  assigneeId: string | null;
  /** assign: the target team. */
  teamId: string | null;
  /** send_reply/log_call: the referenced uploads. */
  attachmentIds: string[];
  /** send_reply/add_note/log_call: whether a message with this id exists already. */
  messageId: string | null;
  /**
   * log_call by number: the inbox, the contact with the `phone` identity on that inbox's channel,
   * and that contact's latest conversation in the inbox whose status is one of OPEN_STATUSES.
   */
  call: { inboxId: string; phone: string } | null;
  /** [automation] merge_conversation/link_conversation: the other conversation (with its inbox). */
  relatedConversationId?: string | null;
}

/**
 * The state a command's decision reads. Anything the command does not need is null/empty;
 * anything it needs but does not exist (in the actor's tenant) is null: the rule decides.
 */
export interface CommandState {
  /** The command's conversation (or, for a call by number, null). */
  conversation: Conversation | null;
  /** The conversation's inbox; for a call by number, the named inbox. */
  inbox: Inbox | null;
  /** The conversation's contact; update_contact's contact; a call's contact found by phone. */
  contact: Contact | null;
  /** update_contact: the inboxes of the contact's conversations. */
  contactInboxes: readonly Inbox[];
  assignee: Agent | null;
  team: Team | null;
  /** By id; a missing entry or null means no such upload. */
  attachments: ReadonlyMap<string, StoredAttachment | null>;
  messageExists: boolean;
  /** A call by number: the contact's open conversation in the inbox. */
  openConversation: Conversation | null;
  /** log_call: the voice inbox's price per minute, from its (server-side) configuration. */
  pricing: { pricePerMinute?: unknown; currency?: unknown } | null;
  /** [automation] merge/link: the other conversation and its inbox. */
  related: Conversation | null;
  relatedInbox: Inbox | null;
  /** [fields] update_contact: the tenant's custom contact field definitions (absent: none). */
  contactFields?: readonly ContactField[];
}

export function emptyCommandState(): CommandState {
  return {
    conversation: null, inbox: null, contact: null, contactInboxes: [], assignee: null, team: null,
    attachments: new Map(), messageExists: false, openConversation: null, pricing: null, related: null, relatedInbox: null,
  };
}

/** What to load for a command. */
export function commandNeeds(command: Command): CommandNeeds {
  const none: CommandNeeds = { conversationId: null, contactId: null, assigneeId: null, teamId: null, attachmentIds: [], messageId: null, call: null };
  switch (command.type) {
    case 'send_reply':
      return { ...none, conversationId: command.conversationId, messageId: command.id, attachmentIds: (command.attachments ?? []).map((a) => a.id) };
    case 'add_note':
      return { ...none, conversationId: command.conversationId, messageId: command.id, attachmentIds: (command.attachments ?? []).map((a) => a.id) };
    case 'assign':
      return { ...none, conversationId: command.conversationId, assigneeId: command.assigneeId, teamId: command.teamId ?? null };
    case 'set_status':
    case 'set_priority':
    case 'add_label':
    case 'remove_label':
    case 'mark_read':
      return { ...none, conversationId: command.conversationId };
    case 'update_contact':
      return { ...none, contactId: command.contactId };
    case 'merge_conversation':
      return { ...none, conversationId: command.conversationId, relatedConversationId: command.targetId };
    case 'link_conversation':
      return { ...none, conversationId: command.conversationId, relatedConversationId: command.relatedId };
    case 'log_call':
      return {
        ...none,
        conversationId: command.conversationId ?? null,
        call: command.conversationId === undefined ? { inboxId: command.inboxId!, phone: command.phone! } : null,
        messageId: command.id,
        attachmentIds: (command.attachments ?? []).map((a) => a.id),
      };
    default:
      return assertNever(command, 'command');
  }
}

/** Whether an agent may see a conversation: it exists, in their tenant, in an inbox they can access. */
function visible(actor: Agent, s: CommandState, id: string): { conv: Conversation; inbox: Inbox } | null {
  const conv = s.conversation;
  const inbox = s.inbox;
  if (!conv || conv.id !== id || conv.tenantId !== actor.tenantId || !inbox || inbox.id !== conv.inboxId) return null;
  return canAccessInbox(actor, inbox) ? { conv, inbox } : null;
}

/** Whether an agent may see a contact: managers see every contact; agents those of conversations in their inboxes. */
export function canSeeContact(actor: Agent, contact: Contact, contactInboxes: readonly Inbox[]): boolean {
  if (contact.tenantId !== actor.tenantId) return false;
  if (seesAllInboxes(actor)) return true;
  return contactInboxes.some((i) => canAccessInbox(actor, i));
}

const notFoundConv = (id: string) => reject('not_found', `conversation ${id} not found`);

/** Attachments are referenced by id: their metadata comes from the store, never from the client. Binds each to the message. */
function bindAttachments(ctx: RuleContext, s: CommandState, refs: readonly { id: string }[], messageId: string): { attachments: Message['attachments']; facts: Fact[] } | Decision {
  const attachments: Message['attachments'] = [];
  const facts: Fact[] = [];
  for (const a of refs) {
    const stored = s.attachments.get(a.id) ?? null;
    if (!stored || stored.tenantId !== ctx.actor.tenantId) return reject('bad_request', `attachment ${a.id} not found; upload it first`);
    if (stored.messageId !== null && stored.messageId !== messageId) return reject('conflict', `attachment ${a.id} belongs to another message`);
    attachments.push({ id: stored.id, name: stored.name, mime: stored.mime, size: stored.size, ...(stored.sha256 !== undefined ? { sha256: stored.sha256 } : {}) });
    if (!facts.some((f) => f.kind === 'attachment_bind' && f.attachmentId === stored.id)) facts.push({ kind: 'attachment_bind', attachmentId: stored.id, messageId });
  }
  return { attachments, facts };
}

function isDecision(x: unknown): x is Decision {
  return typeof x === 'object' && x !== null && 'ok' in x;
}

/** A timeline event (status change, assignment) as a message of kind `event`. */
function eventMessage(ctx: RuleContext, conv: Conversation, meta: Record<string, unknown>, deviceTime: number | null): Fact {
  const text = meta['action'] === 'status' ? `status → ${String(meta['status'])}` : meta['assigneeId'] ? 'assigned' : 'unassigned';
  return {
    kind: 'message',
    inboxId: conv.inboxId,
    externalId: null,
    message: {
      id: ctx.ids.next('event'), tenantId: ctx.actor.tenantId, conversationId: conv.id, direction: 'out', kind: 'event', authorType: 'agent',
      authorId: ctx.actor.id, text, subject: null, attachments: [], status: null, statusReason: null, deviceTime,
      serverTime: ctx.now, createdAt: ctx.now, meta, seq: ctx.seq,
    },
  };
}

/**
 * The rules of every agent command: given the command, its loaded state and the context, the facts
 * to write or a typed rejection. The server and the reference server both apply exactly this answer.
 */
export function decideCommand(command: Command, state: CommandState, ctx: RuleContext): Decision {
  switch (command.type) {
    case 'send_reply':
    case 'add_note':
      return decideMessage(command, state, ctx);
    case 'set_status':
      return decideSetStatus(command, state, ctx);
    case 'assign':
      return decideAssign(command, state, ctx);
    case 'set_priority':
    case 'add_label':
    case 'remove_label':
      return decideConversationField(command, state, ctx);
    case 'update_contact':
      return decideUpdateContact(command, state, ctx);
    case 'log_call':
      return decideLogCall(command, state, ctx);
    case 'merge_conversation':
      return decideMerge(command, state, ctx);
    case 'link_conversation':
      return decideLink(command, state, ctx);
    case 'mark_read':
      return decideMarkRead(command, state, ctx);
    default:
      return assertNever(command, 'command');
  }
}

function decideMessage(command: CommandOf<'send_reply'> | CommandOf<'add_note'>, s: CommandState, ctx: RuleContext): Decision {
  const v = visible(ctx.actor, s, command.conversationId);
  if (!v) return notFoundConv(command.conversationId);
  const { conv } = v;
  const isNote = command.type === 'add_note';
  if (!isNote && !can(ctx.actor, 'conversation.reply')) return reject('forbidden', 'your role may not reply to customers');
  if (!isNote && conv.status === 'closed') return reject('conflict', 'the conversation is closed; reopen it to reply');
  if (s.messageExists) return reject('conflict', `message ${command.id} already exists`);
  if (!isNote && s.contact && isOptedOut(s.contact)) return reject('forbidden', 'the contact opted out of messages on this channel');
  let attachments: Message['attachments'] = [];
  const facts: Fact[] = [];
  {
    const bound = bindAttachments(ctx, s, command.attachments ?? [], command.id);
    if (isDecision(bound)) return bound;
    attachments = bound.attachments;
    facts.push(...bound.facts);
  }
  const mentions = command.type === 'add_note' ? [...new Set(command.mentions ?? [])] : [];
  const message: Message = {
    id: command.id,
    tenantId: ctx.actor.tenantId,
    conversationId: conv.id,
    direction: 'out',
    // One note kind everywhere: `note`. A reply takes its channel's kind.
    kind: isNote ? 'note' : conv.channel === 'email' ? 'email' : 'text',
    authorType: 'agent',
    authorId: ctx.actor.id,
    text: command.text,
    subject: command.type === 'send_reply' ? (command.subject ?? (conv.channel === 'email' && conv.subject ? `Re: ${conv.subject.replace(/^Re:\s*/i, '')}` : null)) : null,
    attachments,
    status: isNote ? null : 'queued',
    statusReason: null,
    deviceTime: command.deviceTime,
    serverTime: ctx.now,
    createdAt: ctx.now,
    // A note's mentions (read back with core `mentionsOf`): the notification policy notifies them.
    meta: { ...(mentions.length ? { mentions } : {}), ...(command.type === 'send_reply' && command.offerId ? { offerId: command.offerId } : {}) },
    seq: ctx.seq,
  };
  let next = withMessage(conv, message);
  if (!isNote) next = applyToConversation(next, command, ctx.actor);
  facts.unshift({ kind: 'message', message, inboxId: conv.inboxId, externalId: null });
  facts.push({ kind: 'conversation', conversation: { ...next, updatedAt: ctx.now, seq: ctx.seq }, isNew: false });
  if (!isNote) facts.push({ kind: 'relay_job', messageId: message.id, inboxId: conv.inboxId });
  return accept(facts);
}

function decideSetStatus(command: CommandOf<'set_status'>, s: CommandState, ctx: RuleContext): Decision {
  const v = visible(ctx.actor, s, command.conversationId);
  if (!v) return notFoundConv(command.conversationId);
  if (command.status === 'closed' && !can(ctx.actor, 'conversation.close')) return reject('forbidden', 'only supervisors and admins can close conversations');
  if (command.status === 'snoozed' && (command.snoozedUntil ?? 0) <= ctx.now) return reject('bad_request', 'snoozedUntil must be in the future');
  const next = applyToConversation(v.conv, command, ctx.actor);
  const done = command.status === 'resolved' || command.status === 'closed';
  return accept([
    { kind: 'conversation', conversation: { ...next, waitingSince: done ? null : next.waitingSince, updatedAt: ctx.now, seq: ctx.seq }, isNew: false },
    eventMessage(ctx, v.conv, { action: 'status', status: command.status }, command.deviceTime),
  ]);
}

function decideAssign(command: CommandOf<'assign'>, s: CommandState, ctx: RuleContext): Decision {
  const v = visible(ctx.actor, s, command.conversationId);
  if (!v) return notFoundConv(command.conversationId);
  const { conv, inbox } = v;
  // Assigning others (and moving teams) is a manager's permission; assigning oneself needs conversation.assign.
  const manager = can(ctx.actor, 'conversation.assign') && can(ctx.actor, 'conversation.move_team');
  if (!can(ctx.actor, 'conversation.assign')) return reject('forbidden', 'your role may not assign conversations');
  if (command.assigneeId !== null) {
    if (!manager && command.assigneeId !== ctx.actor.id) return reject('forbidden', 'agents can only assign conversations to themselves');
    const assignee = s.assignee;
    if (!assignee || assignee.id !== command.assigneeId || assignee.tenantId !== ctx.actor.tenantId) return reject('not_found', `agent ${command.assigneeId} not found`);
    if (!assignee.active) return reject('conflict', `${assignee.name} is deactivated`);
    if (!canAccessInbox(assignee, inbox)) return reject('forbidden', `${assignee.name} has no access to this inbox`);
  } else if (!manager && conv.assigneeId !== null && conv.assigneeId !== ctx.actor.id) {
    return reject('forbidden', 'agents can only unassign themselves');
  }
  if (!manager && command.teamId !== undefined && command.teamId !== conv.teamId) return reject('forbidden', 'agents may not move conversations between teams');
  if (command.teamId) {
    const team = s.team;
    if (!team || team.id !== command.teamId || team.tenantId !== ctx.actor.tenantId) return reject('not_found', `team ${command.teamId} not found`);
  }
  const next = applyToConversation(conv, command, ctx.actor);
  return accept([
    { kind: 'conversation', conversation: { ...next, updatedAt: ctx.now, seq: ctx.seq }, isNew: false },
    eventMessage(ctx, conv, { action: 'assign', assigneeId: command.assigneeId, teamId: next.teamId }, command.deviceTime),
  ]);
}

function decideConversationField(command: CommandOf<'set_priority'> | CommandOf<'add_label'> | CommandOf<'remove_label'>, s: CommandState, ctx: RuleContext): Decision {
  const v = visible(ctx.actor, s, command.conversationId);
  if (!v) return notFoundConv(command.conversationId);
  const next = applyToConversation(v.conv, command, ctx.actor);
  if (next.labels.length > MAX_LABELS) return reject('bad_request', `at most ${MAX_LABELS} labels per conversation`);
  return accept([{ kind: 'conversation', conversation: { ...next, updatedAt: ctx.now, seq: ctx.seq }, isNew: false }]);
}

function decideUpdateContact(command: CommandOf<'update_contact'>, s: CommandState, ctx: RuleContext): Decision {
  const contact = s.contact;
  // A contact outside the agent's scope is as invisible as one that does not exist.
  if (!contact || contact.id !== command.contactId || !canSeeContact(ctx.actor, contact, s.contactInboxes)) {
    return reject('not_found', `contact ${command.contactId} not found`);
  }
  if (!can(ctx.actor, 'contact.edit')) return reject('forbidden', 'your role may not edit contacts');
  const owned = Object.keys(command.attributes ?? {}).filter((k) => SERVER_CONTACT_ATTRIBUTES.includes(k));
  if (owned.length > 0) {
    return reject('forbidden', `${owned.join(', ')} cannot be changed by an agent: the customer's STOP/START or an admin opt-in sets it`);
  }
  // A device without pii.view holds masked values: a value it sends back masked keeps the clear one.
  const unmasked: CommandOf<'update_contact'> = {
    ...command,
    ...(command.name !== undefined ? { name: keepClearValue(command.name, contact.name) } : {}),
    ...(command.attributes !== undefined
      ? { attributes: Object.fromEntries(Object.entries(command.attributes).map(([k, v]) => [k, v === '' ? v : keepClearValue(v, contact.attributes[k])])) }
      : {}),
  };
  // [fields] Values of the admins' custom fields must fit their type (normalised); required ones stay set.
  if (unmasked.attributes !== undefined) {
    const checked = checkContactAttributes(s.contactFields ?? [], contact.attributes, unmasked.attributes);
    if (!checked.ok) return reject('bad_request', `invalid contact attributes: ${attributeErrorsText(checked.errors)}`);
    unmasked.attributes = checked.attributes;
  }
  const next = applyToContact(contact, unmasked);
  const facts: Fact[] = [{ kind: 'contact', contact: { ...next, updatedAt: ctx.now, seq: ctx.seq }, isNew: false }];
  // [fields] A contact change is audited: which attributes changed (names only, never the values: they may be personal data).
  const changed = [...new Set([...Object.keys(contact.attributes), ...Object.keys(next.attributes)])].filter((k) => contact.attributes[k] !== next.attributes[k]).sort();
  if (changed.length > 0 || next.name !== contact.name) {
    facts.push({ kind: 'audit', agentId: ctx.actor.id, action: 'contact.update', target: contact.id, details: { attributes: changed, name: next.name !== contact.name } });
  }
  // The index carries the contact's name: refresh it on every conversation of the contact.
  if (next.name !== contact.name) facts.push({ kind: 'contact_name', contactId: contact.id, name: next.name, seq: ctx.seq });
  return accept(facts);
}

/**
 * [search-read] Marking read: only a conversation the agent sees; the mark never passes the
 * conversation's last message (a device clock ahead must not hide later messages). Moving a mark
 * backwards is not an error (another device read further): the writer keeps the greater one.
 */
function decideMarkRead(command: CommandOf<'mark_read'>, s: CommandState, ctx: RuleContext): Decision {
  const v = visible(ctx.actor, s, command.conversationId);
  if (!v) return notFoundConv(command.conversationId);
  const readUpTo = Math.min(command.upTo, v.conv.lastMessageAt);
  return accept([{ kind: 'read_mark', agentId: ctx.actor.id, conversationId: v.conv.id, readUpTo, seq: ctx.seq }]);
}

export function newConversationOf(ctx: Pick<RuleContext, 'now' | 'seq' | 'ids'>, inbox: Inbox, contact: Contact, subject: string | null): Conversation {
  return {
    id: ctx.ids.next('conversation'), tenantId: inbox.tenantId, inboxId: inbox.id, channel: inbox.channel, contactId: contact.id,
    contactName: contact.name, teamId: inbox.teamIds[0] ?? null, status: 'open', priority: 'normal', assigneeId: null, labels: [],
    subject, lastMessagePreview: '', lastMessageDirection: null, lastMessageAt: ctx.now, waitingSince: null, snoozedUntil: null,
    messageCount: 0, createdAt: ctx.now, updatedAt: ctx.now, seq: ctx.seq,
  };
}

function decideLogCall(command: CommandOf<'log_call'>, s: CommandState, ctx: RuleContext): Decision {
  const facts: Fact[] = [];
  let conv: Conversation;
  let isNew = false;
  if (command.conversationId !== undefined) {
    const v = visible(ctx.actor, s, command.conversationId);
    if (!v) return notFoundConv(command.conversationId);
    conv = v.conv;
  } else {
    // By number: the contact with that phone on the voice channel (created when unknown) and their
    // open conversation in the voice inbox (a new one when there is none).
    const inbox = s.inbox;
    if (!inbox || inbox.id !== command.inboxId || inbox.tenantId !== ctx.actor.tenantId || !canAccessInbox(ctx.actor, inbox)) {
      return reject('not_found', `inbox ${command.inboxId} not found`);
    }
    if (inbox.channel !== 'voice') return reject('bad_request', 'calls by number go through a voice inbox');
    const phone = command.phone!.trim();
    // A masked number (a device without pii.view) identifies no one: it must not become a contact.
    if (phone.includes('*')) return reject('bad_request', 'a masked number cannot identify a contact; log the call on its conversation');
    let contact = s.contact;
    if (!contact) {
      contact = {
        id: ctx.ids.next('contact'), tenantId: inbox.tenantId, name: command.contactName?.trim() || phone,
        identities: [{ channel: inbox.channel, identifier: phone }], attributes: {}, createdAt: ctx.now, updatedAt: ctx.now, seq: ctx.seq,
      };
      facts.push({ kind: 'contact', contact, isNew: true });
    }
    if (s.openConversation) conv = s.openConversation;
    else {
      isNew = true;
      // The contact enters the scope of whoever sees this new conversation: announce it again.
      if (s.contact) facts.push({ kind: 'contact', contact: { ...s.contact, seq: ctx.seq }, isNew: false });
      conv = newConversationOf(ctx, inbox, contact, null);
    }
  }
  if (s.messageExists) return reject('conflict', `message ${command.id} already exists`);
  const call = callMeta(command);
  // Per-minute cost from the inbox's configured price (started minutes of talk time).
  const minutes = Math.ceil(Number(call['durationSeconds']) / 60);
  const price = s.pricing?.pricePerMinute;
  const cost = typeof price === 'number'
    ? { amount: Math.round(minutes * price * 10_000) / 10_000, currency: typeof s.pricing?.currency === 'string' ? s.pricing.currency : 'CNY', units: minutes }
    : null;
  // The recording (uploaded first) is referenced by id and bound to the call's message.
  const bound = bindAttachments(ctx, s, command.attachments ?? [], command.id);
  if (isDecision(bound)) return bound;
  const message: Message = {
    id: command.id, tenantId: ctx.actor.tenantId, conversationId: conv.id, direction: command.direction, kind: 'call', authorType: 'agent',
    authorId: ctx.actor.id, text: command.notes ?? '', subject: null, attachments: bound.attachments, status: null, statusReason: null,
    deviceTime: command.deviceTime, serverTime: ctx.now, createdAt: command.startedAt, meta: { call, ...(cost ? { cost } : {}) }, seq: ctx.seq,
  };
  const next = { ...applyToConversation(conv, command, ctx.actor), messageCount: conv.messageCount + 1, updatedAt: ctx.now, seq: ctx.seq };
  facts.push({ kind: 'conversation', conversation: next, isNew });
  facts.push({ kind: 'message', message, inboxId: conv.inboxId, externalId: null });
  facts.push(...bound.facts);
  return accept(facts);
}



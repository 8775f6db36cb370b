import { z } from 'zod';
import {
  Attachment,
  ContactAttributes,
  ConversationStatus,
  Id,
  Label,
  Millis,
  Priority,
  type Conversation,
  type Contact,
  type Message,
} from '../domain/model.js';
import { UUID_V7_RE } from '../util/uuidv7.js';
import { Mentions } from '../domain/composer.js';
import { assertNever } from '../util/assert.js';

/** A client-generated UUIDv7: the command's id, its idempotency key and (for replies) the message id. */
export const CommandId = z.string().regex(UUID_V7_RE, 'must be a UUIDv7');

const base = {
  id: CommandId,
  /** When the device made the intent. */
  deviceTime: Millis,
};

export const SendReply = z.object({
  ...base,
  type: z.literal('send_reply'),
  conversationId: Id,
  text: z.string().max(100_000),
  subject: z.string().max(998).optional(),
  attachments: z.array(Attachment).max(20).optional(),
  /** [offers] The targeted offer this reply uses (inserted from the composer): counted in the reports once the reply is accepted. */
  offerId: Id.optional(),
}).refine((c) => c.text.trim().length > 0 || (c.attachments?.length ?? 0) > 0, { message: 'a reply needs text or an attachment', path: ['text'] });

export const AddNote = z.object({
  ...base,
  type: z.literal('add_note'),
  conversationId: Id,
  text: z.string().max(100_000),
  /** Files on the note (uploaded first, like a reply's). */
  attachments: z.array(Attachment).max(20).optional(),
  /** Agents the note mentions (picked with `@`); the server keeps them as the note's `meta.mentions` (core `mentionsOf`). */
  mentions: Mentions.optional(),
}).refine((c) => c.text.trim().length > 0 || (c.attachments?.length ?? 0) > 0, { message: 'a note needs text or an attachment', path: ['text'] });

export const SetStatus = z.object({
  ...base,
  type: z.literal('set_status'),
  conversationId: Id,
  status: ConversationStatus,
  /** Required when status is snoozed. */
  snoozedUntil: Millis.optional(),
}).refine((c) => c.status !== 'snoozed' || c.snoozedUntil !== undefined, { message: 'snoozedUntil is required to snooze', path: ['snoozedUntil'] });

export const Assign = z.object({
  ...base,
  type: z.literal('assign'),
  conversationId: Id,
  assigneeId: Id.nullable(),
  teamId: Id.nullable().optional(),
});

export const SetPriority = z.object({
  ...base,
  type: z.literal('set_priority'),
  conversationId: Id,
  priority: Priority,
});

export const AddLabel = z.object({ ...base, type: z.literal('add_label'), conversationId: Id, label: Label });
export const RemoveLabel = z.object({ ...base, type: z.literal('remove_label'), conversationId: Id, label: Label });

export const UpdateContact = z.object({
  ...base,
  type: z.literal('update_contact'),
  contactId: Id,
  name: z.string().trim().min(1).max(200).optional(),
  /** Attributes to set; an empty string removes the attribute. */
  attributes: ContactAttributes.optional(),
});

export const CALL_OUTCOMES = ['answered', 'missed', 'rejected', 'transferred', 'busy', 'failed'] as const;
export const CallOutcome = z.enum(CALL_OUTCOMES);
export type CallOutcome = z.infer<typeof CallOutcome>;

/**
 * A phone call, logged as a message of kind `call` (by the softphone or after a dialer call): on
 * `conversationId`, or, for a number with no conversation on the device, on `inboxId` + `phone`,
 * where the server finds the contact by that number (or creates it) and their open conversation in
 * that voice inbox (or starts one) in the same transaction.
 */
export const LogCall = z.object({
  ...base,
  type: z.literal('log_call'),
  conversationId: Id.optional(),
  /** With `phone`, instead of `conversationId`: the voice inbox the call went through. */
  inboxId: Id.optional(),
  /** The customer's number (or SIP user) as the contact's identity on the voice channel. */
  phone: z.string().trim().min(1).max(64).optional(),
  /** A name for a contact created from `phone` (the caller's display name). */
  contactName: z.string().trim().min(1).max(200).optional(),
  direction: z.enum(['in', 'out']),
  from: z.string().trim().min(1).max(64),
  to: z.string().trim().min(1).max(64),
  startedAt: Millis,
  answeredAt: Millis.nullable().optional(),
  endedAt: Millis,
  outcome: CallOutcome,
  /** Where the call went when transferred (agent id or number). */
  transferTarget: z.string().max(128).optional(),
  /** How it was transferred: blind (REFER), or attended (the agent consulted the target first, REFER with Replaces). */
  transferKind: z.enum(['blind', 'attended']).optional(),
  /** The other parties the agent joined into a conference on this call (numbers or SIP users). */
  conference: z.array(z.string().trim().min(1).max(64)).min(1).max(4).optional(),
  /** A supervisor listened to (or whispered to the agent on) this call: who and how. */
  monitoredBy: z.object({ agentId: z.string().min(1).max(128), mode: z.enum(['listen', 'whisper']) }).optional(),
  notes: z.string().max(10_000).optional(),
  /** Uploaded files (the call recording), referenced by id; the server takes their metadata from its store. */
  attachments: z.array(Attachment).max(5).optional(),
}).refine((c) => c.endedAt >= c.startedAt, { message: 'endedAt must not be before startedAt', path: ['endedAt'] })
  .refine((c) => c.answeredAt == null || (c.answeredAt >= c.startedAt && c.answeredAt <= c.endedAt), { message: 'answeredAt must lie within the call', path: ['answeredAt'] })
  .refine((c) => (c.conversationId !== undefined) !== (c.inboxId !== undefined && c.phone !== undefined) && (c.conversationId === undefined || (c.inboxId === undefined && c.phone === undefined)), {
    message: 'give either conversationId or inboxId with phone',
    path: ['conversationId'],
  });

/** Talk time in whole seconds (0 when the call was never answered). */
export function callDurationSeconds(c: { answeredAt?: number | null; endedAt: number }): number {
  return c.answeredAt == null ? 0 : Math.max(0, Math.round((c.endedAt - c.answeredAt) / 1000));
}

/** [automation] Merges a duplicate conversation (this one) of the same customer into another: its messages move, it closes. */
export const MergeConversation = z.object({ ...base, type: z.literal('merge_conversation'), conversationId: Id, targetId: Id })
  .refine((c) => c.conversationId !== c.targetId, { message: 'a conversation cannot be merged into itself', path: ['targetId'] });

/** [automation] Links (or, with unlink, unlinks) a related conversation: both show the other. */
export const LinkConversation = z.object({ ...base, type: z.literal('link_conversation'), conversationId: Id, relatedId: Id, unlink: z.boolean().optional() })
  .refine((c) => c.conversationId !== c.relatedId, { message: 'a conversation cannot be linked to itself', path: ['relatedId'] });

/**
 * [search-read] The agent read a conversation up to a point (the `createdAt` of the newest message they saw).
 * Read state is a per-agent fact: every device of the agent pulls it (rules/readState.ts).
 */
export const MarkRead = z.object({ ...base, type: z.literal('mark_read'), conversationId: Id, upTo: Millis });

export const Command = z.discriminatedUnion('type', [SendReply, AddNote, SetStatus, Assign, SetPriority, AddLabel, RemoveLabel, UpdateContact, LogCall, MergeConversation, LinkConversation, MarkRead]);
export type Command = z.infer<typeof Command>;
export type CommandType = Command['type'];
export type CommandOf<T extends CommandType> = Extract<Command, { type: T }>;

/** The conversation a command acts on; null for contact commands and calls logged by number. */
export function conversationOf(command: Command): string | null {
  return 'conversationId' in command ? (command.conversationId ?? null) : null;
}

/** The FIFO lane of a command: commands of one lane apply in order, lanes run in parallel. */
export function laneOf(command: Command): string {
  switch (command.type) {
    case 'send_reply':
    case 'add_note':
    case 'set_status':
    case 'assign':
    case 'set_priority':
    case 'add_label':
    case 'remove_label':
    case 'merge_conversation':
    case 'link_conversation':
      return `conversation:${command.conversationId}`;
    case 'log_call':
      return command.conversationId !== undefined ? `conversation:${command.conversationId}` : `call:${command.inboxId}:${command.phone}`;
    case 'update_contact':
      return `contact:${command.contactId}`;
    case 'mark_read': // its own lane: a read mark never waits behind (or holds up) a reply
      return `read:${command.conversationId}`;
    default:
      return assertNever(command, 'command');
  }
}

/** Applies a command optimistically to a conversation summary (client side overlay). */
export function applyToConversation(conv: Conversation, command: Command, agent: { id: string }): Conversation {
  switch (command.type) {
    case 'send_reply':
      return {
        ...conv,
        lastMessagePreview: (command.text.trim() || command.subject || '').replace(/\s+/g, ' ').slice(0, 200),
        lastMessageDirection: 'out',
        lastMessageAt: Math.max(conv.lastMessageAt, command.deviceTime),
        waitingSince: null,
        // An agent's reply to a waiting conversation makes it theirs if nobody had it (Chatwoot/Zammad behaviour is the same).
        assigneeId: conv.assigneeId ?? agent.id,
      };
    case 'add_note':
      return conv;
    case 'set_status':
      return { ...conv, status: command.status, snoozedUntil: command.status === 'snoozed' ? (command.snoozedUntil ?? null) : null };
    case 'assign':
      return { ...conv, assigneeId: command.assigneeId, teamId: command.teamId === undefined ? conv.teamId : command.teamId };
    case 'set_priority':
      return { ...conv, priority: command.priority };
    case 'add_label':
      return conv.labels.includes(command.label) ? conv : { ...conv, labels: [...conv.labels, command.label].sort() };
    case 'remove_label':
      return { ...conv, labels: conv.labels.filter((l) => l !== command.label) };
    case 'update_contact':
    case 'mark_read':
      return conv;
    case 'merge_conversation':
      return { ...conv, status: 'closed', snoozedUntil: null, waitingSince: null, mergedIntoId: command.targetId };
    case 'link_conversation':
      return { ...conv, relatedIds: linkedIds(conv.relatedIds, command.relatedId, command.unlink === true) };
    case 'log_call': {
      const missed = command.direction === 'in' && command.outcome !== 'answered' && command.outcome !== 'transferred';
      return {
        ...conv,
        lastMessagePreview: callPreview(command),
        lastMessageDirection: command.direction,
        lastMessageAt: Math.max(conv.lastMessageAt, command.endedAt),
        // A missed inbound call leaves the customer waiting; an answered one or a call back answers them.
        waitingSince: missed ? (conv.waitingSince ?? command.startedAt) : null,
        status: missed && (conv.status === 'resolved' || conv.status === 'closed') ? 'open' : conv.status,
      };
    }
    default:
      return assertNever(command, 'command');
  }
}

/** [automation] A conversation's related ids after linking (or unlinking) one. */
export function linkedIds(current: readonly string[] | undefined, id: string, unlink: boolean): string[] {
  const list = (current ?? []).filter((x) => x !== id);
  return unlink ? list : [...list, id].slice(-50);
}

/** One line describing a call for the index and the timeline. */
export function callPreview(c: { direction: 'in' | 'out'; outcome: CallOutcome; answeredAt?: number | null; endedAt: number }): string {
  const secs = callDurationSeconds(c);
  const dur = `${Math.floor(secs / 60)}:${String(secs % 60).padStart(2, '0')}`;
  const what = c.direction === 'in' ? 'Inbound call' : 'Outbound call';
  return c.outcome === 'answered' ? `${what} · ${dur}` : `${what} · ${c.outcome}`;
}

export function applyToContact(contact: Contact, command: Command): Contact {
  if (command.type !== 'update_contact' || command.contactId !== contact.id) return contact;
  const attributes = { ...contact.attributes };
  for (const [k, v] of Object.entries(command.attributes ?? {})) {
    if (v === '') delete attributes[k];
    else attributes[k] = v;
  }
  return { ...contact, name: command.name ?? contact.name, attributes };
}

/** The message a pending reply or note will become, shown in the timeline before the server confirms it. */
export function pendingMessageOf(command: Command, agent: { id: string; tenantId: string }): Message | null {
  if (command.type === 'log_call') {
    // A call logged by number has no conversation on the device yet: it shows once the server placed it.
    if (command.conversationId === undefined) return null;
    return {
      id: command.id, tenantId: agent.tenantId, conversationId: command.conversationId, direction: command.direction, kind: 'call',
      authorType: 'agent', authorId: agent.id, text: command.notes ?? '', subject: null, attachments: command.attachments ?? [], status: null, statusReason: null,
      deviceTime: command.deviceTime, serverTime: 0, createdAt: command.startedAt,
      meta: { pending: true, call: callMeta(command) }, seq: 0,
    };
  }
  if (command.type !== 'send_reply' && command.type !== 'add_note') return null;
  const isNote = command.type === 'add_note';
  return {
    id: command.id,
    tenantId: agent.tenantId,
    conversationId: command.conversationId,
    direction: 'out',
    kind: isNote ? 'note' : 'text',
    authorType: 'agent',
    authorId: agent.id,
    text: command.text,
    subject: command.type === 'send_reply' ? (command.subject ?? null) : null,
    attachments: command.attachments ?? [],
    status: isNote ? null : 'queued',
    statusReason: null,
    deviceTime: command.deviceTime,
    serverTime: 0,
    createdAt: command.deviceTime,
    meta: isNote && command.mentions?.length ? { pending: true, mentions: [...new Set(command.mentions)] } : { pending: true },
    seq: 0,
  };
}

/** The `meta.call` of a call message. */
export function callMeta(c: z.infer<typeof LogCall>): Record<string, unknown> {
  return {
    direction: c.direction, from: c.from, to: c.to, startedAt: c.startedAt, answeredAt: c.answeredAt ?? null, endedAt: c.endedAt,
    durationSeconds: callDurationSeconds(c), outcome: c.outcome, ...(c.transferTarget ? { transferTarget: c.transferTarget } : {}),
    ...(c.transferKind ? { transferKind: c.transferKind } : {}), ...(c.conference ? { conference: c.conference } : {}), ...(c.monitoredBy ? { monitoredBy: c.monitoredBy } : {}),
  };
}

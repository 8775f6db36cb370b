import crypto from 'node:crypto';
import {
  Command,
  type Agent,
  type CommandOutcome,
  type Contact,
  type Conversation,
  type ConversationStatus,
  type Inbox,
  type Message,
  type PullRequest,
  type PullResponse,
  type Team,
  applyToContact,
  applyToConversation,
  callMeta,
  assertNever,
  canAccessInbox,
  isManager,
  withMessage,
  Uuidv7Generator,
  Emitter,
  type Logger,
} from '@goutong/core';
import type { Db, Queryable, Row } from '../db/db.js';
import { ApiError, forbidden, notFound, badRequest } from '../errors.js';
import {
  insertConversation,
  insertMessage,
  nextSeq,
  saveContact,
  saveConversation,
  toAgent,
  toContact,
  toConversation,
  toInbox,
  toMessage,
  toTeam,
} from './rows.js';
import { scopeOf, scopeSql, type Scope } from './scope.js';
import { callConversation } from './callConversation.js';

export interface Committed {
  tenantId: string;
  seq: number;
}

/** A message that must go out through its inbox's provider (the transactional outbox row was written with it). */
export interface RelayEnqueued {
  tenantId: string;
  messageId: string;
}

export interface InboundInput {
  externalId: string;
  from: { identifier: string; name?: string | undefined };
  text: string;
  subject?: string | undefined;
  kind?: Message['kind'];
  attachments?: Message['attachments'];
  meta?: Record<string, unknown>;
  /** When the provider says the message was sent (ms). */
  sentAt?: number | undefined;
  /** Join this conversation instead of finding one (threading decided by the channel). */
  conversationId?: string | undefined;
  /** Start a new conversation even when the contact has an open one (a new email thread). */
  newConversation?: boolean | undefined;
  /** When the joined conversation (conversationId) is resolved or closed, reopen it. */
  reopen?: boolean | undefined;
  // ----- providers: attachments and side rows in the inbound's own transaction -----
  /**
   * Files whose bytes are already in the content-addressed store (AttachmentStore.stage): their
   * rows are inserted bound to the new message, in the same transaction; they become the message's
   * attachments (after `attachments`). Nothing is inserted for a duplicate delivery.
   */
  stagedAttachments?: readonly StagedAttachment[];
  /** Channel side rows (email Message-IDs, conversation links) written in the same transaction. */
  sideRows?: ((q: Queryable, stored: { conversationId: string; messageId: string }) => Promise<void>) | undefined;
}

/** An attachment whose bytes are stored but whose row is not written yet. */
export interface StagedAttachment {
  id: string;
  name: string;
  mime: string;
  size: number;
  sha256: string;
}

export interface InboundResult {
  duplicate: boolean;
  message: Message;
  conversation: Conversation;
}

const OPEN_STATUSES: ConversationStatus[] = ['open', 'pending', 'snoozed'];

function encodeCursor(createdAt: number, id: string): string {
  return Buffer.from(`${createdAt}:${id}`).toString('base64url');
}
function decodeCursor(cursor: string): { at: number; id: string } {
  const raw = Buffer.from(cursor, 'base64url').toString('utf8');
  const i = raw.indexOf(':');
  const at = Number(raw.slice(0, i));
  const id = raw.slice(i + 1);
  if (i < 1 || !Number.isFinite(at) || !id) throw badRequest('invalid cursor');
  return { at, id };
}

/**
 * The authoritative workspace: validates and applies commands, ingests inbound messages, serves
 * the replication log. Each change happens in one transaction with the facts it causes and bumps
 * the tenant's sequence; `committed` fires after the commit (pokes, fan-out).
 */
export class Workspace {
  readonly committed = new Emitter<Committed>();
  readonly relayEnqueued = new Emitter<RelayEnqueued>();
  /** [providers] A delivery status change committed (the extensions' `onStatus` hooks). */
  readonly statusChanged = new Emitter<Message>();
  readonly ids = new Uuidv7Generator(() => Date.now(), (n) => crypto.randomBytes(n));

  /** Signs attachment download URLs (set by the server once its attachment store exists). */
  attachmentUrl: ((attachmentId: string) => string) | null = null;

  constructor(readonly db: Db, private readonly logger: Logger, private readonly now: () => number = Date.now) {}

  /** Messages leave the server with signed download URLs, so `<img>`/`<audio>` load them without a token. */
  withAttachmentUrls(m: Message): Message {
    const sign = this.attachmentUrl;
    if (!sign || m.attachments.length === 0) return m;
    return { ...m, attachments: m.attachments.map((a) => ({ ...a, url: sign(a.id) })) };
  }

  // ----- principals and scope --------------------------------------------------------

  async agent(id: string): Promise<Agent | null> {
    const r = await this.db.one('SELECT * FROM agents WHERE id = ?', [id]);
    return r ? toAgent(r) : null;
  }

  async inboxes(tenantId: string): Promise<Inbox[]> {
    return (await this.db.all('SELECT * FROM inboxes WHERE tenant_id = ? ORDER BY created_at, id', [tenantId])).map(toInbox);
  }

  async inbox(tenantId: string, id: string, q: Queryable = this.db): Promise<Inbox | null> {
    const r = await q.one('SELECT * FROM inboxes WHERE tenant_id = ? AND id = ?', [tenantId, id]);
    return r ? toInbox(r) : null;
  }

  async inboxRow(id: string): Promise<Row | null> {
    return this.db.one('SELECT * FROM inboxes WHERE id = ?', [id]);
  }

  async scope(agent: Agent, q: Queryable = this.db): Promise<Scope> {
    const inboxes = (await q.all('SELECT * FROM inboxes WHERE tenant_id = ?', [agent.tenantId])).map(toInbox);
    return scopeOf(agent, inboxes);
  }

  /** A conversation the agent may see, or a not_found error (never reveal other tenants' ids). */
  async visibleConversation(agent: Agent, id: string, q: Queryable = this.db): Promise<Conversation> {
    const r = await q.one('SELECT * FROM conversations WHERE id = ? AND tenant_id = ?', [id, agent.tenantId]);
    if (!r) throw notFound(`conversation ${id} not found`);
    const conv = toConversation(r);
    const inbox = (await this.inbox(agent.tenantId, conv.inboxId, q))!;
    if (!canAccessInbox(agent, inbox)) throw notFound(`conversation ${id} not found`);
    return conv;
  }

  async currentSeq(tenantId: string): Promise<number> {
    const r = await this.db.one<{ seq: number }>('SELECT seq FROM tenant_seq WHERE tenant_id = ?', [tenantId]);
    return r ? Number(r.seq) : 0;
  }

  // ----- commands --------------------------------------------------------------------

  /** Applies commands in order, each in its own transaction; acknowledged only after commit. */
  async applyCommands(agent: Agent, raw: readonly unknown[], receivedAt = this.now()): Promise<CommandOutcome[]> {
    const out: CommandOutcome[] = [];
    for (const item of raw) {
      const id = typeof (item as { id?: unknown })?.id === 'string' ? (item as { id: string }).id : '';
      const parsed = Command.safeParse(item);
      if (!parsed.success) {
        out.push({ id, outcome: 'rejected', error: { code: 'bad_request', message: parsed.error.issues.map((i) => `${i.path.join('.') || 'command'}: ${i.message}`).join('; ') } });
        continue;
      }
      try {
        out.push(await this.applyCommand(agent, parsed.data, receivedAt));
      } catch (e) {
        if (e instanceof ApiError && e.status < 500) {
          out.push({ id, outcome: 'rejected', error: { code: e.code, message: e.message } });
        } else throw e;
      }
    }
    return out;
  }

  /**
   * Applies one command. With an idempotency key (REST clients), a repeated key returns the first
   * command's outcome under its id, whatever the new command says.
   */
  async applyCommand(agent: Agent, command: Command, receivedAt = this.now(), idempotencyKey?: string): Promise<CommandOutcome> {
    const result = await this.db.tx(async (q) => {
      if (idempotencyKey !== undefined) {
        const k = await q.one<{ command_id: string }>('SELECT command_id FROM idempotency_keys WHERE tenant_id = ? AND agent_id = ? AND key = ?', [agent.tenantId, agent.id, idempotencyKey]);
        if (k) {
          const c = await q.one<{ seq: number }>('SELECT seq FROM commands WHERE tenant_id = ? AND id = ?', [agent.tenantId, k.command_id]);
          return { outcome: { id: k.command_id, outcome: 'duplicate', seq: Number(c?.seq ?? 0) } as CommandOutcome, relay: null };
        }
        await q.run('INSERT INTO idempotency_keys (tenant_id, agent_id, key, command_id, created_at) VALUES (?, ?, ?, ?, ?)', [agent.tenantId, agent.id, idempotencyKey, command.id, receivedAt]);
      }
      const prior = await q.one<{ seq: number }>('SELECT seq FROM commands WHERE tenant_id = ? AND id = ?', [agent.tenantId, command.id]);
      if (prior) return { outcome: { id: command.id, outcome: 'duplicate', seq: Number(prior.seq) } as CommandOutcome, relay: null };
      const seq = await nextSeq(q, agent.tenantId);
      const relay = await this.execute(q, agent, command, seq, receivedAt);
      await q.run('INSERT INTO commands (tenant_id, id, agent_id, type, seq, device_time, server_time) VALUES (?, ?, ?, ?, ?, ?, ?)', [
        agent.tenantId, command.id, agent.id, command.type, seq, command.deviceTime, receivedAt,
      ]);
      return { outcome: { id: command.id, outcome: 'applied', seq } as CommandOutcome, relay };
    });
    if (result.outcome.outcome === 'applied') {
      this.committed.emit({ tenantId: agent.tenantId, seq: result.outcome.seq });
      if (result.relay) this.relayEnqueued.emit({ tenantId: agent.tenantId, messageId: result.relay });
    }
    return result.outcome;
  }

  /** Validates and applies one command inside a transaction. Returns a message id to relay, if any. */
  private async execute(q: Queryable, agent: Agent, command: Command, seq: number, now: number): Promise<string | null> {
    switch (command.type) {
      case 'send_reply':
      case 'add_note': {
        const conv = await this.visibleConversation(agent, command.conversationId, q);
        if (command.type === 'send_reply' && conv.status === 'closed') throw new ApiError('conflict', 'the conversation is closed; reopen it to reply');
        const isNote = command.type === 'add_note';
        if (await q.one('SELECT id FROM messages WHERE id = ?', [command.id])) throw new ApiError('conflict', `message ${command.id} already exists`);
        const contact = await this.contactRow(q, conv.contactId);
        if (!isNote && contact.attributes['optedOut'] === 'true') {
          throw new ApiError('forbidden', 'the contact opted out of messages on this channel');
        }
        // Attachments are referenced by id: their metadata comes from our store, never from the client.
        const attachments: Message['attachments'] = [];
        for (const a of command.type === 'send_reply' ? (command.attachments ?? []) : []) {
          const row = await q.one<{ id: string; name: string; mime: string; size: number; sha256: string }>('SELECT * FROM attachments WHERE id = ? AND tenant_id = ?', [a.id, agent.tenantId]);
          if (!row) throw badRequest(`attachment ${a.id} not found; upload it first`);
          attachments.push({ id: row.id, name: row.name, mime: row.mime, size: Number(row.size), sha256: row.sha256 });
        }
        const message: Message = {
          id: command.id,
          tenantId: agent.tenantId,
          conversationId: conv.id,
          direction: 'out',
          kind: isNote ? 'note' : conv.channel === 'email' ? 'email' : 'text',
          authorType: 'agent',
          authorId: agent.id,
          text: command.text,
          subject: command.type === 'send_reply' ? (command.subject ?? (conv.channel === 'email' && conv.subject ? `Re: ${conv.subject.replace(/^Re:\s*/i, '')}` : null)) : null,
          attachments,
          status: isNote ? null : 'queued',
          statusReason: null,
          deviceTime: command.deviceTime,
          serverTime: now,
          createdAt: now,
          meta: {},
          seq,
        };
        await insertMessage(q, message, { inboxId: conv.inboxId, externalId: null });
        let next = withMessage(conv, message);
        if (!isNote) next = applyToConversation(next, command, agent);
        await saveConversation(q, { ...next, updatedAt: now, seq });
        if (!isNote) {
          await q.run(
            'INSERT INTO relay_jobs (id, tenant_id, message_id, inbox_id, state, attempts, next_attempt_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?)',
            [this.ids.next(), agent.tenantId, message.id, conv.inboxId, 'queued', now, now, now],
          );
          return message.id;
        }
        return null;
      }
      case 'set_status': {
        const conv = await this.visibleConversation(agent, command.conversationId, q);
        if (command.status === 'closed' && !isManager(agent.role)) throw forbidden('only supervisors and admins can close conversations');
        if (command.status === 'snoozed' && (command.snoozedUntil ?? 0) <= now) throw badRequest('snoozedUntil must be in the future');
        const next = applyToConversation(conv, command, agent);
        await saveConversation(q, { ...next, waitingSince: command.status === 'resolved' || command.status === 'closed' ? null : next.waitingSince, updatedAt: now, seq });
        await this.event(q, agent, conv, seq, now, { action: 'status', status: command.status }, command.deviceTime);
        return null;
      }
      case 'assign': {
        const conv = await this.visibleConversation(agent, command.conversationId, q);
        if (command.assigneeId !== null) {
          if (!isManager(agent.role) && command.assigneeId !== agent.id) throw forbidden('agents can only assign conversations to themselves');
          const r = await q.one('SELECT * FROM agents WHERE id = ? AND tenant_id = ?', [command.assigneeId, agent.tenantId]);
          if (!r) throw notFound(`agent ${command.assigneeId} not found`);
          const assignee = toAgent(r);
          if (!assignee.active) throw new ApiError('conflict', `${assignee.name} is deactivated`);
          const inbox = await this.inbox(agent.tenantId, conv.inboxId, q);
          if (!inbox || !canAccessInbox(assignee, inbox)) throw forbidden(`${assignee.name} has no access to this inbox`);
        } else if (!isManager(agent.role) && conv.assigneeId !== null && conv.assigneeId !== agent.id) {
          throw forbidden('agents can only unassign themselves');
        }
        if (!isManager(agent.role) && command.teamId !== undefined && command.teamId !== conv.teamId) throw forbidden('agents may not move conversations between teams');
        if (command.teamId) {
          if (!(await q.one('SELECT id FROM teams WHERE id = ? AND tenant_id = ?', [command.teamId, agent.tenantId]))) throw notFound(`team ${command.teamId} not found`);
        }
        const next = applyToConversation(conv, command, agent);
        await saveConversation(q, { ...next, updatedAt: now, seq });
        await this.event(q, agent, conv, seq, now, { action: 'assign', assigneeId: command.assigneeId, teamId: next.teamId }, command.deviceTime);
        return null;
      }
      case 'set_priority':
      case 'add_label':
      case 'remove_label': {
        const conv = await this.visibleConversation(agent, command.conversationId, q);
        const next = applyToConversation(conv, command, agent);
        if (next.labels.length > 50) throw badRequest('at most 50 labels per conversation');
        await saveConversation(q, { ...next, updatedAt: now, seq });
        return null;
      }
      case 'update_contact': {
        const contact = await this.contactRow(q, command.contactId, agent.tenantId);
        const next = applyToContact(contact, command);
        await saveContact(q, { ...next, updatedAt: now, seq });
        if (next.name !== contact.name) {
          // The index carries the contact's name: refresh it on every conversation of the contact.
          await q.run('UPDATE conversations SET contact_name = ?, seq = ? WHERE contact_id = ?', [next.name, seq, contact.id]);
        }
        return null;
      }
      case 'log_call': {
        // On a conversation, or by number: the contact's open conversation in the voice inbox (or a new one).
        const placed = command.conversationId !== undefined
          ? { conversation: await this.visibleConversation(agent, command.conversationId, q), isNew: false }
          : await callConversation(q, this.ids, agent, { inboxId: command.inboxId!, phone: command.phone!, contactName: command.contactName }, seq, now);
        const conv = placed.conversation;
        if (await q.one('SELECT id FROM messages WHERE id = ?', [command.id])) throw new ApiError('conflict', `message ${command.id} already exists`);
        const call = callMeta(command);
        // Per-minute cost from the inbox's configured price (started minutes of talk time).
        const cfgRow = await q.one<{ config: string }>('SELECT config FROM inboxes WHERE id = ?', [conv.inboxId]);
        const cfg = JSON.parse(cfgRow?.config ?? '{}') as { pricePerMinute?: unknown; currency?: unknown };
        const minutes = Math.ceil(Number(call.durationSeconds) / 60);
        const cost = typeof cfg.pricePerMinute === 'number' ? { amount: Math.round(minutes * cfg.pricePerMinute * 10_000) / 10_000, currency: typeof cfg.currency === 'string' ? cfg.currency : 'CNY', units: minutes } : null;
        // The recording (uploaded first) is referenced by id: metadata from our store, never from the client.
        const attachments: Message['attachments'] = [];
        for (const a of command.attachments ?? []) {
          const row = await q.one<{ id: string; name: string; mime: string; size: number; sha256: string; message_id: string | null }>('SELECT * FROM attachments WHERE id = ? AND tenant_id = ?', [a.id, agent.tenantId]);
          if (!row) throw badRequest(`attachment ${a.id} not found; upload it first`);
          if (row.message_id && row.message_id !== command.id) throw new ApiError('conflict', `attachment ${a.id} belongs to another message`);
          attachments.push({ id: row.id, name: row.name, mime: row.mime, size: Number(row.size), sha256: row.sha256 });
          await q.run('UPDATE attachments SET message_id = ? WHERE id = ?', [command.id, row.id]);
        }
        const message: Message = {
          id: command.id, tenantId: agent.tenantId, conversationId: conv.id, direction: command.direction, kind: 'call', authorType: 'agent',
          authorId: agent.id, text: command.notes ?? '', subject: null, attachments, status: null, statusReason: null,
          deviceTime: command.deviceTime, serverTime: now, createdAt: command.startedAt, meta: { call, ...(cost ? { cost } : {}) }, seq,
        };
        const next = { ...applyToConversation(conv, command, agent), messageCount: conv.messageCount + 1, updatedAt: now, seq };
        if (placed.isNew) await insertConversation(q, next);
        else await saveConversation(q, next);
        await insertMessage(q, message, { inboxId: conv.inboxId, externalId: null });
        return null;
      }
      default:
        return assertNever(command, 'command');
    }
  }

  private async contactRow(q: Queryable, id: string, tenantId?: string): Promise<Contact> {
    const r = await q.one('SELECT * FROM contacts WHERE id = ?', [id]);
    if (!r || (tenantId && r.tenant_id !== tenantId)) throw notFound(`contact ${id} not found`);
    return toContact(r);
  }

  /** A timeline event (status change, assignment) as a message of kind `event`. */
  private async event(q: Queryable, agent: Agent, conv: Conversation, seq: number, now: number, meta: Record<string, unknown>, deviceTime: number | null = null): Promise<void> {
    const text =
      meta.action === 'status' ? `status → ${String(meta.status)}` : meta.assigneeId ? `assigned` : `unassigned`;
    await insertMessage(
      q,
      {
        id: this.ids.next(), tenantId: agent.tenantId, conversationId: conv.id, direction: 'out', kind: 'event', authorType: 'agent',
        authorId: agent.id, text, subject: null, attachments: [], status: null, statusReason: null, deviceTime,
        serverTime: now, createdAt: now, meta, seq,
      },
      { inboxId: conv.inboxId, externalId: null },
    );
  }

  // ----- inbound -----------------------------------------------------------------------

  /**
   * Stores an inbound message: finds or creates the contact by identity and the open
   * conversation of that contact in the inbox. Idempotent on (inbox, externalId).
   */
  async ingestInbound(inbox: Inbox, raw: InboundInput): Promise<InboundResult> {
    const input = withStagedAttachments(raw); // [providers] staged files become the message's attachments
    const now = this.now();
    const res = await this.db.tx(async (q) => {
      const dup = await q.one('SELECT * FROM messages WHERE inbox_id = ? AND external_id = ?', [inbox.id, input.externalId]);
      if (dup) {
        const m = toMessage(dup);
        const c = toConversation((await q.one('SELECT * FROM conversations WHERE id = ?', [m.conversationId]))!);
        return { duplicate: true, message: m, conversation: c };
      }
      const seq = await nextSeq(q, inbox.tenantId);
      const identifier = input.from.identifier.trim();
      let contact: Contact;
      const link = await q.one<{ contact_id: string }>('SELECT contact_id FROM contact_identities WHERE tenant_id = ? AND channel = ? AND identifier = ?', [
        inbox.tenantId, inbox.channel, identifier,
      ]);
      if (link) {
        contact = await this.contactRow(q, link.contact_id);
        if (input.from.name && (contact.name === '' || contact.name === identifier) && input.from.name !== contact.name) {
          contact = { ...contact, name: input.from.name, updatedAt: now, seq };
          await saveContact(q, contact);
        }
      } else {
        contact = {
          id: this.ids.next(), tenantId: inbox.tenantId, name: input.from.name?.trim() || identifier,
          identities: [{ channel: inbox.channel, identifier }], attributes: {}, createdAt: now, updatedAt: now, seq,
        };
        await q.run('INSERT INTO contacts (id, tenant_id, name, identities, attributes, created_at, updated_at, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?)', [
          contact.id, contact.tenantId, contact.name, JSON.stringify(contact.identities), '{}', now, now, seq,
        ]);
        await q.run('INSERT INTO contact_identities (tenant_id, channel, identifier, contact_id) VALUES (?, ?, ?, ?)', [inbox.tenantId, inbox.channel, identifier, contact.id]);
      }
      let conv: Conversation | null = null;
      if (input.conversationId) {
        const r = await q.one('SELECT * FROM conversations WHERE id = ? AND inbox_id = ?', [input.conversationId, inbox.id]);
        conv = r ? toConversation(r) : null;
      }
      if (!conv && !input.newConversation) {
        const r = await q.one(
          `SELECT * FROM conversations WHERE inbox_id = ? AND contact_id = ? AND status IN ('open', 'pending', 'snoozed') ORDER BY last_message_at DESC LIMIT 1`,
          [inbox.id, contact.id],
        );
        conv = r ? toConversation(r) : null;
      }
      const createdAt = now;
      let isNew = false;
      if (!conv) {
        isNew = true;
        conv = {
          id: this.ids.next(), tenantId: inbox.tenantId, inboxId: inbox.id, channel: inbox.channel, contactId: contact.id,
          contactName: contact.name, teamId: inbox.teamIds[0] ?? null, status: 'open', priority: 'normal', assigneeId: null,
          labels: [], subject: input.subject ?? null, lastMessagePreview: '', lastMessageDirection: null, lastMessageAt: createdAt,
          waitingSince: null, snoozedUntil: null, messageCount: 0, createdAt, updatedAt: createdAt, seq,
        };
      }
      const message: Message = {
        id: this.ids.next(), tenantId: inbox.tenantId, conversationId: conv.id, direction: 'in', kind: input.kind ?? (inbox.channel === 'email' ? 'email' : 'text'),
        authorType: 'contact', authorId: contact.id, text: input.text, subject: input.subject ?? null, attachments: input.attachments ?? [],
        status: null, statusReason: null, deviceTime: input.sentAt ?? null, serverTime: now, createdAt, meta: input.meta ?? {}, seq,
      };
      let next = withMessage({ ...conv, contactName: contact.name }, message);
      // A customer writing into a snoozed or pending conversation wakes it up.
      if (next.status === 'snoozed' || next.status === 'pending' || (input.reopen && (next.status === 'resolved' || next.status === 'closed'))) {
        next = { ...next, status: 'open', snoozedUntil: null };
      }
      next = { ...next, seq, updatedAt: now };
      if (isNew && link && contact.seq !== seq) {
        // The contact enters the scope of whoever sees this new conversation: re-announce it.
        await q.run('UPDATE contacts SET seq = ? WHERE id = ?', [seq, contact.id]);
      }
      if (isNew) await insertConversation(q, next);
      else await saveConversation(q, next);
      const inserted = await insertMessage(q, message, { inboxId: inbox.id, externalId: input.externalId });
      if (!inserted) throw new ApiError('conflict', 'duplicate delivery raced; retry');
      await this.writeInboundSideRows(q, inbox.tenantId, input, { conversationId: next.id, messageId: message.id }, now); // [providers]
      return { duplicate: false, message, conversation: next };
    });
    if (!res.duplicate) this.committed.emit({ tenantId: inbox.tenantId, seq: res.message.seq });
    return res;
  }

  /** Records a delivery status change of an outgoing message as a fact. */
  async setMessageStatus(
    messageId: string,
    status: Message['status'],
    opts: { reason?: string | null; providerMessageId?: string | null; meta?: Record<string, unknown> } = {},
  ): Promise<Message | null> {
    const res = await this.db.tx(async (q) => {
      const r = await q.one('SELECT * FROM messages WHERE id = ?', [messageId]);
      if (!r) return null;
      const m = toMessage(r);
      // Statuses only move forward (a late "accepted" never overwrites "delivered").
      const rank = { queued: 0, sending: 1, accepted: 2, delivered: 3, failed: 3 } as const;
      if (m.status && status && rank[status] < rank[m.status] && !(m.status === 'sending' && status === 'queued')) return null;
      // A repeated receipt (a provider retry, or one whose dedupe key differs) changes nothing: no new fact.
      const sameMeta = Object.entries(opts.meta ?? {}).every(([k, v]) => JSON.stringify(m.meta[k]) === JSON.stringify(v));
      const sameProviderId = !opts.providerMessageId || opts.providerMessageId === r.provider_message_id;
      const sameReason = opts.reason === undefined || (opts.reason ?? null) === m.statusReason;
      if (m.status === status && sameMeta && sameProviderId && sameReason) return null;
      const seq = await nextSeq(q, m.tenantId);
      const meta = { ...m.meta, ...(opts.meta ?? {}) };
      await q.run('UPDATE messages SET status = ?, status_reason = ?, provider_message_id = COALESCE(?, provider_message_id), meta = ?, seq = ? WHERE id = ?', [
        status, opts.reason ?? null, opts.providerMessageId ?? null, JSON.stringify(meta), seq, messageId,
      ]);
      return { ...m, status, statusReason: opts.reason ?? null, meta, seq };
    });
    if (res) this.committed.emit({ tenantId: res.tenantId, seq: res.seq });
    if (res) this.statusChanged.emit(res); // [providers]
    return res;
  }

  // ----- reads -------------------------------------------------------------------------

  /**
   * The replication log: every fact in the agent's scope with seq > checkpoint, in seq order.
   * The tenant's seq is read first: every seq up to it is committed (seq allocation holds a row lock
   * until commit), so the checkpoint never skips a row that commits later.
   */
  /**
   * The pull as JSON text, shared between identical requests: after a poke every device of a scope
   * asks for the same range, so it is read and serialised once (keyed by tenant, scope, range).
   */
  async pullJson(agent: Agent, req: PullRequest): Promise<string> {
    const scope = await this.scope(agent);
    const cur = await this.currentSeq(agent.tenantId);
    const key = `${agent.tenantId}|${scope.key}|${req.scope ?? ''}|${req.checkpoint}|${req.limit}|${cur}`;
    let hit = this.pullCache.get(key);
    if (!hit) {
      hit = this.pull(agent, req, scope, cur).then((r) => JSON.stringify(r));
      this.pullCache.set(key, hit);
      hit.catch(() => this.pullCache.delete(key));
      // Entries live briefly: enough for a fan-out burst, not enough to matter for memory.
      setTimeout(() => this.pullCache.delete(key), 2000).unref();
      if (this.pullCache.size > 1000) this.pullCache.clear();
    }
    return hit;
  }

  private pullCache = new Map<string, Promise<string>>();

  async pull(agent: Agent, req: PullRequest, knownScope?: Scope, knownSeq?: number): Promise<PullResponse> {
    const scope = knownScope ?? (await this.scope(agent));
    const reset = req.scope !== undefined && req.scope !== scope.key && req.checkpoint > 0;
    const from = reset ? 0 : req.checkpoint;
    const t = agent.tenantId;
    const cur = knownSeq ?? (await this.currentSeq(t));
    const tables = this.pullQueries(scope, t);
    const limit = req.limit;
    const results = await Promise.all(tables.map((tq) => this.db.all(`${tq.sql} AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?`, [...tq.params, from, cur, limit])));
    const truncated = results.filter((rows) => rows.length === limit);
    let checkpoint = cur;
    let hasMore = false;
    let rowsByTable = results;
    if (truncated.length > 0) {
      hasMore = true;
      const bound = Math.min(...truncated.map((rows) => Number(rows[rows.length - 1]!.seq)));
      rowsByTable = results.map((rows) => rows.filter((r) => Number(r.seq) < bound));
      checkpoint = bound - 1;
      if (rowsByTable.every((rows) => rows.length === 0)) {
        // More than `limit` rows share one seq (a contact renamed on many conversations): send that seq whole.
        rowsByTable = await Promise.all(tables.map((tq) => this.db.all(`${tq.sql} AND seq = ? ORDER BY id`, [...tq.params, bound])));
        checkpoint = bound;
        hasMore = bound < cur;
      }
    }
    const [convs, msgs, contacts, inboxes, agents, teams] = rowsByTable as [Row[], Row[], Row[], Row[], Row[], Row[]];
    return {
      checkpoint: Math.max(checkpoint, 0),
      hasMore,
      scope: scope.key,
      reset,
      conversations: convs.map(toConversation),
      messages: msgs.map((r) => this.withAttachmentUrls(toMessage(r))),
      contacts: contacts.map(toContact),
      inboxes: inboxes.map(toInbox),
      agents: agents.map(toAgent),
      teams: teams.map(toTeam),
    };
  }

  private pullQueries(scope: Scope, t: string): { sql: string; params: string[] }[] {
    const s = scopeSql(scope, 'inbox_id');
    const sc = scopeSql(scope, 'c.inbox_id');
    return [
      { sql: `SELECT * FROM conversations WHERE tenant_id = ? AND ${s.sql}`, params: [t, ...s.params] },
      { sql: `SELECT * FROM messages WHERE tenant_id = ? AND ${s.sql}`, params: [t, ...s.params] },
      scope.all
        ? { sql: 'SELECT * FROM contacts WHERE tenant_id = ?', params: [t] }
        : {
            sql: `SELECT * FROM contacts WHERE tenant_id = ? AND id IN (SELECT c.contact_id FROM conversations c WHERE c.tenant_id = ? AND ${sc.sql})`,
            params: [t, t, ...sc.params],
          },
      { sql: `SELECT * FROM inboxes WHERE tenant_id = ? AND ${scopeSql(scope, 'id').sql}`, params: [t, ...scopeSql(scope, 'id').params] },
      { sql: 'SELECT * FROM agents WHERE tenant_id = ?', params: [t] },
      { sql: 'SELECT * FROM teams WHERE tenant_id = ?', params: [t] },
    ];
  }

  async listConversations(
    agent: Agent,
    f: { status?: string[]; assigneeId?: string | null; inboxId?: string; cursor?: string; limit: number },
  ): Promise<{ items: Conversation[]; nextCursor: string | null }> {
    const scope = await this.scope(agent);
    const s = scopeSql(scope, 'inbox_id');
    const where = ['tenant_id = ?', s.sql];
    const params: (string | number)[] = [agent.tenantId, ...s.params];
    if (f.status?.length) {
      where.push(`status IN (${f.status.map(() => '?').join(', ')})`);
      params.push(...f.status);
    }
    if (f.assigneeId === null) where.push('assignee_id IS NULL');
    else if (f.assigneeId !== undefined) {
      where.push('assignee_id = ?');
      params.push(f.assigneeId);
    }
    if (f.inboxId) {
      where.push('inbox_id = ?');
      params.push(f.inboxId);
    }
    if (f.cursor) {
      const c = decodeCursor(f.cursor);
      where.push('(last_message_at < ? OR (last_message_at = ? AND id < ?))');
      params.push(c.at, c.at, c.id);
    }
    const rows = await this.db.all(`SELECT * FROM conversations WHERE ${where.join(' AND ')} ORDER BY last_message_at DESC, id DESC LIMIT ?`, [...params, f.limit + 1]);
    const items = rows.slice(0, f.limit).map(toConversation);
    const last = items[items.length - 1];
    return { items, nextCursor: rows.length > f.limit && last ? encodeCursor(last.lastMessageAt, last.id) : null };
  }

  async listMessages(agent: Agent, conversationId: string, cursor: string | undefined, limit: number): Promise<{ items: Message[]; nextCursor: string | null }> {
    await this.visibleConversation(agent, conversationId);
    const params: (string | number)[] = [conversationId];
    let extra = '';
    if (cursor) {
      const c = decodeCursor(cursor);
      extra = ' AND (created_at < ? OR (created_at = ? AND id < ?))';
      params.push(c.at, c.at, c.id);
    }
    const rows = await this.db.all(`SELECT * FROM messages WHERE conversation_id = ?${extra} ORDER BY created_at DESC, id DESC LIMIT ?`, [...params, limit + 1]);
    const items = rows.slice(0, limit).map((r) => this.withAttachmentUrls(toMessage(r)));
    const last = items[items.length - 1];
    return { items, nextCursor: rows.length > limit && last ? encodeCursor(last.createdAt, last.id) : null };
  }

  async teams(tenantId: string): Promise<Team[]> {
    return (await this.db.all('SELECT * FROM teams WHERE tenant_id = ? ORDER BY name', [tenantId])).map(toTeam);
  }

  async agents(tenantId: string): Promise<Agent[]> {
    return (await this.db.all('SELECT * FROM agents WHERE tenant_id = ? ORDER BY name', [tenantId])).map(toAgent);
  }

  async audit(tenantId: string, agentId: string | null, action: string, target: string | null, details: Record<string, unknown>): Promise<void> {
    await this.db.run('INSERT INTO audit_log (tenant_id, agent_id, action, target, details, created_at) VALUES (?, ?, ?, ?, ?, ?)', [
      tenantId, agentId, action, target, JSON.stringify(details), this.now(),
    ]);
  }

  get log(): Logger {
    return this.logger;
  }

  // ----- [providers] inbound side rows and system replies --------------------------------

  /** Rows of the staged attachments, bound to the new message, and the channel's side rows: inside the inbound's transaction. */
  private async writeInboundSideRows(q: Queryable, tenantId: string, input: InboundInput, stored: { conversationId: string; messageId: string }, now: number): Promise<void> {
    for (const a of input.stagedAttachments ?? []) {
      await q.run('INSERT INTO attachments (id, tenant_id, sha256, name, mime, size, created_by, created_at, message_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)', [
        a.id, tenantId, a.sha256, a.name, a.mime, a.size, null, now, stored.messageId,
      ]);
    }
    await input.sideRows?.(q, stored);
  }

  /**
   * An automatic outgoing message (authorType `system`, e.g. the auto-reply extension's) on a
   * conversation: the message fact and its relay job in one transaction, like an agent's reply, so it
   * goes out through the relay and the inbox's provider (with its beforeSend hooks). An
   * acknowledgement is not an answer: status, assignee and waiting time do not change. Null when the
   * conversation is gone or closed, or the contact opted out. (Same name and arguments as on the rules
   * branch, where core's decideSystemReply decides it: keep that one when merging.)
   */
  async enqueueSystemReply(conversationId: string, text: string, subject: string | null, meta: Record<string, unknown>): Promise<Message | null> {
    const message = await this.db.tx(async (q) => {
      const r = await q.one('SELECT * FROM conversations WHERE id = ?', [conversationId]);
      if (!r) return null;
      const conv = toConversation(r);
      if (conv.status === 'closed') return null;
      const contact = await this.contactRow(q, conv.contactId);
      if (contact.attributes['optedOut'] === 'true') return null;
      const seq = await nextSeq(q, conv.tenantId);
      const now = this.now();
      const m: Message = {
        id: this.ids.next(), tenantId: conv.tenantId, conversationId, direction: 'out', kind: conv.channel === 'email' ? 'email' : 'text', authorType: 'system',
        authorId: null, text, subject, attachments: [], status: 'queued', statusReason: null, deviceTime: null, serverTime: now, createdAt: now, meta, seq,
      };
      await insertMessage(q, m, { inboxId: conv.inboxId, externalId: null });
      await q.run('UPDATE conversations SET message_count = message_count + 1, updated_at = ?, seq = ? WHERE id = ?', [now, seq, conversationId]);
      await q.run('INSERT INTO relay_jobs (id, tenant_id, message_id, inbox_id, state, attempts, next_attempt_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?)', [
        this.ids.next(), conv.tenantId, m.id, conv.inboxId, 'queued', now, now, now,
      ]);
      return m;
    });
    if (!message) return null;
    this.committed.emit({ tenantId: message.tenantId, seq: message.seq });
    this.relayEnqueued.emit({ tenantId: message.tenantId, messageId: message.id });
    return message;
  }
}

/** [providers] The staged attachments' metadata appended to the message's attachments. */
function withStagedAttachments(input: InboundInput): InboundInput {
  if (!input.stagedAttachments?.length) return input;
  return { ...input, attachments: [...(input.attachments ?? []), ...input.stagedAttachments.map(({ id, name, mime, size, sha256 }) => ({ id, name, mime, size, sha256 }))] };
}

export { OPEN_STATUSES };

import { assertNever, emptyCommandState, commandNeeds, opsEventsOf, OPEN_STATUSES, type Agent, type Command, type CommandState, type Conversation, type Fact, type Inbox, type OpsCause, type StoredAttachment } from '@goutong/core';
import { insertEvents } from './opsJobs.js';
import type { Queryable, Row } from '../db/db.js';
import { ApiError } from '../errors.js';
import { insertAudit } from './audit.js';
import { contactFieldsOf } from './contactFieldRows.js';
import { withPermissions } from './permissions.js';
import { assignTicketNumber, moveMessages } from './tickets.js';
import { indexContactConversations, reindexMessage } from './searchIndex.js';
import { insertConversation, insertMessage, saveContact, saveConversation, toAgent, toContact, toConversation, toInbox, toTeam } from './rows.js';

export interface WriteOptions {
  now: number;
  newId: () => string;
  seq: number | null;
  /** The agent whose command this is (events name them); null or absent for customers and the server. */
  actorId?: string | null;
  /** Set when a rule (automation) wrote these facts: its events carry it (loop protection). */
  cause?: OpsCause | null;
}

/**
 * The one writer of the facts a decision returned: each fact becomes its rows, inside the caller's
 * transaction, in the order given, followed by the ops events they make (core `opsEventsOf`), in
 * the same transaction. Nothing here decides anything.
 */
export async function writeFacts(q: Queryable, tenantId: string, facts: readonly Fact[], o: WriteOptions): Promise<void> {
  const before = new Map<string, Conversation | null>();
  const messageConversation = new Map<string, string>();
  const repliedBefore = new Set<string>();
  for (const f of facts) {
    switch (f.kind) {
      case 'message': {
        const m = f.message;
        if (m.direction === 'out' && m.authorType === 'agent' && m.kind !== 'note' && m.kind !== 'event' && !repliedBefore.has(m.conversationId)) {
          const prior = await q.one(
            "SELECT id FROM messages WHERE conversation_id = ? AND direction = 'out' AND author_type = 'agent' AND kind NOT IN ('note', 'event') LIMIT 1",
            [m.conversationId],
          );
          if (prior) repliedBefore.add(m.conversationId);
        }
        const inserted = await insertMessage(q, f.message, { inboxId: f.inboxId, externalId: f.externalId });
        if (!inserted) throw new ApiError('conflict', f.externalId !== null ? 'duplicate delivery raced; retry' : `message ${f.message.id} already exists`);
        break;
      }
      case 'conversation':
        if (f.isNew) {
          await insertConversation(q, f.conversation);
          await assignTicketNumber(q, tenantId, f.conversation.id); // [automation]
        } else {
          if (!before.has(f.conversation.id)) {
            const prev = await q.one('SELECT * FROM conversations WHERE id = ? AND tenant_id = ?', [f.conversation.id, tenantId]);
            before.set(f.conversation.id, prev ? toConversation(prev) : null);
          }
          await saveConversation(q, f.conversation);
        }
        break;
      case 'contact':
        if (f.isNew) {
          const c = f.contact;
          await q.run('INSERT INTO contacts (id, tenant_id, name, identities, attributes, created_at, updated_at, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?)', [
            c.id, c.tenantId, c.name, JSON.stringify(c.identities), JSON.stringify(c.attributes), c.createdAt, c.updatedAt, c.seq,
          ]);
          for (const i of c.identities) {
            await q.run('INSERT INTO contact_identities (tenant_id, channel, identifier, contact_id) VALUES (?, ?, ?, ?)', [c.tenantId, i.channel, i.identifier, c.id]);
          }
          await indexContactConversations(q, c.tenantId, c.id); // [search] (a conversation written before its contact in one decision)
        } else await saveContact(q, f.contact);
        break;
      case 'contact_name':
        await q.run('UPDATE conversations SET contact_name = ?, seq = ? WHERE contact_id = ? AND tenant_id = ?', [f.name, f.seq, f.contactId, tenantId]);
        await indexContactConversations(q, tenantId, f.contactId); // [search]
        break;
      case 'relay_job':
        await q.run(
          'INSERT INTO relay_jobs (id, tenant_id, message_id, inbox_id, state, attempts, next_attempt_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?)',
          [o.newId(), tenantId, f.messageId, f.inboxId, 'queued', o.now, o.now, o.now],
        );
        break;
      case 'attachment_bind':
        await q.run('UPDATE attachments SET message_id = ? WHERE id = ? AND tenant_id = ? AND (message_id IS NULL OR message_id = ?)', [f.messageId, f.attachmentId, tenantId, f.messageId]);
        break;
      case 'message_status': {
        if (o.seq === null) throw new Error('a status fact needs a seq');
        const owner = await q.one<{ conversation_id: string }>('SELECT conversation_id FROM messages WHERE id = ? AND tenant_id = ?', [f.messageId, tenantId]);
        if (owner) messageConversation.set(f.messageId, String(owner.conversation_id));
        await q.run('UPDATE messages SET status = ?, status_reason = ?, provider_message_id = COALESCE(?, provider_message_id), meta = ?, seq = ? WHERE id = ? AND tenant_id = ?', [
          f.status, f.reason, f.providerMessageId, JSON.stringify(f.meta), o.seq, f.messageId, tenantId,
        ]);
        break;
      }
      case 'message_transcript':
        if (o.seq === null) throw new Error('a transcript fact needs a seq');
        await q.run('UPDATE messages SET meta = ?, seq = ? WHERE id = ? AND tenant_id = ?', [JSON.stringify(f.meta), o.seq, f.messageId, tenantId]);
        await reindexMessage(q, tenantId, f.messageId); // [search] the transcript is searched
        break;
      case 'conversation_sla':
        await q.run('UPDATE conversations SET sla = ?, seq = ? WHERE id = ? AND tenant_id = ?', [f.sla === null ? null : JSON.stringify(f.sla), f.seq, f.conversationId, tenantId]);
        break;
      case 'message_move': // [automation] a merge: every message of the source moves (new seq, so devices pull them)
        if (o.seq === null) throw new Error('a message move needs a seq');
        await moveMessages(q, tenantId, f, o.seq, o.now);
        break;
      case 'message_redact':
        // The provider's id is replaced too (it may hold an address); the message keeps its place and statistics.
        await q.run("UPDATE messages SET text = ?, subject = ?, attachments = '[]', meta = ?, status_reason = NULL, external_id = CASE WHEN external_id IS NULL THEN NULL ELSE 'erased:' || id END, provider_message_id = NULL, seq = ? WHERE id = ? AND tenant_id = ?", [
          f.text, f.subject, JSON.stringify(f.meta), f.seq, f.messageId, tenantId,
        ]);
        await q.run('UPDATE relay_jobs SET last_error = NULL WHERE message_id = ? AND tenant_id = ?', [f.messageId, tenantId]);
        await reindexMessage(q, tenantId, f.messageId); // [search] the erased text leaves the index
        break;
      case 'contact_identities_drop':
        await q.run('DELETE FROM contact_identities WHERE contact_id = ? AND tenant_id = ?', [f.contactId, tenantId]);
        break;
      case 'attachment_drop':
        await q.run('DELETE FROM attachments WHERE id = ? AND tenant_id = ?', [f.attachmentId, tenantId]);
        break;
      case 'audit':
        await insertAudit(q, { tenantId, agentId: f.agentId }, { action: f.action, target: f.target, details: f.details }, o.now);
        break;
      case 'agent_routing': {
        const a = f.agent;
        await q.run(
          'UPDATE agents SET availability = ?, chosen_availability = ?, on_call = COALESCE(?, on_call), capacity = ?, skills = ?, languages = ?, seq = ? WHERE id = ? AND tenant_id = ?',
          [a.availability ?? 'offline', a.chosenAvailability ?? 'online', f.onCall === undefined ? null : f.onCall ? 1 : 0, a.capacity == null ? null : JSON.stringify(a.capacity),
            JSON.stringify(a.skills ?? []), JSON.stringify(a.languages ?? []), a.seq, a.id, tenantId],
        );
        break;
      }
      case 'routing_pointer':
        await q.run('INSERT INTO routing_pointers (tenant_id, scope, agent_id, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (tenant_id, scope) DO UPDATE SET agent_id = excluded.agent_id, updated_at = excluded.updated_at', [
          f.tenantId, f.scope, f.agentId, f.at,
        ]);
        await q.run('UPDATE agents SET last_routed_at = ? WHERE id = ? AND tenant_id = ?', [f.at, f.agentId, tenantId]);
        break;
      case 'read_mark': // [search-read] a per-agent fact; the mark only moves forward
        await q.run(
          `INSERT INTO read_marks (tenant_id, agent_id, conversation_id, read_up_to, seq) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (tenant_id, agent_id, conversation_id) DO UPDATE SET read_up_to = excluded.read_up_to, seq = excluded.seq WHERE read_marks.read_up_to < excluded.read_up_to`,
          [tenantId, f.agentId, f.conversationId, f.readUpTo, f.seq],
        );
        break;
      default:
        assertNever(f, 'fact');
    }
  }
  const events = opsEventsOf(facts, { before, messageConversation, repliedBefore });
  if (events.length) await insertEvents(q, tenantId, events, { at: o.now, actorId: o.actorId ?? null, cause: o.cause ?? null, newId: o.newId });
}

const one = async <T>(q: Queryable, sql: string, params: (string | number)[], map: (r: Row) => T): Promise<T | null> => {
  const r = await q.one(sql, params);
  return r ? map(r) : null;
};

/** The attachment store's row of an upload, as the rules read it. */
export function toStoredAttachment(r: Row): StoredAttachment {
  return {
    id: String(r.id), tenantId: String(r.tenant_id), messageId: (r.message_id as string | null) ?? null, name: String(r.name), mime: String(r.mime),
    size: Number(r.size), ...(r.sha256 ? { sha256: String(r.sha256) } : {}),
  };
}

/** The contact with an identity on a channel, in a tenant. */
export async function contactByIdentity(q: Queryable, tenantId: string, channel: string, identifier: string) {
  const link = await q.one<{ contact_id: string }>('SELECT contact_id FROM contact_identities WHERE tenant_id = ? AND channel = ? AND identifier = ?', [tenantId, channel, identifier]);
  return link ? one(q, 'SELECT * FROM contacts WHERE id = ?', [link.contact_id], toContact) : null;
}

/** The contact's latest conversation in an inbox that is still open (OPEN_STATUSES). */
export async function openConversationOf(q: Queryable, inboxId: string, contactId: string) {
  return one(
    q,
    `SELECT * FROM conversations WHERE inbox_id = ? AND contact_id = ? AND status IN (${OPEN_STATUSES.map(() => '?').join(', ')}) ORDER BY last_message_at DESC, id DESC LIMIT 1`,
    [inboxId, contactId, ...OPEN_STATUSES],
    toConversation,
  );
}

/** The inboxes of a contact's conversations (what the contact's scope is decided on). */
export async function contactInboxesOf(q: Queryable, tenantId: string, contactId: string): Promise<Inbox[]> {
  return (await q.all('SELECT * FROM inboxes WHERE tenant_id = ? AND id IN (SELECT inbox_id FROM conversations WHERE contact_id = ? AND tenant_id = ?)', [tenantId, contactId, tenantId])).map(toInbox);
}

/** Loads what a command's decision needs (commandNeeds), within the actor's tenant. */
export async function loadCommandState(q: Queryable, actor: Agent, command: Command): Promise<CommandState> {
  const need = commandNeeds(command);
  const t = actor.tenantId;
  const s = emptyCommandState();
  const inboxById = (id: string) => one(q, 'SELECT * FROM inboxes WHERE id = ? AND tenant_id = ?', [id, t], toInbox);
  let configInboxId: string | null = null;
  if (need.conversationId !== null) {
    s.conversation = await one(q, 'SELECT * FROM conversations WHERE id = ? AND tenant_id = ?', [need.conversationId, t], toConversation);
    if (s.conversation) {
      s.inbox = await inboxById(s.conversation.inboxId);
      s.contact = await one(q, 'SELECT * FROM contacts WHERE id = ?', [s.conversation.contactId], toContact);
      configInboxId = s.conversation.inboxId;
    }
  }
  if (need.contactId !== null) {
    s.contact = await one(q, 'SELECT * FROM contacts WHERE id = ? AND tenant_id = ?', [need.contactId, t], toContact);
    if (s.contact) {
      s.contactInboxes = await contactInboxesOf(q, t, s.contact.id);
    }
    if (command.type === 'update_contact') s.contactFields = await contactFieldsOf(q, t); // [fields]
  }
  if (need.call !== null) {
    const inbox: Inbox | null = await inboxById(need.call.inboxId);
    s.inbox = inbox;
    if (inbox) {
      configInboxId = inbox.id;
      s.contact = await contactByIdentity(q, t, inbox.channel, need.call.phone.trim());
      if (s.contact) s.openConversation = await openConversationOf(q, inbox.id, s.contact.id);
    }
  }
  if (need.relatedConversationId) {
    // [automation] merge/link: the other conversation and its inbox
    s.related = await one(q, 'SELECT * FROM conversations WHERE id = ? AND tenant_id = ?', [need.relatedConversationId, t], toConversation);
    if (s.related) s.relatedInbox = await inboxById(s.related.inboxId);
  }
  if (need.assigneeId !== null) {
    const assignee = await one(q, 'SELECT * FROM agents WHERE id = ? AND tenant_id = ?', [need.assigneeId, t], toAgent);
    s.assignee = assignee ? await withPermissions(q, assignee) : null; // a custom role's scope decides the assignee's access
  }
  if (need.teamId !== null) s.team = await one(q, 'SELECT * FROM teams WHERE id = ? AND tenant_id = ?', [need.teamId, t], toTeam);
  if (need.attachmentIds.length > 0) {
    const m = new Map<string, StoredAttachment | null>();
    for (const id of need.attachmentIds) m.set(id, await one(q, 'SELECT * FROM attachments WHERE id = ?', [id], toStoredAttachment));
    s.attachments = m;
  }
  if (need.messageId !== null) s.messageExists = (await q.one('SELECT id FROM messages WHERE id = ?', [need.messageId])) !== null;
  if (command.type === 'log_call' && configInboxId !== null) {
    const cfg = await q.one<{ config: string | null }>('SELECT config FROM inboxes WHERE id = ?', [configInboxId]);
    s.pricing = parsePricing(cfg?.config ?? null);
  }
  return s;
}

function parsePricing(raw: unknown): CommandState['pricing'] {
  try {
    const v: unknown = typeof raw === 'string' ? JSON.parse(raw) : raw;
    if (!v || typeof v !== 'object') return null;
    const o = v as Record<string, unknown>;
    return { pricePerMinute: o['pricePerMinute'], currency: o['currency'] };
  } catch {
    return null;
  }
}

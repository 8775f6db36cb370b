import { Agent, Contact, Conversation, Inbox, InboxOps, Message, Team } from '@goutong/core';
import type { Queryable, Row } from '../db/db.js';
import { jsonColumn } from '../db/db.js';
import { indexContactConversations, indexConversation, indexMessage } from './searchIndex.js';

/** Database rows cross a boundary too: every row is parsed into the core schema. */
const json = jsonColumn;
const num = (v: unknown): number => (typeof v === 'string' ? Number(v) : (v as number));
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : num(v));

export function toTeam(r: Row): Team {
  return Team.parse({ id: r.id, tenantId: r.tenant_id, name: r.name, seq: num(r.seq) });
}

export function toAgent(r: Row): Agent {
  return Agent.parse({
    id: r.id, tenantId: r.tenant_id, email: r.email, name: r.name, role: r.role,
    teamIds: json(r.team_ids), active: Boolean(num(r.active)), seq: num(r.seq),
    ...(r.role_id ? { roleId: r.role_id } : {}),
    // [routing] availability (offline until a device connects), capacity, skills, languages
    availability: r.availability ?? 'offline', chosenAvailability: r.chosen_availability ?? 'online',
    capacity: r.capacity ? json(r.capacity) : null, skills: r.skills ? json(r.skills) : [], languages: r.languages ? json(r.languages) : [],
  });
}

export function toInbox(r: Row): Inbox {
  return Inbox.parse({
    id: r.id, tenantId: r.tenant_id, name: r.name, channel: r.channel, provider: r.provider ?? null,
    teamIds: json(r.team_ids), ops: InboxOps.parse(r.ops ? json(r.ops) : {}), createdAt: num(r.created_at), seq: num(r.seq),
  });
}

export function toContact(r: Row): Contact {
  return Contact.parse({
    id: r.id, tenantId: r.tenant_id, name: r.name, identities: json(r.identities), attributes: json(r.attributes),
    createdAt: num(r.created_at), updatedAt: num(r.updated_at), seq: num(r.seq),
  });
}

export function toConversation(r: Row): Conversation {
  return Conversation.parse({
    id: r.id, tenantId: r.tenant_id, inboxId: r.inbox_id, channel: r.channel, contactId: r.contact_id,
    contactName: r.contact_name, teamId: r.team_id ?? null, status: r.status, priority: r.priority,
    assigneeId: r.assignee_id ?? null, labels: json(r.labels), subject: r.subject ?? null,
    lastMessagePreview: r.last_message_preview, lastMessageDirection: r.last_message_direction ?? null,
    lastMessageAt: num(r.last_message_at), waitingSince: numOrNull(r.waiting_since), snoozedUntil: numOrNull(r.snoozed_until),
    messageCount: num(r.message_count), createdAt: num(r.created_at), updatedAt: num(r.updated_at), seq: num(r.seq),
    ...(r.sla ? { sla: json(r.sla) } : {}),
    ...(r.ticket_number !== null && r.ticket_number !== undefined ? { ticketNumber: num(r.ticket_number) } : {}), // [automation]
    ...(r.csat ? { csat: json(r.csat) } : {}), // [automation]
    ...(r.merged_into_id ? { mergedIntoId: r.merged_into_id } : {}), // [automation]
    ...(r.related_ids ? { relatedIds: json(r.related_ids) } : {}), // [automation]
    ...(r.sentiment ? { sentiment: r.sentiment } : {}), // [insight]
  });
}

export function toMessage(r: Row): Message {
  return Message.parse({
    id: r.id, tenantId: r.tenant_id, conversationId: r.conversation_id, direction: r.direction, kind: r.kind,
    authorType: r.author_type, authorId: r.author_id ?? null, text: r.text, subject: r.subject ?? null,
    attachments: json(r.attachments), status: r.status ?? null, statusReason: r.status_reason ?? null,
    deviceTime: numOrNull(r.device_time), serverTime: num(r.server_time), createdAt: num(r.created_at),
    meta: json(r.meta), seq: num(r.seq),
  });
}

/** Allocates the tenant's next sequence number. The row lock serialises committers, so commit order equals seq order. */
export async function nextSeq(q: Queryable, tenantId: string): Promise<number> {
  const r = await q.one<{ seq: number }>('UPDATE tenant_seq SET seq = seq + 1 WHERE tenant_id = ? RETURNING seq', [tenantId]);
  if (!r) throw new Error(`no sequence for tenant ${tenantId}`);
  return num(r.seq);
}

export async function saveConversation(q: Queryable, c: Conversation): Promise<void> {
  await q.run(
    `UPDATE conversations SET channel = ?, contact_id = ?, contact_name = ?, team_id = ?, status = ?, priority = ?, assignee_id = ?, labels = ?, subject = ?,
       last_message_preview = ?, last_message_direction = ?, last_message_at = ?, waiting_since = ?, snoozed_until = ?,
       message_count = ?, updated_at = ?, seq = ?, csat = COALESCE(?, csat), merged_into_id = COALESCE(?, merged_into_id),
       related_ids = COALESCE(?, related_ids), sentiment = COALESCE(?, sentiment) WHERE id = ?`,
    [c.channel, c.contactId, c.contactName, c.teamId, c.status, c.priority, c.assigneeId, JSON.stringify(c.labels), c.subject,
      c.lastMessagePreview, c.lastMessageDirection, c.lastMessageAt, c.waitingSince, c.snoozedUntil,
      c.messageCount, c.updatedAt, c.seq, c.csat ? JSON.stringify(c.csat) : null, c.mergedIntoId ?? null, c.relatedIds ? JSON.stringify(c.relatedIds) : null, c.sentiment ?? null, c.id],
  );
  await indexConversation(q, c); // [search]
}

export async function insertConversation(q: Queryable, c: Conversation): Promise<void> {
  await q.run(
    `INSERT INTO conversations (id, tenant_id, inbox_id, channel, contact_id, contact_name, team_id, status, priority, assignee_id, labels,
       subject, last_message_preview, last_message_direction, last_message_at, waiting_since, snoozed_until, message_count, created_at, updated_at, seq, sentiment)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [c.id, c.tenantId, c.inboxId, c.channel, c.contactId, c.contactName, c.teamId, c.status, c.priority, c.assigneeId,
      JSON.stringify(c.labels), c.subject, c.lastMessagePreview, c.lastMessageDirection, c.lastMessageAt, c.waitingSince,
      c.snoozedUntil, c.messageCount, c.createdAt, c.updatedAt, c.seq, c.sentiment ?? null],
  );
  await indexConversation(q, c); // [search]
}

/** Inserts a message; returns false when (inbox, externalId) already exists (a duplicate delivery). */
export async function insertMessage(q: Queryable, m: Message, extra: { inboxId: string; externalId: string | null; providerMessageId?: string | null }): Promise<boolean> {
  const r = await q.run(
    `INSERT INTO messages (id, tenant_id, conversation_id, inbox_id, direction, kind, author_type, author_id, text, subject, attachments,
       status, status_reason, device_time, server_time, created_at, meta, external_id, provider_message_id, seq)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
    [m.id, m.tenantId, m.conversationId, extra.inboxId, m.direction, m.kind, m.authorType, m.authorId, m.text, m.subject,
      JSON.stringify(m.attachments), m.status, m.statusReason, m.deviceTime, m.serverTime, m.createdAt, JSON.stringify(m.meta),
      extra.externalId, extra.providerMessageId ?? null, m.seq],
  );
  if (r.changes > 0) await indexMessage(q, m); // [search]
  return r.changes > 0;
}

export async function saveContact(q: Queryable, c: Contact): Promise<void> {
  await q.run('UPDATE contacts SET name = ?, identities = ?, attributes = ?, updated_at = ?, seq = ? WHERE id = ?', [
    c.name, JSON.stringify(c.identities), JSON.stringify(c.attributes), c.updatedAt, c.seq, c.id,
  ]);
  // The identity lookup follows the contact's identities (a merge moves them to another contact).
  const held = await q.all<{ channel: string; identifier: string }>('SELECT channel, identifier FROM contact_identities WHERE tenant_id = ? AND contact_id = ?', [c.tenantId, c.id]);
  for (const h of held) {
    if (!c.identities.some((i) => i.channel === h.channel && i.identifier === h.identifier)) {
      await q.run('DELETE FROM contact_identities WHERE tenant_id = ? AND channel = ? AND identifier = ? AND contact_id = ?', [c.tenantId, h.channel, h.identifier, c.id]);
    }
  }
  for (const i of c.identities) {
    if (held.some((h) => h.channel === i.channel && h.identifier === i.identifier)) continue;
    await q.run(
      'INSERT INTO contact_identities (tenant_id, channel, identifier, contact_id) VALUES (?, ?, ?, ?) ON CONFLICT (tenant_id, channel, identifier) DO UPDATE SET contact_id = excluded.contact_id',
      [c.tenantId, i.channel, i.identifier, c.id],
    );
  }
  await indexContactConversations(q, c.tenantId, c.id); // [search] name and identities are searched on each conversation
}

/** Inserts an inbox row (config as JSON, secrets already sealed) stamped with `seq`. */
export async function insertInbox(
  q: Queryable,
  i: { id: string; tenantId: string; name: string; channel: string; provider: string; teamIds: readonly string[]; config: Record<string, unknown>; sealedSecrets: string; createdAt: number; seq: number },
): Promise<void> {
  await q.run('INSERT INTO inboxes (id, tenant_id, name, channel, provider, team_ids, config, secrets, created_at, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)', [
    i.id, i.tenantId, i.name, i.channel, i.provider, JSON.stringify(i.teamIds), JSON.stringify(i.config), i.sealedSecrets, i.createdAt, i.seq,
  ]);
}

// [search] The full-text index, kept by the fact writers (rows.ts, facts.ts, tickets.ts,
// retention.ts) in the transaction of the fact, so it never disagrees with the facts. SQLite: an
// FTS5 table (trigram tokenizer) over search_docs; PostgreSQL: a pg_trgm GIN index on search_docs.
// What a document holds is core's rule (messageSearchBody, conversationSearchBody). The query is in search.ts.
import { ContactIdentity, conversationSearchBody, messageSearchBody, type Conversation, type Message } from '@goutong/core';
import { z } from 'zod';
import type { Queryable } from '../db/db.js';
import { jsonColumn } from '../db/db.js';

type DocKind = 'message' | 'conversation';

async function putDoc(q: Queryable, tenantId: string, kind: DocKind, refId: string, body: string): Promise<void> {
  if (q.dialect === 'pg') {
    await q.run('INSERT INTO search_docs (tenant_id, kind, ref_id, body) VALUES (?, ?, ?, ?) ON CONFLICT (kind, ref_id) DO UPDATE SET body = excluded.body, tenant_id = excluded.tenant_id', [tenantId, kind, refId, body]);
    return;
  }
  // SQLite: the FTS5 table indexes search_docs (external content); its entries follow by hand.
  const old = await q.one<{ id: number; body: string }>('SELECT id, body FROM search_docs WHERE kind = ? AND ref_id = ?', [kind, refId]);
  if (old) {
    if (old.body === body) return;
    await q.run("INSERT INTO search_fts (search_fts, rowid, body) VALUES ('delete', ?, ?)", [old.id, old.body]);
    await q.run('UPDATE search_docs SET body = ? WHERE id = ?', [body, old.id]);
    await q.run('INSERT INTO search_fts (rowid, body) VALUES (?, ?)', [old.id, body]);
    return;
  }
  const r = await q.one<{ id: number }>('INSERT INTO search_docs (tenant_id, kind, ref_id, body) VALUES (?, ?, ?, ?) RETURNING id', [tenantId, kind, refId, body]);
  await q.run('INSERT INTO search_fts (rowid, body) VALUES (?, ?)', [r!.id, body]);
}

const json = jsonColumn;
const Identities = z.array(ContactIdentity).catch([]);
const Meta = z.record(z.string(), z.unknown()).catch({});

/** Indexes a message's text, subject and transcript (events are not searched). */
export async function indexMessage(q: Queryable, m: Pick<Message, 'id' | 'tenantId' | 'kind' | 'text' | 'subject' | 'meta'>): Promise<void> {
  const body = messageSearchBody(m);
  if (body !== null) await putDoc(q, m.tenantId, 'message', m.id, body);
}

/** Re-indexes a stored message (its text, subject or transcript changed). */
export async function reindexMessage(q: Queryable, tenantId: string, messageId: string): Promise<void> {
  const r = await q.one<{ id: string; kind: string; text: string; subject: string | null; meta: unknown }>('SELECT id, kind, text, subject, meta FROM messages WHERE id = ? AND tenant_id = ?', [messageId, tenantId]);
  if (r) await indexMessage(q, { id: r.id, tenantId, kind: r.kind as Message['kind'], text: r.text, subject: r.subject ?? null, meta: Meta.parse(json(r.meta)) });
}

/** Drops the index entries of deleted messages. */
export async function unindexMessages(q: Queryable, messageIds: readonly string[]): Promise<void> {
  if (messageIds.length === 0) return;
  const marks = messageIds.map(() => '?').join(', ');
  if (q.dialect === 'sqlite') {
    const old = await q.all<{ id: number; body: string }>(`SELECT id, body FROM search_docs WHERE kind = 'message' AND ref_id IN (${marks})`, messageIds);
    for (const o of old) await q.run("INSERT INTO search_fts (search_fts, rowid, body) VALUES ('delete', ?, ?)", [o.id, o.body]);
  }
  await q.run(`DELETE FROM search_docs WHERE kind = 'message' AND ref_id IN (${marks})`, messageIds);
}

/** Indexes a conversation: its subject, ticket number and its contact (name, email addresses, phone numbers). */
export async function indexConversation(q: Queryable, c: Pick<Conversation, 'id' | 'tenantId' | 'contactId' | 'contactName' | 'subject'> & { ticketNumber?: number | undefined }): Promise<void> {
  const contact = await q.one<{ name: string; identities: unknown }>('SELECT name, identities FROM contacts WHERE id = ?', [c.contactId]);
  const ticket = c.ticketNumber ?? (await q.one<{ ticket_number: number | string | null }>('SELECT ticket_number FROM conversations WHERE id = ?', [c.id]))?.ticket_number ?? null;
  const body = conversationSearchBody(
    { subject: c.subject, contactName: c.contactName, ticketNumber: ticket === null ? null : Number(ticket) },
    contact ? { name: contact.name, identities: Identities.parse(json(contact.identities)) } : null,
  );
  await putDoc(q, c.tenantId, 'conversation', c.id, body);
}

type ConversationRow = { id: string; tenant_id: string; contact_id: string; contact_name: string; subject: string | null; ticket_number: number | string | null };
const conversationOfRow = (r: ConversationRow) => ({
  id: r.id, tenantId: r.tenant_id, contactId: r.contact_id, contactName: r.contact_name, subject: r.subject ?? null,
  ...(r.ticket_number !== null && r.ticket_number !== undefined ? { ticketNumber: Number(r.ticket_number) } : {}),
});

/** Re-indexes every conversation of a contact (its name or identities changed). */
export async function indexContactConversations(q: Queryable, tenantId: string, contactId: string): Promise<void> {
  const rows = await q.all<ConversationRow>('SELECT id, tenant_id, contact_id, contact_name, subject, ticket_number FROM conversations WHERE contact_id = ? AND tenant_id = ?', [contactId, tenantId]);
  for (const r of rows) await indexConversation(q, conversationOfRow(r));
}

/** Re-indexes one conversation by id. */
export async function reindexConversation(q: Queryable, tenantId: string, conversationId: string): Promise<void> {
  const r = await q.one<ConversationRow>('SELECT id, tenant_id, contact_id, contact_name, subject, ticket_number FROM conversations WHERE id = ? AND tenant_id = ?', [conversationId, tenantId]);
  if (r) await indexConversation(q, conversationOfRow(r));
}

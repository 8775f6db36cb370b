import type { Queryable } from '../db/db.js';
import { toConversation } from './rows.js';
import { reindexConversation } from './searchIndex.js';

/**
 * Gives a new conversation the tenant's next ticket number, in the conversation's creating
 * transaction: the counter row is incremented with a conditional upsert (its row lock serialises
 * concurrent creators on PostgreSQL, the database lock on SQLite), so numbers are sequential and unique.
 */
export async function assignTicketNumber(q: Queryable, tenantId: string, conversationId: string): Promise<number> {
  const r = await q.one<{ last_number: number | string }>(
    'INSERT INTO ticket_counters (tenant_id, last_number) VALUES (?, 1) ON CONFLICT (tenant_id) DO UPDATE SET last_number = ticket_counters.last_number + 1 RETURNING last_number',
    [tenantId],
  );
  const n = Number(r!.last_number);
  await q.run('UPDATE conversations SET ticket_number = ? WHERE id = ? AND tenant_id = ?', [n, conversationId, tenantId]);
  await reindexConversation(q, tenantId, conversationId); // [search] found by #number
  return n;
}

/** The conversation with a ticket number in an inbox, or null. */
export async function conversationByTicket(q: Queryable, tenantId: string, inboxId: string, ticketNumber: number) {
  const r = await q.one('SELECT * FROM conversations WHERE tenant_id = ? AND ticket_number = ? AND inbox_id = ?', [tenantId, ticketNumber, inboxId]);
  return r ? toConversation(r) : null;
}

/**
 * A merge's message move: every message of the source conversation joins the target (stamped with
 * the merge's seq so devices pull them again), email threading follows, and the relation is recorded.
 */
export async function moveMessages(q: Queryable, tenantId: string, f: { fromConversationId: string; toConversationId: string; toInboxId: string }, seq: number, now: number): Promise<void> {
  await q.run('UPDATE messages SET conversation_id = ?, inbox_id = ?, seq = ? WHERE conversation_id = ? AND tenant_id = ?', [f.toConversationId, f.toInboxId, seq, f.fromConversationId, tenantId]);
  await q.run('UPDATE email_message_ids SET conversation_id = ? WHERE conversation_id = ?', [f.toConversationId, f.fromConversationId]);
  await q.run('INSERT INTO conversation_relations (tenant_id, conversation_id, related_id, kind, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING', [
    tenantId, f.fromConversationId, f.toConversationId, 'merged_into', now,
  ]);
}

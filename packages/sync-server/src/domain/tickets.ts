import type { Queryable } from '../db/db.js';
import { toConversation } from './rows.js';

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
  return n;
}

/** The conversation with a ticket number in an inbox, or null. */
export async function conversationByTicket(q: Queryable, tenantId: string, inboxId: string, ticketNumber: number) {
  const r = await q.one('SELECT * FROM conversations WHERE tenant_id = ? AND ticket_number = ? AND inbox_id = ?', [tenantId, ticketNumber, inboxId]);
  return r ? toConversation(r) : null;
}

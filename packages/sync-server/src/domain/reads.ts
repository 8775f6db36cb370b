import type { Contact, Message } from '@goutong/core';
import type { Queryable } from '../db/db.js';
import { toContact, toMessage } from './rows.js';
import { scopeSql, type Scope } from './scope.js';

/**
 * A contact the scope may see: managers see every contact of the tenant, agents the contacts of
 * conversations in their inboxes. Null otherwise (callers answer not_found: never reveal ids).
 */
export async function visibleContact(q: Queryable, scope: Scope, tenantId: string, id: string): Promise<Contact | null> {
  const r = await q.one('SELECT * FROM contacts WHERE id = ? AND tenant_id = ?', [id, tenantId]);
  if (!r) return null;
  if (!scope.all) {
    const s = scopeSql(scope);
    const visible = await q.one(`SELECT id FROM conversations WHERE contact_id = ? AND tenant_id = ? AND ${s.sql} LIMIT 1`, [id, tenantId, ...s.params]);
    if (!visible) return null;
  }
  return toContact(r);
}

/** A message of a conversation, or null (the message is elsewhere or does not exist). */
export async function messageInConversation(q: Queryable, messageId: string, conversationId: string): Promise<Message | null> {
  const r = await q.one('SELECT * FROM messages WHERE id = ? AND conversation_id = ?', [messageId, conversationId]);
  return r ? toMessage(r) : null;
}

// Lookups and small facts the channel providers need (webhook replay records, messages by the
// provider's or our id, opt-out), so that no SQL lives in src/channels.
import type { Channel, Contact } from '@goutong/core';
import type { Db } from '../db/db.js';
import type { Workspace } from './workspace.js';
import { nextSeq, saveContact, toContact } from './rows.js';

/** Our outgoing message for a receipt: by our id (carried in a callback URL) or by the provider's id. */
export async function findOutgoing(db: Db, inboxId: string, ids: { messageId?: string | null; providerMessageId?: string | null }): Promise<string | null> {
  if (ids.messageId) {
    const r = await db.one<{ id: string }>("SELECT id FROM messages WHERE id = ? AND inbox_id = ? AND direction = 'out'", [ids.messageId, inboxId]);
    if (r) return r.id;
  }
  if (ids.providerMessageId) {
    const r = await db.one<{ id: string }>("SELECT id FROM messages WHERE inbox_id = ? AND provider_message_id = ? AND direction = 'out'", [inboxId, ids.providerMessageId]);
    if (r) return r.id;
  }
  return null;
}

/** An inbound already stored under the provider's id (checked before costly work such as fetching media). */
/** The inbox of a conversation (the extensions' onStatus hooks run per inbox). */
export async function inboxIdOfConversation(db: Db, conversationId: string): Promise<string | null> {
  const r = await db.one<{ inbox_id: string }>('SELECT inbox_id FROM conversations WHERE id = ?', [conversationId]);
  return r?.inbox_id ?? null;
}

export async function findInbound(db: Db, inboxId: string, externalId: string): Promise<{ id: string; conversationId: string } | null> {
  const r = await db.one<{ id: string; conversation_id: string }>('SELECT id, conversation_id FROM messages WHERE inbox_id = ? AND external_id = ?', [inboxId, externalId]);
  return r ? { id: r.id, conversationId: r.conversation_id } : null;
}

/** Marks a provider event (delivery id, receipt) as handled; true the first time. Call after the event's effects committed. */
export async function markEventSeen(db: Db, key: string): Promise<boolean> {
  const r = await db.run('INSERT INTO webhook_replay (key, seen_at) VALUES (?, ?) ON CONFLICT DO NOTHING', [key, Date.now()]);
  return r.changes > 0;
}

export async function eventSeen(db: Db, key: string): Promise<boolean> {
  return (await db.one('SELECT key FROM webhook_replay WHERE key = ?', [key])) !== null;
}

/** Ids of the inboxes of one provider (pollers follow them). */
export async function inboxIdsOf(db: Db, channel: Channel, provider: string): Promise<string[]> {
  return (await db.all<{ id: string }>('SELECT id FROM inboxes WHERE channel = ? AND provider = ? ORDER BY created_at, id', [channel, provider])).map((r) => r.id);
}

/** The contact's name known for an identity on a channel, or null when there is no such contact. */
export async function contactNameByIdentity(db: Db, tenantId: string, channel: Channel, identifier: string): Promise<string | null> {
  const r = await db.one<{ name: string }>(
    'SELECT c.name AS name FROM contact_identities ci JOIN contacts c ON c.id = ci.contact_id WHERE ci.tenant_id = ? AND ci.channel = ? AND ci.identifier = ?',
    [tenantId, channel, identifier],
  );
  return r?.name ?? null;
}

export interface OptOutChange {
  optedOut: boolean;
  keyword: string;
  channel: string;
  at: number;
}

/**
 * Records the customer's opt-out (or opt-in) on the contact, as a fact (new seq). No-op when already so.
 * (On the rules branch this is `Workspace.recordOptOut(contactId, change)`, decided by core: when
 * merging, make this function call it.)
 */
export async function recordOptOut(ws: Workspace, contactId: string, change: OptOutChange): Promise<Contact | null> {
  const res = await ws.db.tx(async (q) => {
    const r = await q.one('SELECT * FROM contacts WHERE id = ?', [contactId]);
    if (!r) return null;
    const c = toContact(r);
    const already = c.attributes['optedOut'] === 'true';
    if (already === change.optedOut) return null;
    const attributes = { ...c.attributes };
    if (change.optedOut) {
      attributes['optedOut'] = 'true';
      attributes['optedOutAt'] = new Date(change.at).toISOString();
      attributes['optedOutKeyword'] = change.keyword.slice(0, 64);
      attributes['optedOutChannel'] = change.channel;
    } else {
      delete attributes['optedOut'];
      delete attributes['optedOutAt'];
      delete attributes['optedOutKeyword'];
      delete attributes['optedOutChannel'];
    }
    const seq = await nextSeq(q, c.tenantId);
    const next = { ...c, attributes, updatedAt: change.at, seq };
    await saveContact(q, next);
    return next;
  });
  if (res) ws.committed.emit({ tenantId: res.tenantId, seq: res.seq });
  return res;
}

// [webchat] The reads the website live chat needs (a visitor sees only their own conversation's
// public messages), so that no SQL lives in src/channels/webchat.
import { type Calendar, type Contact, type Conversation, type Message } from '@goutong/core';
import { businessHoursById } from './businessHours.js';
import type { Db } from '../db/db.js';
import { nextSeq, saveContact, toContact, toConversation, toMessage } from './rows.js';
import type { Workspace } from './workspace.js';

/** The visitor's latest conversation in a web inbox (by the contact's identity on the `web` channel). */
export async function visitorConversation(db: Db, tenantId: string, inboxId: string, identifier: string): Promise<Conversation | null> {
  const r = await db.one(
    `SELECT c.* FROM conversations c JOIN contact_identities ci ON ci.contact_id = c.contact_id
      WHERE ci.tenant_id = ? AND ci.channel = 'web' AND ci.identifier = ? AND c.inbox_id = ?
      ORDER BY c.created_at DESC, c.id DESC LIMIT 1`,
    [tenantId, identifier, inboxId],
  );
  return r ? toConversation(r) : null;
}

/** A conversation of a web inbox by id (the CSAT and typing routes check it belongs to the visitor). */
export async function webConversation(db: Db, inboxId: string, conversationId: string): Promise<Conversation | null> {
  const r = await db.one("SELECT * FROM conversations WHERE id = ? AND inbox_id = ? AND channel = 'web'", [conversationId, inboxId]);
  return r ? toConversation(r) : null;
}

/**
 * What the visitor may see of a conversation changed after `afterSeq`: the customer's messages and
 * the agents' replies the relay handed over (accepted: a reply vetoed before sending never shows;
 * never internal notes, call records or events), oldest change first.
 */
export async function visitorMessages(db: Db, conversationId: string, afterSeq: number, limit = 200): Promise<Message[]> {
  const rows = await db.all(
    "SELECT * FROM messages WHERE conversation_id = ? AND seq > ? AND kind IN ('text', 'email', 'voice') AND (direction = 'in' OR status IN ('accepted', 'delivered')) ORDER BY seq, id LIMIT ?",
    [conversationId, afterSeq, limit],
  );
  return rows.map(toMessage);
}

/**
 * The business-hours calendar an inbox names (`ops.businessHoursId`), from the `business_hours`
 * table the business-hours API writes (id, tenant_id, name, time_zone, weekly JSON, holidays JSON).
 * Null when the inbox names none, the row is gone, or the table is not there yet: always open.
 */
export async function inboxCalendar(db: Db, tenantId: string, businessHoursId: string | null | undefined): Promise<Calendar | null> {
  return businessHoursId ? businessHoursById(db, tenantId, businessHoursId) : null;
}

/**
 * What the visitor typed into the pre-chat or offline form (email, phone) becomes contact attributes
 * (`email`, `phone`), as a server-written fact with a new seq; a value already set is kept (the
 * agents may have corrected it). Returns the contact when something changed.
 */
export async function recordVisitorDetails(ws: Workspace, contactId: string, details: { email?: string | undefined; phone?: string | undefined }): Promise<Contact | null> {
  const res = await ws.db.tx(async (q) => {
    const r = await q.one('SELECT * FROM contacts WHERE id = ?', [contactId]);
    if (!r) return null;
    const c = toContact(r);
    const attributes = { ...c.attributes };
    for (const k of ['email', 'phone'] as const) {
      const v = details[k];
      if (v && !attributes[k]) attributes[k] = v;
    }
    if (JSON.stringify(attributes) === JSON.stringify(c.attributes)) return null;
    const seq = await nextSeq(q, c.tenantId);
    const next = { ...c, attributes, updatedAt: Date.now(), seq };
    await saveContact(q, next);
    return next;
  });
  if (res) ws.committed.emit({ tenantId: res.tenantId, seq: res.seq });
  return res;
}

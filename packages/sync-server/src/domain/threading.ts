// Email threading facts (Message-IDs we sent and received, reply tokens, links between
// conversations) and the IMAP read position: the SQL of the email channel, in the domain layer.
import { conversationByTicket } from './tickets.js';
import crypto from 'node:crypto';
import type { Conversation, Inbox } from '@goutong/core';
import type { Db, Queryable } from '../db/db.js';
import { toConversation } from './rows.js';

export interface MessageIdRow {
  inboxId: string;
  headerId: string;
  conversationId: string;
  messageId: string;
  direction: 'in' | 'out';
}

/** The conversation's reply token (created on first use): carried in the Reply-To as local+token@domain. */
export async function conversationToken(q: Queryable, conversationId: string, inboxId: string): Promise<string> {
  const r = await q.one<{ token: string }>('SELECT token FROM conversation_tokens WHERE conversation_id = ?', [conversationId]);
  if (r) return r.token;
  // 16 base-32 characters (80 bits), lower case: survives MTAs that fold the case of local parts.
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  const token = [...crypto.randomBytes(16)].map((b) => alphabet[b & 31]).join('');
  await q.run('INSERT INTO conversation_tokens (token, conversation_id, inbox_id, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING', [token, conversationId, inboxId, Date.now()]);
  return (await q.one<{ token: string }>('SELECT token FROM conversation_tokens WHERE conversation_id = ?', [conversationId]))!.token;
}

export async function recordMessageId(q: Queryable, row: MessageIdRow): Promise<void> {
  await q.run('INSERT INTO email_message_ids (inbox_id, header_id, conversation_id, message_id, direction, created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING', [
    row.inboxId, row.headerId, row.conversationId, row.messageId, row.direction, Date.now(),
  ]);
}

export async function linkConversations(q: Queryable, conversationId: string, previousConversationId: string, at: number): Promise<void> {
  await q.run('INSERT INTO conversation_links (conversation_id, previous_conversation_id, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING', [conversationId, previousConversationId, at]);
}

/** The side rows of an inbound mail, written in the inbound's own transaction (see InboundInput.sideRows). */
export function inboundMailSideRows(opts: { inboxId: string; headerId: string | null; previousConversationId: string | null; at: number }) {
  return async (q: Queryable, stored: { conversationId: string; messageId: string }): Promise<void> => {
    if (opts.headerId) await recordMessageId(q, { inboxId: opts.inboxId, headerId: opts.headerId, conversationId: stored.conversationId, messageId: stored.messageId, direction: 'in' });
    if (opts.previousConversationId && stored.conversationId !== opts.previousConversationId) await linkConversations(q, stored.conversationId, opts.previousConversationId, opts.at);
  };
}

/** Our outgoing message a header (or envelope id) names: by the Message-IDs we recorded, else by our id inside it. */
export async function outgoingByHeader(q: Queryable, inboxId: string, headerId: string, ourIdInHeader: string | null): Promise<string | null> {
  const known = await q.one<{ message_id: string }>("SELECT message_id FROM email_message_ids WHERE inbox_id = ? AND header_id = ? AND direction = 'out'", [inboxId, headerId]);
  const id = known?.message_id ?? ourIdInHeader;
  return id ? outgoingMessage(q, inboxId, id) : null;
}

/** The id of an outgoing message of this inbox, or null. */
export async function outgoingMessage(q: Queryable, inboxId: string, messageId: string): Promise<string | null> {
  const r = await q.one<{ id: string }>("SELECT id FROM messages WHERE id = ? AND inbox_id = ? AND direction = 'out'", [messageId, inboxId]);
  return r?.id ?? null;
}

/** Whether a Message-ID is one we sent from this inbox (our own mail coming back). */
export async function isOurHeader(q: Queryable, inboxId: string, headerId: string): Promise<boolean> {
  return (await q.one("SELECT message_id FROM email_message_ids WHERE inbox_id = ? AND header_id = ? AND direction = 'out'", [inboxId, headerId])) !== null;
}

export type ThreadMatch = { conversation: Conversation; by: 'token' | 'in-reply-to' | 'references' | 'ticket' | 'subject' };

export interface ThreadQuery {
  /** Local part and domain of the inbox address (lower case). */
  local: string;
  domain: string;
  /** Every address the mail was delivered to. */
  recipients: readonly string[];
  inReplyTo: string | null;
  references: readonly string[];
  /** Our message id inside one of our Message-IDs, or null. */
  ourId(header: string): string | null;
  /** The sender's address, and whether a conversation's subject is the mail's (Re:/Fwd: ignored). */
  fromAddress: string | null;
  hasSubject: boolean;
  sameSubject(subject: string | null): boolean;
  subjectMatchDays: number;
  now: number;
  /** [automation] The ticket number named in the subject (`[#1234]`), or null. */
  ticketNumber?: number | null;
}

/**
 * Which conversation an inbound mail continues: the reply-to token first, then In-Reply-To and
 * References (newest first) against the Message-IDs we sent and received, then the same subject
 * (without Re:/Fwd:) from the same contact within `subjectMatchDays`. Null: a new thread.
 */
export async function findThread(q: Queryable, inbox: Inbox, t: ThreadQuery): Promise<ThreadMatch | null> {
  const conv = async (id: string | null | undefined) => {
    if (!id) return null;
    const r = await q.one('SELECT * FROM conversations WHERE id = ? AND inbox_id = ?', [id, inbox.id]);
    const c = r ? toConversation(r) : null;
    // [automation] A merged duplicate's thread continues in the conversation it was merged into.
    if (c?.mergedIntoId) {
      const m = await q.one('SELECT * FROM conversations WHERE id = ?', [c.mergedIntoId]);
      if (m) return toConversation(m);
    }
    return c;
  };
  for (const rcpt of t.recipients) {
    const m = /^(.+)\+([a-z2-7]{16})@(.+)$/.exec(rcpt.toLowerCase());
    if (!m || m[1] !== t.local || m[3] !== t.domain) continue;
    const tok = await q.one<{ conversation_id: string }>('SELECT conversation_id FROM conversation_tokens WHERE token = ? AND inbox_id = ?', [m[2]!, inbox.id]);
    const c = await conv(tok?.conversation_id);
    if (c) return { conversation: c, by: 'token' };
  }
  const byHeader = async (h: string) => {
    const known = await q.one<{ conversation_id: string }>('SELECT conversation_id FROM email_message_ids WHERE inbox_id = ? AND header_id = ?', [inbox.id, h]);
    if (known) return conv(known.conversation_id);
    const ours = t.ourId(h);
    if (!ours) return null;
    const msg = await q.one<{ conversation_id: string }>('SELECT conversation_id FROM messages WHERE id = ? AND inbox_id = ?', [ours, inbox.id]);
    return conv(msg?.conversation_id);
  };
  if (t.inReplyTo) {
    const c = await byHeader(t.inReplyTo);
    if (c) return { conversation: c, by: 'in-reply-to' };
  }
  for (const h of [...t.references].reverse().slice(0, 50)) {
    const c = await byHeader(h);
    if (c) return { conversation: c, by: 'references' };
  }
  if (t.ticketNumber && t.fromAddress) {
    // [automation] `[#1234]` names a ticket: the sender's own conversation with that number in this inbox.
    const c = await conversationByTicket(q, inbox.tenantId, inbox.id, t.ticketNumber);
    const link = c ? await q.one<{ contact_id: string }>("SELECT contact_id FROM contact_identities WHERE tenant_id = ? AND channel = 'email' AND identifier = ?", [inbox.tenantId, t.fromAddress]) : null;
    if (c && link?.contact_id === c.contactId) return { conversation: c, by: 'ticket' };
  }
  if (t.hasSubject && t.fromAddress) {
    const link = await q.one<{ contact_id: string }>("SELECT contact_id FROM contact_identities WHERE tenant_id = ? AND channel = 'email' AND identifier = ?", [inbox.tenantId, t.fromAddress]);
    if (link) {
      const rows = await q.all('SELECT * FROM conversations WHERE inbox_id = ? AND contact_id = ? AND last_message_at >= ? ORDER BY last_message_at DESC LIMIT 50', [
        inbox.id, link.contact_id, t.now - t.subjectMatchDays * 86_400_000,
      ]);
      for (const r of rows) {
        const c = toConversation(r);
        if (t.sameSubject(c.subject)) return { conversation: c, by: 'subject' };
      }
    }
  }
  return null;
}

/** The thread headers of a reply: In-Reply-To the customer's latest mail, References the whole thread (at most 20, the first kept). */
export async function threadHeaders(q: Queryable, conversationId: string, excludeMessageId: string): Promise<{ inReplyTo: string | null; references: string[] }> {
  const rows = await q.all<{ header_id: string; direction: string; message_id: string }>(
    'SELECT header_id, direction, message_id FROM email_message_ids WHERE conversation_id = ? ORDER BY created_at, header_id',
    [conversationId],
  );
  const thread = rows.filter((r) => r.message_id !== excludeMessageId);
  const lastIn = [...thread].reverse().find((r) => r.direction === 'in') ?? thread[thread.length - 1];
  let refs = [...new Set(thread.map((r) => r.header_id))];
  if (refs.length > 20) refs = [refs[0]!, ...refs.slice(-19)];
  return { inReplyTo: lastIn?.header_id ?? null, references: refs };
}

// ----- IMAP read position ---------------------------------------------------------------

export async function loadImapState(db: Db, inboxId: string): Promise<{ mailbox: string; uidValidity: string; lastUid: number } | null> {
  const r = await db.one<{ uid_validity: string; last_uid: number; mailbox: string }>('SELECT * FROM email_imap_state WHERE inbox_id = ?', [inboxId]);
  return r ? { mailbox: r.mailbox, uidValidity: r.uid_validity, lastUid: Number(r.last_uid) } : null;
}

export async function saveImapState(db: Db, inboxId: string, s: { mailbox: string; uidValidity: string; lastUid: number }): Promise<void> {
  await db.run(
    `INSERT INTO email_imap_state (inbox_id, mailbox, uid_validity, last_uid, updated_at) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (inbox_id) DO UPDATE SET mailbox = excluded.mailbox, uid_validity = excluded.uid_validity, last_uid = excluded.last_uid, updated_at = excluded.updated_at`,
    [inboxId, s.mailbox, s.uidValidity, s.lastUid, Date.now()],
  );
}

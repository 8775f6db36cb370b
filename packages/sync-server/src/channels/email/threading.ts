import crypto from 'node:crypto';
import type { Conversation, Inbox } from '@goutong/core';
import type { Queryable } from '../../db/db.js';
import { toConversation } from '../../domain/rows.js';
import { baseSubject, type InboundMail } from './parse.js';

/** Our Message-ID for an outgoing message: derived from its id (the client's command id). */
export function ourMessageId(messageId: string, domain: string): string {
  return `<${messageId}@${domain}>`;
}

/** The id inside one of our Message-IDs, or null. */
export function parseOurMessageId(header: string, domain: string): string | null {
  const m = /^<([A-Za-z0-9_.:-]{1,128})@([^>]+)>$/.exec(header);
  return m && m[2]!.toLowerCase() === domain.toLowerCase() ? m[1]! : null;
}

export function splitAddress(address: string): { local: string; domain: string } {
  const at = address.lastIndexOf('@');
  return { local: address.slice(0, at), domain: address.slice(at + 1).toLowerCase() };
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

export function replyToAddress(address: string, token: string): string {
  const { local, domain } = splitAddress(address);
  return `${local}+${token}@${domain}`;
}

export async function recordMessageId(q: Queryable, row: { inboxId: string; headerId: string; conversationId: string; messageId: string; direction: 'in' | 'out' }): Promise<void> {
  await q.run('INSERT INTO email_message_ids (inbox_id, header_id, conversation_id, message_id, direction, created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING', [
    row.inboxId, row.headerId, row.conversationId, row.messageId, row.direction, Date.now(),
  ]);
}

export type ThreadMatch = { conversation: Conversation; by: 'token' | 'in-reply-to' | 'references' | 'subject' };

/**
 * Which conversation an inbound mail continues: the reply-to token first, then In-Reply-To and
 * References (newest first) against the Message-IDs we sent and received, then the same subject
 * (without Re:/Fwd:) from the same contact within `subjectMatchDays`. Null: a new thread.
 */
export async function findThread(q: Queryable, inbox: Inbox, address: string, messageIdDomain: string, mail: InboundMail, subjectMatchDays: number, now: number): Promise<ThreadMatch | null> {
  const conv = async (id: string | null | undefined) => {
    if (!id) return null;
    const r = await q.one('SELECT * FROM conversations WHERE id = ? AND inbox_id = ?', [id, inbox.id]);
    return r ? toConversation(r) : null;
  };
  const { local, domain } = splitAddress(address.toLowerCase());
  for (const rcpt of mail.recipients) {
    const m = /^(.+)\+([a-z2-7]{16})@(.+)$/.exec(rcpt.toLowerCase());
    if (!m || m[1] !== local || m[3] !== domain) continue;
    const t = await q.one<{ conversation_id: string }>('SELECT conversation_id FROM conversation_tokens WHERE token = ? AND inbox_id = ?', [m[2]!, inbox.id]);
    const c = await conv(t?.conversation_id);
    if (c) return { conversation: c, by: 'token' };
  }
  const byHeader = async (h: string) => {
    const known = await q.one<{ conversation_id: string }>('SELECT conversation_id FROM email_message_ids WHERE inbox_id = ? AND header_id = ?', [inbox.id, h]);
    if (known) return conv(known.conversation_id);
    const ours = parseOurMessageId(h, messageIdDomain);
    if (!ours) return null;
    const msg = await q.one<{ conversation_id: string }>('SELECT conversation_id FROM messages WHERE id = ? AND inbox_id = ?', [ours, inbox.id]);
    return conv(msg?.conversation_id);
  };
  if (mail.inReplyTo) {
    const c = await byHeader(mail.inReplyTo);
    if (c) return { conversation: c, by: 'in-reply-to' };
  }
  for (const h of [...mail.references].reverse().slice(0, 50)) {
    const c = await byHeader(h);
    if (c) return { conversation: c, by: 'references' };
  }
  const subject = baseSubject(mail.subject);
  if (subject && mail.from) {
    const link = await q.one<{ contact_id: string }>("SELECT contact_id FROM contact_identities WHERE tenant_id = ? AND channel = 'email' AND identifier = ?", [inbox.tenantId, mail.from.address]);
    if (link) {
      const rows = await q.all('SELECT * FROM conversations WHERE inbox_id = ? AND contact_id = ? AND last_message_at >= ? ORDER BY last_message_at DESC LIMIT 50', [
        inbox.id, link.contact_id, now - subjectMatchDays * 86_400_000,
      ]);
      for (const r of rows) {
        const c = toConversation(r);
        if (baseSubject(c.subject) === subject) return { conversation: c, by: 'subject' };
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

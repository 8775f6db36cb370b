import { csvCell, decideErasure, type Agent, type Contact, type Conversation, type Message } from '@goutong/core';
import type { Db, Queryable } from '../db/db.js';
import { notFound } from '../errors.js';
import { insertAudit } from './audit.js';
import { writeFacts } from './facts.js';
import { nextSeq, toContact, toConversation, toMessage } from './rows.js';

/** [accounts] Data subject rights: everything about a contact, and its erasure. */

export interface ContactExport {
  exportedAt: number;
  contact: Contact;
  identities: { channel: string; identifier: string }[];
  attributes: Record<string, string>;
  conversations: Conversation[];
  messages: Message[];
  attachments: { id: string; messageId: string | null; name: string; mime: string; size: number; sha256: string }[];
}

async function contactRows(q: Queryable, tenantId: string, contactId: string) {
  const r = await q.one('SELECT * FROM contacts WHERE id = ? AND tenant_id = ?', [contactId, tenantId]);
  if (!r) throw notFound(`contact ${contactId} not found`);
  const contact = toContact(r);
  const conversations = (await q.all('SELECT * FROM conversations WHERE contact_id = ? AND tenant_id = ? ORDER BY created_at, id', [contactId, tenantId])).map(toConversation);
  const messages = (await q.all('SELECT m.* FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE c.contact_id = ? AND c.tenant_id = ? ORDER BY m.created_at, m.id', [contactId, tenantId])).map(toMessage);
  const attachments = await q.all<{ id: string; message_id: string | null; name: string; mime: string; size: number; sha256: string }>(
    'SELECT a.id, a.message_id, a.name, a.mime, a.size, a.sha256 FROM attachments a JOIN messages m ON m.id = a.message_id JOIN conversations c ON c.id = m.conversation_id WHERE c.contact_id = ? AND a.tenant_id = ? ORDER BY a.created_at, a.id',
    [contactId, tenantId],
  );
  return { contact, conversations, messages, attachments };
}

/** Everything stored about a contact (the export is audited in the same transaction as its read). */
export async function exportContact(db: Db, actor: Agent, contactId: string, format: string, now: number): Promise<ContactExport> {
  return db.tx(async (q) => {
    const { contact, conversations, messages, attachments } = await contactRows(q, actor.tenantId, contactId);
    const identities = await q.all<{ channel: string; identifier: string }>('SELECT channel, identifier FROM contact_identities WHERE contact_id = ? AND tenant_id = ? ORDER BY channel, identifier', [contactId, actor.tenantId]);
    await insertAudit(q, { tenantId: actor.tenantId, agentId: actor.id }, { action: 'contact.export', target: contactId, details: { format, conversations: conversations.length, messages: messages.length } }, now);
    return {
      exportedAt: now,
      contact,
      identities: identities.length ? identities.map((i) => ({ channel: String(i.channel), identifier: String(i.identifier) })) : contact.identities,
      attributes: contact.attributes,
      conversations,
      messages,
      attachments: attachments.map((a) => ({ id: String(a.id), messageId: a.message_id ?? null, name: String(a.name), mime: String(a.mime), size: Number(a.size), sha256: String(a.sha256) })),
    };
  });
}

/** The export as CSV: one line per field (`record,id,parent_id,field,value`), every record of the JSON. */
export function exportCsv(e: ContactExport): string {
  const lines: string[] = ['record,id,parent_id,field,value'];
  const add = (record: string, id: string, parent: string | null, obj: Record<string, unknown>) => {
    for (const [k, v] of Object.entries(obj)) lines.push([record, id, parent ?? '', k, v].map(csvCell).join(','));
  };
  add('contact', e.contact.id, null, { name: e.contact.name, createdAt: e.contact.createdAt, updatedAt: e.contact.updatedAt });
  for (const i of e.identities) add('identity', e.contact.id, e.contact.id, { [i.channel]: i.identifier });
  add('attributes', e.contact.id, e.contact.id, e.attributes);
  for (const c of e.conversations) add('conversation', c.id, e.contact.id, { ...c });
  for (const m of e.messages) add('message', m.id, m.conversationId, { ...m });
  for (const a of e.attachments) add('attachment', a.id, a.messageId, { ...a });
  return `${lines.join('\r\n')}\r\n`;
}

/**
 * Erases a contact's personal data (core decideErasure) in one transaction: contact, identities,
 * attributes, message texts and subjects, conversation previews, drafts, attachment rows. The rows
 * that stay get a new seq so devices replace them. Returns the content hashes whose bytes may go now.
 */
export async function eraseContact(db: Db, actor: Agent, contactId: string, now: number): Promise<{ seq: number; orphanedBlobs: string[]; messages: number }> {
  return db.tx(async (q) => {
    const { contact, conversations, messages, attachments } = await contactRows(q, actor.tenantId, contactId);
    const seq = await nextSeq(q, actor.tenantId);
    const facts = decideErasure(contact, conversations, messages, attachments.map((a) => String(a.id)), { seq, now, actorId: actor.id });
    await writeFacts(q, actor.tenantId, facts, { now, newId: () => '', seq });
    // Drafts of the conversations (collaborative documents) may hold the contact's data too.
    for (const c of conversations) await q.run('DELETE FROM yjs_updates WHERE tenant_id = ? AND doc = ?', [actor.tenantId, `conv:${c.id}`]);
    const orphaned: string[] = [];
    for (const sha of new Set(attachments.map((a) => String(a.sha256)))) {
      if (!(await q.one('SELECT id FROM attachments WHERE sha256 = ? LIMIT 1', [sha]))) orphaned.push(sha);
    }
    return { seq, orphanedBlobs: orphaned, messages: messages.length };
  });
}

/** Hashes no attachment row names any more (their bytes can be removed). */
export async function unreferencedBlobs(q: Queryable, shas: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const sha of new Set(shas)) if (!(await q.one('SELECT id FROM attachments WHERE sha256 = ? LIMIT 1', [sha]))) out.push(sha);
  return out;
}

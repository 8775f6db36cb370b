import { canAccessInbox, type Agent, type Contact, type Conversation, type Inbox } from '@goutong/core';
import type { Queryable } from '../db/db.js';
import { badRequest, notFound } from '../errors.js';
import { toContact, toConversation, toInbox } from './rows.js';

/**
 * Where a call logged by number (`log_call` with inboxId + phone) goes, inside the command's
 * transaction: the contact with that phone identity on the voice channel (created when unknown) and
 * their latest open, pending or snoozed conversation in the inbox (a new one when there is none).
 * The caller inserts a new conversation (`isNew`) or saves the existing one.
 */
export async function callConversation(
  q: Queryable,
  ids: { next(): string },
  agent: Agent,
  input: { inboxId: string; phone: string; contactName?: string | undefined },
  seq: number,
  now: number,
): Promise<{ conversation: Conversation; isNew: boolean }> {
  const row = await q.one('SELECT * FROM inboxes WHERE id = ? AND tenant_id = ?', [input.inboxId, agent.tenantId]);
  const inbox: Inbox | null = row ? toInbox(row) : null;
  if (!inbox || !canAccessInbox(agent, inbox)) throw notFound(`inbox ${input.inboxId} not found`);
  if (inbox.channel !== 'voice') throw badRequest('calls by number go through a voice inbox');
  const phone = input.phone.trim();
  let contact: Contact;
  const link = await q.one<{ contact_id: string }>('SELECT contact_id FROM contact_identities WHERE tenant_id = ? AND channel = ? AND identifier = ?', [inbox.tenantId, inbox.channel, phone]);
  if (link) {
    contact = toContact((await q.one('SELECT * FROM contacts WHERE id = ?', [link.contact_id]))!);
  } else {
    contact = { id: ids.next(), tenantId: inbox.tenantId, name: input.contactName?.trim() || phone, identities: [{ channel: inbox.channel, identifier: phone }], attributes: {}, createdAt: now, updatedAt: now, seq };
    await q.run('INSERT INTO contacts (id, tenant_id, name, identities, attributes, created_at, updated_at, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?)', [
      contact.id, contact.tenantId, contact.name, JSON.stringify(contact.identities), '{}', now, now, seq,
    ]);
    await q.run('INSERT INTO contact_identities (tenant_id, channel, identifier, contact_id) VALUES (?, ?, ?, ?)', [inbox.tenantId, inbox.channel, phone, contact.id]);
  }
  const open = await q.one(
    `SELECT * FROM conversations WHERE inbox_id = ? AND contact_id = ? AND status IN ('open', 'pending', 'snoozed') ORDER BY last_message_at DESC, id DESC LIMIT 1`,
    [inbox.id, contact.id],
  );
  if (open) return { conversation: toConversation(open), isNew: false };
  // The contact enters the scope of whoever sees this new conversation: announce it again.
  if (link) await q.run('UPDATE contacts SET seq = ? WHERE id = ?', [seq, contact.id]);
  return {
    isNew: true,
    conversation: {
      id: ids.next(), tenantId: inbox.tenantId, inboxId: inbox.id, channel: inbox.channel, contactId: contact.id, contactName: contact.name,
      teamId: inbox.teamIds[0] ?? null, status: 'open', priority: 'normal', assigneeId: null, labels: [], subject: null,
      lastMessagePreview: '', lastMessageDirection: null, lastMessageAt: now, waitingSince: null, snoozedUntil: null, messageCount: 0,
      createdAt: now, updatedAt: now, seq,
    },
  };
}

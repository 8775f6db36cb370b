// Customer 360: finding contacts, one customer's timeline across channels, merging duplicates
// (undoable) and suggesting merges. Decisions are core's (contactMerge.ts); facts go through writeFacts.
import {
  canSeeContact,
  decideContactMerge,
  decideContactUnmerge,
  MergeRecord,
  MERGED_INTO,
  sameCustomer,
  type Agent,
  type Contact,
  type Message,
} from '@goutong/core';
import type { Queryable } from '../db/db.js';
import { ApiError, notFound } from '../errors.js';
import { contactInboxesOf, writeFacts } from './facts.js';
import { nextSeq, toContact, toConversation, toMessage } from './rows.js';
import { scopeSql, type Scope } from './scope.js';
import type { Workspace } from './workspace.js';

const likeEscape = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

/** Contacts the agent may see (a conversation in scope; managers: all), newest first, searched across names, identities and attributes. */
export async function searchContacts(q: Queryable, agent: Agent, scope: Scope, text: string, limit: number, offset: number): Promise<Contact[]> {
  const params: unknown[] = [agent.tenantId];
  let where = `c.tenant_id = ? AND c.attributes NOT LIKE '%"${MERGED_INTO}"%'`;
  if (!scope.all) {
    const s = scopeSql(scope, 'v.inbox_id');
    where += ` AND EXISTS (SELECT 1 FROM conversations v WHERE v.contact_id = c.id AND ${s.sql})`;
    params.push(...s.params);
  }
  const t = text.trim().toLowerCase();
  if (t) {
    const like = `%${likeEscape(t)}%`;
    where += ` AND (LOWER(c.name) LIKE ? ESCAPE '\\' OR LOWER(c.attributes) LIKE ? ESCAPE '\\' OR EXISTS (SELECT 1 FROM contact_identities i WHERE i.tenant_id = c.tenant_id AND i.contact_id = c.id AND LOWER(i.identifier) LIKE ? ESCAPE '\\'))`;
    params.push(like, like, like);
  }
  const rows = await q.all(`SELECT c.* FROM contacts c WHERE ${where} ORDER BY c.updated_at DESC, c.id LIMIT ? OFFSET ?`, [...(params as string[]), limit, offset]);
  return rows.map(toContact);
}

export interface TimelineItem {
  conversationId: string;
  channel: string;
  inboxId: string;
  ticketStatus: string;
  message: Message;
}

/** Every message, call, note and event of the contact's conversations the agent may see, newest first. */
export async function contactTimeline(q: Queryable, tenantId: string, contactId: string, scope: Scope, before: number | null, limit: number): Promise<TimelineItem[]> {
  const s = scopeSql(scope, 'v.inbox_id');
  const rows = await q.all(
    `SELECT m.*, v.channel AS v_channel, v.inbox_id AS v_inbox, v.status AS v_status FROM messages m JOIN conversations v ON v.id = m.conversation_id
     WHERE v.tenant_id = ? AND v.contact_id = ? AND ${s.sql}${before !== null ? ' AND m.created_at < ?' : ''} ORDER BY m.created_at DESC, m.id DESC LIMIT ?`,
    [tenantId, contactId, ...s.params, ...(before !== null ? [before] : []), limit],
  );
  return rows.map((r) => ({ conversationId: String(r.conversation_id), channel: String(r.v_channel), inboxId: String(r.v_inbox), ticketStatus: String(r.v_status), message: toMessage(r) }));
}

async function contactIn(q: Queryable, tenantId: string, id: string): Promise<Contact | null> {
  const r = await q.one('SELECT * FROM contacts WHERE id = ? AND tenant_id = ?', [id, tenantId]);
  return r ? toContact(r) : null;
}

async function visible(q: Queryable, agent: Agent, c: Contact | null): Promise<boolean> {
  return c !== null && canSeeContact(agent, c, await contactInboxesOf(q, agent.tenantId, c.id));
}

/** Merges `sourceId` into `targetId` (one transaction: facts, audit, the merge record). */
export async function mergeContacts(ws: Workspace, agent: Agent, targetId: string, sourceId: string, now: number): Promise<{ contact: Contact; mergeId: string }> {
  const mergeId = ws.ids.next();
  const res = await ws.db.tx(async (q) => {
    const target = await contactIn(q, agent.tenantId, targetId);
    const source = await contactIn(q, agent.tenantId, sourceId);
    const sourceConversations = (await q.all('SELECT * FROM conversations WHERE tenant_id = ? AND contact_id = ?', [agent.tenantId, sourceId])).map(toConversation);
    const state = { target, source, canSeeTarget: await visible(q, agent, target), canSeeSource: await visible(q, agent, source), sourceConversations };
    const probe = decideContactMerge(state, { actor: agent, now, seq: 0, mergeId });
    if (!probe.decision.ok) throw new ApiError(probe.decision.rejection.code, probe.decision.rejection.message);
    const seq = await nextSeq(q, agent.tenantId);
    const { decision, record } = decideContactMerge(state, { actor: agent, now, seq, mergeId });
    if (!decision.ok || !record) throw new ApiError('conflict', 'merge changed while deciding');
    await writeFacts(q, agent.tenantId, decision.facts, { now, newId: () => ws.ids.next(), seq, actorId: agent.id });
    await q.run('INSERT INTO contact_merges (id, tenant_id, target_id, source_id, record, created_at, undone_at) VALUES (?, ?, ?, ?, ?, ?, NULL)', [
      mergeId, agent.tenantId, targetId, sourceId, JSON.stringify(record), now,
    ]);
    const merged = decision.facts.find((f) => f.kind === 'contact' && f.contact.id === targetId);
    return { seq, contact: merged?.kind === 'contact' ? merged.contact : target! };
  });
  ws.committed.emit({ tenantId: agent.tenantId, seq: res.seq });
  return { contact: res.contact, mergeId };
}

/** Undoes a merge of the target contact. */
export async function unmergeContacts(ws: Workspace, agent: Agent, targetId: string, mergeId: string, now: number): Promise<Contact> {
  const res = await ws.db.tx(async (q) => {
    const r = await q.one<{ record: string; undone_at: number | null }>('SELECT record, undone_at FROM contact_merges WHERE id = ? AND tenant_id = ?', [mergeId, agent.tenantId]);
    const record = r ? MergeRecord.parse({ ...JSON.parse(String(r.record)), undoneAt: r.undone_at === null ? null : Number(r.undone_at) }) : null;
    const target = await contactIn(q, agent.tenantId, targetId);
    const source = record ? await contactIn(q, agent.tenantId, record.sourceId) : null;
    const moved = record?.movedConversationIds.length
      ? (await q.all(`SELECT * FROM conversations WHERE tenant_id = ? AND id IN (${record.movedConversationIds.map(() => '?').join(', ')})`, [agent.tenantId, ...record.movedConversationIds])).map(toConversation)
      : [];
    const state = { record, target, source, canSeeTarget: await visible(q, agent, target), movedConversations: moved };
    const probe = decideContactUnmerge(state, { actor: agent, now, seq: 0 });
    if (!probe.ok) throw new ApiError(probe.rejection.code, probe.rejection.message);
    const seq = await nextSeq(q, agent.tenantId);
    const decision = decideContactUnmerge(state, { actor: agent, now, seq });
    if (!decision.ok) throw new ApiError(decision.rejection.code, decision.rejection.message);
    await writeFacts(q, agent.tenantId, decision.facts, { now, newId: () => ws.ids.next(), seq, actorId: agent.id });
    await q.run('UPDATE contact_merges SET undone_at = ? WHERE id = ?', [now, mergeId]);
    const t = decision.facts.find((f) => f.kind === 'contact' && f.contact.id === targetId);
    return { seq, contact: t?.kind === 'contact' ? t.contact : target! };
  });
  ws.committed.emit({ tenantId: agent.tenantId, seq: res.seq });
  return res.contact;
}

/** The merges of a contact (newest first), for the undo list. */
export async function mergesOf(q: Queryable, tenantId: string, targetId: string): Promise<MergeRecord[]> {
  const rows = await q.all<{ record: string; undone_at: number | null }>('SELECT record, undone_at FROM contact_merges WHERE tenant_id = ? AND target_id = ? ORDER BY created_at DESC', [tenantId, targetId]);
  return rows.map((r) => MergeRecord.parse({ ...JSON.parse(String(r.record)), undoneAt: r.undone_at === null ? null : Number(r.undone_at) }));
}

/** Other contacts that look like the same person (an identifier in common on another channel), for an agent to confirm. */
export async function mergeSuggestions(q: Queryable, agent: Agent, contactId: string): Promise<Array<{ contact: Contact; reason: string }>> {
  const me = await contactIn(q, agent.tenantId, contactId);
  if (!me || !(await visible(q, agent, me))) throw notFound(`contact ${contactId} not found`);
  if (me.identities.length === 0) return [];
  const ids = me.identities.map((i) => i.identifier.toLowerCase());
  const rows = await q.all<{ contact_id: string }>(
    `SELECT DISTINCT contact_id FROM contact_identities WHERE tenant_id = ? AND contact_id <> ? AND LOWER(identifier) IN (${ids.map(() => '?').join(', ')})`,
    [agent.tenantId, contactId, ...ids],
  );
  const out: Array<{ contact: Contact; reason: string }> = [];
  for (const r of rows) {
    const other = await contactIn(q, agent.tenantId, String(r.contact_id));
    if (!other || other.attributes[MERGED_INTO] || !(await visible(q, agent, other))) continue;
    const shared = sameCustomer(me, other);
    if (shared) out.push({ contact: other, reason: shared });
  }
  return out;
}

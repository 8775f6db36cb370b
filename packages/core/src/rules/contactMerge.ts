import { z } from 'zod';
import { ContactAttributes, ContactIdentity, type Agent, type Contact, type Conversation } from '../domain/model.js';
import { accept, reject, type Decision, type Fact } from './facts.js';

/**
 * One customer across channels: merging a duplicate contact into another (its identities,
 * attributes and conversations move; every message stays in its conversation) and undoing it.
 * The server keeps the merge record (what moved) and writes these facts; devices converge on the
 * changed contact and conversation rows.
 */

/** The attribute a merged-away contact carries: the contact it now lives in. Server-owned. */
export const MERGED_INTO = 'mergedInto';

export const MergeRecord = z.object({
  id: z.string(),
  tenantId: z.string(),
  targetId: z.string(),
  sourceId: z.string(),
  /** The source contact as it was before the merge. */
  source: z.object({ name: z.string(), identities: z.array(ContactIdentity), attributes: ContactAttributes }),
  /** Identities and attribute keys the target received from the source. */
  movedIdentities: z.array(ContactIdentity),
  addedAttributes: z.array(z.string()),
  movedConversationIds: z.array(z.string()),
  createdAt: z.number(),
  undoneAt: z.number().nullable(),
});
export type MergeRecord = z.infer<typeof MergeRecord>;

const same = (a: Pick<ContactIdentity, 'channel' | 'identifier'>, b: Pick<ContactIdentity, 'channel' | 'identifier'>) =>
  a.channel === b.channel && a.identifier.toLowerCase() === b.identifier.toLowerCase();

export interface MergeState {
  target: Contact | null;
  source: Contact | null;
  /** Whether the actor may see each contact (its conversations are in the actor's scope). */
  canSeeTarget: boolean;
  canSeeSource: boolean;
  sourceConversations: readonly Conversation[];
}

export interface MergeContext {
  actor: Agent;
  now: number;
  seq: number;
  mergeId: string;
}

/** Merges `source` into `target`. Returns the facts and the record to keep for an undo. */
export function decideContactMerge(s: MergeState, ctx: MergeContext): { decision: Decision; record: MergeRecord | null } {
  const no = (code: 'not_found' | 'bad_request' | 'conflict' | 'forbidden', message: string) => ({ decision: reject(code, message), record: null });
  if (!s.target || !s.canSeeTarget) return no('not_found', 'contact not found');
  if (!s.source || !s.canSeeSource) return no('not_found', 'the contact to merge was not found');
  if (s.target.id === s.source.id) return no('bad_request', 'a contact cannot be merged into itself');
  if (s.source.attributes[MERGED_INTO]) return no('conflict', 'that contact was already merged into another one');
  if (s.target.attributes[MERGED_INTO]) return no('conflict', 'this contact was merged into another one: merge into that one');
  const moved = s.source.identities.filter((i) => !s.target!.identities.some((t) => same(t, i)));
  const added = Object.keys(s.source.attributes).filter((k) => !(k in s.target!.attributes) && k !== MERGED_INTO);
  const target: Contact = {
    ...s.target,
    name: s.target.name.trim() ? s.target.name : s.source.name,
    identities: [...s.target.identities, ...moved],
    attributes: { ...Object.fromEntries(added.map((k) => [k, s.source!.attributes[k]!])), ...s.target.attributes },
    updatedAt: ctx.now,
    seq: ctx.seq,
  };
  const source: Contact = { ...s.source, identities: [], attributes: { ...s.source.attributes, [MERGED_INTO]: s.target.id }, updatedAt: ctx.now, seq: ctx.seq };
  const facts: Fact[] = [
    { kind: 'contact', contact: source, isNew: false },
    { kind: 'contact', contact: target, isNew: false },
    ...s.sourceConversations.map((c): Fact => ({ kind: 'conversation', conversation: { ...c, contactId: target.id, contactName: target.name, updatedAt: ctx.now, seq: ctx.seq }, isNew: false })),
    { kind: 'audit', agentId: ctx.actor.id, action: 'contact.merge', target: target.id, details: { sourceId: source.id, identities: moved.length, conversations: s.sourceConversations.length, mergeId: ctx.mergeId } },
  ];
  const record: MergeRecord = {
    id: ctx.mergeId,
    tenantId: ctx.actor.tenantId,
    targetId: s.target.id,
    sourceId: s.source.id,
    source: { name: s.source.name, identities: s.source.identities, attributes: s.source.attributes },
    movedIdentities: moved,
    addedAttributes: added,
    movedConversationIds: s.sourceConversations.map((c) => c.id),
    createdAt: ctx.now,
    undoneAt: null,
  };
  return { decision: accept(facts), record };
}

export interface UnmergeState {
  record: MergeRecord | null;
  target: Contact | null;
  source: Contact | null;
  canSeeTarget: boolean;
  /** The moved conversations as they are now (those still with the target move back). */
  movedConversations: readonly Conversation[];
}

/** Undoes a merge: the source gets its identities, attributes and conversations back. */
export function decideContactUnmerge(s: UnmergeState, ctx: Omit<MergeContext, 'mergeId'>): Decision {
  if (!s.record || !s.target || !s.canSeeTarget || s.record.targetId !== s.target.id) return reject('not_found', 'merge not found');
  if (s.record.undoneAt !== null) return reject('conflict', 'this merge was already undone');
  if (!s.source) return reject('not_found', 'the merged contact no longer exists');
  const r = s.record;
  const target: Contact = {
    ...s.target,
    identities: s.target.identities.filter((i) => !r.movedIdentities.some((m) => same(m, i))),
    attributes: Object.fromEntries(
      Object.entries(s.target.attributes).filter(([k, v]) => !(r.addedAttributes.includes(k) && r.source.attributes[k] === v)),
    ),
    updatedAt: ctx.now,
    seq: ctx.seq,
  };
  const source: Contact = {
    ...s.source,
    name: r.source.name,
    identities: r.source.identities,
    attributes: r.source.attributes,
    updatedAt: ctx.now,
    seq: ctx.seq,
  };
  return accept([
    { kind: 'contact', contact: target, isNew: false },
    { kind: 'contact', contact: source, isNew: false },
    ...s.movedConversations
      .filter((c) => c.contactId === target.id)
      .map((c): Fact => ({ kind: 'conversation', conversation: { ...c, contactId: source.id, contactName: source.name, updatedAt: ctx.now, seq: ctx.seq }, isNew: false })),
    { kind: 'audit', agentId: ctx.actor.id, action: 'contact.unmerge', target: target.id, details: { sourceId: source.id, mergeId: r.id } },
  ]);
}

/** Whether two contacts look like one person: an identifier in common across channels (a phone on SMS and voice, the same e-mail). */
export function sameCustomer(a: Pick<Contact, 'identities'>, b: Pick<Contact, 'identities'>): string | null {
  const norm = (x: string) => x.toLowerCase().replace(/[\s()-]/g, '');
  for (const i of a.identities) for (const j of b.identities) if (norm(i.identifier) === norm(j.identifier)) return i.identifier;
  return null;
}

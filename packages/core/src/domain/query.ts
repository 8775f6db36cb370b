import { PRIORITY_RANK, type Conversation } from './model.js';
import type { ConversationQuery, ConversationSort } from '../ports/storage.js';
import { assertNever } from '../util/assert.js';
import { isTicketQuery, matchesTicket } from '../rules/tickets.js';
import type { Contact, Message } from './model.js';
import type { LocalStore } from '../ports/storage.js';
import { conversationHit, messageHit, mergeSearchHits, normalizeSearchQuery, textMatches, type SearchHit } from './search.js';

/** Whether a conversation satisfies every filter of a query (the sort and window are ignored). */
export function matchesQuery(c: Conversation, q: Omit<ConversationQuery, 'sort' | 'limit' | 'offset'>): boolean {
  if (q.status && !q.status.includes(c.status)) return false;
  if (q.assigneeId !== undefined && c.assigneeId !== q.assigneeId) return false;
  if (q.inboxIds && !q.inboxIds.includes(c.inboxId)) return false;
  if (q.teamId !== undefined && c.teamId !== q.teamId) return false;
  if (q.channels && !q.channels.includes(c.channel)) return false;
  if (q.priorities && !q.priorities.includes(c.priority)) return false;
  if (q.label !== undefined && !c.labels.includes(q.label)) return false;
  if (q.text !== undefined && q.text.trim() !== '') {
    const needle = q.text.trim().toLowerCase();
    // [search] one matching rule (domain/search.ts): full-width/half-width, case, phone digits
    const hit = textMatches(q.text, c.contactName, c.subject, c.lastMessagePreview, c.labels.join(' '));
    if (isTicketQuery(needle) ? !matchesTicket(c, needle) : !hit && !matchesTicket(c, needle)) return false;
  }
  return true;
}

/**
 * Total order of the index for a sort; ties broken by id so every adapter returns the same rows.
 *  - lastActivity: most recent message first;
 *  - waitingLongest: conversations waiting for an answer first, the longest wait first;
 *  - priority: urgent first, then most recent activity.
 */
export function compareConversations(sort: ConversationSort): (a: Conversation, b: Conversation) => number {
  const byId = (a: Conversation, b: Conversation) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
  switch (sort) {
    case 'lastActivity':
      return (a, b) => b.lastMessageAt - a.lastMessageAt || byId(a, b);
    case 'waitingLongest':
      return (a, b) => {
        const wa = a.waitingSince ?? Number.MAX_SAFE_INTEGER;
        const wb = b.waitingSince ?? Number.MAX_SAFE_INTEGER;
        return wa - wb || b.lastMessageAt - a.lastMessageAt || byId(a, b);
      };
    case 'priority':
      return (a, b) => PRIORITY_RANK[a.priority] - PRIORITY_RANK[b.priority] || b.lastMessageAt - a.lastMessageAt || byId(a, b);
    default:
      return assertNever(sort, 'sort');
  }
}

/** Reference implementation of a query over an array (the memory adapter and overlays use it). */
export function runQuery(rows: Iterable<Conversation>, q: ConversationQuery): Conversation[] {
  const out: Conversation[] = [];
  for (const c of rows) if (matchesQuery(c, q)) out.push(c);
  out.sort(compareConversations(q.sort));
  const offset = q.offset ?? 0;
  return out.slice(offset, offset + q.limit);
}

// ----- [search] device search -----------------------------------------------------------------

/** How many index rows a device search reads at most (the whole index of any realistic scope). */
export const LOCAL_SEARCH_SCAN = 20_000;

/**
 * Search on the device: the conversation index (contact name, subject, ticket number, last message),
 * the contacts' identities (email, phone) and every cached message of the working set (a customer's
 * first message, the agent's own replies and notes), newest first. Works offline; the server's
 * search adds history outside the working set.
 */
export async function searchLocal(store: LocalStore, text: string, opts: { limit?: number } = {}): Promise<SearchHit[]> {
  const query = normalizeSearchQuery(text);
  if (!query) return [];
  const limit = opts.limit ?? 50;
  const index = await store.queryConversations({ sort: 'lastActivity', limit: LOCAL_SEARCH_SCAN });
  const byId = new Map(index.map((c) => [c.id, c]));
  // Contacts: through the port when the store has it, else the contacts of the index one by one.
  const contacts = new Map<string, Contact>();
  const matchesContact = (c: Contact) => textMatches(text, c.name, ...c.identities.map((i) => i.identifier));
  if (store.findContacts) {
    for (const c of await store.findContacts(matchesContact, LOCAL_SEARCH_SCAN)) contacts.set(c.id, c);
  } else {
    for (const id of new Set(index.map((c) => c.contactId))) {
      const c = await store.getContact(id);
      if (c && matchesContact(c)) contacts.set(id, c);
    }
  }
  const conversationHits: SearchHit[] = [];
  for (const c of index) {
    const hit = conversationHit(text, c, contacts.get(c.contactId) ?? null);
    if (hit) conversationHits.push(hit);
  }
  const messageHits: SearchHit[] = [];
  const pick = (m: Message) => {
    const c = byId.get(m.conversationId);
    return c !== undefined && messageHit(text, m, c) !== null;
  };
  let messages: Message[];
  if (store.findMessages) messages = await store.findMessages(pick, limit * 4);
  else {
    messages = [];
    for (const id of await store.conversationsWithMessages()) {
      for (const m of await store.getMessages({ conversationId: id, limit: 100_000 })) if (pick(m)) messages.push(m);
    }
  }
  for (const m of messages) {
    const hit = messageHit(text, m, byId.get(m.conversationId)!);
    if (hit) messageHits.push(hit);
  }
  // A conversation whose last message matched but whose messages are not cached: the preview is the hit.
  const withMessage = new Set(messageHits.map((h) => h.conversationId));
  const previewHits: SearchHit[] = [];
  for (const c of index) {
    if (withMessage.has(c.id) || conversationHits.some((h) => h.conversationId === c.id)) continue;
    const hit = messageHit(text, { id: `conversation:${c.id}`, kind: 'text', text: c.lastMessagePreview, subject: null, meta: {}, createdAt: c.lastMessageAt, direction: c.lastMessageDirection ?? 'in', authorType: c.lastMessageDirection === 'out' ? 'agent' : 'contact' } as Message, c);
    if (hit) previewHits.push({ ...hit, messageId: null });
  }
  return mergeSearchHits(messageHits, conversationHits, previewHits).slice(0, limit);
}

/** "1 conversation" / "3 conversations": how many different conversations a list of hits spans. */
export function conversationsOfHits(hits: readonly Pick<SearchHit, 'conversationId'>[]): number {
  return new Set(hits.map((h) => h.conversationId)).size;
}

import { z } from 'zod';
import { AuthorType, Channel, ConversationStatus, Id, MessageDirection, MessageKind, Millis, type Contact, type Conversation, type Message } from './model.js';
import type { LocalStore } from '../ports/storage.js';
import { detectPii } from '../rules/masking.js';
import { matchesTicket } from '../rules/tickets.js';

/**
 * Search, once for the device and the server: how text and queries are normalised, what counts as a
 * match, and the snippet with highlight ranges a result shows. The server's full-text index only
 * finds candidates; every hit it returns is confirmed (and its snippet cut) here, on the text the
 * caller may see, so a masked value is never found by its clear form.
 */

export * from './searchMatch.js';
import { findMatches, normalizeSearchQuery, normalizeSearchText, textMatches } from './searchMatch.js';

export const SearchHighlight = z.object({ start: z.number().int().nonnegative(), end: z.number().int().nonnegative() });
export type SearchHighlight = z.infer<typeof SearchHighlight>;

export const SearchSnippet = z.object({
  /** A short excerpt of the matched text (… marks a cut). */
  text: z.string(),
  /** Where the query matched in `text`, as [start, end) ranges, in order. */
  highlights: z.array(SearchHighlight),
});
export type SearchSnippet = z.infer<typeof SearchSnippet>;

/** What a hit matched: a message body or subject, the contact (name, email, phone), the conversation's subject or ticket number. */
export const SEARCH_FIELDS = ['message', 'contact', 'subject', 'ticket'] as const;
export const SearchField = z.enum(SEARCH_FIELDS);
export type SearchField = z.infer<typeof SearchField>;

export const SearchHit = z.object({
  conversationId: Id,
  /** The matched message (open the conversation at it); null for a hit on the conversation itself. */
  messageId: Id.nullable(),
  field: SearchField,
  snippet: SearchSnippet,
  /** The message's time, or the conversation's last activity for a conversation hit. */
  createdAt: Millis,
  contactName: z.string(),
  channel: Channel,
  status: ConversationStatus,
  subject: z.string().nullable(),
  ticketNumber: z.number().int().positive().nullable(),
  /** The matched message's direction and author (a customer's message, an agent's reply, a note). */
  direction: MessageDirection.nullable(),
  authorType: AuthorType.nullable(),
  /** The matched message's kind (a note, an email, a call…). */
  messageKind: MessageKind.nullable(),
});
export type SearchHit = z.infer<typeof SearchHit>;

/** `GET /api/v1/search?q=&limit=&cursor=`: hits newest first; `nextCursor` continues. */
export const SearchPage = z.object({ items: z.array(SearchHit), nextCursor: z.string().nullable() });
export type SearchPage = z.infer<typeof SearchPage>;

/** One hit's identity: the message, or the conversation for conversation hits (results from the device and the server merge on it). */
export function searchHitKey(h: Pick<SearchHit, 'conversationId' | 'messageId'>): string {
  return h.messageId ?? `conversation:${h.conversationId}`;
}

/** Newest first, ties by key (descending): the order of every search answer. */
export function compareSearchHits(a: SearchHit, b: SearchHit): number {
  const ka = searchHitKey(a);
  const kb = searchHitKey(b);
  return b.createdAt - a.createdAt || (ka < kb ? 1 : ka > kb ? -1 : 0);
}

/** Merges hits from several sources (device first): one per key, newest first. */
export function mergeSearchHits(...lists: readonly (readonly SearchHit[])[]): SearchHit[] {
  const seen = new Map<string, SearchHit>();
  for (const list of lists) for (const h of list) if (!seen.has(searchHitKey(h))) seen.set(searchHitKey(h), h);
  return [...seen.values()].sort(compareSearchHits);
}

/**
 * The text a full-text index stores for a piece of text: normalised, and every phone number in it
 * once more as digits only (so a digits query finds "138 1234 5678" and "+86-138-1234-5678").
 */
export function searchIndexText(...parts: readonly (string | null | undefined)[]): string {
  const text = parts.filter((p): p is string => typeof p === 'string' && p.length > 0).join('\n');
  const phones = detectPii(text).filter((m) => m.kind === 'cn_mobile' || m.kind === 'phone_intl' || m.kind === 'cn_landline').map((m) => m.value.replace(/\D/g, ''));
  return normalizeSearchText([text, ...phones].join('\n'));
}

/** The transcript text of a call or voicemail (meta.transcript, a string or `{text}`), if any. */
export function transcriptText(meta: Record<string, unknown>): string | null {
  const t = meta['transcript'];
  if (typeof t === 'string') return t;
  return t && typeof t === 'object' && typeof (t as { text?: unknown }).text === 'string' ? (t as { text: string }).text : null;
}

/** What the full-text index stores for a message: its text, subject and transcript; null for timeline events (not searched). */
export function messageSearchBody(m: Pick<Message, 'kind' | 'text' | 'subject' | 'meta'>): string | null {
  return m.kind === 'event' ? null : searchIndexText(m.text, m.subject, transcriptText(m.meta));
}

/** What the full-text index stores for a conversation: subject, ticket number (#42) and its contact (name, email addresses, phone numbers). */
export function conversationSearchBody(
  c: { subject: string | null; contactName: string; ticketNumber?: number | null | undefined },
  contact: Pick<Contact, 'name' | 'identities'> | null,
): string {
  return searchIndexText(c.subject, c.contactName, contact?.name, ...(contact?.identities ?? []).map((i) => i.identifier), c.ticketNumber ? `#${c.ticketNumber}` : null);
}

/** An excerpt of at most about `width` characters around the first match, with every match inside it highlighted; null when the query does not match. */
export function searchSnippet(text: string, query: string, width = 120): SearchSnippet | null {
  const all = findMatches(text, query);
  if (all.length === 0) return null;
  const first = all[0]!;
  const flat = text.replace(/\s/g, ' ');
  const before = Math.max(0, Math.floor((width - (first.end - first.start)) / 3));
  let start = Math.max(0, first.start - before);
  let end = Math.min(flat.length, start + width);
  if (end - start < width) start = Math.max(0, end - width);
  if (first.end > end) end = first.end;
  // Never cut a surrogate pair.
  if (start > 0 && /[\uDC00-\uDFFF]/.test(flat[start]!)) start--;
  if (end < flat.length && /[\uDC00-\uDFFF]/.test(flat[end]!)) end++;
  const lead = start > 0 ? '…' : '';
  const snippet = lead + flat.slice(start, end) + (end < flat.length ? '…' : '');
  const highlights = all
    .filter((h) => h.start >= start && h.end <= end)
    .map((h) => ({ start: h.start - start + lead.length, end: h.end - start + lead.length }));
  return { text: snippet, highlights };
}

/** A snippet split into plain and highlighted parts, for rendering (no HTML involved). */
export function snippetParts(s: SearchSnippet): { text: string; hit: boolean }[] {
  const out: { text: string; hit: boolean }[] = [];
  let at = 0;
  for (const h of [...s.highlights].sort((a, b) => a.start - b.start)) {
    if (h.start < at) continue;
    if (h.start > at) out.push({ text: s.text.slice(at, h.start), hit: false });
    out.push({ text: s.text.slice(h.start, h.end), hit: true });
    at = h.end;
  }
  if (at < s.text.length) out.push({ text: s.text.slice(at), hit: false });
  return out;
}

// ----- hits -------------------------------------------------------------------------------

type ConversationFields = Pick<Conversation, 'id' | 'contactName' | 'channel' | 'status' | 'subject' | 'lastMessageAt'> & { ticketNumber?: number | undefined };

function hitBase(c: ConversationFields): Omit<SearchHit, 'messageId' | 'field' | 'snippet' | 'createdAt' | 'direction' | 'authorType' | 'messageKind'> {
  return { conversationId: c.id, contactName: c.contactName, channel: c.channel, status: c.status, subject: c.subject, ticketNumber: c.ticketNumber ?? null };
}

/** The hit of a message (its text, then its subject, then a call's transcript), or null. */
export function messageHit(query: string, m: Message, c: ConversationFields): SearchHit | null {
  if (m.kind === 'event') return null;
  const transcript = transcriptText(m.meta);
  const snippet = searchSnippet(m.text, query) ?? (m.subject ? searchSnippet(m.subject, query) : null) ?? (transcript ? searchSnippet(transcript, query) : null);
  if (!snippet) return null;
  return { ...hitBase(c), messageId: m.id, field: 'message', snippet, createdAt: m.createdAt, direction: m.direction, authorType: m.authorType, messageKind: m.kind };
}

/** The hit of a conversation itself: its ticket number (#42), subject, or its contact's name and identities (email, phone). */
export function conversationHit(query: string, c: ConversationFields, contact: Pick<Contact, 'name' | 'identities'> | null): SearchHit | null {
  const base = { ...hitBase(c), messageId: null, createdAt: c.lastMessageAt, direction: null, authorType: null, messageKind: null };
  if (c.ticketNumber !== undefined && matchesTicket(c, query)) {
    const text = `#${c.ticketNumber}`;
    return { ...base, field: 'ticket', snippet: { text, highlights: [{ start: 0, end: text.length }] } };
  }
  const name = searchSnippet(contact?.name ?? c.contactName, query);
  if (name) return { ...base, field: 'contact', snippet: name };
  for (const i of contact?.identities ?? []) {
    const s = searchSnippet(i.identifier, query);
    if (s) return { ...base, field: 'contact', snippet: s };
  }
  const subject = c.subject ? searchSnippet(c.subject, query) : null;
  if (subject) return { ...base, field: 'subject', snippet: subject };
  return null;
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

import { z } from 'zod';
import { AuthorType, Channel, ConversationStatus, Id, MessageDirection, MessageKind, Millis, type Contact, type Conversation, type Message } from './model.js';
import { detectPii } from '../rules/masking.js';
import { matchesTicket } from '../rules/tickets.js';

/**
 * Search, once for the device and the server: how text and queries are normalised, what counts as a
 * match, and the snippet with highlight ranges a result shows. The server's full-text index only
 * finds candidates; every hit it returns is confirmed (and its snippet cut) here, on the text the
 * caller may see, so a masked value is never found by its clear form.
 */

/** Queries shorter than this (after trimming) find nothing. */
export const SEARCH_MIN_CHARS = 1;
/** Queries are cut to this many characters. */
export const SEARCH_MAX_CHARS = 200;

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

// ----- normalising ------------------------------------------------------------------------

/** The form text and queries are compared in: NFKC (full-width → half-width), lower case, runs of white space as one space. */
export function normalizeSearchText(s: string): string {
  return s.normalize('NFKC').toLowerCase().replace(/\s+/g, ' ');
}

/** The normalised query (trimmed, at most SEARCH_MAX_CHARS), or '' when there is nothing to search. */
export function normalizeSearchQuery(q: string): string {
  const n = normalizeSearchText(q).trim().slice(0, SEARCH_MAX_CHARS);
  return n.length >= SEARCH_MIN_CHARS ? n : '';
}

/** A query that is a phone number (digits with + ( ) - . or spaces, at least 5 digits): matched on digits only, so 138 1234 5678 finds +86 13812345678. */
export function phoneDigitsOf(query: string): string | null {
  const q = query.trim();
  if (!/^\+?[\d\s().-]+$/.test(q)) return null;
  const d = q.replace(/\D/g, '');
  return d.length >= 5 ? d : null;
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

/** The normalised form of a text with, for each of its characters, where it came from in the original. */
function normalizedWithMap(text: string, keep: (ch: string) => boolean = () => true, norm: (ch: string) => string = (ch) => normalizeSearchText(ch)): { text: string; from: number[] } {
  let out = '';
  const from: number[] = [];
  let i = 0;
  for (const ch of text) {
    if (keep(ch)) {
      const n = norm(ch);
      for (let k = 0; k < n.length; k++) from.push(i);
      out += n;
    }
    i += ch.length;
  }
  from.push(i);
  return { text: out, from };
}

/** Every place a query matches a text, as [start, end) ranges of the original text (empty: no match). */
export function findMatches(text: string, query: string): SearchHighlight[] {
  const needle = normalizeSearchQuery(query);
  if (!needle || !text) return [];
  const out: SearchHighlight[] = [];
  const scan = (hay: { text: string; from: number[] }, n: string) => {
    for (let at = hay.text.indexOf(n); at >= 0 && out.length < 50; at = hay.text.indexOf(n, at + n.length)) {
      const start = hay.from[at]!;
      const lastFrom = hay.from[at + n.length - 1]!;
      const end = lastFrom + (text.codePointAt(lastFrom)! > 0xffff ? 2 : 1);
      out.push({ start, end });
    }
  };
  scan(normalizedWithMap(text), needle);
  if (out.length === 0) {
    const digits = phoneDigitsOf(query);
    if (digits) scan(normalizedWithMap(text, (ch) => /\d/.test(ch.normalize('NFKC')), (ch) => ch.normalize('NFKC')), digits);
  }
  return out;
}

/** Whether a query matches any of these texts. */
export function textMatches(query: string, ...texts: readonly (string | null | undefined)[]): boolean {
  return texts.some((t) => typeof t === 'string' && findMatches(t, query).length > 0);
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
  const transcript = typeof m.meta['transcript'] === 'string' ? m.meta['transcript'] : typeof (m.meta['transcript'] as { text?: unknown } | undefined)?.text === 'string' ? String((m.meta['transcript'] as { text: string }).text) : null;
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

import type { SearchHighlight } from './search.js';

/**
 * [search] The matching rule of search and the inbox filter (core domain/search.ts builds results on
 * it): how text and queries are normalised and where a query matches. Small and schema-free, so the
 * inbox's first screen carries it without the rest of search.
 */

/** Queries shorter than this (after trimming) find nothing. */
export const SEARCH_MIN_CHARS = 1;
/** Queries are cut to this many characters. */
export const SEARCH_MAX_CHARS = 200;

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


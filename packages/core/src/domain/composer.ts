import { z } from 'zod';
import { Id, type Message } from './model.js';
import { searchCanned, type CannedResponse } from './canned.js';

/**
 * The composer's rules, once for desktop and mobile: which token the caret is in (`/short-code` or
 * `@mention`), what it matches, how a pick replaces it, and the mentions a note carries.
 */

export type ComposerTrigger = '/' | '@';

/** A trigger token under the caret: `text.slice(start, end)` is the trigger plus `query`. */
export interface CaretToken {
  trigger: ComposerTrigger;
  /** What was typed after the trigger (may be empty). */
  query: string;
  /** Index of the trigger character. */
  start: number;
  /** The caret (the token ends where the caret is). */
  end: number;
}

// Letters, digits and _ . - (the short-code alphabet; names add nothing else but are matched on it too).
const TOKEN_CHAR = /[\p{L}\p{N}_.-]/u;

/**
 * The `/code` or `@name` token that ends at the caret, or null. The trigger must start the text or
 * follow white space, so URLs ("https://x/a"), dates ("1/2") and email addresses ("a@b.c") never
 * open a picker; `triggers` limits which triggers count (mentions exist only in notes).
 */
export function tokenAtCaret(text: string, caret: number, triggers: readonly ComposerTrigger[] = ['/', '@']): CaretToken | null {
  const end = Math.max(0, Math.min(caret, text.length));
  let i = end;
  // Walk back over token characters (by UTF-16 unit; surrogate pairs of CJK extension B are letters too).
  while (i > 0) {
    const ch = charBefore(text, i);
    if (!TOKEN_CHAR.test(ch)) break;
    i -= ch.length;
  }
  if (i === 0) return null;
  const trigger = text[i - 1];
  if (trigger !== '/' && trigger !== '@') return null;
  if (!triggers.includes(trigger)) return null;
  const start = i - 1;
  if (start > 0 && !/\s/u.test(charBefore(text, start))) return null;
  return { trigger, query: text.slice(i, end), start, end };
}

function charBefore(text: string, i: number): string {
  const low = text.charCodeAt(i - 1);
  if (i >= 2 && low >= 0xdc00 && low <= 0xdfff) {
    const high = text.charCodeAt(i - 2);
    if (high >= 0xd800 && high <= 0xdbff) return text.slice(i - 2, i);
  }
  return text.slice(i - 1, i);
}

/** The text with a token replaced by `insert`, and where the caret goes (right after the insertion). */
export function replaceToken(text: string, token: Pick<CaretToken, 'start' | 'end'>, insert: string): { text: string; caret: number } {
  const before = text.slice(0, token.start);
  const after = text.slice(token.end);
  return { text: before + insert + after, caret: before.length + insert.length };
}

/** Inserts at the caret (an emoji, a pick without a token): the text and the new caret. */
export function insertAt(text: string, caret: number, insert: string): { text: string; caret: number } {
  const at = Math.max(0, Math.min(caret, text.length));
  return replaceToken(text, { start: at, end: at }, insert);
}

/** The canned responses a typed `/query` offers, best first (short-code prefix, then contains), at most `limit`. */
export function matchCanned<T extends Pick<CannedResponse, 'shortCode' | 'title'>>(items: readonly T[], query: string, limit = 8): T[] {
  // searchCanned reads only shortCode and title.
  return (searchCanned(items as unknown as readonly CannedResponse[], query) as unknown as T[]).slice(0, limit);
}

/** Someone a note can mention. */
export interface Mentionable {
  id: string;
  name: string;
  email?: string | null;
  active?: boolean;
}

/**
 * The agents a typed `@query` offers: active ones whose name (or a word of it) or email starts with
 * the query first, then those containing it; case-insensitive, at most `limit`.
 */
export function matchMentions<T extends Mentionable>(agents: readonly T[], query: string, limit = 8): T[] {
  const q = query.trim().toLowerCase();
  const live = agents.filter((a) => a.active !== false);
  const byName = (a: T, b: T) => a.name.localeCompare(b.name);
  if (!q) return [...live].sort(byName).slice(0, limit);
  const words = (a: T) => [a.name.toLowerCase(), ...a.name.toLowerCase().split(/[\s.]+/), (a.email ?? '').toLowerCase()];
  const starts = live.filter((a) => words(a).some((w) => w.startsWith(q)));
  const rest = live.filter((a) => !starts.includes(a) && (a.name.toLowerCase().includes(q) || (a.email ?? '').toLowerCase().includes(q)));
  return [...starts.sort(byName), ...rest.sort(byName)].slice(0, limit);
}

/** The text a mention puts into the note (`@Li Wei `). */
export const mentionText = (agent: Pick<Mentionable, 'name'>): string => `@${agent.name} `;

/** At most this many agents are mentioned in one note. */
export const MAX_MENTIONS = 50;
export const Mentions = z.array(Id).max(MAX_MENTIONS);

/**
 * The agents a note's text still mentions: of the agents picked while writing, those whose `@Name`
 * is still in the text (a mention deleted by editing is not sent), each once.
 */
export function mentionsInText(text: string, picked: readonly Pick<Mentionable, 'id' | 'name'>[]): string[] {
  const out: string[] = [];
  for (const a of picked) if (!out.includes(a.id) && text.includes(`@${a.name}`)) out.push(a.id);
  return out;
}

/**
 * The agents a message mentions (a note's `meta.mentions`, written by the server from the note's
 * command): what the notification policy reads. Anything malformed counts as no mention.
 */
export function mentionsOf(message: Pick<Message, 'kind' | 'meta'>): string[] {
  if (message.kind !== 'note') return [];
  const r = Mentions.safeParse(message.meta['mentions']);
  return r.success ? [...new Set(r.data)] : [];
}

/**
 * The emoji of the composer's picker: a small built-in set (no font or library), grouped. Each is a
 * single code point or a standard sequence every current system font draws.
 */
export const EMOJI_GROUPS: readonly { id: 'smileys' | 'gestures' | 'symbols' | 'objects'; emoji: readonly string[] }[] = [
  { id: 'smileys', emoji: ['😀', '😃', '😄', '😁', '😊', '🙂', '😉', '😍', '😘', '😎', '🤔', '😐', '😅', '😂', '🙃', '😢', '😭', '😡', '😱', '😴', '🤗', '🤝'] },
  { id: 'gestures', emoji: ['👍', '👎', '👌', '👏', '🙏', '👋', '💪', '✌️', '🤞', '👀'] },
  { id: 'symbols', emoji: ['❤️', '💔', '⭐', '✨', '🔥', '✅', '❌', '⚠️', '❓', '❗', '💯', '🎉'] },
  { id: 'objects', emoji: ['📦', '🚚', '📞', '📧', '💳', '🧾', '🕒', '📅', '🎁', '🔒'] },
];

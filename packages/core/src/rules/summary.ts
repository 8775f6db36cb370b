/**
 * A short extractive summary of a conversation for whoever takes it over, once.
 *
 * Picks the few sentences that carry the most of the conversation's vocabulary (TF-IDF over the
 * conversation's own sentences, the suggestion index's tokeniser: Chinese words, stemmed English),
 * always keeping what the customer first asked and where things stand (the latest customer
 * sentence and the latest agent answer), drops near-duplicates, and returns them in the order they
 * were said, each pointing at its message. Runs on the server (history) and on devices (offline).
 */
import { tokenize } from './suggest.js';

export interface SummarizableMessage {
  id: string;
  direction: 'in' | 'out';
  kind: string;
  authorType: string;
  text: string;
  createdAt: number;
}

export type SummaryRole = 'customer' | 'agent' | 'note';

export interface SummaryPoint {
  messageId: string;
  role: SummaryRole;
  text: string;
  at: number;
}

export interface ConversationSummary {
  /** Whether the conversation is long enough for a summary to help (else `points` is empty). */
  worthIt: boolean;
  points: SummaryPoint[];
  /** How many messages and sentences it read. */
  messages: number;
  sentences: number;
}

/** Conversations shorter than this (messages with text, or characters) need no summary. */
export const SUMMARY_MIN_MESSAGES = 6;
export const SUMMARY_MIN_CHARS = 600;
const MAX_POINT_CHARS = 200;

interface Sentence {
  messageId: string;
  role: SummaryRole;
  text: string;
  at: number;
  order: number;
  terms: string[];
}

const roleOf = (m: SummarizableMessage): SummaryRole | null => {
  if (m.kind === 'event' || m.kind === 'call' || m.kind === 'voice') return null;
  if (m.kind === 'note') return 'note';
  if (m.direction === 'in') return 'customer';
  return m.authorType === 'agent' ? 'agent' : null; // automatic replies say nothing about this case
};

/** The text a person wrote: quoted email history and the "On … wrote:" line go. */
export function ownText(text: string): string {
  const lines: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    const l = line.trim();
    if (l.startsWith('>')) continue;
    if (/^(On .{4,200} wrote:|-----Original Message-----|在.{2,100}写道[:：])$/i.test(l)) break;
    if (l === '--' || l === '-- ') break; // signature
    lines.push(line);
  }
  return lines.join('\n').trim();
}

/** Sentences of a text: Chinese and English sentence ends, and line breaks. */
export function sentencesOf(text: string): string[] {
  return text
    .split(/(?<=[。！？!?；;])|(?<=\.)\s+|\n+/u)
    .map((s) => s.replace(/\s+/g, ' ').trim())
    .filter((s) => s.length >= 2 && /[\p{L}\p{N}]/u.test(s));
}

const clip = (s: string): string => (s.length > MAX_POINT_CHARS ? `${s.slice(0, MAX_POINT_CHARS - 1)}…` : s);

function jaccard(a: readonly string[], b: readonly string[]): number {
  if (a.length === 0 || b.length === 0) return 0;
  const A = new Set(a);
  const B = new Set(b);
  let inter = 0;
  for (const t of A) if (B.has(t)) inter += 1;
  return inter / (A.size + B.size - inter);
}

/** Summarises a conversation (messages in any order; at most `maxPoints` points, 3–8). */
export function summarizeConversation(messages: readonly SummarizableMessage[], maxPoints = 5): ConversationSummary {
  const limit = Math.min(8, Math.max(3, Math.floor(maxPoints)));
  const sorted = [...messages].sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
  const sentences: Sentence[] = [];
  let chars = 0;
  let withText = 0;
  for (const m of sorted) {
    const role = roleOf(m);
    if (!role) continue;
    const own = ownText(m.text);
    if (!own) continue;
    withText += 1;
    chars += own.length;
    for (const s of sentencesOf(own)) sentences.push({ messageId: m.id, role, text: s, at: m.createdAt, order: sentences.length, terms: tokenize(s) });
  }
  const worthIt = withText >= SUMMARY_MIN_MESSAGES || chars >= SUMMARY_MIN_CHARS;
  if (!worthIt || sentences.length === 0) return { worthIt, points: [], messages: withText, sentences: sentences.length };

  // TF-IDF weight of each sentence, normalised by its length so long sentences do not win by size.
  const df = new Map<string, number>();
  for (const s of sentences) for (const t of new Set(s.terms)) df.set(t, (df.get(t) ?? 0) + 1);
  const tf = new Map<string, number>();
  for (const s of sentences) for (const t of s.terms) tf.set(t, (tf.get(t) ?? 0) + 1);
  const n = sentences.length;
  const weight = (s: Sentence): number => {
    if (s.terms.length === 0) return 0;
    let sum = 0;
    for (const t of new Set(s.terms)) sum += Math.log1p(tf.get(t)!) * Math.log(1 + n / df.get(t)!);
    return sum / Math.sqrt(s.terms.length);
  };

  const chosen: Sentence[] = [];
  const take = (s: Sentence | undefined): void => {
    if (!s || chosen.length >= limit || chosen.includes(s)) return;
    if (chosen.some((c) => jaccard(c.terms, s.terms) > 0.6)) return;
    chosen.push(s);
  };
  // What the customer first asked, then where things stand.
  const customer = sentences.filter((s) => s.role === 'customer');
  take(customer.reduce<Sentence | undefined>((best, s) => (s.messageId === customer[0]?.messageId && (!best || weight(s) > weight(best)) ? s : best), undefined));
  const lastCustomerMsg = customer[customer.length - 1]?.messageId;
  take(customer.filter((s) => s.messageId === lastCustomerMsg).sort((a, b) => weight(b) - weight(a))[0]);
  const agent = sentences.filter((s) => s.role === 'agent');
  const lastAgentMsg = agent[agent.length - 1]?.messageId;
  take(agent.filter((s) => s.messageId === lastAgentMsg).sort((a, b) => weight(b) - weight(a))[0]);
  // Then the most informative of the rest (notes count: they hold what colleagues found out).
  for (const s of [...sentences].sort((a, b) => weight(b) * (b.role === 'note' ? 1.2 : 1) - weight(a) * (a.role === 'note' ? 1.2 : 1) || a.order - b.order)) take(s);

  chosen.sort((a, b) => a.order - b.order);
  return { worthIt, points: chosen.map((s) => ({ messageId: s.messageId, role: s.role, text: clip(s.text), at: s.at })), messages: withText, sentences: n };
}

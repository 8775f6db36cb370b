/**
 * Text ranking for reply suggestions, once: tokenising Chinese (dictionary word segmentation through
 * Intl.Segmenter) and English (lower case, a light suffix stemmer, stop words), and Okapi BM25 over
 * canned responses and the team's past answers, boosted by how often agents picked a suggestion.
 */

const EN_STOP = new Set(
  'a an and are as at be been but by can could do does for from had has have hello hi how i if in is it its me my of on or our please so that the their them there they this to us was we were what when where which who why will with would you your'.split(' '),
);
const ZH_STOP = new Set(['的', '了', '吗', '呢', '啊', '吧', '我', '你', '您', '是', '在', '有', '和', '就', '也', '都', '请', '一下', '这个', '那个', '我们', '你们', '什么', '怎么', '如何', '可以', '能', '要', '想', '还', '没', '到']);

/** Intl.Segmenter where the platform has it (Node, browsers); typed locally for hosts built against older libs. */
interface WordSegmenter {
  segment(text: string): Iterable<{ segment: string; isWordLike?: boolean }>;
}
type SegmenterCtor = new (locale: string, o: { granularity: 'word' }) => WordSegmenter;
let segmenter: WordSegmenter | null | undefined;

function words(text: string): string[] {
  if (segmenter === undefined) {
    const Ctor = (Intl as unknown as { Segmenter?: SegmenterCtor }).Segmenter;
    segmenter = typeof Ctor === 'function' ? new Ctor('zh', { granularity: 'word' }) : null;
  }
  if (!segmenter) {
    // No dictionary segmentation on this platform: Chinese as two-character pieces, other text by word.
    const out: string[] = [];
    for (const run of text.match(/[\u3400-\u9fff\uf900-\ufaff]+|[\p{L}\p{N}]+/gu) ?? []) {
      if (CJK.test(run) && run.length > 2) for (let i = 0; i + 2 <= run.length; i += 1) out.push(run.slice(i, i + 2));
      else out.push(run);
    }
    return out;
  }
  const out: string[] = [];
  for (const s of segmenter.segment(text)) if (s.isWordLike) out.push(s.segment);
  return out;
}

const CJK = /[\u3400-\u9fff\uf900-\ufaff]/;

/** A light English stemmer: plural, past, gerund and adverb endings ("refunds", "refunded", "refunding" -> "refund"). */
export function stem(word: string): string {
  let w = word;
  if (w.length <= 3 || !/^[a-z]+$/.test(w)) return w;
  if (w.endsWith('ies') && w.length > 4) return `${w.slice(0, -3)}y`;
  for (const suffix of ['ingly', 'edly', 'ing', 'ed', 'ly', 's']) {
    if (w.endsWith(suffix) && w.length - suffix.length >= 3 && !(suffix === 's' && w.endsWith('ss'))) {
      w = w.slice(0, -suffix.length);
      // "stopped" -> "stopp" -> "stop"
      if (w.length > 3 && w[w.length - 1] === w[w.length - 2] && !'lsz'.includes(w[w.length - 1]!)) w = w.slice(0, -1);
      break;
    }
  }
  // A final silent e goes, so "invoice", "invoices" and "invoiced" meet at "invoic".
  if (w.length > 4 && w.endsWith('e')) w = w.slice(0, -1);
  return w;
}

/** The index terms of a text (Chinese words, stemmed English words, digits), stop words removed. */
export function tokenize(text: string): string[] {
  const norm = text.normalize('NFKC').toLowerCase();
  const out: string[] = [];
  for (const w of words(norm)) {
    if (CJK.test(w)) {
      if (!ZH_STOP.has(w)) out.push(w);
      // Two-character pieces of longer words keep paraphrases in reach ("退款申请" ~ "申请退款").
      if (w.length >= 3) for (let i = 0; i + 2 <= w.length; i += 1) out.push(w.slice(i, i + 2));
    } else if (!EN_STOP.has(w)) {
      out.push(stem(w));
    }
  }
  return out;
}

export interface RankedDoc<T> {
  id: string;
  score: number;
  doc: T;
}

/** Okapi BM25 (k1 = 1.2, b = 0.75) over documents given as text. */
export class Bm25Index<T> {
  private readonly docs = new Map<string, { len: number; tf: Map<string, number>; doc: T }>();
  private readonly df = new Map<string, number>();
  private totalLen = 0;

  constructor(private readonly k1 = 1.2, private readonly b = 0.75) {}

  get size(): number {
    return this.docs.size;
  }

  add(id: string, text: string, doc: T): void {
    if (this.docs.has(id)) return;
    const terms = tokenize(text);
    const tf = new Map<string, number>();
    for (const t of terms) tf.set(t, (tf.get(t) ?? 0) + 1);
    for (const t of tf.keys()) this.df.set(t, (this.df.get(t) ?? 0) + 1);
    this.docs.set(id, { len: terms.length, tf, doc });
    this.totalLen += terms.length;
  }

  search(query: string, limit = 5): RankedDoc<T>[] {
    const q = [...new Set(tokenize(query))];
    if (q.length === 0 || this.docs.size === 0) return [];
    const n = this.docs.size;
    const avg = this.totalLen / n || 1;
    const idf = new Map(q.map((t) => [t, Math.log(1 + (n - (this.df.get(t) ?? 0) + 0.5) / ((this.df.get(t) ?? 0) + 0.5))]));
    const out: RankedDoc<T>[] = [];
    for (const [id, d] of this.docs) {
      let score = 0;
      for (const t of q) {
        const f = d.tf.get(t);
        if (!f) continue;
        score += idf.get(t)! * ((f * (this.k1 + 1)) / (f + this.k1 * (1 - this.b + (this.b * d.len) / avg)));
      }
      if (score > 0) out.push({ id, score, doc: d.doc });
    }
    return out.sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : 1)).slice(0, limit);
  }
}

export type SuggestionSource = 'canned' | 'history';

/** What pairing needs of a message. */
export interface PairableMessage {
  direction: 'in' | 'out';
  authorType: string;
  kind: string;
  text: string;
}

/**
 * The agent answers of one conversation (messages oldest first), each with the customer message it
 * answered: the last customer message since the previous answer. Notes, events and automatic
 * messages answer nothing.
 */
export function answeredQuestions<M extends PairableMessage>(messages: readonly M[]): Array<{ question: string; answer: M }> {
  const out: Array<{ question: string; answer: M }> = [];
  let question: string | null = null;
  for (const m of messages) {
    if (m.kind === 'note' || m.kind === 'event') continue;
    if (m.direction === 'in') question = m.text;
    else if (question && m.authorType === 'agent' && m.text.trim()) {
      out.push({ question, answer: m });
      question = null;
    }
  }
  return out;
}

export interface SuggestionCandidate {
  /** Stable key of the answer (canned id, or the past reply's message id). */
  key: string;
  /** What the customer asked (a canned response: its title and body; a past answer: the customer's message). */
  question: string;
  /** The reply text to offer. */
  text: string;
  source: SuggestionSource;
}

export interface Suggestion {
  key: string;
  text: string;
  source: SuggestionSource;
  score: number;
}

/**
 * Ranks candidate answers for a customer's message: BM25 on the question side, a small lift for
 * canned responses (vetted answers), and a lift for answers agents picked before (log of picks).
 * Identical reply texts collapse into the best-scoring one.
 */
export function rankSuggestions(message: string, candidates: readonly SuggestionCandidate[], picks: ReadonlyMap<string, number>, limit = 5): Suggestion[] {
  const index = new Bm25Index<SuggestionCandidate>();
  for (const c of candidates) index.add(c.key, c.source === 'canned' ? `${c.question} ${c.text}` : c.question, c);
  const ranked = index.search(message, Math.max(limit * 4, 20)).map((r) => ({
    key: r.id,
    text: r.doc.text,
    source: r.doc.source,
    score: r.score * (r.doc.source === 'canned' ? 1.15 : 1) * (1 + 0.25 * Math.log1p(picks.get(r.id) ?? 0)),
  }));
  ranked.sort((a, b) => b.score - a.score || (a.key < b.key ? -1 : 1));
  const seen = new Set<string>();
  const out: Suggestion[] = [];
  for (const s of ranked) {
    const k = s.text.trim();
    if (seen.has(k)) continue;
    seen.add(k);
    out.push({ ...s, score: Math.round(s.score * 1000) / 1000 });
    if (out.length >= limit) break;
  }
  return out;
}

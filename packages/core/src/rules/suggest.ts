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

/**
 * Okapi BM25 (k1 = 1.2, b = 0.75) over documents given as text, with an inverted index: a search
 * touches only the documents that share a term with the query, so it costs what the query's terms
 * occur in, not the corpus size.
 */
export class Bm25Index<T> {
  private readonly docs = new Map<string, { len: number; doc: T }>();
  /** term -> document id -> term frequency. */
  private readonly postings = new Map<string, Map<string, number>>();
  private totalLen = 0;

  constructor(readonly k1 = 1.2, readonly b = 0.75) {}

  get size(): number {
    return this.docs.size;
  }

  /** The sum of the documents' lengths in terms. */
  get totalLength(): number {
    return this.totalLen;
  }

  has(id: string): boolean {
    return this.docs.has(id);
  }

  add(id: string, text: string, doc: T): void {
    if (this.docs.has(id)) return;
    const terms = tokenize(text);
    const tf = new Map<string, number>();
    for (const t of terms) tf.set(t, (tf.get(t) ?? 0) + 1);
    for (const [t, f] of tf) {
      let list = this.postings.get(t);
      if (!list) this.postings.set(t, (list = new Map()));
      list.set(id, f);
    }
    this.docs.set(id, { len: terms.length, doc });
    this.totalLen += terms.length;
  }

  /** How many documents hold the term. */
  df(term: string): number {
    return this.postings.get(term)?.size ?? 0;
  }

  /** The documents holding the term, with its frequency in each. */
  postingsOf(term: string): ReadonlyMap<string, number> | undefined {
    return this.postings.get(term);
  }

  docOf(id: string): { len: number; doc: T } | undefined {
    return this.docs.get(id);
  }

  search(query: string, limit = 5, accept?: (doc: T) => boolean): RankedDoc<T>[] {
    return searchIndexes([this], query, limit, accept);
  }
}

/**
 * BM25 over several indexes as if they were one corpus (document count, lengths and document
 * frequencies summed): a small index that changes often (canned responses) ranked together with a
 * large one built once (past answers). Document ids must not repeat across the indexes. `accept`
 * filters documents (e.g. by the agent's inboxes) without changing the corpus statistics.
 */
export function searchIndexes<T>(indexes: readonly Bm25Index<T>[], query: string, limit = 5, accept?: (doc: T) => boolean): RankedDoc<T>[] {
  const q = [...new Set(tokenize(query))];
  const n = indexes.reduce((sum, i) => sum + i.size, 0);
  if (q.length === 0 || n === 0) return [];
  const { k1, b } = indexes[0]!;
  const avg = indexes.reduce((sum, i) => sum + i.totalLength, 0) / n || 1;
  const scores = new Map<string, { score: number; doc: T }>();
  for (const t of q) {
    const df = indexes.reduce((sum, i) => sum + i.df(t), 0);
    if (df === 0) continue;
    const idf = Math.log(1 + (n - df + 0.5) / (df + 0.5));
    for (const index of indexes) {
      for (const [id, f] of index.postingsOf(t) ?? []) {
        const d = index.docOf(id)!;
        const add = idf * ((f * (k1 + 1)) / (f + k1 * (1 - b + (b * d.len) / avg)));
        const hit = scores.get(id);
        if (hit) hit.score += add;
        else scores.set(id, { score: add, doc: d.doc });
      }
    }
  }
  const out: RankedDoc<T>[] = [];
  for (const [id, { score, doc }] of scores) if (score > 0 && (!accept || accept(doc))) out.push({ id, score, doc });
  return out.sort((a, c) => c.score - a.score || (a.id < c.id ? -1 : 1)).slice(0, limit);
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
  /** Where a past answer was given (for filtering by the agent's inboxes); none for canned responses. */
  inboxId?: string;
}

export interface Suggestion {
  key: string;
  text: string;
  source: SuggestionSource;
  score: number;
}

/** The text a candidate is found by: a canned response by its title and body, a past answer by the question it answered. */
const indexedText = (c: SuggestionCandidate): string => (c.source === 'canned' ? `${c.question} ${c.text}` : c.question);

/** An index of suggestion candidates, built once and ranked against many messages. */
export class SuggestionIndex {
  readonly index = new Bm25Index<SuggestionCandidate>();

  constructor(candidates: Iterable<SuggestionCandidate> = []) {
    for (const c of candidates) this.add(c);
  }

  add(c: SuggestionCandidate): void {
    this.index.add(c.key, indexedText(c), c);
  }

  get size(): number {
    return this.index.size;
  }
}

/**
 * Ranks candidate answers for a customer's message over one or more suggestion indexes (one corpus):
 * BM25 on the question side, a small lift for canned responses (vetted answers), and a lift for
 * answers agents picked before (log of picks). Identical reply texts collapse into the best-scoring one.
 */
export function rankIndexed(message: string, indexes: readonly SuggestionIndex[], picks: ReadonlyMap<string, number>, limit = 5, accept?: (c: SuggestionCandidate) => boolean): Suggestion[] {
  const ranked = searchIndexes(indexes.map((i) => i.index), message, Math.max(limit * 4, 20), accept).map((r) => ({
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

/** rankIndexed over candidates given as a list (indexed for this one call). */
export function rankSuggestions(message: string, candidates: readonly SuggestionCandidate[], picks: ReadonlyMap<string, number>, limit = 5): Suggestion[] {
  return rankIndexed(message, [new SuggestionIndex(candidates)], picks, limit);
}

// In-memory mirror of the conversation index. RxdbStore loads it in the background after open and
// keeps it in step with every write; once loaded, queries and counts are answered from it instead of
// walking IndexedDB ranges. Results equal core's runQuery: the same filters (matchesQuery, with the
// text haystack precomputed once per row) and the same order (compareConversations).
import { CONVERSATION_SORTS, compareConversations, type Conversation, type ConversationQuery, type ConversationSort } from '@goutong/core';

export type ConversationFilter = Omit<ConversationQuery, 'sort' | 'limit' | 'offset'>;

/** One row of the mirror. Replaced (never changed) on update, so identity tells versions apart. */
interface Entry {
  /** The stored conversation (parsed from the row's JSON; never handed out, callers get copies). */
  readonly c: Conversation;
  /** Lower-cased search text, exactly the haystack of core's matchesQuery. */
  readonly hay: string;
}

/** The haystack of core's `matchesQuery` text filter (contact name, subject, preview, labels). */
export function searchText(c: Conversation): string {
  return `${c.contactName}\n${c.subject ?? ''}\n${c.lastMessagePreview}\n${c.labels.join(' ')}`.toLowerCase();
}

/** Whether a query filters on more than status and assignee. */
export function hasResidualFilter(q: ConversationFilter): boolean {
  return (
    q.inboxIds !== undefined ||
    q.teamId !== undefined ||
    q.channels !== undefined ||
    q.priorities !== undefined ||
    q.label !== undefined ||
    (q.text !== undefined && q.text.trim() !== '')
  );
}

/** The lower-cased search needle of a query, '' when it has no text filter. */
function needleOf(q: ConversationFilter): string {
  return q.text === undefined ? '' : q.text.trim().toLowerCase();
}

/** matchesQuery without the status test (buckets are per status), with the precomputed haystack. */
function matches(e: Entry, q: ConversationFilter, needle: string): boolean {
  const c = e.c;
  if (q.assigneeId !== undefined && c.assigneeId !== q.assigneeId) return false;
  if (q.inboxIds && !q.inboxIds.includes(c.inboxId)) return false;
  if (q.teamId !== undefined && c.teamId !== q.teamId) return false;
  if (q.channels && !q.channels.includes(c.channel)) return false;
  if (q.priorities && !q.priorities.includes(c.priority)) return false;
  if (q.label !== undefined && !c.labels.includes(q.label)) return false;
  if (needle !== '' && !e.hay.includes(needle)) return false;
  return true;
}

type EntryComparator = (a: Entry, b: Entry) => number;

const COMPARATORS = Object.fromEntries(
  CONVERSATION_SORTS.map((sort) => {
    const cmp = compareConversations(sort);
    return [sort, ((a, b) => cmp(a.c, b.c)) satisfies EntryComparator];
  }),
) as Record<ConversationSort, EntryComparator>;

/** Deep copy of a JSON value (what a stored row is). */
function cloneJson<T>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(cloneJson) as T;
  const out: Record<string, unknown> = {};
  for (const k in value) out[k] = cloneJson((value as Record<string, unknown>)[k]);
  return out as T;
}

/** First index whose row is not before `e` (rows sorted by cmp). */
function lowerBound(rows: readonly Entry[], e: Entry, cmp: EntryComparator): number {
  let lo = 0;
  let hi = rows.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cmp(rows[mid]!, e) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function merge(a: readonly Entry[], b: readonly Entry[], cmp: EntryComparator): Entry[] {
  const out = new Array<Entry>(a.length + b.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < a.length && j < b.length) out[k++] = cmp(a[i]!, b[j]!) <= 0 ? a[i++]! : b[j++]!;
  while (i < a.length) out[k++] = a[i++]!;
  while (j < b.length) out[k++] = b[j++]!;
  return out;
}

/** Changes up to this many are spliced into a sorted run one by one; more are merged in one pass. */
const SPLICE_LIMIT = 32;
/**
 * Changes recorded for a run are applied at the latest when there are this many (or an eighth of its
 * rows, if more), so a sort order nobody reads does not keep replaced rows alive.
 */
const PENDING_LIMIT = 1024;
/** Rows sorted per step when a run is built in the background. */
const SORT_CHUNK = 4096;

/** The rows of one status in one sort order, with the changes not yet applied to it. */
class SortedRun {
  /** Sorted rows; null until built. */
  rows: Entry[] | null = null;
  /** Whether changes are recorded (from the moment a build takes its snapshot). */
  tracking = false;
  /** A background build owns `rows` until it ends. */
  building = false;
  adds: Entry[] = [];
  removes: Entry[] = [];

  constructor(readonly cmp: EntryComparator) {}

  /** Records a change; applies the recorded ones when they pile up. */
  record(list: Entry[], e: Entry, members: ReadonlySet<Entry>): void {
    if (!this.tracking) return;
    list.push(e);
    if (this.rows !== null && !this.building && this.adds.length + this.removes.length > Math.max(PENDING_LIMIT, this.rows.length >>> 3)) {
      this.flush(members);
    }
  }

  /** The sorted rows with every recorded change applied. */
  flush(members: ReadonlySet<Entry>): Entry[] {
    if (this.rows === null) {
      this.rows = [...members].sort(this.cmp);
      this.tracking = true;
      this.adds = [];
      this.removes = [];
      return this.rows;
    }
    const { adds, removes, cmp } = this;
    if (adds.length === 0 && removes.length === 0) return this.rows;
    this.adds = [];
    this.removes = [];
    let rows = this.rows;
    // An entry added and removed since the last flush is in neither list's effect.
    let added = adds;
    let removed = removes;
    if (adds.length > 0 && removes.length > 0) {
      const addSet = new Set(adds);
      const removeSet = new Set(removes);
      added = adds.filter((e) => !removeSet.has(e));
      removed = removes.filter((e) => !addSet.has(e));
    }
    if (added.length + removed.length <= SPLICE_LIMIT) {
      // Rows hold one entry per id, so the order is strict and a binary search finds the entry.
      for (const e of removed) {
        const i = lowerBound(rows, e, cmp);
        if (rows[i] === e) rows.splice(i, 1);
        else {
          const j = rows.indexOf(e);
          if (j >= 0) rows.splice(j, 1);
        }
      }
      for (const e of added) rows.splice(lowerBound(rows, e, cmp), 0, e);
    } else {
      if (removed.length > 0) {
        const gone = new Set(removed);
        rows = rows.filter((e) => !gone.has(e));
      }
      rows = merge(rows, added.sort(cmp), cmp);
    }
    this.rows = rows;
    return rows;
  }
}

/** The rows of one status: the member set, per-assignee counts and one sorted run per sort order. */
class StatusBucket {
  readonly members = new Set<Entry>();
  readonly assignees = new Map<string | null, number>();
  readonly runs = Object.fromEntries(CONVERSATION_SORTS.map((s) => [s, new SortedRun(COMPARATORS[s])])) as Record<ConversationSort, SortedRun>;

  add(e: Entry): void {
    this.members.add(e);
    this.assignees.set(e.c.assigneeId, (this.assignees.get(e.c.assigneeId) ?? 0) + 1);
    for (const sort of CONVERSATION_SORTS) {
      const run = this.runs[sort];
      run.record(run.adds, e, this.members);
    }
  }

  remove(e: Entry): void {
    if (!this.members.delete(e)) return;
    const n = (this.assignees.get(e.c.assigneeId) ?? 1) - 1;
    if (n === 0) this.assignees.delete(e.c.assigneeId);
    else this.assignees.set(e.c.assigneeId, n);
    for (const sort of CONVERSATION_SORTS) {
      const run = this.runs[sort];
      run.record(run.removes, e, this.members);
    }
  }

  sorted(sort: ConversationSort): Entry[] {
    return this.runs[sort].flush(this.members);
  }
}

/** Gives the event loop a turn when the current step has run for long; resolves true to stop. */
export type Pause = () => Promise<boolean>;

export interface MirrorStats {
  rows: number;
  statuses: number;
  /** UTF-16 code units of all haystacks (the text index). */
  haystackChars: number;
}

/**
 * The conversation rows in memory: one bucket per status, each with one sorted array per sort order
 * (built once after loading, then kept sorted by splicing or merging the changes at the next read).
 */
export class ConversationMirror {
  private readonly byId = new Map<string, Entry>();
  private readonly buckets = new Map<string, StatusBucket>();

  get size(): number {
    return this.byId.size;
  }

  /** A written row: replaces any earlier version. */
  put(c: Conversation): void {
    const prev = this.byId.get(c.id);
    if (prev !== undefined) this.bucket(prev.c.status).remove(prev);
    const e: Entry = { c, hay: searchText(c) };
    this.byId.set(c.id, e);
    this.bucket(c.status).add(e);
  }

  /** A row read by the loader: kept only when no write put the id since the load began. */
  putIfAbsent(c: Conversation): void {
    if (!this.byId.has(c.id)) this.put(c);
  }

  get(id: string): Conversation | null {
    const e = this.byId.get(id);
    return e === undefined ? null : cloneJson(e.c);
  }

  private bucket(status: string): StatusBucket {
    let b = this.buckets.get(status);
    if (b === undefined) {
      b = new StatusBucket();
      this.buckets.set(status, b);
    }
    return b;
  }

  /**
   * Sorts every bucket in every order, in steps that call `pause` between them (so a UI thread stays
   * responsive); writes meanwhile are recorded and applied at the next read. Resolves false when stopped.
   */
  async build(pause: Pause): Promise<boolean> {
    for (const sort of CONVERSATION_SORTS) {
      for (const bucket of [...this.buckets.values()]) {
        const run = bucket.runs[sort];
        if (run.tracking) continue;
        const snapshot = [...bucket.members];
        run.tracking = true;
        run.building = true;
        run.adds = [];
        run.removes = [];
        const runs: Entry[][] = [];
        for (let i = 0; i < snapshot.length; i += SORT_CHUNK) {
          runs.push(snapshot.slice(i, i + SORT_CHUNK).sort(run.cmp));
          if (await pause()) return false;
        }
        while (runs.length > 1) {
          const next: Entry[][] = [];
          for (let i = 0; i < runs.length; i += 2) {
            next.push(i + 1 < runs.length ? merge(runs[i]!, runs[i + 1]!, run.cmp) : runs[i]!);
            if (await pause()) return false;
          }
          runs.splice(0, runs.length, ...next);
        }
        run.rows = runs[0] ?? [];
        run.building = false;
      }
    }
    return true;
  }

  private statuses(q: ConversationFilter): StatusBucket[] {
    const keys = q.status === undefined ? [...this.buckets.keys()] : [...new Set<string>(q.status)];
    const out: StatusBucket[] = [];
    for (const k of keys) {
      const b = this.buckets.get(k);
      if (b !== undefined && b.members.size > 0) out.push(b);
    }
    return out;
  }

  query(q: ConversationQuery): Conversation[] {
    const offset = Math.max(0, q.offset ?? 0);
    if (q.limit <= 0) return [];
    const need = offset + q.limit;
    const needle = needleOf(q);
    const filtered = q.assigneeId !== undefined || hasResidualFilter(q);
    const parts: Entry[][] = [];
    for (const bucket of this.statuses(q)) {
      const rows = bucket.sorted(q.sort);
      if (!filtered) {
        parts.push(rows.length > need ? rows.slice(0, need) : rows);
        continue;
      }
      const found: Entry[] = [];
      for (let i = 0; i < rows.length && found.length < need; i++) {
        const e = rows[i]!;
        if (matches(e, q, needle)) found.push(e);
      }
      parts.push(found);
    }
    // Each part is in final order; several are merged with the same comparator (runQuery's order).
    const merged = parts.length === 1 ? parts[0]! : parts.flat().sort(COMPARATORS[q.sort]);
    return merged.slice(offset, need).map((e) => cloneJson(e.c));
  }

  count(q: ConversationFilter): number {
    const buckets = this.statuses(q);
    let n = 0;
    if (!hasResidualFilter(q)) {
      for (const b of buckets) n += q.assigneeId === undefined ? b.members.size : (b.assignees.get(q.assigneeId) ?? 0);
      return n;
    }
    const needle = needleOf(q);
    for (const b of buckets) {
      for (const e of b.sorted('lastActivity')) if (matches(e, q, needle)) n++;
    }
    return n;
  }

  stats(): MirrorStats {
    let haystackChars = 0;
    for (const e of this.byId.values()) haystackChars += e.hay.length;
    return { rows: this.byId.size, statuses: this.buckets.size, haystackChars };
  }
}

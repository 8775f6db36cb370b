// In-memory mirror of the conversation index. RxdbStore loads it in the background after open and
// keeps it in step with every write; once loaded, queries and counts are answered from it instead of
// walking IndexedDB ranges. Results equal core's runQuery: the same filters (matchesQuery's tests on
// the same values) and the same order (compareConversations on the stored rows).
//
// Layout, chosen for scans that stay fast on 100,000 rows (a scan over objects spread through the heap
// is bound by memory latency, ~10x slower than over packed arrays):
//  - every row version has a slot; the filter fields are typed-array columns of dictionary codes;
//  - the search text of all slots is one string (`hay\0hay\0...`), so a text search is a few
//    `indexOf` calls over contiguous memory, not one call per row;
//  - per status, one array of slots per sort order, kept sorted (changes spliced or merged in at the
//    next read), so a page walks the rows in final order and stops when it has enough.
// An update takes a new slot; the old one is dead until a compaction renumbers the live slots.
import { CONVERSATION_SORTS, compareConversations, isTicketQuery, matchesSlaFilter, matchesTicket, type Conversation, type ConversationQuery, type ConversationSort } from '@goutong/core';

export type ConversationFilter = Omit<ConversationQuery, 'sort' | 'limit' | 'offset'>;

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
    q.sla !== undefined ||
    (q.text !== undefined && q.text.trim() !== '')
  );
}

/** Ends each slot's text in the corpus. A needle without it cannot match across two slots. */
const SEP = '\u0000';
/** Changes up to this many are spliced into a sorted run one by one; more are merged in one pass. */
const SPLICE_LIMIT = 32;
/**
 * Changes recorded for a run are applied at the latest when there are this many (or an eighth of its
 * rows, if more), so a sort order nobody reads does not pile them up.
 */
const PENDING_LIMIT = 1024;
/** Rows sorted per step when the runs are built in the background. */
const SORT_CHUNK = 4096;
/** Rows a text query checks one by one in sort order before it searches the whole corpus instead. */
const TEXT_WALK_BUDGET = 2048;
/** Dead slots are dropped (live slots renumbered) when there are more than this and half the live ones. */
const COMPACT_MIN_DEAD = 4096;
/** Labels with a dictionary code below this are tested with a bit mask; later ones on the row. */
const LABEL_BITS = 32;

/** Deep copy of a JSON value (what a stored row is). */
function cloneJson<T>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(cloneJson) as T;
  const out: Record<string, unknown> = {};
  for (const k in value) out[k] = cloneJson((value as Record<string, unknown>)[k]);
  return out as T;
}

/** Values to small integer codes (SameValueZero, like `includes` and `===` on the values rows hold). */
class Dict {
  private readonly codes = new Map<unknown, number>();
  get size(): number {
    return this.codes.size;
  }
  code(value: unknown): number {
    let c = this.codes.get(value);
    if (c === undefined) {
      c = this.codes.size;
      this.codes.set(value, c);
    }
    return c;
  }
  /** The code of a value, or -1 when no row ever had it. */
  find(value: unknown): number {
    return this.codes.get(value) ?? -1;
  }
  /** A membership table over codes for a list of values. */
  table(values: readonly unknown[]): Uint8Array {
    const t = new Uint8Array(this.codes.size);
    for (const v of values) {
      const c = this.find(v);
      if (c >= 0) t[c] = 1;
    }
    return t;
  }
}

type SlotComparator = (a: number, b: number) => number;

function lowerBound(rows: readonly number[], slot: number, cmp: SlotComparator): number {
  let lo = 0;
  let hi = rows.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cmp(rows[mid]!, slot) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** A merge of two sorted runs in progress: the output and how far each input has been read. */
interface Merging {
  out: number[];
  i: number;
  j: number;
  k: number;
}

/** Places up to `count` more rows of the merge; once an input is used up, copies the other's rest. True when done. */
function mergeSome(m: Merging, a: readonly number[], b: readonly number[], cmp: SlotComparator, count: number): boolean {
  const { out } = m;
  let { i, j, k } = m;
  const stop = k + count;
  while (k < stop && i < a.length && j < b.length) out[k++] = cmp(a[i]!, b[j]!) <= 0 ? a[i++]! : b[j++]!;
  const done = i === a.length || j === b.length;
  if (done) {
    while (i < a.length) out[k++] = a[i++]!;
    while (j < b.length) out[k++] = b[j++]!;
  }
  Object.assign(m, { i, j, k });
  return done;
}

function merge(a: readonly number[], b: readonly number[], cmp: SlotComparator): number[] {
  const m: Merging = { out: new Array<number>(a.length + b.length), i: 0, j: 0, k: 0 };
  mergeSome(m, a, b, cmp, Infinity);
  return m.out;
}

/**
 * `merge` in steps: calls `pause` after each SORT_CHUNK rows placed (a merge of two 50k-row halves is
 * one stretch of 100k comparisons otherwise). Null when stopped.
 */
async function mergeInSteps(a: readonly number[], b: readonly number[], cmp: SlotComparator, pause: Pause): Promise<number[] | null> {
  const m: Merging = { out: new Array<number>(a.length + b.length), i: 0, j: 0, k: 0 };
  while (!mergeSome(m, a, b, cmp, SORT_CHUNK)) if (await pause()) return null;
  return m.out;
}

/** The slots of one status in one sort order, with the changes not yet applied to it. */
class SortedRun {
  /** Sorted slots; null until built. */
  rows: number[] | null = null;
  /** Whether changes are recorded (from the moment a build takes its snapshot). */
  tracking = false;
  /** A background build owns `rows` until it ends. */
  building = false;
  adds: number[] = [];
  removes: number[] = [];

  constructor(readonly cmp: SlotComparator) {}

  get pending(): number {
    return this.adds.length + this.removes.length;
  }

  /** Records a change; applies the recorded ones when they pile up. */
  record(list: number[], slot: number): void {
    if (!this.tracking) return;
    list.push(slot);
    if (this.rows !== null && !this.building && this.pending > Math.max(PENDING_LIMIT, this.rows.length >>> 3)) this.flush(() => []);
  }

  /** The sorted slots with every recorded change applied; `members` gives the slots when not built yet. */
  flush(members: () => number[]): number[] {
    if (this.rows === null) {
      this.rows = members().sort(this.cmp);
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
    // A slot added and removed since the last flush is in neither list's effect.
    let added = adds;
    let removed = removes;
    if (adds.length > 0 && removes.length > 0) {
      const addSet = new Set(adds);
      const removeSet = new Set(removes);
      added = adds.filter((s) => !removeSet.has(s));
      removed = removes.filter((s) => !addSet.has(s));
    }
    if (added.length + removed.length <= SPLICE_LIMIT) {
      // Rows hold one slot per id, so the order is strict and a binary search finds the slot.
      for (const s of removed) {
        const i = lowerBound(rows, s, cmp);
        if (rows[i] === s) rows.splice(i, 1);
        else {
          const j = rows.indexOf(s);
          if (j >= 0) rows.splice(j, 1);
        }
      }
      for (const s of added) rows.splice(lowerBound(rows, s, cmp), 0, s);
    } else {
      if (removed.length > 0) {
        const gone = new Set(removed);
        rows = rows.filter((s) => !gone.has(s));
      }
      rows = merge(rows, added.sort(cmp), cmp);
    }
    this.rows = rows;
    return rows;
  }
}

/** The rows of one status: their count, per-assignee counts (by code) and one sorted run per sort order. */
class StatusBucket {
  count = 0;
  readonly assignees = new Map<number, number>();
  readonly runs: Record<ConversationSort, SortedRun>;

  constructor(
    readonly code: number,
    comparators: Record<ConversationSort, SlotComparator>,
  ) {
    this.runs = Object.fromEntries(CONVERSATION_SORTS.map((s) => [s, new SortedRun(comparators[s])])) as Record<ConversationSort, SortedRun>;
  }

  add(slot: number, assignee: number): void {
    this.count++;
    this.assignees.set(assignee, (this.assignees.get(assignee) ?? 0) + 1);
    for (const sort of CONVERSATION_SORTS) this.runs[sort].record(this.runs[sort].adds, slot);
  }

  remove(slot: number, assignee: number): void {
    this.count--;
    const n = (this.assignees.get(assignee) ?? 1) - 1;
    if (n === 0) this.assignees.delete(assignee);
    else this.assignees.set(assignee, n);
    for (const sort of CONVERSATION_SORTS) this.runs[sort].record(this.runs[sort].removes, slot);
  }
}

/** Gives the event loop a turn when the current step has run for long; resolves true to stop. */
export type Pause = () => Promise<boolean>;

export interface MirrorStats {
  rows: number;
  /** Slots in use, live and dead (replaced versions not yet compacted). */
  slots: number;
  /** UTF-16 code units of the search text corpus. */
  textChars: number;
}

type SlotTest = (slot: number) => boolean;
/** A compiled filter: null when nothing beyond status (and text) is asked, false when no row can match. */
type CompiledFilter = SlotTest | null | false;

function grow<T extends Uint8Array | Int32Array | Uint32Array | Float64Array>(a: T, size: number): T {
  const b = new (a.constructor as new (n: number) => T)(size);
  b.set(a);
  return b;
}

/**
 * The conversation rows in memory, answering `runQuery` and counts. `put` is a write (replaces the
 * row), `putIfAbsent` a row read by the loader. `build` sorts in the background; until then the
 * runs are built on first use.
 */
export class ConversationMirror {
  // ------------------------------------------------ slots and columns
  private slots = 0;
  private cap = 1024;
  private convs: Conversation[] = [];
  private alive = new Uint8Array(this.cap);
  private statusCol = new Int32Array(this.cap);
  private assigneeCol = new Int32Array(this.cap);
  private teamCol = new Int32Array(this.cap);
  private inboxCol = new Int32Array(this.cap);
  private channelCol = new Int32Array(this.cap);
  private priorityCol = new Int32Array(this.cap);
  private labelMask = new Uint32Array(this.cap);
  /** Offset of each slot's text in the corpus. */
  private starts = new Float64Array(this.cap + 1);
  private readonly slotOf = new Map<string, number>();
  private dead = 0;

  private readonly statuses = new Dict();
  private readonly assignees = new Dict();
  private readonly teams = new Dict();
  private readonly inboxes = new Dict();
  private readonly channels = new Dict();
  private readonly priorities = new Dict();
  private readonly labels = new Dict();

  // ------------------------------------------------ text corpus: `text(slot) + SEP` for every slot
  private corpus = '';
  private corpusPending: string[] = [];
  private textLength = 0;

  // ------------------------------------------------ sorted runs
  private readonly buckets: StatusBucket[] = [];
  private readonly comparators: Record<ConversationSort, SlotComparator>;
  private building = false;

  constructor() {
    this.comparators = Object.fromEntries(
      CONVERSATION_SORTS.map((sort) => {
        const cmp = compareConversations(sort);
        return [sort, ((a: number, b: number) => cmp(this.convs[a]!, this.convs[b]!)) satisfies SlotComparator];
      }),
    ) as Record<ConversationSort, SlotComparator>;
  }

  get size(): number {
    return this.slotOf.size;
  }

  /** A written row: replaces any earlier version. */
  put(c: Conversation): void {
    const prev = this.slotOf.get(c.id);
    if (prev !== undefined) this.kill(prev);
    const slot = this.allocate(c);
    this.slotOf.set(c.id, slot);
    this.bucket(this.statusCol[slot]!).add(slot, this.assigneeCol[slot]!);
    if (this.dead > COMPACT_MIN_DEAD && this.dead > this.slotOf.size / 2 && !this.building) this.compact();
  }

  /** A row read by the loader: kept only when no write put the id since the load began. */
  putIfAbsent(c: Conversation): void {
    if (!this.slotOf.has(c.id)) this.put(c);
  }

  get(id: string): Conversation | null {
    const slot = this.slotOf.get(id);
    return slot === undefined ? null : cloneJson(this.convs[slot]!);
  }

  private allocate(c: Conversation): number {
    if (this.slots === this.cap) this.resize(this.cap * 2);
    const s = this.slots++;
    this.convs[s] = c;
    this.alive[s] = 1;
    this.statusCol[s] = this.statuses.code(c.status);
    this.assigneeCol[s] = this.assignees.code(c.assigneeId);
    this.teamCol[s] = this.teams.code(c.teamId);
    this.inboxCol[s] = this.inboxes.code(c.inboxId);
    this.channelCol[s] = this.channels.code(c.channel);
    this.priorityCol[s] = this.priorities.code(c.priority);
    let mask = 0;
    for (const label of c.labels) {
      const code = this.labels.code(label);
      if (code < LABEL_BITS) mask |= 1 << code;
    }
    this.labelMask[s] = mask >>> 0;
    const text = searchText(c);
    this.starts[s] = this.textLength;
    this.textLength += text.length + 1;
    this.starts[s + 1] = this.textLength;
    this.corpusPending.push(text);
    return s;
  }

  private kill(slot: number): void {
    this.alive[slot] = 0;
    this.dead++;
    this.bucket(this.statusCol[slot]!).remove(slot, this.assigneeCol[slot]!);
  }

  private resize(cap: number): void {
    this.cap = cap;
    this.alive = grow(this.alive, cap);
    this.statusCol = grow(this.statusCol, cap);
    this.assigneeCol = grow(this.assigneeCol, cap);
    this.teamCol = grow(this.teamCol, cap);
    this.inboxCol = grow(this.inboxCol, cap);
    this.channelCol = grow(this.channelCol, cap);
    this.priorityCol = grow(this.priorityCol, cap);
    this.labelMask = grow(this.labelMask, cap);
    this.starts = grow(this.starts, cap + 1);
  }

  private bucket(code: number): StatusBucket {
    let b = this.buckets[code];
    if (b === undefined) {
      b = new StatusBucket(code, this.comparators);
      this.buckets[code] = b;
    }
    return b;
  }

  /** The live slots of a status, in slot order. */
  private membersOf(code: number): number[] {
    const out: number[] = [];
    const { alive, statusCol } = this;
    for (let s = 0; s < this.slots; s++) if (alive[s] === 1 && statusCol[s] === code) out.push(s);
    return out;
  }

  private sorted(bucket: StatusBucket, sort: ConversationSort): number[] {
    return bucket.runs[sort].flush(() => this.membersOf(bucket.code));
  }

  /** The whole corpus, with the text of recent slots appended. */
  private text(): string {
    if (this.corpusPending.length > 0) {
      this.corpus += this.corpusPending.join(SEP) + SEP;
      this.corpusPending = [];
    }
    return this.corpus;
  }

  /** The slot whose text holds corpus offset `pos`. */
  private slotAt(pos: number): number {
    let lo = 0;
    let hi = this.slots - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.starts[mid]! <= pos) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Calls `hit` for every live slot whose text contains `needle`, in slot order. */
  private search(needle: string, hit: (slot: number) => void): void {
    const text = this.text();
    if (needle.includes(SEP)) {
      // Could match across slots in the corpus: test slot by slot.
      for (let s = 0; s < this.slots; s++) if (this.alive[s] === 1 && this.slotText(text, s).includes(needle)) hit(s);
      return;
    }
    let from = 0;
    for (;;) {
      const pos = text.indexOf(needle, from);
      if (pos < 0) return;
      const s = this.slotAt(pos);
      if (this.alive[s] === 1) hit(s);
      from = this.starts[s + 1]!;
    }
  }

  private slotText(text: string, slot: number): string {
    return text.substring(this.starts[slot]!, this.starts[slot + 1]! - 1);
  }

  /**
   * Sorts every bucket in every order, in steps that call `pause` between them (so a UI thread stays
   * responsive); writes meanwhile are recorded and applied at the next read. Resolves false when stopped.
   */
  async build(pause: Pause): Promise<boolean> {
    this.building = true;
    try {
      const work: { run: SortedRun; snapshot: number[] }[] = [];
      const members = new Map<number, number[]>();
      for (let s = 0; s < this.slots; s++) {
        if (this.alive[s] !== 1) continue;
        const code = this.statusCol[s]!;
        let list = members.get(code);
        if (list === undefined) members.set(code, (list = []));
        list.push(s);
      }
      // From here every change is recorded in the runs and applied at the next read.
      for (const sort of CONVERSATION_SORTS) {
        for (const bucket of this.buckets) {
          if (bucket === undefined) continue;
          const run = bucket.runs[sort];
          if (run.tracking) continue;
          run.tracking = true;
          run.building = true;
          run.adds = [];
          run.removes = [];
          work.push({ run, snapshot: members.get(bucket.code) ?? [] });
        }
      }
      for (const { run, snapshot } of work) {
        const parts: number[][] = [];
        for (let i = 0; i < snapshot.length; i += SORT_CHUNK) {
          parts.push(snapshot.slice(i, i + SORT_CHUNK).sort(run.cmp));
          if (await pause()) return false;
        }
        while (parts.length > 1) {
          const next: number[][] = [];
          for (let i = 0; i < parts.length; i += 2) {
            const merged = i + 1 < parts.length ? await mergeInSteps(parts[i]!, parts[i + 1]!, run.cmp, pause) : parts[i]!;
            if (merged === null) return false;
            next.push(merged);
            if (await pause()) return false;
          }
          parts.splice(0, parts.length, ...next);
        }
        run.rows = parts[0] ?? [];
        run.building = false;
      }
      // The search corpus, joined in steps too (a query meanwhile joins what is still pending, in order).
      while (this.corpusPending.length > SORT_CHUNK) {
        this.corpus += this.corpusPending.slice(0, SORT_CHUNK).join(SEP) + SEP;
        this.corpusPending = this.corpusPending.slice(SORT_CHUNK);
        if (await pause()) return false;
      }
      this.text();
      return true;
    } finally {
      this.building = false;
    }
  }

  /** Renumbers the live slots (dropping dead ones) in every column, the corpus and the runs. */
  private compact(): void {
    for (const b of this.buckets) if (b !== undefined) for (const sort of CONVERSATION_SORTS) if (b.runs[sort].rows !== null) this.sorted(b, sort);
    const text = this.text();
    const map = new Int32Array(this.slots);
    const live = this.slotOf.size;
    const cap = Math.max(1024, live * 2);
    const next = {
      convs: new Array<Conversation>(live),
      alive: new Uint8Array(cap),
      statusCol: new Int32Array(cap),
      assigneeCol: new Int32Array(cap),
      teamCol: new Int32Array(cap),
      inboxCol: new Int32Array(cap),
      channelCol: new Int32Array(cap),
      priorityCol: new Int32Array(cap),
      labelMask: new Uint32Array(cap),
      starts: new Float64Array(cap + 1),
    };
    const texts: string[] = [];
    let k = 0;
    let offset = 0;
    for (let s = 0; s < this.slots; s++) {
      if (this.alive[s] !== 1) {
        map[s] = -1;
        continue;
      }
      map[s] = k;
      const c = this.convs[s]!;
      next.convs[k] = c;
      next.alive[k] = 1;
      next.statusCol[k] = this.statusCol[s]!;
      next.assigneeCol[k] = this.assigneeCol[s]!;
      next.teamCol[k] = this.teamCol[s]!;
      next.inboxCol[k] = this.inboxCol[s]!;
      next.channelCol[k] = this.channelCol[s]!;
      next.priorityCol[k] = this.priorityCol[s]!;
      next.labelMask[k] = this.labelMask[s]!;
      const t = this.slotText(text, s);
      texts.push(t);
      next.starts[k] = offset;
      offset += t.length + 1;
      this.slotOf.set(c.id, k);
      k++;
    }
    next.starts[k] = offset;
    Object.assign(this, next);
    this.cap = cap;
    this.slots = k;
    this.dead = 0;
    // join() copies: the corpus no longer refers to the old one.
    this.corpus = texts.length > 0 ? texts.join(SEP) + SEP : '';
    this.textLength = offset;
    for (const b of this.buckets) {
      if (b === undefined) continue;
      for (const sort of CONVERSATION_SORTS) {
        const run = b.runs[sort];
        if (run.rows !== null) run.rows = run.rows.map((s) => map[s]!);
      }
    }
  }

  // ------------------------------------------------ queries

  /** The buckets of a query's statuses (all of them without a status filter), non-empty ones only. */
  private bucketsOf(q: ConversationFilter): StatusBucket[] {
    if (!q.status) return this.buckets.filter((b) => b !== undefined && b.count > 0);
    const out: StatusBucket[] = [];
    for (const status of new Set<string>(q.status)) {
      const b = this.buckets[this.statuses.find(status)];
      if (b !== undefined && b.count > 0) out.push(b);
    }
    return out;
  }

  /** matchesQuery's tests other than status and text, on the columns. */
  private compile(q: ConversationFilter): CompiledFilter {
    const tests: SlotTest[] = [];
    if (q.assigneeId !== undefined) {
      const code = this.assignees.find(q.assigneeId);
      if (code < 0) return false;
      const col = this.assigneeCol;
      tests.push((s) => col[s] === code);
    }
    const member = (values: readonly unknown[] | undefined, dict: Dict, col: Int32Array) => {
      if (!values) return true; // matchesQuery tests list filters by truthiness
      const table = dict.table(values);
      if (!table.includes(1)) return false;
      tests.push((s) => table[col[s]!] === 1);
      return true;
    };
    if (!member(q.inboxIds, this.inboxes, this.inboxCol)) return false;
    if (q.teamId !== undefined && !member([q.teamId], this.teams, this.teamCol)) return false;
    if (!member(q.channels, this.channels, this.channelCol)) return false;
    if (!member(q.priorities, this.priorities, this.priorityCol)) return false;
    if (q.label !== undefined) {
      const label = q.label;
      const code = this.labels.find(label);
      if (code < 0) return false;
      if (code < LABEL_BITS) {
        const bit = (1 << code) >>> 0;
        const col = this.labelMask;
        tests.push((s) => (col[s]! & bit) !== 0);
      } else {
        tests.push((s) => this.convs[s]!.labels.includes(label));
      }
    }
    if (q.sla !== undefined) {
      const { state, now } = q.sla;
      tests.push((s) => matchesSlaFilter(this.convs[s]!.sla, state, now));
    }
    if (tests.length === 0) return null;
    if (tests.length === 1) return tests[0]!;
    return (s) => {
      for (const t of tests) if (!t(s)) return false;
      return true;
    };
  }

  /**
   * Walks each bucket's run in `sort` order, keeping up to `need` slots that pass `test`. With a
   * budget, gives up (returns null) once it checked that many rows without finishing.
   */
  private walk(buckets: StatusBucket[], sort: ConversationSort, need: number, test: SlotTest | null, budget = Infinity): number[][] | null {
    const parts: number[][] = [];
    let left = budget;
    for (const bucket of buckets) {
      const rows = this.sorted(bucket, sort);
      if (test === null) {
        parts.push(rows.length > need ? rows.slice(0, need) : rows);
        continue;
      }
      const found: number[] = [];
      const end = Math.min(rows.length, left);
      let i = 0;
      for (; i < end && found.length < need; i++) {
        const s = rows[i]!;
        if (test(s)) found.push(s);
      }
      if (found.length < need && i < rows.length) return null; // out of budget
      left -= i;
      parts.push(found);
    }
    return parts;
  }

  query(q: ConversationQuery): Conversation[] {
    const offset = Math.max(0, q.offset ?? 0);
    if (q.limit <= 0) return [];
    const need = offset + q.limit;
    const buckets = this.bucketsOf(q);
    const filter = this.compile(q);
    if (buckets.length === 0 || filter === false) return [];
    const needle = q.text === undefined ? '' : q.text.trim().toLowerCase();
    let parts: number[][] | null;
    if (needle === '') {
      parts = this.walk(buckets, q.sort, need, filter);
    } else if (/^#?\d{1,12}$/.test(needle)) {
      // [automation] A ticket number: core decides row by row (`#1234` the ticket only, `1234` the ticket or the text).
      const text = this.text();
      const rowHas: SlotTest = (s) => (isTicketQuery(needle) ? false : this.slotText(text, s).includes(needle)) || matchesTicket(this.convs[s]!, needle);
      parts = this.walk(buckets, q.sort, need, filter === null ? rowHas : (s) => filter(s) && rowHas(s));
    } else {
      // A common term fills the page within the first rows: test them one by one. Otherwise search
      // the corpus once and walk the runs again over the hits.
      const text = this.text();
      const rowHas: SlotTest = (s) => this.slotText(text, s).includes(needle);
      parts = this.walk(buckets, q.sort, need, filter === null ? rowHas : (s) => filter(s) && rowHas(s), TEXT_WALK_BUDGET);
      if (parts === null) {
        const hits = new Uint8Array(this.slots);
        let any = false;
        this.search(needle, (s) => {
          hits[s] = 1;
          any = true;
        });
        if (!any) return [];
        parts = this.walk(buckets, q.sort, need, filter === null ? (s) => hits[s] === 1 : (s) => hits[s] === 1 && filter(s));
      }
    }
    // Each part is in final order; several are merged with the same comparator (runQuery's order).
    const merged = parts!.length === 1 ? parts![0]! : parts!.flat().sort(this.comparators[q.sort]);
    return merged.slice(offset, need).map((s) => cloneJson(this.convs[s]!));
  }

  count(q: ConversationFilter): number {
    const buckets = this.bucketsOf(q);
    if (buckets.length === 0) return 0;
    if (!hasResidualFilter(q)) {
      let n = 0;
      if (q.assigneeId === undefined) for (const b of buckets) n += b.count;
      else {
        const code = this.assignees.find(q.assigneeId);
        if (code >= 0) for (const b of buckets) n += b.assignees.get(code) ?? 0;
      }
      return n;
    }
    const filter = this.compile(q);
    if (filter === false) return 0;
    const wanted = new Uint8Array(this.statuses.size);
    for (const b of buckets) wanted[b.code] = 1;
    const { statusCol } = this;
    const needle = q.text === undefined ? '' : q.text.trim().toLowerCase();
    let n = 0;
    if (/^#?\d{1,12}$/.test(needle)) {
      // [automation] A ticket number (see query).
      const text = this.text();
      for (let s = 0; s < this.slots; s++) {
        if (this.alive[s] !== 1 || wanted[statusCol[s]!] !== 1 || (filter !== null && !filter(s))) continue;
        if ((!isTicketQuery(needle) && this.slotText(text, s).includes(needle)) || matchesTicket(this.convs[s]!, needle)) n++;
      }
      return n;
    }
    if (needle !== '') {
      this.search(needle, (s) => {
        if (wanted[statusCol[s]!] === 1 && (filter === null || filter(s))) n++;
      });
      return n;
    }
    const { alive } = this;
    for (let s = 0; s < this.slots; s++) if (alive[s] === 1 && wanted[statusCol[s]!] === 1 && filter!(s)) n++;
    return n;
  }

  stats(): MirrorStats {
    return { rows: this.slotOf.size, slots: this.slots, textChars: this.textLength };
  }
}

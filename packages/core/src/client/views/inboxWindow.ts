import type { Conversation } from '../../domain/model.js';
import type { ConversationQuery, ConversationSort } from '../../ports/storage.js';
import { coalesceChanges, type Schedule } from './changeStream.js';
import type { ViewClient, ViewClock } from './ports.js';
import type { ReadState } from './readState.js';
import { ViewState } from './store.js';

export type InboxBaseQuery = Omit<ConversationQuery, 'sort' | 'limit' | 'offset'>;

/** The view's query and the tab counts it shows beside it. */
export interface InboxQuerySpec {
  base: InboxBaseQuery;
  sort: ConversationSort;
  /** Tab badges: each counted with its own query (e.g. mine, unassigned, all). */
  counts: Record<string, InboxBaseQuery>;
}

export interface InboxSnapshot {
  /** Rows matching the query (the scroll height). */
  total: number;
  counts: Readonly<Record<string, number>>;
  /** Bumped when loaded rows change; views re-read visible rows with `rowAt`. */
  tick: number;
  visible: { start: number; end: number };
  /** The highlighted conversation (follows the id, not the position). */
  selectedId: string | null;
  /** Its position among the loaded rows; -1 when it is not in the list (resolved, snoozed, filtered out). */
  selectedIndex: number;
  /** Time of the last window read (ms). */
  lastQueryMs: number;
}

export interface InboxWindowOptions {
  client: ViewClient;
  /** The view's query, read on each refresh (the adapter's filters). */
  spec: () => InboxQuerySpec;
  readState?: ReadState;
  /** Rows read per page. */
  pageSize?: number;
  /** Extra rows shown on a row (e.g. the actions waiting behind an upload). */
  overlay?: (c: Conversation) => Conversation;
  /** Time and timers (the recount delay, lastQueryMs). */
  clock: ViewClock;
  /** Counts with filters may scan the index: while facts stream in, recount at most this often (ms). */
  recountEveryMs?: number;
  schedule?: Schedule;
}

/**
 * The inbox as a window over the local database: a count for the scroll height and pages of rows
 * read by offset/limit where the list looks. One window read runs at a time (ranges asked for
 * meanwhile collapse into the latest); a burst of changes re-reads the visible pages once; results
 * of an older query are dropped. The selection is an id: when its row leaves the list the
 * highlight goes (the pane keeps what it shows) and j/k continue from where it was.
 */
export class InboxWindow {
  readonly state = new ViewState<InboxSnapshot>({ total: 0, counts: {}, tick: 0, visible: { start: 0, end: 30 }, selectedId: null, selectedIndex: -1, lastQueryMs: 0 });
  private pages = new Map<number, Conversation[]>();
  private loading = new Set<number>();
  private generation = 0;
  private scrolling: Promise<void> | null = null;
  private queuedRange: { start: number; end: number } | null = null;
  private recountTimer: unknown = null;
  private lastRecountAt = -Infinity;
  /** Where the selection was last seen (for j/k after its row left). */
  private lastSelectedIndex = -1;
  private offs: Array<() => void> = [];
  readonly pageSize: number;

  constructor(private readonly o: InboxWindowOptions) {
    this.pageSize = o.pageSize ?? 100;
  }

  private get now(): number {
    return this.o.clock.now();
  }

  /** Starts following client changes and reads the first window. */
  async start(): Promise<void> {
    this.stop();
    this.offs.push(
      coalesceChanges(this.o.client.changes, (c) => {
        if (c.conversationIds?.length || c.reset || c.outbox) void this.reload();
      }, this.o.schedule),
    );
    if (this.o.readState) this.offs.push(this.o.readState.subscribe(() => this.bump()));
    await this.refresh();
  }

  stop(): void {
    for (const off of this.offs) off();
    this.offs = [];
    if (this.recountTimer !== null) this.o.clock.clearTimeout(this.recountTimer);
    this.recountTimer = null;
  }

  getSnapshot(): InboxSnapshot {
    return this.state.getSnapshot();
  }

  rowAt(index: number): Conversation | undefined {
    return this.pages.get(Math.floor(index / this.pageSize))?.[index % this.pageSize];
  }

  /** The loaded rows in order (for small lists, e.g. a phone's). */
  loadedRows(): Conversation[] {
    const out: Conversation[] = [];
    const keys = [...this.pages.keys()].sort((a, b) => a - b);
    for (const k of keys) out.push(...this.pages.get(k)!);
    return out;
  }

  isUnread(c: Conversation): boolean {
    return this.o.readState?.isUnread(c) ?? false;
  }

  /** New query (view, filter or sort changed): the first window first, then the exact count. */
  async refresh(): Promise<void> {
    const gen = ++this.generation;
    this.pages = new Map();
    this.loading = new Set();
    this.lastSelectedIndex = -1;
    this.state.set({ selectedIndex: -1 });
    this.bump();
    const { start, end } = this.state.getSnapshot().visible;
    const span = Math.max(end - start, 30);
    await this.ensureRange(0, span, true);
    if (gen !== this.generation) return;
    // Provisional scroll height until the count (which may scan) arrives.
    const first = this.pages.get(0)?.length ?? 0;
    const total = this.state.getSnapshot().total;
    if (first < this.pageSize) this.state.set({ total: first });
    else if (total < first) this.state.set({ total: first });
    this.syncSelection();
    await this.recount(gen);
  }

  /** Same query, data changed: re-read the visible pages, drop the others. */
  async reload(): Promise<void> {
    const gen = ++this.generation;
    const { start, end } = this.state.getSnapshot().visible;
    const keep = new Set<number>();
    for (let p = Math.floor(start / this.pageSize); p <= Math.floor(end / this.pageSize); p++) keep.add(p);
    this.loading = new Set();
    await Promise.all([...keep].map((p) => this.loadPages(p, p, gen)));
    const wait = this.lastRecountAt + (this.o.recountEveryMs ?? 1_000) - this.now;
    if (wait <= 0) await this.recount(gen);
    else if (this.recountTimer === null) {
      this.recountTimer = this.o.clock.setTimeout(() => {
        this.recountTimer = null;
        void this.recount();
      }, wait);
    }
    if (gen !== this.generation) return;
    for (const p of [...this.pages.keys()]) if (!keep.has(p)) this.pages.delete(p);
    this.syncSelection();
    this.bump();
  }

  async recount(generation?: number): Promise<void> {
    const gen = generation ?? this.generation;
    this.lastRecountAt = this.now;
    const spec = this.o.spec();
    const names = Object.keys(spec.counts);
    const [total, ...rest] = await Promise.all([this.o.client.countConversations(spec.base), ...names.map((n) => this.o.client.countConversations(spec.counts[n]!))]);
    if (gen !== this.generation) return;
    const counts: Record<string, number> = {};
    names.forEach((n, i) => (counts[n] = rest[i] ?? 0));
    this.state.set({ total: total ?? 0, counts });
  }

  /**
   * Makes sure rows [start, end) are read; the list calls it as it scrolls. One window read runs
   * at a time: a scrollbar drag reads where it stops, not every row it passed.
   */
  ensureRange(start: number, end: number, force = false): Promise<void> {
    this.state.set({ visible: { start, end } });
    if (!force && this.scrolling) {
      this.queuedRange = { start, end };
      return this.scrolling;
    }
    this.scrolling = this.readRange(start, end, force).finally(() => {
      this.scrolling = null;
      const next = this.queuedRange;
      this.queuedRange = null;
      if (next) void this.ensureRange(next.start, next.end);
    });
    return this.scrolling;
  }

  private async readRange(start: number, end: number, force: boolean): Promise<void> {
    const gen = this.generation;
    const first = Math.floor(Math.max(0, start) / this.pageSize);
    const last = Math.floor(Math.max(0, end) / this.pageSize);
    // Missing pages in runs: one window query per run (each offset query walks the index from the top).
    const runs: Array<[number, number]> = [];
    for (let p = first; p <= last; p++) {
      if (!force && (this.pages.has(p) || this.loading.has(p))) continue;
      const run = runs[runs.length - 1];
      if (run && run[1] === p - 1) run[1] = p;
      else runs.push([p, p]);
    }
    await Promise.all(
      runs.map(([a, b]) =>
        this.loadPages(a, b, gen).then(() => {
          if (gen !== this.generation) return;
          this.syncSelection();
          this.bump();
        }),
      ),
    );
  }

  private async loadPages(from: number, to: number, gen: number): Promise<void> {
    for (let p = from; p <= to; p++) this.loading.add(p);
    const t0 = this.now;
    try {
      const spec = this.o.spec();
      let rows = await this.o.client.queryConversations({ ...spec.base, sort: spec.sort, offset: from * this.pageSize, limit: (to - from + 1) * this.pageSize });
      if (gen !== this.generation) return;
      if (this.o.overlay) rows = rows.map(this.o.overlay);
      for (let p = from; p <= to; p++) this.pages.set(p, rows.slice((p - from) * this.pageSize, (p - from + 1) * this.pageSize));
      this.state.set({ lastQueryMs: this.now - t0 });
    } finally {
      for (let p = from; p <= to; p++) this.loading.delete(p);
    }
  }

  indexOfLoaded(id: string): number {
    for (const [p, rows] of this.pages) {
      const i = rows.findIndex((r) => r.id === id);
      if (i >= 0) return p * this.pageSize + i;
    }
    return -1;
  }

  /** j / k: moves the highlight; from a selection whose row left the list, to the row now in its place. */
  move(delta: number): string | null {
    const { total, selectedIndex } = this.state.getSnapshot();
    if (total === 0) return null;
    let next: number;
    if (selectedIndex >= 0) next = selectedIndex + delta;
    else if (this.lastSelectedIndex >= 0) next = delta > 0 ? this.lastSelectedIndex : this.lastSelectedIndex - 1;
    else next = delta > 0 ? 0 : total - 1;
    next = Math.min(total - 1, Math.max(0, next));
    const id = this.rowAt(next)?.id ?? null;
    this.lastSelectedIndex = next;
    this.state.set({ selectedIndex: id ? next : -1, selectedId: id ?? this.state.getSnapshot().selectedId });
    return id;
  }

  /** Highlights a conversation (a click, the pane opening it). */
  select(id: string | null): void {
    const index = id ? this.indexOfLoaded(id) : -1;
    if (index >= 0) this.lastSelectedIndex = index;
    this.state.set({ selectedId: id, selectedIndex: index });
  }

  /** The highlighted conversation's id, only while its row is in the list (what Enter opens). */
  highlighted(): string | null {
    const s = this.state.getSnapshot();
    return s.selectedIndex >= 0 ? s.selectedId : null;
  }

  private syncSelection(): void {
    const { selectedId } = this.state.getSnapshot();
    if (!selectedId) return;
    const index = this.indexOfLoaded(selectedId);
    if (index >= 0) this.lastSelectedIndex = index;
    this.state.set({ selectedIndex: index });
  }

  private bump(): void {
    this.state.set({ tick: this.state.getSnapshot().tick + 1 });
  }
}

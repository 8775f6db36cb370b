import { defineStore } from 'pinia';
import { markRaw } from 'vue';
import type { Channel, Conversation, ConversationQuery, ConversationSort, ConversationStatus, Priority } from '@goutong/core';
import { currentServices, onClientChange } from '../platform/services';
import { useHost } from '../platform/host';
import { useSessionStore } from './session';
import { onUploadsChange, useUploadsStore } from './uploads';

export type InboxView = 'mine' | 'unassigned' | 'all';
export type StatusFilter = 'active' | 'any' | ConversationStatus;

export const STATUS_FILTERS: readonly StatusFilter[] = ['active', 'open', 'pending', 'snoozed', 'resolved', 'closed', 'any'];
/** Rows read from the local database per window query. */
export const PAGE_SIZE = 100;
const LAST_READ_KEY = 'desktop.lastRead';

export interface InboxFilters {
  status: StatusFilter;
  channel: Channel | '';
  priority: Priority | '';
  label: string;
  inboxId: string;
  teamId: string;
  /** Only in the All view: an agent id, 'none' for unassigned, '' for anyone. */
  assignee: string;
  text: string;
}

/**
 * The inbox is a projection of the local database: a count for the scroll height and pages of
 * rows read by offset/limit for the rows on screen. Pages live outside Vue's deep reactivity
 * (100,000 rows must not become proxies); `tick` tells views a page arrived.
 */
let pages = new Map<number, Conversation[]>();
let loading = new Set<number>();
let unbind: (() => void) | null = null;
let unbindUploads: (() => void) | null = null;
let unbindReads: (() => void) | null = null; // [search-read]
let reloadTimer: ReturnType<typeof setTimeout> | null = null;
let scrolling: Promise<void> | null = null;
let queuedRange: { start: number; end: number } | null = null;
let recountTimer: ReturnType<typeof setTimeout> | null = null;
let lastRecountAt = 0;
/** Counts with filters may scan the index: while facts stream in, recount at most this often. */
const RECOUNT_EVERY_MS = 1_000;
/** Conversations assigned to me, for notifications and the unread badge. */
let mine = new Map<string, Conversation>();
let mineReady = false;

/** What RxdbStore says about its in-memory mirror (duck-typed: other stores have none). */
interface MirrorAware {
  readonly mirrorState: 'off' | 'loading' | 'ready';
  readonly mirrorLoaded: Promise<boolean>;
}
const hasMirror = (store: unknown): store is MirrorAware => typeof (store as Partial<MirrorAware> | null)?.mirrorState === 'string';

export function statusList(f: StatusFilter): ConversationStatus[] | undefined {
  if (f === 'any') return undefined;
  if (f === 'active') return ['open', 'pending'];
  return [f];
}

export const useInboxStore = defineStore('inbox', {
  state: () => ({
    view: 'mine' as InboxView,
    filters: { status: 'active', channel: '', priority: '', label: '', inboxId: '', teamId: '', assignee: '', text: '' } as InboxFilters,
    sort: 'lastActivity' as ConversationSort,
    total: 0,
    counts: { mine: 0, unassigned: 0, all: 0 },
    /** Bumped when pages change; the list re-reads visible rows. */
    tick: 0,
    /** Query generation: results of an older query are dropped. */
    generation: 0,
    visible: { start: 0, end: 30 },
    selectedIndex: -1,
    selectedId: null as string | null,
    lastRead: markRaw({}) as Record<string, number>,
    unread: 0,
    /** Time of the last completed window read (ms, for the benchmark and tests). */
    lastQueryMs: 0,
    /** Where the local database answers inbox queries from: its in-memory mirror once loaded. */
    mirror: 'off' as MirrorAware['mirrorState'],
  }),
  getters: {
    baseQuery(s): Omit<ConversationQuery, 'sort' | 'limit' | 'offset'> {
      const me = useSessionStore().agentId;
      const q: Omit<ConversationQuery, 'sort' | 'limit' | 'offset'> = {};
      const st = statusList(s.filters.status);
      if (st) q.status = st;
      if (s.view === 'mine') q.assigneeId = me ?? '__nobody__';
      else if (s.view === 'unassigned') q.assigneeId = null;
      else if (s.filters.assignee) q.assigneeId = s.filters.assignee === 'none' ? null : s.filters.assignee;
      if (s.filters.channel) q.channels = [s.filters.channel];
      if (s.filters.priority) q.priorities = [s.filters.priority];
      if (s.filters.label.trim()) q.label = s.filters.label.trim();
      if (s.filters.inboxId) q.inboxIds = [s.filters.inboxId];
      if (s.filters.teamId) q.teamId = s.filters.teamId;
      if (s.filters.text.trim()) q.text = s.filters.text.trim();
      return q;
    },
  },
  actions: {
    rowAt(index: number): Conversation | undefined {
      void this.tick;
      return pages.get(Math.floor(index / PAGE_SIZE))?.[index % PAGE_SIZE];
    },

    isUnread(c: Conversation): boolean {
      void this.tick;
      // [search-read] read state is the agent's fact, shared by their devices (core FactReadState)
      const reads = currentServices()?.client.reads;
      return reads ? reads.isUnread(c) : c.lastMessageDirection === 'in' && c.lastMessageAt > (this.lastRead[c.id] ?? 0);
    },

    async bind(): Promise<void> {
      unbind?.();
      pages = new Map();
      loading = new Set();
      mine = new Map();
      mineReady = false;
      unbind = onClientChange((change) => {
        if (change.conversationIds?.length || change.reset || change.outbox) this.scheduleReload();
        if (change.conversationIds?.length || change.reset) void this.trackMine(change.reset ? null : change.conversationIds!);
      });
      unbindUploads?.();
      unbindUploads = onUploadsChange(() => this.scheduleReload());
      const s = currentServices();
      // [search-read] marks made on the agent's other devices arrive in pulls
      unbindReads?.();
      unbindReads = s?.client.reads.onChange(() => {
        this.tick++;
        this.updateUnread();
      }) ?? null;
      this.lastRead = markRaw((await s?.store.getMeta<Record<string, number>>(LAST_READ_KEY)) ?? {});
      await this.refresh();
      void this.trackMine(null);
      void this.watchMirror();
    },

    /**
     * Once the store's mirror is loaded, queries are answered from memory: the visible window and
     * the counts are read again at once (a deep window or a filtered count that walked IndexedDB
     * meanwhile comes back fast).
     */
    async watchMirror(): Promise<void> {
      const store = currentServices()?.store;
      if (!hasMirror(store)) {
        this.mirror = 'off';
        return;
      }
      const bound = unbind;
      for (;;) {
        this.mirror = store.mirrorState;
        if (this.mirror !== 'loading') break;
        const loaded = await store.mirrorLoaded;
        if (unbind !== bound || !bound) return;
        // false: the load stopped (restarted, failed or closed); the state says which.
        if (loaded) this.mirror = 'ready';
        if (loaded) break;
      }
      if (this.mirror !== 'ready') return;
      lastRecountAt = 0;
      await this.reload();
    },

    unbind(): void {
      unbind?.();
      unbind = null;
      unbindUploads?.();
      unbindUploads = null;
    },

    /** Coalesces bursts of changes (a pull of many pages) into one re-read. */
    scheduleReload(): void {
      if (reloadTimer) return;
      reloadTimer = setTimeout(() => {
        reloadTimer = null;
        void this.reload();
      }, 50);
    },

    /** New query (view, filter or sort changed): the first window first, then the exact count. */
    async refresh(): Promise<void> {
      const gen = ++this.generation;
      pages = new Map();
      loading = new Set();
      this.tick++;
      this.selectedIndex = -1;
      const span = Math.max(this.visible.end - this.visible.start, 30);
      await this.ensureRange(0, span, true);
      if (gen !== this.generation) return;
      // Provisional scroll height until the count (which may scan) arrives.
      const first = pages.get(0)?.length ?? 0;
      if (first < PAGE_SIZE) this.total = first;
      else if (this.total < first) this.total = first;
      await this.recount(gen);
    },

    /** Same query, data changed: re-read the visible pages, drop the others. */
    async reload(): Promise<void> {
      const gen = ++this.generation;
      const keep = new Set<number>();
      for (let p = Math.floor(this.visible.start / PAGE_SIZE); p <= Math.floor(this.visible.end / PAGE_SIZE); p++) keep.add(p);
      loading = new Set();
      await Promise.all([...keep].map((p) => this.loadPage(p, gen)));
      const wait = lastRecountAt + RECOUNT_EVERY_MS - Date.now();
      if (wait <= 0) await this.recount(gen);
      else if (!recountTimer) {
        recountTimer = setTimeout(() => {
          recountTimer = null;
          void this.recount();
        }, wait);
      }
      if (gen !== this.generation) return;
      for (const p of [...pages.keys()]) if (!keep.has(p)) pages.delete(p);
      this.tick++;
      if (this.selectedId) {
        const idx = this.indexOfLoaded(this.selectedId);
        if (idx >= 0) this.selectedIndex = idx;
      }
    },

    async recount(generation?: number): Promise<void> {
      const gen = generation ?? this.generation;
      const s = currentServices();
      if (!s) return;
      lastRecountAt = Date.now();
      const me = useSessionStore().agentId;
      const st = statusList(this.filters.status);
      const base = st ? { status: st } : {};
      const [total, mineN, unassigned, all] = await Promise.all([
        s.client.countConversations(this.baseQuery),
        me ? s.client.countConversations({ ...base, assigneeId: me }) : Promise.resolve(0),
        s.client.countConversations({ ...base, assigneeId: null }),
        s.client.countConversations(base),
      ]);
      if (gen !== this.generation) return;
      this.total = total;
      this.counts = { mine: mineN, unassigned, all };
    },

    /**
     * Makes sure rows [start, end) are read; called by the virtual list as it scrolls. One window
     * query runs at a time: ranges asked for meanwhile collapse into the latest (a scrollbar drag
     * reads where it stops, not every row it passed).
     */
    async ensureRange(start: number, end: number, force = false): Promise<void> {
      this.visible = { start, end };
      if (!force && scrolling) {
        queuedRange = { start, end };
        return scrolling;
      }
      scrolling = this.readRange(start, end, force).finally(() => {
        scrolling = null;
        const next = queuedRange;
        queuedRange = null;
        if (next) void this.ensureRange(next.start, next.end);
      });
      return scrolling;
    },

    async readRange(start: number, end: number, force: boolean): Promise<void> {
      const gen = this.generation;
      const first = Math.floor(Math.max(0, start) / PAGE_SIZE);
      const last = Math.floor(Math.max(0, end) / PAGE_SIZE);
      // Missing pages in runs: one window query per run (each offset query walks the index from the top).
      const runs: Array<[number, number]> = [];
      for (let p = first; p <= last; p++) {
        if (!force && (pages.has(p) || loading.has(p))) continue;
        const run = runs[runs.length - 1];
        if (run && run[1] === p - 1) run[1] = p;
        else runs.push([p, p]);
      }
      await Promise.all(runs.map(([a, b]) => this.loadPages(a, b, gen).then(() => void (gen === this.generation && this.tick++))));
    },

    loadPage(page: number, gen: number): Promise<void> {
      return this.loadPages(page, page, gen);
    },

    async loadPages(from: number, to: number, gen: number): Promise<void> {
      const s = currentServices();
      if (!s) return;
      for (let p = from; p <= to; p++) loading.add(p);
      const t0 = performance.now();
      try {
        let rows = await s.client.queryConversations({ ...this.baseQuery, sort: this.sort, offset: from * PAGE_SIZE, limit: (to - from + 1) * PAGE_SIZE });
        if (gen !== this.generation) return;
        // Actions waiting behind an upload show on their rows too (the rows stay where the query put them).
        const uploads = useUploadsStore();
        if (uploads.entries.length) rows = rows.map((r) => uploads.overlay(r));
        for (let p = from; p <= to; p++) pages.set(p, rows.slice((p - from) * PAGE_SIZE, (p - from + 1) * PAGE_SIZE).map((r) => markRaw(r)));
        this.lastQueryMs = performance.now() - t0;
      } finally {
        for (let p = from; p <= to; p++) loading.delete(p);
      }
    },

    indexOfLoaded(id: string): number {
      for (const [p, rows] of pages) {
        const i = rows.findIndex((r) => r.id === id);
        if (i >= 0) return p * PAGE_SIZE + i;
      }
      return -1;
    },

    async setView(view: InboxView): Promise<void> {
      this.view = view;
      await this.refresh();
    },

    async setFilter<K extends keyof InboxFilters>(key: K, value: InboxFilters[K]): Promise<void> {
      this.filters[key] = value;
      await this.refresh();
    },

    async setSort(sort: ConversationSort): Promise<void> {
      this.sort = sort;
      await this.refresh();
    },

    /** j / k: moves the keyboard selection. */
    move(delta: number): void {
      if (this.total === 0) return;
      const next = Math.min(this.total - 1, Math.max(0, (this.selectedIndex < 0 ? (delta > 0 ? -1 : 0) : this.selectedIndex) + delta));
      this.selectedIndex = next;
      this.selectedId = this.rowAt(next)?.id ?? this.selectedId;
    },

    select(index: number, id: string | null): void {
      this.selectedIndex = index;
      this.selectedId = id;
    },

    async markRead(c: Pick<Conversation, 'id' | 'lastMessageAt'>): Promise<void> {
      const reads = currentServices()?.client.reads; // [search-read] a mark_read command: every device of the agent sees it
      if (reads) {
        await reads.markRead(c);
        this.tick++;
        this.updateUnread();
        return;
      }
      if ((this.lastRead[c.id] ?? 0) >= c.lastMessageAt) return;
      this.lastRead = markRaw({ ...this.lastRead, [c.id]: c.lastMessageAt });
      this.updateUnread();
      this.tick++;
      await currentServices()?.store.setMeta(LAST_READ_KEY, this.lastRead);
    },

    /** Keeps the set of conversations assigned to me; notifies about new ones. */
    async trackMine(ids: string[] | null): Promise<void> {
      const s = currentServices();
      const me = useSessionStore().agentId;
      if (!s || !me) return;
      if (ids === null) {
        const rows = await s.client.queryConversations({ assigneeId: me, status: ['open', 'pending'], sort: 'lastActivity', limit: 500 });
        mine = new Map(rows.map((r) => [r.id, r]));
        mineReady = true;
        this.updateUnread();
        return;
      }
      for (const id of new Set(ids)) {
        const c = await s.client.conversation(id);
        const isMine = !!c && c.assigneeId === me && (c.status === 'open' || c.status === 'pending');
        if (isMine && !mine.has(id) && mineReady) {
          void useHost().notify({ title: 'Goutong 沟通', body: `→ ${c.contactName}: ${c.lastMessagePreview}`, conversationId: id });
        }
        if (isMine) mine.set(id, c);
        else mine.delete(id);
      }
      this.updateUnread();
    },

    updateUnread(): void {
      let n = 0;
      for (const c of mine.values()) if (this.isUnread(c)) n++;
      this.unread = n;
      useHost().setUnread(n);
    },
  },
});

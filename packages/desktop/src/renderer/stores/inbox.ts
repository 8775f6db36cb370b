import { defineStore } from 'pinia';
import { InboxWindow, type Channel, type Conversation, type ConversationSort, type ConversationStatus, type InboxBaseQuery, type InboxQuerySpec, type Priority, type ReadState, type SlaFilter } from '@goutong/core';
import { browserClock, currentServices } from '../platform/services';
import { useSessionStore } from './session';
import { onUploadsChange, useUploadsStore } from './uploads';
import { readStateFor } from './readMarks';

export type InboxView = 'mine' | 'unassigned' | 'all';
export type StatusFilter = 'active' | 'any' | ConversationStatus;

export const STATUS_FILTERS: readonly StatusFilter[] = ['active', 'open', 'pending', 'snoozed', 'resolved', 'closed', 'any'];
/** Rows read from the local database per window query. */
export const PAGE_SIZE = 100;

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
  /** Due soon or breached SLA only (core's matchesSlaFilter); '' for any. */
  sla: SlaFilter | '';
}

/**
 * The inbox list: a thin adapter over core's InboxWindow (paging, counts, selection by id) and
 * ReadState (unread). Rows live in the window, outside Vue's deep reactivity (100,000 rows must not
 * become proxies); `tick` tells views a page arrived.
 */
let win: InboxWindow | null = null;
let readState: ReadState | null = null;
let offs: Array<() => void> = [];

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
    filters: { status: 'active', channel: '', priority: '', label: '', inboxId: '', teamId: '', assignee: '', text: '', sla: '' } as InboxFilters,
    sort: 'lastActivity' as ConversationSort,
    total: 0,
    counts: { mine: 0, unassigned: 0, all: 0 },
    /** Bumped when pages or read marks change; the list re-reads visible rows. */
    tick: 0,
    selectedIndex: -1,
    selectedId: null as string | null,
    /** The agent's conversations with unread customer messages (set by the notifications store). */
    unread: 0,
    /** Time of the last completed window read (ms, for the benchmark and tests). */
    lastQueryMs: 0,
    /** Where the local database answers inbox queries from: its in-memory mirror once loaded. */
    mirror: 'off' as MirrorAware['mirrorState'],
  }),
  getters: {
    baseQuery(s): InboxBaseQuery {
      const me = useSessionStore().agentId;
      const q: InboxBaseQuery = {};
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
      // The time the filter is read at; the rows' SLA facts (warned, breached) move them in and out after.
      if (s.filters.sla) q.sla = { state: s.filters.sla, now: Date.now() };
      return q;
    },
  },
  actions: {
    spec(): InboxQuerySpec {
      const me = useSessionStore().agentId;
      const st = statusList(this.filters.status);
      const base = st ? { status: st } : {};
      return { base: this.baseQuery, sort: this.sort, counts: { mine: { ...base, assigneeId: me ?? '__nobody__' }, unassigned: { ...base, assigneeId: null }, all: base } };
    },

    rowAt(index: number): Conversation | undefined {
      void this.tick;
      return win?.rowAt(index);
    },

    isUnread(c: Conversation): boolean {
      void this.tick;
      return readState?.isUnread(c) ?? false;
    },

    async bind(): Promise<void> {
      this.unbind();
      const s = currentServices();
      if (!s) return;
      const rs = readStateFor(s.store);
      readState = rs.state;
      await rs.loaded;
      const w = new InboxWindow({
        client: s.client,
        clock: browserClock,
        spec: () => this.spec(),
        readState: rs.state,
        pageSize: PAGE_SIZE,
        // Actions waiting behind an upload show on their rows too (the rows stay where the query put them).
        overlay: (r) => {
          const uploads = useUploadsStore();
          return uploads.entries.length ? uploads.overlay(r) : r;
        },
      });
      win = w;
      offs.push(
        w.state.subscribe((snap) => {
          this.$patch({
            total: snap.total,
            counts: { mine: snap.counts.mine ?? 0, unassigned: snap.counts.unassigned ?? 0, all: snap.counts.all ?? 0 },
            tick: this.tick + 1,
            selectedIndex: snap.selectedIndex,
            selectedId: snap.selectedId,
            lastQueryMs: snap.lastQueryMs,
          });
        }),
        onUploadsChange(() => void w.reload()),
      );
      await w.start();
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
      const bound = win;
      for (;;) {
        this.mirror = store.mirrorState;
        if (this.mirror !== 'loading') break;
        const loaded = await store.mirrorLoaded;
        if (win !== bound || !bound) return;
        // false: the load stopped (restarted, failed or closed); the state says which.
        if (loaded) this.mirror = 'ready';
        if (loaded) break;
      }
      if (this.mirror !== 'ready') return;
      await win?.reload();
      await win?.recount();
    },

    unbind(): void {
      for (const off of offs) off();
      offs = [];
      win?.stop();
      win = null;
    },

    /** New query (view, filter or sort changed). */
    async refresh(): Promise<void> {
      await win?.refresh();
    },

    async reload(): Promise<void> {
      await win?.reload();
    },

    /** Makes sure rows [start, end) are read; called by the virtual list as it scrolls. */
    async ensureRange(start: number, end: number): Promise<void> {
      await win?.ensureRange(start, end);
    },

    indexOfLoaded(id: string): number {
      return win?.indexOfLoaded(id) ?? -1;
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

    /** j / k: moves the keyboard highlight. */
    move(delta: number): void {
      win?.move(delta);
    },

    /** Highlights a conversation (a click, the pane opening it from a notification or a link). */
    select(_index: number, id: string | null): void {
      win?.select(id);
    },

    /** The highlighted conversation while its row is in the list: what Enter opens. */
    highlighted(): string | null {
      void this.tick;
      return win?.highlighted() ?? null;
    },

    async markRead(c: Pick<Conversation, 'id' | 'lastMessageAt'>): Promise<void> {
      await readState?.markRead(c);
    },
  },
});

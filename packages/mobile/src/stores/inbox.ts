import { defineStore } from 'pinia';
import { InboxWindow, slaNotice, type Channel, type Conversation, type ConversationSort, type ConversationStatus, type InboxBaseQuery, type InboxQuerySpec, type Priority, type ReadState } from '@goutong/core';
import { currentServices, useDevice } from '../app/services';
import { useSessionStore } from './session';
import { readStateFor } from './readMarks';

export type InboxView = 'mine' | 'team' | 'all';

const PAGE = 30;

let win: InboxWindow | null = null;
let offs: Array<() => void> = [];
let marks: { state: ReadState } | null = null;

const deviceClock = {
  now: () => useDevice().now(),
  setTimeout: (fn: () => void, ms: number) => setTimeout(fn, ms),
  clearTimeout: (h: unknown) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/** The conversation list: a thin adapter over core's InboxWindow, grown page by page as the list scrolls. */
export const useInboxStore = defineStore('inbox', {
  state: () => ({
    view: 'mine' as InboxView,
    status: 'open' as ConversationStatus | null,
    channel: null as Channel | null,
    priority: null as Priority | null,
    sort: 'lastActivity' as ConversationSort,
    rows: [] as Conversation[],
    limit: PAGE,
    hasMore: false,
    loading: false,
    refreshing: false,
    counts: { mine: 0, team: 0 },
    /** [sla] The SLA notice over the agent's own conversations (core slaNotice): breached and due-soon ids, most urgent first. */
    sla: { breached: [] as string[], warning: [] as string[] },
    /** Bumped when read marks change (unread badges). */
    readTick: 0,
  }),
  getters: {
    unreadCount(s): number {
      void s.readTick;
      return s.rows.filter((c) => marks?.state.isUnread(c) ?? false).length;
    },
  },
  actions: {
    spec(): InboxQuerySpec {
      const me = useSessionStore().agentId;
      const base: InboxBaseQuery = {};
      if (this.view === 'mine') base.assigneeId = me;
      else if (this.view === 'team') base.assigneeId = null;
      if (this.status) base.status = [this.status];
      if (this.channel) base.channels = [this.channel];
      if (this.priority) base.priorities = [this.priority];
      // The tab badges count what the tab lists under the status filter (open and pending with none).
      const active: ConversationStatus[] = this.status ? [this.status] : ['open', 'pending'];
      return { base, sort: this.sort, counts: { mine: { assigneeId: me ?? '__nobody__', status: active }, team: { assigneeId: null, status: active } } };
    },

    isUnread(c: Conversation): boolean {
      void this.readTick;
      return marks?.state.isUnread(c) ?? false;
    },

    /** Subscribes to client changes (call once after sign-in; safe to call again). */
    async bind(): Promise<void> {
      this.unbind();
      const services = currentServices();
      if (!services) return;
      const rs = readStateFor(services.store);
      marks = rs;
      await rs.loaded;
      const w = new InboxWindow({ client: services.client, clock: deviceClock, spec: () => this.spec(), readState: rs.state, pageSize: PAGE, recountEveryMs: 0 });
      win = w;
      offs.push(
        w.state.subscribe((snap) => {
          const rows = w.loadedRows().slice(0, this.limit);
          this.$patch({ rows, hasMore: snap.total > rows.length, counts: { mine: snap.counts.mine ?? 0, team: snap.counts.team ?? 0 }, readTick: this.readTick + 1 });
          void this.refreshSla(); // [sla] the notice follows the agent's conversations as they change
        }),
      );
      await this.load();
      await w.start();
    },

    unbind(): void {
      for (const off of offs) off();
      offs = [];
      win?.stop();
      win = null;
    },

    /** Re-reads the list from the device (instant, offline too). */
    async load(): Promise<void> {
      if (!win) return;
      this.loading = true;
      try {
        await win.ensureRange(0, this.limit, true);
        await win.recount();
      } finally {
        this.loading = false;
      }
    },

    /** [sla] Re-reads the SLA notice: the agent's conversations still to answer, by core's slaNotice at the device's time. */
    async refreshSla(): Promise<void> {
      const services = currentServices();
      const me = useSessionStore().agentId;
      if (!services || !me) {
        this.sla = { breached: [], warning: [] };
        return;
      }
      const mine = await services.client.queryConversations({ assigneeId: me, status: ['open', 'pending', 'snoozed'], sort: 'lastActivity', limit: 500 });
      const n = slaNotice(mine, useDevice().now());
      this.sla = { breached: n.breached.map((c) => c.id), warning: n.warning.map((c) => c.id) };
    },

    async loadMore(): Promise<void> {
      if (!this.hasMore) return;
      this.limit += PAGE;
      await this.load();
    },

    async setView(view: InboxView): Promise<void> {
      this.view = view;
      this.limit = PAGE;
      await win?.refresh();
      await this.load();
    },

    async setFilters(f: { status?: ConversationStatus | null; channel?: Channel | null; priority?: Priority | null; sort?: ConversationSort }): Promise<void> {
      if (f.status !== undefined) this.status = f.status;
      if (f.channel !== undefined) this.channel = f.channel;
      if (f.priority !== undefined) this.priority = f.priority;
      if (f.sort !== undefined) this.sort = f.sort;
      this.limit = PAGE;
      await win?.refresh();
      await this.load();
    },

    /** Pull-to-refresh: asks the server for news; the list stays readable meanwhile. */
    async refresh(): Promise<void> {
      const services = currentServices();
      if (!services) return;
      this.refreshing = true;
      try {
        await services.client.pullNow();
        await win?.reload();
      } finally {
        this.refreshing = false;
      }
    },

    async markRead(c: Pick<Conversation, 'id' | 'lastMessageAt'>): Promise<void> {
      await marks?.state.markRead(c);
    },
  },
});

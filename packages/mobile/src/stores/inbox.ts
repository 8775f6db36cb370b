import { defineStore } from 'pinia';
import { slaNotice, type Channel, type Conversation, type ConversationQuery, type ConversationSort, type ConversationStatus, type Priority } from '@goutong/core';
import { currentServices, requireServices, useDevice } from '../app/services';
import { onClientChange } from './changes';
import { useSessionStore } from './session';

export type InboxView = 'mine' | 'team' | 'all';

const LAST_READ_KEY = 'mobile.lastRead';
const PAGE = 30;

let unbind: (() => void) | null = null;
let unbindReads: (() => void) | null = null; // [search-read]

/** The conversation list: my conversations, the team queue or everything in scope, filtered. */
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
    /** Conversation id → lastMessageAt the agent has seen (unread badges). */
    lastRead: {} as Record<string, number>,
    /** [sla] The SLA notice over the agent's own conversations (core slaNotice): breached and due-soon ids, most urgent first. */
    sla: { breached: [] as string[], warning: [] as string[] },
    /** [search-read] Bumped when the agent's read marks move (this device or another of theirs). */
    readTick: 0,
  }),
  getters: {
    query(s): ConversationQuery {
      const me = useSessionStore().agentId;
      const q: ConversationQuery = { sort: s.sort, limit: s.limit };
      if (s.view === 'mine') q.assigneeId = me;
      else if (s.view === 'team') q.assigneeId = null;
      if (s.status) q.status = [s.status];
      if (s.channel) q.channels = [s.channel];
      if (s.priority) q.priorities = [s.priority];
      return q;
    },
    unreadCount(s): number {
      void s.readTick;
      return s.rows.filter((c) => isUnread(c, s.lastRead)).length;
    },
  },
  actions: {
    isUnread(c: Conversation): boolean {
      void this.readTick;
      return isUnread(c, this.lastRead);
    },

    /** Subscribes to client changes (call once after sign-in; safe to call again). */
    async bind(): Promise<void> {
      unbind?.();
      unbind = onClientChange((change) => {
        if (change.conversationIds?.length || change.reset || change.outbox) void this.load();
      });
      this.lastRead = (await currentServices()?.store.getMeta<Record<string, number>>(LAST_READ_KEY)) ?? {};
      // [search-read] marks made on the agent's other devices arrive in pulls
      unbindReads?.();
      unbindReads = currentServices()?.client.reads.onChange(() => this.readTick++) ?? null;
      await this.load();
    },

    unbind(): void {
      unbind?.();
      unbind = null;
    },

    /** Re-reads the list from the device (instant, offline too). */
    async load(): Promise<void> {
      const services = currentServices();
      if (!services) return;
      this.loading = true;
      try {
        const q = { ...this.query, limit: this.limit + 1 };
        const rows = await services.client.queryConversations(q);
        this.hasMore = rows.length > this.limit;
        this.rows = rows.slice(0, this.limit);
        const me = useSessionStore().agentId;
        // The tab badges count what the tab lists under the status filter (open and pending with none).
        const active: ConversationStatus[] = this.status ? [this.status] : ['open', 'pending'];
        this.counts = {
          mine: me ? await services.client.countConversations({ assigneeId: me, status: active }) : 0,
          team: await services.client.countConversations({ assigneeId: null, status: active }),
        };
        await this.refreshSla();
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
      await this.load();
    },

    async setFilters(f: { status?: ConversationStatus | null; channel?: Channel | null; priority?: Priority | null; sort?: ConversationSort }): Promise<void> {
      if (f.status !== undefined) this.status = f.status;
      if (f.channel !== undefined) this.channel = f.channel;
      if (f.priority !== undefined) this.priority = f.priority;
      if (f.sort !== undefined) this.sort = f.sort;
      this.limit = PAGE;
      await this.load();
    },

    /** Pull-to-refresh: asks the server for news; the list stays readable meanwhile. */
    async refresh(): Promise<void> {
      const services = currentServices();
      if (!services) return;
      this.refreshing = true;
      try {
        await services.client.pullNow();
        await this.load();
      } finally {
        this.refreshing = false;
      }
    },

    async markRead(c: Pick<Conversation, 'id' | 'lastMessageAt'>): Promise<void> {
      const reads = currentServices()?.client.reads; // [search-read] a mark_read command: every device of the agent sees it
      if (reads) {
        await reads.markRead(c);
        this.readTick++;
        return;
      }
      if ((this.lastRead[c.id] ?? 0) >= c.lastMessageAt) return;
      this.lastRead = { ...this.lastRead, [c.id]: c.lastMessageAt };
      await requireServices().store.setMeta(LAST_READ_KEY, this.lastRead);
    },
  },
});

function isUnread(c: Conversation, lastRead: Record<string, number>): boolean {
  const reads = currentServices()?.client.reads; // [search-read] the agent's fact (core isUnreadAt)
  if (reads) return reads.isUnread(c);
  return c.lastMessageDirection === 'in' && c.lastMessageAt > (lastRead[c.id] ?? 0);
}

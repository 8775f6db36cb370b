import { defineStore } from 'pinia';
import { DeliveryTracker, summarizeCommand, type Command, type CommandSummary, type DeliveryProblem, type OutboxEntry } from '@goutong/core';
import { currentServices, requireServices, useDevice } from '../app/services';
import { onClientChange } from './changes';

let unbind: (() => void) | null = null;
let tracker: DeliveryTracker | null = null;
let offTracker: (() => void) | null = null;
let trackerOf: unknown = null;

/** Translates a key with parameters (the page's `t`). */
type T = (key: string, params?: Record<string, unknown>) => string;

/** An outbox entry as people say it: "Reply to Wang Fang: …", not "send_reply: …". */
export function describeSummary(s: CommandSummary, names: Readonly<Record<string, string>>, t: T): string {
  const name = (s.conversationId && names[s.conversationId]) || t('clientViews.outbox.aConversation');
  const value = s.kind === 'status' ? t(`status.${s.detail}`) : s.kind === 'priority' ? t(`priority.${s.detail}`) : s.detail;
  const head = t(`clientViews.outbox.${s.kind}`, { name, value });
  return (s.kind === 'reply' || s.kind === 'note') && s.detail ? `${head}: ${s.detail}` : head;
}

export function describeCommand(c: Command, names: Readonly<Record<string, string>>, t: T): string {
  return describeSummary(summarizeCommand(c), names, t);
}

/** Everything done on this device that the server has not confirmed yet, and replies the provider refused. */
export const useOutboxStore = defineStore('outbox', {
  state: () => ({
    entries: [] as OutboxEntry[],
    /** Replies the provider refused or that wait too long (core's DeliveryTracker). */
    problems: [] as DeliveryProblem[],
    /** Refused replies already sent again or dismissed. */
    dismissed: [] as string[],
    failedTotal: 0,
    stuck: 0,
    /** Contact names of the conversations the entries act on. */
    names: {} as Record<string, string>,
  }),
  getters: {
    pending: (s) => s.entries.filter((e) => e.state === 'pending' || e.state === 'inflight'),
    failed: (s) => s.entries.filter((e) => e.state === 'failed'),
    providerProblems: (s) => s.problems.filter((p) => p.source === 'provider'),
  },
  actions: {
    bind(): void {
      unbind?.();
      unbind = onClientChange((c) => {
        if (c.outbox) this.load();
      });
      this.ensureTracker();
      this.load();
    },
    unbind(): void {
      unbind?.();
      unbind = null;
    },
    /** Core's DeliveryTracker of the signed-in services (kept while they live; the bubbles use it too). */
    ensureTracker(): DeliveryTracker | null {
      const services = currentServices();
      if (!services) return null;
      if (tracker && trackerOf === services) return tracker;
      offTracker?.();
      tracker?.stop();
      const device = useDevice();
      const t = new DeliveryTracker({
        client: services.client,
        store: services.store,
        clock: { now: () => device.now(), setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>) },
      });
      tracker = t;
      trackerOf = services;
      offTracker = t.state.subscribe((snap) => {
        this.problems = [...snap.problems];
        this.dismissed = [...snap.dismissed];
        this.failedTotal = snap.failed;
        this.stuck = snap.stuck;
        this.lookUpNames();
      });
      const me = services.client.agent.id;
      void services.client.queryConversations({ assigneeId: me, status: ['open', 'pending'], sort: 'lastActivity', limit: 50 }).then((rows) => t.start(rows.map((r) => r.id)));
      return t;
    },
    load(): void {
      this.entries = currentServices()?.client.outboxEntries() ?? [];
      this.lookUpNames();
    },
    lookUpNames(): void {
      const client = currentServices()?.client;
      if (!client) return;
      const ids = new Set<string>();
      for (const e of this.entries) if ('conversationId' in e.command && e.command.conversationId) ids.add(e.command.conversationId);
      for (const p of this.problems) if (p.conversationId) ids.add(p.conversationId);
      for (const id of ids) {
        if (id in this.names) continue;
        this.names[id] = '';
        void client.conversation(id).then((c) => (this.names = { ...this.names, [id]: c?.contactName || c?.subject || '' }));
      }
    },
    /** Retry: the command again, or a reply the provider refused sent again as a new message. */
    async retry(id: string): Promise<void> {
      const t = this.ensureTracker();
      if (t) await t.retry(id);
      else await requireServices().client.retry(id);
      this.load();
    },
    /** Discard a failed command, or stop counting a refused reply. */
    async discard(id: string): Promise<void> {
      const t = this.ensureTracker();
      if (t) await t.discard(id);
      else await requireServices().client.discard(id);
      this.load();
    },
    /** Looks for refused replies in a conversation the agent opened. */
    watch(conversationId: string): void {
      void this.ensureTracker()?.watch([conversationId]);
    },
  },
});

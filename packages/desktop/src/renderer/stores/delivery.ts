import { defineStore } from 'pinia';
import { markRaw } from 'vue';
import type { DeliveryProblem, DeliveryTracker } from '@goutong/core';
import { browserClock, currentServices } from '../platform/services';
import { useSessionStore } from './session';

let tracker: DeliveryTracker | null = null;
let off: (() => void) | null = null;

/**
 * What did not go out, everywhere it is shown (top bar, list rows, outbox, the message): core's
 * DeliveryTracker over the outbox, the upload queue and the provider's failure facts.
 */
export const useDeliveryStore = defineStore('delivery', {
  state: () => ({
    failed: 0,
    stuck: 0,
    conversationIds: [] as readonly string[],
    problems: [] as readonly DeliveryProblem[],
    /** Refused replies already sent again or dismissed. */
    dismissed: [] as readonly string[],
  }),
  getters: {
    hasProblem: (s) => (conversationId: string): 'failed' | 'stuck' | null => {
      if (!s.conversationIds.includes(conversationId)) return null;
      return s.problems.some((p) => p.conversationId === conversationId && p.delivery.state === 'failed') ? 'failed' : 'stuck';
    },
  },
  actions: {
    async bind(): Promise<void> {
      this.unbind();
      const s = currentServices();
      const me = useSessionStore().agentId;
      if (!s || !me) return;
      const { DeliveryTracker } = await import('./lazyViews');
      if (currentServices() !== s) return;
      const t = new DeliveryTracker({ client: s.client, store: s.store, clock: browserClock });
      tracker = t;
      off = t.state.subscribe((snap) => {
        this.$patch({ failed: snap.failed, stuck: snap.stuck, conversationIds: markRaw([...snap.conversationIds]), problems: markRaw([...snap.problems]), dismissed: markRaw([...snap.dismissed]) });
      });
      const mine = await s.client.queryConversations({ assigneeId: me, status: ['open', 'pending'], sort: 'lastActivity', limit: 50 });
      await t.start(mine.map((c) => c.id));
    },
    unbind(): void {
      off?.();
      off = null;
      tracker?.stop();
      tracker = null;
    },
    /** Looks for refused replies in a conversation the agent opened. */
    watch(conversationId: string): void {
      void tracker?.watch([conversationId]);
    },
    /** Retry: the command again, or the refused reply sent again as a new message. */
    async retry(id: string): Promise<void> {
      await tracker?.retry(id);
    },
    /** Discard a failed command, or stop counting a refused reply. */
    async discard(id: string): Promise<void> {
      await tracker?.discard(id);
    },
  },
});

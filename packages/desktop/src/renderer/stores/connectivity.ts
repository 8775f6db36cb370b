import { defineStore } from 'pinia';
import { markRaw } from 'vue';
import type { ConnectivityState, OutboxEntry } from '@goutong/core';
import { currentServices, onClientChange, requireServices } from '../platform/services';

let unsubs: Array<() => void> = [];

/** The connectivity bar and the outbox panel: a projection of the client's state. */
export const useConnectivityStore = defineStore('connectivity', {
  state: () => ({
    state: { status: 'offline', pending: 0, failed: 0, lastSyncedAt: null, sessionExpired: false, updateRequired: false } as ConnectivityState,
    entries: [] as OutboxEntry[],
    panelOpen: false,
  }),
  getters: {
    /** Commands waiting for the server, replies waiting for their upload included (the client counts both). */
    pendingTotal: (s) => s.state.pending,
    failedTotal: (s) => s.state.failed,
  },
  actions: {
    bind(): void {
      this.unbind();
      const s = currentServices();
      if (!s) return;
      this.state = { ...s.client.connectivity.value };
      this.entries = s.client.outboxEntries().map((e) => markRaw(e));
      unsubs.push(
        s.client.connectivity.subscribe((v) => (this.state = { ...v })),
        onClientChange((c) => {
          if (c.outbox) this.entries = s.client.outboxEntries().map((e) => markRaw(e));
        }),
      );
    },
    unbind(): void {
      for (const u of unsubs) u();
      unsubs = [];
    },
    async retry(id: string): Promise<void> {
      await requireServices().client.retry(id);
      this.entries = requireServices().client.outboxEntries().map((e) => markRaw(e));
    },
    async discard(id: string): Promise<void> {
      await requireServices().client.discard(id);
      this.entries = requireServices().client.outboxEntries().map((e) => markRaw(e));
    },
  },
});

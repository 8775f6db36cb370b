import { defineStore } from 'pinia';
import type { OutboxEntry } from '@goutong/core';
import { currentServices, requireServices } from '../app/services';
import { onClientChange } from './changes';

let unbind: (() => void) | null = null;

/** Everything done on this device that the server has not confirmed yet. */
export const useOutboxStore = defineStore('outbox', {
  state: () => ({ entries: [] as OutboxEntry[] }),
  getters: {
    pending: (s) => s.entries.filter((e) => e.state === 'pending' || e.state === 'inflight'),
    failed: (s) => s.entries.filter((e) => e.state === 'failed'),
  },
  actions: {
    bind(): void {
      unbind?.();
      unbind = onClientChange((c) => {
        if (c.outbox) this.load();
      });
      this.load();
    },
    unbind(): void {
      unbind?.();
      unbind = null;
    },
    load(): void {
      this.entries = currentServices()?.client.outboxEntries() ?? [];
    },
    async retry(id: string): Promise<void> {
      await requireServices().client.retry(id);
      this.load();
    },
    async discard(id: string): Promise<void> {
      await requireServices().client.discard(id);
      this.load();
    },
  },
});

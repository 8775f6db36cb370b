import { defineStore } from 'pinia';
import type { CannedResponse } from '@goutong/core';
import { currentServices } from '../platform/services';

const CACHE_KEY = 'desktop.cannedResponses';
/** The composer asks the server again at most this often (focus of the picker, reconnects). */
const REFRESH_EVERY_MS = 30_000;
let lastFetch = 0;
let unsub: (() => void) | null = null;

const byCode = (a: CannedResponse, b: CannedResponse) => a.shortCode.localeCompare(b.shortCode);

/**
 * The tenant's canned responses for the composer: read from the server when online and kept in the
 * local database for offline use (GET /api/v1/canned-responses; admins and supervisors edit them).
 */
export const useCannedStore = defineStore('canned', {
  state: () => ({
    items: [] as CannedResponse[],
    /** Whether a list came from the server (now or cached on an earlier day). */
    known: false,
  }),
  actions: {
    async bind(): Promise<void> {
      this.unbind();
      lastFetch = 0;
      const s = currentServices();
      if (!s) return;
      const cached = await s.store.getMeta<CannedResponse[]>(CACHE_KEY).catch(() => null);
      if (Array.isArray(cached)) {
        this.items = cached.slice().sort(byCode);
        this.known = true;
      }
      let wasOnline = false;
      unsub = s.client.connectivity.subscribe((c) => {
        const online = c.status === 'online';
        if (online && !wasOnline) void this.refresh(true);
        wasOnline = online;
      });
      await this.refresh(true);
    },

    unbind(): void {
      unsub?.();
      unsub = null;
      this.items = [];
      this.known = false;
    },

    /** Asks the server (when it can and did not just do so); failures keep what we have. */
    async refresh(force = false): Promise<void> {
      const s = currentServices();
      if (!s?.api || s.client.connectivity.value.status === 'offline') return;
      if (!force && Date.now() - lastFetch < REFRESH_EVERY_MS) return;
      lastFetch = Date.now();
      try {
        const { items } = await s.api.request<{ items: CannedResponse[] }>('GET', '/api/v1/canned-responses');
        await this.set(items);
      } catch {
        /* offline or not reachable: the cached list stays */
      }
    },

    /** The list as the server has it now (also after an admin edited it). */
    async set(items: CannedResponse[]): Promise<void> {
      this.items = items.slice().sort(byCode);
      this.known = true;
      await currentServices()?.store.setMeta(CACHE_KEY, this.items).catch(() => undefined);
    },
  },
});

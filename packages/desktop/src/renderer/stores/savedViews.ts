import { defineStore } from 'pinia';
import type { SavedView, SavedViewFilters } from '@goutong/core';
import { currentServices } from '../platform/services';
import { useInboxStore, type InboxFilters } from './inbox';

const CACHE_KEY = 'desktop.savedViews';

/** The inbox's filters as a saved view holds them. */
export function currentFilters(): SavedViewFilters {
  const inbox = useInboxStore();
  return { view: inbox.view, ...inbox.filters, sort: inbox.sort } as SavedViewFilters;
}

/**
 * Saved views (GET/POST/PATCH/DELETE /api/v1/saved-views): named inbox filters kept on the server,
 * so they follow the agent to every device; cached on the device for offline use. Applying one sets
 * the inbox's filters; the list is still read from the local database.
 */
export const useSavedViewsStore = defineStore('savedViews', {
  state: () => ({ items: [] as SavedView[], activeId: null as string | null, error: null as string | null }),
  actions: {
    async load(): Promise<void> {
      const s = currentServices();
      if (!s) return;
      const cached = await s.store.getMeta<SavedView[]>(CACHE_KEY).catch(() => null);
      if (Array.isArray(cached) && this.items.length === 0) this.items = cached;
      if (!s.api || s.client.connectivity.value.status === 'offline') return;
      try {
        const { items } = await s.api.request<{ items: SavedView[] }>('GET', '/api/v1/saved-views');
        this.items = items;
        this.error = null;
        await s.store.setMeta(CACHE_KEY, items).catch(() => undefined);
      } catch (e) {
        this.error = e instanceof Error ? e.message : String(e);
      }
    },

    /** Saves the inbox's current filters under a name. */
    async saveCurrent(name: string, shared: boolean): Promise<SavedView> {
      const api = currentServices()?.api;
      if (!api) throw new Error('offline');
      const v = await api.request<SavedView>('POST', '/api/v1/saved-views', { name, shared, filters: currentFilters() });
      this.activeId = v.id;
      await this.load();
      return v;
    },

    async remove(id: string): Promise<void> {
      const api = currentServices()?.api;
      if (!api) throw new Error('offline');
      await api.request('DELETE', `/api/v1/saved-views/${id}`);
      if (this.activeId === id) this.activeId = null;
      await this.load();
    },

    async apply(view: SavedView): Promise<void> {
      const inbox = useInboxStore();
      const { view: name, sort, ...filters } = view.filters;
      inbox.$patch({ view: name, sort, filters: filters as InboxFilters });
      this.activeId = view.id;
      await inbox.refresh();
    },

    reset(): void {
      this.$reset();
    },
  },
});

import { defineStore } from 'pinia';
import { matchCanned as coreMatchCanned, renderCanned, replaceToken, tokenAtCaret, type CannedContext, type CannedResponse } from '@goutong/core';
import { currentServices, useDevice } from '../app/services';

/** The list as last fetched, in the local store's meta: the picker works offline. */
export const CANNED_META_KEY = 'mobile.cannedResponses';
/** Re-fetch when the cached list is older than this (and the device is online). */
export const CANNED_MAX_AGE_MS = 10 * 60_000;

export type CannedItem = Pick<CannedResponse, 'id' | 'shortCode' | 'title' | 'body'>;

interface CachedList {
  items: CannedItem[];
  fetchedAt: number;
}

/** The items of `GET /api/v1/canned-responses` (anything malformed is left out). */
export function parseCannedList(json: unknown): CannedItem[] {
  const items = (json as { items?: unknown } | null)?.items;
  if (!Array.isArray(items)) return [];
  return items.flatMap((x: unknown) => {
    const r = x as Partial<CannedItem> | null;
    return r && typeof r.id === 'string' && typeof r.shortCode === 'string' && typeof r.title === 'string' && typeof r.body === 'string'
      ? [{ id: r.id, shortCode: r.shortCode, title: r.title, body: r.body }]
      : [];
  });
}

/**
 * What the agent is typing after `/` at the end of the composer ("/ref" → "ref"), or null when the
 * picker should be closed: core's caret-token rule (`tokenAtCaret`), with the caret at the end.
 */
export function cannedTrigger(text: string): string | null {
  return tokenAtCaret(text, text.length, ['/'])?.query ?? null;
}

/** The composer's text with the trailing `/query` replaced by the rendered response (core `replaceToken`). */
export function insertCanned(text: string, rendered: string): string {
  const tok = tokenAtCaret(text, text.length, ['/']);
  if (!tok) return text ? `${text}${/\s$/.test(text) ? '' : ' '}${rendered}` : rendered;
  return replaceToken(text, tok, rendered).text;
}

/** The items a typed query offers: core's one matching rule. */
export function matchCanned(items: readonly CannedItem[], typed: string, limit = 8): CannedItem[] {
  return coreMatchCanned(items, typed, limit);
}

export { renderCanned, type CannedContext };

/** Canned responses: fetched from the server when online, cached for offline use. */
export const useCannedStore = defineStore('canned', {
  state: () => ({
    items: [] as CannedItem[],
    fetchedAt: null as number | null,
    error: null as string | null,
  }),
  actions: {
    /** Reads the cached list, then refreshes it from the server when it is stale and the network is there. */
    async load(opts: { force?: boolean } = {}): Promise<void> {
      const services = currentServices();
      if (!services) return;
      if (this.fetchedAt === null) {
        const cached = (await services.store.getMeta<CachedList>(CANNED_META_KEY)) ?? null;
        if (cached) {
          this.items = cached.items;
          this.fetchedAt = cached.fetchedAt;
        }
      }
      const stale = this.fetchedAt === null || useDevice().now() - this.fetchedAt > CANNED_MAX_AGE_MS;
      if ((opts.force || stale) && services.network.isOnline()) await this.refresh();
    },

    async refresh(): Promise<void> {
      const services = currentServices();
      if (!services) return;
      try {
        const items = parseCannedList(await services.api.getJson('/api/v1/canned-responses'));
        const list: CachedList = { items, fetchedAt: useDevice().now() };
        await services.store.setMeta(CANNED_META_KEY, list);
        this.items = items;
        this.fetchedAt = list.fetchedAt;
        this.error = null;
      } catch (e) {
        // Offline or the server is away: the cached list stays.
        this.error = e instanceof Error ? e.message : String(e);
      }
    },

    reset(): void {
      this.$reset();
    },
  },
});

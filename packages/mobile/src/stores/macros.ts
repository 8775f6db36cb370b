import { defineStore } from 'pinia';
import { Macro, macroContext, macroIntents, type Agent, type Conversation } from '@goutong/core';
import { currentServices, useDevice } from '../app/services';
import { useUploadsStore } from './uploads';

/** The list as last fetched, in the local store's meta: macros apply offline. */
export const MACROS_META_KEY = 'mobile.macros';

/** The items of `GET /api/v1/macros` that are valid macros (core's schema; anything else is left out). */
export function parseMacroList(json: unknown): Macro[] {
  const items = (json as { items?: unknown } | null)?.items;
  if (!Array.isArray(items)) return [];
  return items.flatMap((x: unknown) => {
    const r = Macro.safeParse(x);
    return r.success ? [r.data] : [];
  });
}

/**
 * Macros (a saved sequence of actions) the agent may apply: the shared ones and their own, fetched
 * when online and cached for offline use. Applying one is core's `macroIntents` (the same rule as
 * the desktop): the normal commands, each through the upload queue and the outbox.
 */
export const useMacrosStore = defineStore('macros', {
  state: () => ({ items: [] as Macro[], loaded: false, error: null as string | null }),
  actions: {
    async load(): Promise<void> {
      const services = currentServices();
      if (!services) return;
      if (!this.loaded) {
        const cached = await services.store.getMeta<unknown>(MACROS_META_KEY).catch(() => null);
        if (cached) this.items = parseMacroList(cached);
      }
      this.loaded = true;
      if (!services.network.isOnline()) return;
      try {
        const items = parseMacroList(await services.api.getJson('/api/v1/macros'));
        await services.store.setMeta(MACROS_META_KEY, { items });
        this.items = items;
        this.error = null;
      } catch (e) {
        // Offline or the server is away: the cached list stays.
        this.error = e instanceof Error ? e.message : String(e);
      }
    },

    /** The signed-in agent applies a macro to a conversation; resolves with how many commands it made (0: nothing to change). */
    async apply(macro: Macro, c: Conversation, agent: Pick<Agent, 'id' | 'name' | 'email'>): Promise<number> {
      const intents = macroIntents(macro, c, macroContext(c, agent, useDevice().now()));
      const uploads = useUploadsStore();
      for (const intent of intents) await uploads.submit(intent);
      return intents.length;
    },

    reset(): void {
      this.$reset();
    },
  },
});

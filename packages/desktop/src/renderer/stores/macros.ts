import { defineStore } from 'pinia';
import { macroContext, macroIntents, type Conversation, type Macro, type MacroInput } from '@goutong/core';
import { currentServices } from '../platform/services';
import { useSessionStore } from './session';
import { useDirectoryStore } from './directory';
import { useUploadsStore } from './uploads';

const CACHE_KEY = 'desktop.macros';

/**
 * The macros this agent may apply (GET /api/v1/macros: the shared ones and their own), cached on
 * the device so they apply offline. Applying one is core's `macroIntents`: the normal commands,
 * each through the upload queue and the outbox like any other action.
 */
export const useMacrosStore = defineStore('macros', {
  state: () => ({ items: [] as Macro[], loaded: false, error: null as string | null }),
  actions: {
    async load(): Promise<void> {
      const s = currentServices();
      if (!s) return;
      if (!this.loaded) {
        const cached = await s.store.getMeta<Macro[]>(CACHE_KEY).catch(() => null);
        if (Array.isArray(cached)) this.items = cached;
      }
      if (!s.api || s.client.connectivity.value.status === 'offline') {
        this.loaded = true;
        return;
      }
      try {
        const { items } = await s.api.request<{ items: Macro[] }>('GET', '/api/v1/macros');
        this.items = items;
        this.error = null;
        await s.store.setMeta(CACHE_KEY, items).catch(() => undefined);
      } catch (e) {
        this.error = e instanceof Error ? e.message : String(e);
      } finally {
        this.loaded = true;
      }
    },

    async save(id: string | null, input: MacroInput): Promise<Macro> {
      const api = currentServices()?.api;
      if (!api) throw new Error('offline');
      const m = id ? await api.request<Macro>('PATCH', `/api/v1/macros/${id}`, input) : await api.request<Macro>('POST', '/api/v1/macros', input);
      await this.load();
      return m;
    },

    async remove(id: string): Promise<void> {
      const api = currentServices()?.api;
      if (!api) throw new Error('offline');
      await api.request('DELETE', `/api/v1/macros/${id}`);
      await this.load();
    },

    /** Applies a macro to conversations; resolves with how many commands were made. */
    async apply(macro: Macro, conversations: readonly Conversation[]): Promise<number> {
      const session = useSessionStore();
      const directory = useDirectoryStore();
      const uploads = useUploadsStore();
      const agent = session.agent;
      if (!agent) return 0;
      let n = 0;
      for (const c of conversations) {
        const intents = macroIntents(macro, c, macroContext(c, agent, Date.now(), directory.inboxes.find((i) => i.id === c.inboxId)?.name ?? null));
        for (const intent of intents) await uploads.submit(intent);
        n += intents.length;
      }
      return n;
    },
  },
});

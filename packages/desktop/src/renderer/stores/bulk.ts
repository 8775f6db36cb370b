import { defineStore } from 'pinia';
import { markRaw } from 'vue';
import { macroIntents, type Conversation, type MacroAction } from '@goutong/core';
import { useSessionStore } from './session';
import { useUploadsStore } from './uploads';
import { useInboxStore } from './inbox';

/**
 * The inbox list's multi-selection (checkboxes, Shift+click ranges, x/Space) and the actions on it.
 * A bulk action is a one-action macro applied to each selected conversation: core's `macroIntents`
 * makes the normal commands (skipping what is already so) and each goes through the outbox.
 */
export const useBulkStore = defineStore('bulk', {
  state: () => ({
    /** Selected conversations by id, as they were when picked (kept outside deep reactivity). */
    selected: markRaw(new Map<string, Conversation>()),
    /** Bumped on every change (the Map is not reactive). */
    version: 0,
    /** The row a Shift+click range starts from. */
    anchor: -1,
  }),
  getters: {
    count: (s) => (void s.version, s.selected.size),
  },
  actions: {
    has(id: string): boolean {
      void this.version;
      return this.selected.has(id);
    },
    toggle(c: Conversation, index: number): void {
      if (this.selected.has(c.id)) this.selected.delete(c.id);
      else this.selected.set(c.id, c);
      this.anchor = index;
      this.version++;
    },
    /** Selects the loaded rows between the anchor and `index` (both included). */
    range(index: number): void {
      const inbox = useInboxStore();
      const from = this.anchor < 0 ? index : Math.min(this.anchor, index);
      const to = this.anchor < 0 ? index : Math.max(this.anchor, index);
      for (let i = from; i <= to; i++) {
        const row = inbox.rowAt(i);
        if (row) this.selected.set(row.id, row);
      }
      this.anchor = index;
      this.version++;
    },
    clear(): void {
      this.selected.clear();
      this.anchor = -1;
      this.version++;
    },
    /** Applies one action to every selected conversation; resolves with how many commands were made. */
    async act(action: MacroAction): Promise<number> {
      const agent = useSessionStore().agent;
      if (!agent) return 0;
      const uploads = useUploadsStore();
      let n = 0;
      for (const c of [...this.selected.values()]) {
        for (const intent of macroIntents({ actions: [action] }, c, { agent: { id: agent.id, name: agent.name, email: agent.email }, now: Date.now(), canned: { contact: { name: c.contactName } } })) {
          await uploads.submit(intent);
          n++;
        }
      }
      this.clear();
      return n;
    },
  },
});

import { defineStore } from 'pinia';
import { markRaw } from 'vue';
import type { Conversation } from '@goutong/core';
import { useInboxStore } from './inbox';

/**
 * The inbox list's multi-selection (checkboxes, Shift+click ranges, x/Space). The actions on it
 * are in components/inbox/BulkBar.vue (loaded when something is selected).
 */
export const useBulkStore = defineStore('bulk', {
  state: () => ({
    /** Selected conversations by id, as they were when picked (kept outside deep reactivity). */
    selected: markRaw(new Map<string, Conversation>()),
    /** Bumped on every change (the Map is not reactive). */
    version: 0,
    /** The row a Shift+click range starts from. */
    anchor: -1,
    /** What the last bulk action did (shown until the next selection). */
    notice: null as string | null,
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
      this.notice = null;
      if (this.selected.has(c.id)) this.selected.delete(c.id);
      else this.selected.set(c.id, c);
      this.anchor = index;
      this.version++;
    },
    /** Selects the loaded rows between the anchor and `index` (both included). */
    range(index: number): void {
      const inbox = useInboxStore();
      this.notice = null;
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
  },
});

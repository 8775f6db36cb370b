import { defineStore } from 'pinia';
import { markRaw } from 'vue';
import type { Conversation, Intent, QueuedUpload } from '@goutong/core';
import { toUploadFiles, type PickedFile } from '../attachments/uploads';
import type { FileVault } from '../attachments/vault';
import { clearBlobCache } from '../attachments/blobCache';
import { currentServices } from '../platform/services';

let unsubs: Array<() => void> = [];
const listeners = new Set<() => void>();

/** Calls `fn` when the upload queue changes (a file uploaded, an entry handed to the outbox). */
export function onUploadsChange(fn: () => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** The vault of the signed-in account (files waiting to upload), for local thumbnails. */
export function currentVault(): FileVault | null {
  return currentServices()?.files ?? null;
}

/**
 * Replies with attachments waiting for their upload, and the actions queued behind them: core's
 * upload queue (client.uploads, with the desktop's vault and upload from attachments/uploads.ts).
 * Every conversation action goes through `submit`, which hands it straight to core's outbox unless
 * it has to wait its turn there. The client counts the entries in `connectivity` and shows the
 * waiting replies in `messages()`.
 */
export const useUploadsStore = defineStore('uploads', {
  state: () => ({ entries: [] as QueuedUpload[] }),
  getters: {
    pending: (s) => s.entries.filter((e) => e.state !== 'failed').length,
    failed: (s) => s.entries.filter((e) => e.state === 'failed').length,
  },
  actions: {
    async bind(): Promise<void> {
      this.unbind();
      const s = currentServices();
      const q = s?.client.uploads;
      if (!q) return;
      await q.load();
      if (currentServices() !== s) return;
      this.entries = q.list().map((e) => markRaw(e));
      unsubs.push(
        q.changed.on(() => {
          if (currentServices() !== s) return;
          this.entries = q.list().map((e) => markRaw(e));
          for (const l of [...listeners]) l();
        }),
      );
    },

    unbind(): void {
      for (const u of unsubs) u();
      unsubs = [];
      this.entries = [];
      clearBlobCache();
    },

    /** Every conversation action: to the outbox, or queued behind an upload. */
    async submit(intent: Intent, files: readonly PickedFile[] = []): Promise<{ id: string; queued: boolean }> {
      const s = currentServices();
      if (!s) throw new Error('not signed in');
      return s.client.submit(intent, toUploadFiles(files));
    },

    async retry(id: string): Promise<void> {
      await currentServices()?.client.uploads?.retry(id);
    },

    async discard(id: string): Promise<void> {
      await currentServices()?.client.uploads?.discard(id);
    },

    has(id: string): boolean {
      return this.entries.some((e) => e.id === id);
    },

    overlay(conv: Conversation): Conversation {
      const client = currentServices()?.client;
      return client?.uploads ? client.uploads.overlay(conv, client.agent) : conv;
    },

    /** Resolves when the queue has nothing in progress (tests). */
    idle(): Promise<void> {
      return currentServices()?.client.uploads?.idle() ?? Promise.resolve();
    },
  },
});

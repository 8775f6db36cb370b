import { defineStore } from 'pinia';
import { markRaw } from 'vue';
import { TransportError, Uuidv7Generator, type Conversation, type Intent, type Message } from '@goutong/core';
import { UploadQueue, type PickedFile, type QueuedAction } from '../attachments/uploadQueue';
import { memoryVault, type FileVault } from '../attachments/vault';
import { cacheBlob, clearBlobCache } from '../attachments/blobCache';
import { currentServices } from '../platform/services';

let queue: UploadQueue | null = null;
let vault: FileVault | null = null;
let unsubs: Array<() => void> = [];
const listeners = new Set<() => void>();

/** Calls `fn` when the upload queue changes (a file uploaded, an entry handed to the outbox). */
export function onUploadsChange(fn: () => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** The vault of the signed-in account (files waiting to upload), for local thumbnails. */
export function currentVault(): FileVault | null {
  return vault;
}

const bytes = (n: number) => crypto.getRandomValues(new Uint8Array(n));

/**
 * Replies with attachments waiting for their upload, and the actions queued behind them (see
 * attachments/uploadQueue.ts). Every conversation action goes through `submit`, which hands it
 * straight to core's outbox unless it has to wait its turn here.
 */
export const useUploadsStore = defineStore('uploads', {
  state: () => ({ entries: [] as QueuedAction[] }),
  getters: {
    pending: (s) => s.entries.filter((e) => e.state !== 'failed').length,
    failed: (s) => s.entries.filter((e) => e.state === 'failed').length,
  },
  actions: {
    async bind(): Promise<void> {
      this.unbind();
      const s = currentServices();
      if (!s) return;
      const { client } = s;
      vault = s.files ?? memoryVault();
      const ids = new Uuidv7Generator(Date.now, bytes);
      const online = () => {
        const st = client.connectivity.value.status;
        return st === 'online' || st === 'syncing';
      };
      const q = new UploadQueue({
        vault,
        upload: (f) => (s.api ? s.api.uploadAttachment(f.blob, f.name, f.mime) : Promise.reject(new TransportError('network', 'no server connection'))),
        dispatch: (intent) => client.dispatch(intent),
        enqueue: (command) => client.outbox.enqueue(command),
        isOnline: online,
        now: () => Date.now(),
        newId: () => ids.next(),
        setTimer: (fn, ms) => setTimeout(fn, ms),
        clearTimer: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
        onUploaded: (a, file) => void cacheBlob(a.id, file.blob),
        onChange: () => {
          if (queue !== q) return;
          this.entries = q.list().map((e) => markRaw(e));
          for (const l of [...listeners]) l();
        },
        log: (msg, fields) => console.warn(`[goutong] ${msg}`, fields ?? ''),
      });
      queue = q;
      await q.load();
      if (queue !== q) return;
      this.entries = q.list().map((e) => markRaw(e));
      let wasOnline = online();
      unsubs.push(
        client.connectivity.subscribe(() => {
          const now = online();
          if (now && !wasOnline) q.kick();
          wasOnline = now;
        }),
      );
      q.kick();
    },

    unbind(): void {
      for (const u of unsubs) u();
      unsubs = [];
      queue?.stop();
      queue = null;
      vault = null;
      this.entries = [];
      clearBlobCache();
    },

    /** Every conversation action: to the outbox, or queued behind an upload. */
    async submit(intent: Intent, files: readonly PickedFile[] = []): Promise<{ id: string; queued: boolean }> {
      if (queue) return queue.submit(intent, files);
      const s = currentServices();
      if (!s) throw new Error('not signed in');
      if (files.length > 0) throw new Error('the upload queue is not running');
      return { id: await s.client.dispatch(intent), queued: false };
    },

    async retry(id: string): Promise<void> {
      await queue?.retry(id);
    },

    async discard(id: string): Promise<void> {
      await queue?.discard(id);
    },

    has(id: string): boolean {
      return this.entries.some((e) => e.id === id);
    },

    pendingMessages(conversationId: string): Message[] {
      const s = currentServices();
      if (!queue || !s) return [];
      return queue.pendingMessages(conversationId, s.client.agent);
    },

    overlay(conv: Conversation): Conversation {
      const s = currentServices();
      if (!queue || !s) return conv;
      return queue.overlay(conv, s.client.agent);
    },

    /** Resolves when the queue has nothing in progress (tests). */
    idle(): Promise<void> {
      return queue?.idle() ?? Promise.resolve();
    },
  },
});

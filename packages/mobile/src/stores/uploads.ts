import { defineStore } from 'pinia';
import type { Conversation, Intent, QueuedUpload } from '@goutong/core';
import type { AppServices, LocalFile } from '../app/services';
import { currentServices, useDevice } from '../app/services';
import { noteOwnAction } from './notices';

let unsubscribe: (() => void) | null = null;
const listeners = new Set<() => void>();

/** Calls `fn` when the upload queue changes (a file uploaded, an entry handed to the outbox). */
export function onUploadsChange(fn: () => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** The conversation an action is on (a call logged by number has none yet). */
export function conversationOf(intent: Intent): string | null {
  const id = (intent as { conversationId?: unknown }).conversationId;
  return typeof id === 'string' ? id : null;
}

/**
 * Replies with photos waiting for their upload, and the actions queued behind them: core's upload
 * queue (client.uploads, with the app's vault and upload from attachments/uploads.ts). Every
 * conversation action of the app goes through `submit`, which sends it straight to core's outbox
 * unless it has to wait its turn there. The client counts the entries in `connectivity` and shows
 * the waiting replies in `messages()`.
 */
export const useUploadsStore = defineStore('uploads', {
  state: () => ({ entries: [] as QueuedUpload[] }),
  getters: {
    count: (s) => s.entries.length,
    failed: (s) => s.entries.filter((e) => e.state === 'failed').length,
  },
  actions: {
    /** Follows the queue of a signed-in app (session.start calls it). */
    async bind(services: AppServices): Promise<void> {
      this.unbind();
      const q = services.client.uploads;
      if (!q) return;
      await q.load();
      this.entries = q.list();
      unsubscribe = q.changed.on(() => {
        this.entries = q.list();
        for (const l of [...listeners]) l();
      });
    },

    unbind(): void {
      unsubscribe?.();
      unsubscribe = null;
      this.entries = [];
    },

    /** Every conversation action of the app: to the outbox, or queued behind an upload. */
    async submit(intent: Intent, files: readonly LocalFile[] = []): Promise<{ id: string; queued: boolean }> {
      const conversationId = conversationOf(intent);
      if (conversationId) noteOwnAction(conversationId, useDevice().now());
      const services = currentServices();
      if (!services) throw new Error('not signed in');
      return services.client.submit(intent, files);
    },

    async retry(id: string): Promise<void> {
      await currentServices()?.client.uploads?.retry(id);
    },

    async discard(id: string): Promise<void> {
      await currentServices()?.client.uploads?.discard(id);
    },

    overlay(conv: Conversation): Conversation {
      const client = currentServices()?.client;
      return client?.uploads ? client.uploads.overlay(conv, client.agent) : conv;
    },

    /** Waits for the queue's current run (tests). */
    async idle(): Promise<void> {
      await currentServices()?.client.uploads?.idle();
    },
  },
});

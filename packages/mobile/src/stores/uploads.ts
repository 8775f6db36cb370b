import { defineStore } from 'pinia';
import type { Conversation, Intent, Message } from '@goutong/core';
import { AttachmentQueue, conversationOf, type QueuedCommand } from '../attachments/queue';
import type { AppServices, LocalFile } from '../app/services';
import { currentServices, useDevice } from '../app/services';
import { noteOwnAction } from './notices';

let queue: AttachmentQueue | null = null;
let unsubscribeNetwork: (() => void) | null = null;
const listeners = new Set<() => void>();

/** Calls `fn` when the upload queue changes (a file uploaded, an entry handed to the outbox). */
export function onUploadsChange(fn: () => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/**
 * Replies with photos waiting for their upload, and the actions queued behind them (see
 * attachments/queue.ts). Every conversation action of the app goes through `submit`, which sends
 * it straight to core's outbox unless it has to wait its turn here.
 */
export const useUploadsStore = defineStore('uploads', {
  state: () => ({ entries: [] as QueuedCommand[] }),
  getters: {
    count: (s) => s.entries.length,
    failed: (s) => s.entries.filter((e) => e.state === 'failed').length,
  },
  actions: {
    /** Starts the queue for a signed-in app (session.start calls it). */
    async bind(services: AppServices): Promise<void> {
      this.unbind();
      const { client } = services;
      const q = new AttachmentQueue({
        meta: { get: (k) => services.store.getMeta(k), set: (k, v) => services.store.setMeta(k, v) },
        files: services.files,
        upload: (f) => services.api.uploadAttachment(f),
        dispatch: (intent) => client.dispatch(intent),
        enqueue: (command) => client.outbox.enqueue(command),
        isOnline: () => services.network.isOnline(),
        now: () => useDevice().now(),
        newId: () => services.newId(),
        setTimer: (fn, ms) => setTimeout(fn, ms),
        clearTimer: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
        onChange: () => {
          this.entries = q.list();
          for (const l of [...listeners]) l();
        },
        log: (msg, fields) => console.warn(`[goutong] ${msg}`, fields ?? ''),
      });
      queue = q;
      await q.load();
      this.entries = q.list();
      unsubscribeNetwork = services.network.subscribe((online) => {
        if (online) q.kick();
      });
      q.kick();
    },

    unbind(): void {
      unsubscribeNetwork?.();
      unsubscribeNetwork = null;
      queue?.stop();
      queue = null;
      this.entries = [];
    },

    /** Every conversation action of the app: to the outbox, or queued behind an upload. */
    async submit(intent: Intent, files: readonly LocalFile[] = []): Promise<{ id: string; queued: boolean }> {
      const conversationId = conversationOf(intent);
      if (conversationId) noteOwnAction(conversationId, useDevice().now());
      if (queue) return queue.submit(intent, files);
      const services = currentServices();
      if (!services) throw new Error('not signed in');
      if (files.length > 0) throw new Error('the upload queue is not running');
      return { id: await services.client.dispatch(intent), queued: false };
    },

    async retry(id: string): Promise<void> {
      await queue?.retry(id);
    },

    async discard(id: string): Promise<void> {
      await queue?.discard(id);
    },

    pendingMessages(conversationId: string): Message[] {
      const agent = currentServices()?.client.agent;
      return queue && agent ? queue.pendingMessages(conversationId, agent) : [];
    },

    overlay(conv: Conversation): Conversation {
      const agent = currentServices()?.client.agent;
      return queue && agent ? queue.overlay(conv, agent) : conv;
    },

    /** Waits for the queue's current run (tests). */
    async idle(): Promise<void> {
      await queue?.idle();
    },
  },
});

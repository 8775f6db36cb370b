import { defineStore } from 'pinia';
import type { CollabHandle, Conversation, ConversationStatus, DraftKind, Message, Priority } from '@goutong/core';
import { currentServices, requireServices } from '../app/services';
import { onClientChange } from './changes';
import { useInboxStore } from './inbox';
import { useSessionStore } from './session';

const PAGE = 30;

/** The Y.Text methods the composer uses (core's CollabHandle.draft returns a Y.Text). */
interface DraftText {
  toString(): string;
  insert(index: number, text: string): void;
  delete(index: number, length: number): void;
  observe(fn: () => void): void;
  unobserve(fn: () => void): void;
}

let unbind: (() => void) | null = null;
let handle: CollabHandle | null = null;
let draftObserver: { text: DraftText; fn: () => void } | null = null;

/** Applies `next` to a shared text as one replace of the changed middle (keeps others' edits around it). */
export function applyTextChange(text: DraftText, next: string): void {
  const prev = text.toString();
  if (prev === next) return;
  let start = 0;
  while (start < prev.length && start < next.length && prev[start] === next[start]) start++;
  let endPrev = prev.length;
  let endNext = next.length;
  while (endPrev > start && endNext > start && prev[endPrev - 1] === next[endNext - 1]) {
    endPrev--;
    endNext--;
  }
  if (endPrev > start) text.delete(start, endPrev - start);
  if (endNext > start) text.insert(start, next.slice(start, endNext));
}

/**
 * What the timeline shows under a message:
 *  - local: only on this device, in the outbox (offline, or not acknowledged yet);
 *  - relaying: the server has it and is handing it to the provider;
 *  - sent: accepted or delivered (and every inbound message, note or event);
 *  - failed: the server rejected the command, or the provider failed (with the reason).
 */
export type MessageState = 'local' | 'relaying' | 'sent' | 'failed';

export function messageState(m: Message, localIds: readonly string[] = []): MessageState {
  if ((m.meta as { failed?: unknown }).failed === true || m.status === 'failed') return 'failed';
  if (localIds.includes(m.id)) return 'local';
  if (m.status === 'queued' || m.status === 'sending') return 'relaying';
  return 'sent';
}

/** One open conversation: paged history, the composer (shared Yjs draft) and the actions. */
export const useConversationStore = defineStore('conversation', {
  state: () => ({
    id: null as string | null,
    conversation: null as Conversation | null,
    /** Newest first, as the client returns them. */
    messages: [] as Message[],
    hasOlder: false,
    /** Server cursor for history older than what the device has; null when unknown or exhausted. */
    serverCursor: null as string | null,
    serverExhausted: false,
    loading: false,
    loadingOlder: false,
    mode: 'reply' as DraftKind,
    text: '',
    sending: false,
    error: null as string | null,
    /** Ids of messages that exist only in this device's outbox. */
    localIds: [] as string[],
  }),
  getters: {
    /** Oldest first, for display. */
    timeline: (s): Message[] => [...s.messages].reverse(),
    stateOf: (s) => (m: Message): MessageState => messageState(m, s.localIds),
  },
  actions: {
    async open(id: string): Promise<void> {
      this.close();
      const { client } = requireServices();
      this.id = id;
      this.loading = true;
      this.error = null;
      this.serverCursor = null;
      this.serverExhausted = false;
      try {
        this.conversation = await client.conversation(id);
        await this.reloadMessages();
        if (this.messages.length < PAGE && useSessionStore().online) {
          await this.fetchFromServer();
          await this.reloadMessages();
        }
        if (this.conversation) await useInboxStore().markRead(this.conversation);
      } finally {
        this.loading = false;
      }
      handle = client.openConversationDoc(id);
      await handle.ready;
      // What the agent typed while the draft was loading is kept (it goes into the shared draft).
      this.attachDraft(true);
      unbind = onClientChange((change) => {
        if (!this.id) return;
        if (change.conversationIds?.includes(this.id) || change.outbox || change.reset) void this.refreshConversation();
        if (change.messageConversationIds?.includes(this.id) || change.outbox) void this.reloadMessages();
      });
    },

    close(): void {
      unbind?.();
      unbind = null;
      if (draftObserver) draftObserver.text.unobserve(draftObserver.fn);
      draftObserver = null;
      handle?.release();
      handle = null;
      this.$reset();
    },

    async refreshConversation(): Promise<void> {
      if (!this.id) return;
      this.conversation = await requireServices().client.conversation(this.id);
    },

    /** Re-reads what is shown (same depth), with pending and failed commands merged in. */
    async reloadMessages(): Promise<void> {
      if (!this.id) return;
      const limit = Math.max(PAGE, this.messages.length);
      const { client } = requireServices();
      const rows = await client.messages(this.id, { limit });
      this.localIds = client.outboxEntries().filter((e) => e.state === 'pending' || e.state === 'inflight').map((e) => e.id);
      this.messages = rows;
      this.hasOlder = rows.length >= limit || !this.serverExhausted;
    },

    /** Loads a page of history from the server into the device (online only). */
    async fetchFromServer(): Promise<void> {
      if (!this.id || this.serverExhausted) return;
      try {
        const { nextCursor } = await requireServices().client.loadMessagesFromServer(this.id, this.serverCursor, PAGE);
        this.serverCursor = nextCursor;
        this.serverExhausted = nextCursor === null;
      } catch (e) {
        // Offline or server trouble: what the device has stays on screen.
        this.error = e instanceof Error ? e.message : String(e);
      }
    },

    /** The next page back in time: from the device first, then from the server when online. */
    async loadOlder(): Promise<void> {
      if (!this.id || this.loadingOlder) return;
      this.loadingOlder = true;
      try {
        const { client } = requireServices();
        const readOlder = async () => {
          const oldest = this.messages[this.messages.length - 1];
          return oldest ? client.messages(this.id!, { before: { createdAt: oldest.createdAt, id: oldest.id }, limit: PAGE }) : client.messages(this.id!, { limit: PAGE });
        };
        let older = await readOlder();
        if (older.length < PAGE && useSessionStore().online && !this.serverExhausted) {
          await this.fetchFromServer();
          older = await readOlder();
        }
        const known = new Set(this.messages.map((m) => m.id));
        this.messages = [...this.messages, ...older.filter((m) => !known.has(m.id))];
        this.hasOlder = older.length >= PAGE || (useSessionStore().online && !this.serverExhausted);
      } finally {
        this.loadingOlder = false;
      }
    },

    /** Binds the composer to the shared draft of the current mode; `keepTyped` keeps text typed before it loaded. */
    attachDraft(keepTyped = false): void {
      if (draftObserver) draftObserver.text.unobserve(draftObserver.fn);
      draftObserver = null;
      if (!handle) return;
      const text = handle.draft(this.mode) as unknown as DraftText;
      const fn = () => {
        this.text = text.toString();
      };
      text.observe(fn);
      draftObserver = { text, fn };
      const typed = this.text;
      if (keepTyped && typed && !text.toString()) applyTextChange(text, typed);
      this.text = text.toString();
    },

    setMode(mode: DraftKind): void {
      this.mode = mode;
      this.attachDraft();
    },

    /** The composer changed: the draft is shared with the agent's other devices (Yjs). */
    setText(next: string): void {
      this.text = next;
      if (draftObserver) applyTextChange(draftObserver.text, next);
      handle?.setTyping(next.trim() ? this.mode : null);
    },

    async send(): Promise<boolean> {
      const text = this.text.trim();
      if (!this.id || !text || this.sending) return false;
      this.sending = true;
      this.error = null;
      try {
        const { client } = requireServices();
        if (this.mode === 'reply') await client.dispatch({ type: 'send_reply', conversationId: this.id, text });
        else await client.dispatch({ type: 'add_note', conversationId: this.id, text });
        this.setText('');
        handle?.setTyping(null);
        await this.reloadMessages();
        await this.refreshConversation();
        return true;
      } catch (e) {
        this.error = e instanceof Error ? e.message : String(e);
        return false;
      } finally {
        this.sending = false;
      }
    },

    async setStatus(status: ConversationStatus): Promise<void> {
      if (!this.id) return;
      await requireServices().client.dispatch({ type: 'set_status', conversationId: this.id, status });
      await this.refreshConversation();
    },

    async setPriority(priority: Priority): Promise<void> {
      if (!this.id) return;
      await requireServices().client.dispatch({ type: 'set_priority', conversationId: this.id, priority });
      await this.refreshConversation();
    },

    async assignToMe(): Promise<void> {
      const me = useSessionStore().agentId;
      if (!this.id || !me) return;
      await requireServices().client.dispatch({ type: 'assign', conversationId: this.id, assigneeId: me });
      await this.refreshConversation();
    },

    async retry(commandId: string): Promise<void> {
      await currentServices()?.client.retry(commandId);
    },
  },
});

import { defineStore } from 'pinia';
import type { CollabHandle, Contact, Conversation, ConversationStatus, DraftKind, Intent, Message, Priority } from '@goutong/core';
import { currentServices, requireServices, useDevice, type LocalFile } from '../app/services';
import { cannedTrigger, insertCanned, matchCanned, renderCanned, useCannedStore, type CannedItem } from './canned';
import { onClientChange } from './changes';
import { useInboxStore } from './inbox';
import { useSessionStore } from './session';
import { onUploadsChange, useUploadsStore } from './uploads';

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
let unbindUploads: (() => void) | null = null;
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
  const meta = m.meta as { failed?: unknown; queued?: unknown; queueState?: unknown };
  if (meta.failed === true || m.status === 'failed' || meta.queueState === 'failed') return 'failed';
  if (meta.queued === true || localIds.includes(m.id)) return 'local';
  if (m.status === 'queued' || m.status === 'sending') return 'relaying';
  return 'sent';
}

/** Files of a queued reply as the timeline shows them (meta.files of a pending message). */
export interface QueuedFileView {
  ref: string;
  name: string;
  mime: string;
  size: number;
  uploaded: boolean;
}

export function queuedFiles(m: Message): QueuedFileView[] | null {
  const files = (m.meta as { files?: unknown }).files;
  return Array.isArray(files) ? (files as QueuedFileView[]) : null;
}

/** The reason a message failed: the provider's, or the upload queue's. */
export function failureReason(m: Message): string {
  return m.statusReason ?? String((m.meta as { queueError?: unknown }).queueError ?? '');
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
    /** Photos picked for the next reply (kept on the device already). */
    attachments: [] as LocalFile[],
    /** The contact, for canned responses' variables. */
    contact: null as Contact | null,
  }),
  getters: {
    /** Oldest first, for display. */
    timeline: (s): Message[] => [...s.messages].reverse(),
    stateOf: (s) => (m: Message): MessageState => messageState(m, s.localIds),
    /** What follows `/` at the end of the composer, when the canned picker is open. */
    cannedQuery: (s): string | null => cannedTrigger(s.text),
    cannedMatches(): CannedItem[] {
      const q = this.cannedQuery;
      return q === null ? [] : matchCanned(useCannedStore().items, q);
    },
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
        await this.refreshConversation();
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
      unbindUploads = onUploadsChange(() => {
        if (!this.id) return;
        void this.refreshConversation();
        void this.reloadMessages();
      });
    },

    close(): void {
      unbind?.();
      unbind = null;
      unbindUploads?.();
      unbindUploads = null;
      // Photos picked but never sent leave the device with the conversation.
      const files = currentServices()?.files;
      for (const f of this.attachments) void files?.remove(f.ref).catch(() => undefined);
      if (draftObserver) draftObserver.text.unobserve(draftObserver.fn);
      draftObserver = null;
      handle?.release();
      handle = null;
      this.$reset();
    },

    /** The conversation as the device knows it, with the actions still waiting for uploads applied. */
    async refreshConversation(): Promise<void> {
      if (!this.id) return;
      const c = await requireServices().client.conversation(this.id);
      this.conversation = c ? useUploadsStore().overlay(c) : null;
    },

    /** Re-reads what is shown (same depth), with pending and failed commands merged in. */
    async reloadMessages(): Promise<void> {
      if (!this.id) return;
      const limit = Math.max(PAGE, this.messages.length);
      const { client } = requireServices();
      const rows = await client.messages(this.id, { limit });
      this.localIds = client.outboxEntries().filter((e) => e.state === 'pending' || e.state === 'inflight').map((e) => e.id);
      // Replies waiting for their uploads come with them (meta.queued, core's upload queue).
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
      const files = this.mode === 'reply' ? [...this.attachments] : [];
      if (!this.id || (!text && files.length === 0) || this.sending) return false;
      this.sending = true;
      this.error = null;
      try {
        const intent: Intent = this.mode === 'reply' ? { type: 'send_reply', conversationId: this.id, text } : { type: 'add_note', conversationId: this.id, text };
        await useUploadsStore().submit(intent, files);
        this.attachments = [];
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

    /** Camera or gallery: the picked files are kept on the device until the reply is uploaded. */
    async pickMedia(source: 'camera' | 'album'): Promise<void> {
      try {
        const picked = await useDevice().chooseMedia(source);
        const { files } = requireServices();
        for (const p of picked) this.attachments.push(await files.keep(p));
      } catch (e) {
        this.error = e instanceof Error ? e.message : String(e);
      }
    },

    async removeAttachment(ref: string): Promise<void> {
      this.attachments = this.attachments.filter((f) => f.ref !== ref);
      await currentServices()?.files.remove(ref).catch(() => undefined);
    },

    /** Replaces the typed `/code` with the canned response, its variables filled in. */
    async applyCanned(item: CannedItem): Promise<void> {
      const c = this.conversation;
      if (c && !this.contact) this.contact = await requireServices().client.contact(c.contactId).catch(() => null);
      const agent = useSessionStore().agent;
      const rendered = renderCanned(item.body, {
        contact: this.contact ? { name: this.contact.name, attributes: this.contact.attributes } : c ? { name: c.contactName } : null,
        agent: agent ? { name: agent.name, email: agent.email } : null,
        conversation: c ? { id: c.id, subject: c.subject } : null,
        inbox: null,
      });
      this.setText(insertCanned(this.text, rendered));
    },

    /** An action on the conversation: to the outbox, or behind a reply still uploading. */
    async act(intent: Intent): Promise<void> {
      if (!this.id) return;
      try {
        await useUploadsStore().submit(intent);
      } catch (e) {
        this.error = e instanceof Error ? e.message : String(e);
      }
      await this.refreshConversation();
    },

    async setStatus(status: ConversationStatus): Promise<void> {
      if (this.id) await this.act({ type: 'set_status', conversationId: this.id, status });
    },

    /** Snoozes until a chosen time; the server wakes the conversation then (its lifecycle timer). */
    async snoozeUntil(until: number): Promise<void> {
      if (this.id) await this.act({ type: 'set_status', conversationId: this.id, status: 'snoozed', snoozedUntil: until });
    },

    async setPriority(priority: Priority): Promise<void> {
      if (this.id) await this.act({ type: 'set_priority', conversationId: this.id, priority });
    },

    async assignToMe(): Promise<void> {
      const me = useSessionStore().agentId;
      if (this.id && me) await this.act({ type: 'assign', conversationId: this.id, assigneeId: me });
    },

    async retry(commandId: string): Promise<void> {
      await currentServices()?.client.retry(commandId);
    },
  },
});

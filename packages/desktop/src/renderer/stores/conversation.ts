import { defineStore } from 'pinia';
import { markRaw } from 'vue';
import type { CollabHandle, Contact, Conversation, ConversationStatus, DraftKind, Intent, Message, Presence, Priority } from '@goutong/core';
import { currentServices, onClientChange, requireServices } from '../platform/services';
import { useInboxStore } from './inbox';
import { onUploadsChange, useUploadsStore } from './uploads';
import type { PickedFile } from '../attachments/uploads';

const PAGE = 30;

let handle: CollabHandle | null = null;
let unbindPresence: (() => void) | null = null;
let unbind: (() => void) | null = null;
let unbindUploads: (() => void) | null = null;

/** The open conversation: summary, timeline (paged backwards), contact, presence and drafts. */
export const useConversationStore = defineStore('conversation', {
  state: () => ({
    id: null as string | null,
    conversation: null as Conversation | null,
    /** Oldest first, for display. */
    messages: [] as Message[],
    contact: null as Contact | null,
    previous: [] as Conversation[],
    limit: PAGE,
    /** Server cursor of the next older page; undefined when not asked yet, null at the beginning. */
    serverCursor: undefined as string | null | undefined,
    hasOlder: false,
    loadingOlder: false,
    presence: [] as Presence[],
    error: null as string | null,
    /** [search] The message a search result opened the conversation at (scrolled to and highlighted). */
    focusMessageId: null as string | null,
  }),
  getters: {
    typingOthers: (s) => s.presence.filter((p) => p.typing),
    /** Other agents (not my other devices) typing a reply: collision warning. */
    replyCollision(s): Presence[] {
      const me = currentServices()?.client.agent.id;
      return s.presence.filter((p) => p.typing === 'reply' && p.agentId !== me);
    },
  },
  actions: {
    bind(): void {
      unbind?.();
      unbind = onClientChange((c) => {
        const id = this.id;
        if (!id) return;
        if (c.reset || c.outbox || c.conversationIds?.includes(id) || c.messageConversationIds?.includes(id)) void this.reload();
        if (c.contactIds?.includes(this.conversation?.contactId ?? '')) void this.loadContact();
      });
      unbindUploads?.();
      unbindUploads = onUploadsChange(() => void this.reload());
    },

    unbind(): void {
      unbind?.();
      unbind = null;
      unbindUploads?.();
      unbindUploads = null;
      this.close();
    },

    close(): void {
      unbindPresence?.();
      unbindPresence = null;
      handle?.setTyping(null);
      handle?.release();
      handle = null;
      this.id = null;
      this.conversation = null;
      this.messages = [];
      this.contact = null;
      this.presence = [];
    },

    async open(id: string): Promise<void> {
      if (this.id === id) return;
      this.close();
      const s = requireServices();
      this.id = id;
      this.limit = PAGE;
      this.serverCursor = undefined;
      this.error = null;
      handle = s.client.openConversationDoc(id);
      unbindPresence = handle.onPresence((p) => (this.presence = p));
      this.presence = handle.presence();
      await this.reload();
      await this.loadContact();
      if (this.conversation) void useInboxStore().markRead(this.conversation);
      // The newest page from the server (history not cached on this device); offline this fails quietly.
      if (s.client.connectivity.value.status !== 'offline') {
        try {
          const { nextCursor } = await s.client.loadMessagesFromServer(id, null, PAGE);
          if (this.id === id) {
            this.serverCursor = nextCursor;
            await this.reload();
          }
        } catch {
          /* offline or not reachable: the cache is what we have */
        }
      }
    },

    /** [search] Opens a conversation at a message: older pages load until it is in the timeline. */
    async openAt(id: string, messageId: string | null): Promise<void> {
      this.focusMessageId = null;
      await this.open(id);
      if (!messageId || this.id !== id) return;
      for (let i = 0; i < 40 && this.id === id && !this.messages.some((m) => m.id === messageId) && this.hasOlder; i++) await this.loadOlder();
      if (this.id === id) this.focusMessageId = messageId;
    },

    async reload(): Promise<void> {
      const id = this.id;
      if (!id) return;
      const s = requireServices();
      const [conv, fromClient] = await Promise.all([s.client.conversation(id), s.client.messages(id, { limit: this.limit })]);
      if (this.id !== id) return;
      // Replies waiting for their attachments' upload come with the client's messages (meta.upload);
      // the actions queued behind them are applied on top of the conversation.
      const msgs = fromClient;
      this.conversation = conv ? markRaw(useUploadsStore().overlay(conv)) : null;
      const list = msgs.slice().reverse();
      this.messages = list.map((m) => markRaw(m));
      const stored = msgs.filter((m) => !(m.meta as { pending?: boolean }).pending).length;
      this.hasOlder = stored >= this.limit || (this.serverCursor !== null && (conv?.messageCount ?? 0) > stored);
    },

    async loadContact(): Promise<void> {
      const s = requireServices();
      const c = this.conversation;
      if (!c) return;
      this.contact = await s.client.contact(c.contactId);
      const prev = await s.client.queryConversations({ sort: 'lastActivity', limit: 200, text: c.contactName });
      this.previous = prev.filter((p) => p.contactId === c.contactId && p.id !== c.id).slice(0, 10);
    },

    /** Shows older messages: from the device first, then a page from the server. */
    async loadOlder(): Promise<void> {
      const id = this.id;
      if (!id || this.loadingOlder) return;
      this.loadingOlder = true;
      try {
        const s = requireServices();
        this.limit += PAGE;
        const msgs = await s.client.messages(id, { limit: this.limit });
        const stored = msgs.filter((m) => !(m.meta as { pending?: boolean }).pending).length;
        if (stored < this.limit && this.serverCursor !== null) {
          try {
            const oldest = msgs[msgs.length - 1];
            // Without a cursor yet, ask from the start; the store drops duplicates by id.
            const { nextCursor } = await s.client.loadMessagesFromServer(id, this.serverCursor ?? null, PAGE + (this.serverCursor === undefined ? stored : 0));
            this.serverCursor = nextCursor;
            void oldest;
          } catch {
            /* offline */
          }
        }
        await this.reload();
      } finally {
        this.loadingOlder = false;
      }
    },

    draft(kind: DraftKind) {
      return handle?.draft(kind) ?? null;
    },

    draftReady(): Promise<void> {
      return handle?.ready ?? Promise.resolve();
    },

    setTyping(kind: DraftKind | null): void {
      handle?.setTyping(kind);
    },

    /** To core's outbox, or behind a reply of this conversation still waiting for its upload. */
    async dispatch(intent: Intent, files: readonly PickedFile[] = []): Promise<string> {
      const { id } = await useUploadsStore().submit(intent, files);
      await this.reload();
      return id;
    },

    async send(kind: DraftKind, text: string, files: readonly PickedFile[] = []): Promise<void> {
      const conversationId = this.id;
      if (!conversationId || (!text.trim() && (kind !== 'reply' || files.length === 0))) return;
      if (kind === 'reply') await this.dispatch({ type: 'send_reply', conversationId, text }, files);
      else await this.dispatch({ type: 'add_note', conversationId, text });
    },

    setStatus(status: ConversationStatus, snoozedUntil?: number) {
      if (!this.id) return;
      return this.dispatch({ type: 'set_status', conversationId: this.id, status, ...(snoozedUntil !== undefined ? { snoozedUntil } : {}) });
    },
    assign(assigneeId: string | null) {
      if (!this.id) return;
      return this.dispatch({ type: 'assign', conversationId: this.id, assigneeId });
    },
    assignTeam(teamId: string | null) {
      if (!this.id || !this.conversation) return;
      return this.dispatch({ type: 'assign', conversationId: this.id, assigneeId: this.conversation.assigneeId, teamId });
    },
    setPriority(priority: Priority) {
      if (!this.id) return;
      return this.dispatch({ type: 'set_priority', conversationId: this.id, priority });
    },
    addLabel(label: string) {
      if (!this.id || !label.trim()) return;
      return this.dispatch({ type: 'add_label', conversationId: this.id, label: label.trim() });
    },
    removeLabel(label: string) {
      if (!this.id) return;
      return this.dispatch({ type: 'remove_label', conversationId: this.id, label });
    },
  },
});

import { defineStore } from 'pinia';
import { markRaw } from 'vue';
import { ConversationView, type CollabHandle, type Contact, type Conversation, type ConversationStatus, type DeliveryView, type DraftKind, type Intent, type Message, type Presence, type Priority } from '@goutong/core';
import { browserClock, currentServices, onClientChange, requireServices } from '../platform/services';
import { useInboxStore } from './inbox';
import { onUploadsChange, useUploadsStore } from './uploads';
import { readStateFor } from './readMarks';
import { useDeliveryStore } from './delivery';
import type { PickedFile } from '../attachments/uploads';

const PAGE = 30;

let handle: CollabHandle | null = null;
let unbindPresence: (() => void) | null = null;
let unbind: (() => void) | null = null;
let unbindUploads: (() => void) | null = null;
/** Core's view of the open conversation (history, server pages, delivery states). */
let view: ConversationView | null = null;
let offView: (() => void) | null = null;

/** The open conversation: a thin adapter over core's ConversationView, plus contact, presence and drafts. */
export const useConversationStore = defineStore('conversation', {
  state: () => ({
    id: null as string | null,
    conversation: null as Conversation | null,
    /** Oldest first, for display. */
    messages: [] as Message[],
    /** The delivery of each outbound reply (core deliveryOf), by message id. */
    deliveries: {} as Readonly<Record<string, DeliveryView>>,
    contact: null as Contact | null,
    previous: [] as Conversation[],
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
      offView?.();
      offView = null;
      view?.close();
      view = null;
      this.id = null;
      this.conversation = null;
      this.messages = [];
      this.deliveries = {};
      this.contact = null;
      this.presence = [];
    },

    async open(id: string): Promise<void> {
      if (this.id === id) return;
      this.close();
      const s = requireServices();
      this.id = id;
      this.error = null;
      useInboxStore().select(-1, id);
      useDeliveryStore().watch(id);
      handle = s.client.openConversationDoc(id);
      unbindPresence = handle.onPresence((p) => (this.presence = p));
      this.presence = handle.presence();
      const rs = readStateFor(s.store);
      await rs.loaded;
      const v = new ConversationView({
        client: s.client,
        readState: rs.state,
        now: () => browserClock.now(),
        pageSize: PAGE,
        // The actions queued behind a reply waiting for its upload are applied on top of the conversation.
        overlay: (c) => useUploadsStore().overlay(c),
      });
      view = v;
      let contactOf: string | null = null;
      offView = v.state.subscribe((snap) => {
        if (view !== v) return;
        this.conversation = snap.conversation ? markRaw(snap.conversation) : null;
        this.messages = snap.messages.map((m) => markRaw(m));
        this.deliveries = markRaw({ ...snap.deliveries });
        this.hasOlder = snap.hasOlder;
        this.loadingOlder = snap.loadingOlder;
        this.error = snap.error;
        if (snap.conversation && snap.conversation.contactId !== contactOf) {
          contactOf = snap.conversation.contactId;
          void this.loadContact();
        }
      });
      await v.open(id);
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
      await view?.reload();
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
      await view?.loadOlder();
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

    /** `offerId`: [offers] the targeted offer the reply uses (counted once the server accepts it). */
    async send(kind: DraftKind, text: string, files: readonly PickedFile[] = [], offerId?: string): Promise<void> {
      const conversationId = this.id;
      if (!conversationId || (!text.trim() && (kind !== 'reply' || files.length === 0))) return;
      if (kind === 'reply') await this.dispatch({ type: 'send_reply', conversationId, text, ...(offerId ? { offerId } : {}) }, files);
      else await this.dispatch({ type: 'add_note', conversationId, text });
    },

    /** [fields] Sets contact attributes (an intent through the outbox; works offline); the panel shows the change at once. */
    /** Sets custom attributes of the open conversation's customer, or of `forContact` (the contacts screen). */
    async updateContactAttributes(attributes: Record<string, string>, forContact?: string): Promise<void> {
      const contactId = forContact ?? this.contact?.id;
      if (!contactId || Object.keys(attributes).length === 0) return;
      await requireServices().client.dispatch({ type: 'update_contact', contactId, attributes });
      if (!forContact || forContact === this.contact?.id) await this.loadContact();
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

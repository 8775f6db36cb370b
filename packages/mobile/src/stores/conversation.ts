import { defineStore } from 'pinia';
import { ConversationView, DraftBinding, type CollabHandle, type Contact, type Conversation, type ConversationStatus, type DeliveryState, type DeliveryView, type DraftKind, type DraftText, type Intent, type Message, type Priority } from '@goutong/core';
import { currentServices, requireServices, useDevice, type LocalFile } from '../app/services';
import { cannedTrigger, insertCanned, matchCanned, renderCanned, useCannedStore, type CannedItem } from './canned';
import { readStateFor } from './readMarks';
import { useSessionStore } from './session';
import { onUploadsChange, useUploadsStore } from './uploads';
import { useOutboxStore } from './outbox';

/** Core's one draft-text rule, re-exported for the tests and the pages. */
export { applyTextChange } from '@goutong/core';

const PAGE = 30;

let unbindUploads: (() => void) | null = null;
let handle: CollabHandle | null = null;
let binding: DraftBinding | null = null;
let offBinding: (() => void) | null = null;
/** Core's view of the open conversation (device history first, then server pages, delivery states). */
let view: ConversationView | null = null;
let offView: (() => void) | null = null;

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

/** One open conversation: a thin adapter over core's ConversationView, the composer (shared Yjs draft) and the actions. */
export const useConversationStore = defineStore('conversation', {
  state: () => ({
    id: null as string | null,
    conversation: null as Conversation | null,
    /** Newest first, as the client returns them. */
    messages: [] as Message[],
    /** The delivery of each outbound reply (core deliveryOf), by message id. */
    deliveries: {} as Readonly<Record<string, DeliveryView>>,
    hasOlder: false,
    loading: false,
    loadingOlder: false,
    mode: 'reply' as DraftKind,
    text: '',
    sending: false,
    error: null as string | null,
    /** Photos picked for the next reply (kept on the device already). */
    attachments: [] as LocalFile[],
    /** [offers] The targeted offer whose text the agent inserted: the next reply carries its id while the text is still in it. */
    offer: null as { conversationId: string; id: string; text: string } | null,
    /** The contact, for canned responses' variables. */
    contact: null as Contact | null,
  }),
  getters: {
    /** Oldest first, for display. */
    timeline: (s): Message[] => [...s.messages].reverse(),
    /** The delivery state of a message (null: inbound, notes, events). */
    stateOf: (s) => (m: Message): DeliveryState | null => s.deliveries[m.id]?.state ?? null,
    deliveryOf: (s) => (m: Message): DeliveryView | null => s.deliveries[m.id] ?? null,
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
      const services = requireServices();
      const { client } = services;
      this.id = id;
      this.loading = true;
      const rs = readStateFor(services.store);
      await rs.loaded;
      const v = new ConversationView({
        client,
        readState: rs.state,
        now: () => useDevice().now(),
        pageSize: PAGE,
        // The actions waiting behind a reply's upload are applied on top of the conversation.
        overlay: (c) => useUploadsStore().overlay(c),
      });
      view = v;
      offView = v.state.subscribe((snap) => {
        if (view !== v) return;
        this.conversation = snap.conversation;
        this.messages = snap.messages.slice().reverse();
        this.deliveries = snap.deliveries;
        this.hasOlder = snap.hasOlder;
        this.loadingOlder = snap.loadingOlder;
      });
      useOutboxStore().watch(id);
      try {
        await v.open(id);
      } finally {
        this.loading = false;
      }
      if (this.id !== id) return;
      handle = client.openConversationDoc(id);
      await handle.ready;
      if (this.id !== id) return;
      // What the agent typed while the draft was loading is kept (it goes into the shared draft).
      this.attachDraft(true);
      unbindUploads = onUploadsChange(() => void view?.reload());
    },

    close(): void {
      unbindUploads?.();
      unbindUploads = null;
      offView?.();
      offView = null;
      view?.close();
      view = null;
      // Photos picked but never sent leave the device with the conversation.
      const files = currentServices()?.files;
      for (const f of this.attachments) void files?.remove(f.ref).catch(() => undefined);
      offBinding?.();
      offBinding = null;
      binding?.dispose();
      binding = null;
      handle?.release();
      handle = null;
      this.$reset();
    },

    /** The conversation and what is shown, read again from the device (same depth). */
    async refreshConversation(): Promise<void> {
      await view?.reload();
    },

    async reloadMessages(): Promise<void> {
      await view?.reload();
    },

    /** The next page back in time: from the device first, then from the server when online. */
    async loadOlder(): Promise<void> {
      await view?.loadOlder();
    },

    /** Binds the composer to the shared draft of the current mode (core's DraftBinding); `keepTyped` keeps text typed before it loaded. */
    attachDraft(keepTyped = false): void {
      offBinding?.();
      offBinding = null;
      binding?.dispose();
      binding = null;
      if (!handle) return;
      const b = new DraftBinding(handle.draft(this.mode) as unknown as DraftText, keepTyped ? this.text : '');
      binding = b;
      offBinding = b.onChange((v) => (this.text = v));
      this.text = b.value;
    },

    setMode(mode: DraftKind): void {
      this.mode = mode;
      this.attachDraft();
    },

    /** The composer changed: the draft is shared with the agent's other devices (Yjs). */
    setText(next: string): void {
      this.text = next;
      binding?.set(next);
      handle?.setTyping(next.trim() ? this.mode : null);
    },

    async send(): Promise<boolean> {
      const text = this.text.trim();
      const files = this.mode === 'reply' ? [...this.attachments] : [];
      if (!this.id || (!text && files.length === 0) || this.sending) return false;
      this.sending = true;
      this.error = null;
      try {
        const o = this.offer;
        const offerId = this.mode === 'reply' && o && o.conversationId === this.id && text.includes(o.text) ? o.id : undefined;
        const intent: Intent = this.mode === 'reply' ? { type: 'send_reply', conversationId: this.id, text, ...(offerId ? { offerId } : {}) } : { type: 'add_note', conversationId: this.id, text };
        await useUploadsStore().submit(intent, files);
        if (intent.type === 'send_reply') this.offer = null;
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

    /** [offers] Puts an offer's text in the composer and remembers the offer for the reply. */
    applyOffer(offerId: string, text: string): void {
      if (!this.id) return;
      this.offer = { conversationId: this.id, id: offerId, text };
      this.setText(this.text.trim() ? `${this.text.trimEnd()}\n${text}` : text);
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

    /** Retry from the bubble: the outbox command again, or (refused by the provider) the same reply as a new message. */
    async retryDelivery(messageId: string): Promise<void> {
      await useOutboxStore().retry(messageId);
      await view?.reload();
    },

    async discardDelivery(messageId: string): Promise<void> {
      await useOutboxStore().discard(messageId);
      await view?.reload();
    },
  },
});

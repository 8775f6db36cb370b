import type { Conversation, Message } from '../../domain/model.js';
import { coalesceChanges, type Schedule } from './changeStream.js';
import { deliveryOf, type DeliveryView } from './delivery.js';
import type { ViewClient } from './ports.js';
import type { ReadState } from './readState.js';
import { ViewState } from './store.js';

export interface ConversationSnapshot {
  id: string | null;
  conversation: Conversation | null;
  /** Oldest first, for display. */
  messages: readonly Message[];
  /** The delivery of each outbound reply, by message id. */
  deliveries: Readonly<Record<string, DeliveryView>>;
  hasOlder: boolean;
  loading: boolean;
  loadingOlder: boolean;
  /** The server could not be asked for history (offline): what the device has is shown. */
  error: string | null;
}

export interface ConversationViewOptions {
  client: ViewClient;
  readState?: ReadState;
  now: () => number;
  /** Messages per page (device and server). */
  pageSize?: number;
  /** The actions waiting behind an upload applied on the summary. */
  overlay?: (c: Conversation) => Conversation;
  schedule?: Schedule;
}

const EMPTY: ConversationSnapshot = { id: null, conversation: null, messages: [], deliveries: {}, hasOlder: false, loading: false, loadingOlder: false, error: null };

/**
 * One open conversation: its history from the device first, then pages from the server (when
 * the device has less), re-read on every change of it, with the delivery of each reply.
 */
export class ConversationView {
  readonly state = new ViewState<ConversationSnapshot>(EMPTY);
  private limit: number;
  /** Server cursor of the next older page; undefined before the first page, null at the beginning. */
  private cursor: string | null | undefined = undefined;
  private off: (() => void) | null = null;
  private readonly pageSize: number;

  constructor(private readonly o: ConversationViewOptions) {
    this.pageSize = o.pageSize ?? 30;
    this.limit = this.pageSize;
  }

  getSnapshot(): ConversationSnapshot {
    return this.state.getSnapshot();
  }

  private online(): boolean {
    return this.o.client.connectivity.value.status !== 'offline';
  }

  async open(id: string): Promise<void> {
    if (this.state.getSnapshot().id === id) return;
    this.close();
    this.limit = this.pageSize;
    this.cursor = undefined;
    this.state.set({ ...EMPTY, id, loading: true });
    this.off = coalesceChanges(this.o.client.changes, (c) => {
      if (c.reset || c.outbox || c.conversationIds?.includes(id) || c.messageConversationIds?.includes(id)) void this.reload();
    }, this.o.schedule);
    try {
      await this.reload();
      const conv = this.state.getSnapshot().conversation;
      if (conv && this.o.readState) void this.o.readState.markRead(conv);
      // The newest page from the server (history not cached on this device); offline, the cache is what there is.
      if (this.online()) await this.fetchPage(id, null, this.pageSize);
    } finally {
      if (this.state.getSnapshot().id === id) this.state.set({ loading: false });
    }
  }

  close(): void {
    this.off?.();
    this.off = null;
    this.state.set(EMPTY);
  }

  /** Re-reads what is shown (same depth) from the device, with the outbox and upload overlays. */
  async reload(): Promise<void> {
    const id = this.state.getSnapshot().id;
    if (!id) return;
    const [conv, newestFirst] = await Promise.all([this.o.client.conversation(id), this.o.client.messages(id, { limit: this.limit })]);
    if (this.state.getSnapshot().id !== id) return;
    const now = this.o.now();
    const entries = new Map(this.o.client.outboxEntries().map((e) => [e.id, e]));
    const deliveries: Record<string, DeliveryView> = {};
    for (const m of newestFirst) {
      const d = deliveryOf(m, { now, entry: entries.get(m.id) ?? null });
      if (d) deliveries[m.id] = d;
    }
    const stored = newestFirst.filter((m) => !(m.meta as { pending?: boolean }).pending).length;
    const conversation = conv ? (this.o.overlay ? this.o.overlay(conv) : conv) : null;
    this.state.set({
      conversation,
      messages: newestFirst.slice().reverse(),
      deliveries,
      hasOlder: stored >= this.limit || (this.cursor !== null && (conv?.messageCount ?? 0) > stored),
    });
    if (conversation && this.o.readState?.isUnread(conversation)) void this.o.readState.markRead(conversation);
  }

  /** Shows older messages: from the device first, then a page from the server. */
  async loadOlder(): Promise<void> {
    const s = this.state.getSnapshot();
    const id = s.id;
    if (!id || s.loadingOlder) return;
    this.state.set({ loadingOlder: true });
    try {
      this.limit += this.pageSize;
      const msgs = await this.o.client.messages(id, { limit: this.limit });
      const stored = msgs.filter((m) => !(m.meta as { pending?: boolean }).pending).length;
      if (stored < this.limit && this.cursor !== null && this.online()) {
        // Without a cursor yet, ask from the newest; the store drops duplicates by id.
        await this.fetchPage(id, this.cursor ?? null, this.pageSize + (this.cursor === undefined ? stored : 0));
      }
      await this.reload();
    } finally {
      if (this.state.getSnapshot().id === id) this.state.set({ loadingOlder: false });
    }
  }

  private async fetchPage(id: string, cursor: string | null, limit: number): Promise<void> {
    try {
      const { nextCursor } = await this.o.client.loadMessagesFromServer(id, cursor, limit);
      if (this.state.getSnapshot().id !== id) return;
      this.cursor = nextCursor;
      this.state.set({ error: null });
      await this.reload();
    } catch (e) {
      if (this.state.getSnapshot().id === id) this.state.set({ error: e instanceof Error ? e.message : String(e) });
    }
  }
}

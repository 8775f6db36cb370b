import type { Conversation } from '../../domain/model.js';
import type { LocalStore } from '../../ports/storage.js';

type ReadRow = Pick<Conversation, 'id' | 'lastMessageAt' | 'lastMessageDirection'>;

/** The rule: a conversation is unread when its last message came from the customer after the agent last read it. */
export function isUnreadAt(c: ReadRow, lastReadAt: number): boolean {
  return c.lastMessageDirection === 'in' && c.lastMessageAt > lastReadAt;
}

/**
 * Where the agent's read marks come from. The default keeps them on this device
 * (`LocalReadState`); a per-agent read fact synced by the server plugs in behind the same port.
 */
export interface ReadState {
  /** Reads what is stored (call once before use). */
  load(): Promise<void>;
  /** Until when the agent has read the conversation (0: never). */
  lastReadAt(conversationId: string): number;
  isUnread(c: ReadRow): boolean;
  /** The agent has seen the conversation up to its last message. */
  markRead(c: Pick<Conversation, 'id' | 'lastMessageAt'>): Promise<void>;
  /** Called after marks change (here or, for a synced source, on another device). */
  subscribe(fn: () => void): () => void;
}

const shared = new WeakMap<object, Map<string, { state: LocalReadState; loaded: Promise<void> }>>();

/** Read marks kept in the device's local store under one meta key (conversation id → lastMessageAt seen). */
export class LocalReadState implements ReadState {
  /** One instance per store and key, loaded once (the list, the badge and the open conversation share it). */
  static shared(store: Pick<LocalStore, 'getMeta' | 'setMeta'>, key: string): { state: ReadState; loaded: Promise<void> } {
    let byKey = shared.get(store);
    if (!byKey) shared.set(store, (byKey = new Map()));
    let entry = byKey.get(key);
    if (!entry) {
      const state = new LocalReadState(store, key);
      entry = { state, loaded: state.load() };
      byKey.set(key, entry);
    }
    return entry;
  }

  private marks: Record<string, number> = {};
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly store: Pick<LocalStore, 'getMeta' | 'setMeta'>,
    private readonly key: string,
  ) {}

  async load(): Promise<void> {
    const raw = await this.store.getMeta<unknown>(this.key);
    const marks: Record<string, number> = {};
    if (raw && typeof raw === 'object') {
      for (const [id, at] of Object.entries(raw as Record<string, unknown>)) if (typeof at === 'number' && Number.isFinite(at)) marks[id] = at;
    }
    this.marks = marks;
    this.emit();
  }

  lastReadAt(conversationId: string): number {
    return this.marks[conversationId] ?? 0;
  }

  isUnread(c: ReadRow): boolean {
    return isUnreadAt(c, this.lastReadAt(c.id));
  }

  async markRead(c: Pick<Conversation, 'id' | 'lastMessageAt'>): Promise<void> {
    if (this.lastReadAt(c.id) >= c.lastMessageAt) return;
    this.marks = { ...this.marks, [c.id]: c.lastMessageAt };
    this.emit();
    await this.store.setMeta(this.key, this.marks);
  }

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit(): void {
    for (const l of [...this.listeners]) l();
  }
}

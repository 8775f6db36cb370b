import type { Conversation } from '../domain/model.js';
import type { LocalStore } from '../ports/storage.js';
import type { ReadMark } from '../protocol/wire.js';
import { Emitter, type Unsubscribe } from '../util/observable.js';
import { isUnreadAt, type ReadState } from './views/readState.js';

// [search-read] The one unread rule and the ReadState port live in views/readState.ts; this is the
// source of that port backed by the per-agent read fact.

/** Meta key of the read marks stored on the device, per agent. */
export const readMarksMetaKey = (agentId: string): string => `readMarks:${agentId}`;

export interface FactReadStateOptions {
  store: LocalStore;
  agentId: string;
  /** Queues the `mark_read` command (the client's outbox: durable, sent when online). */
  dispatch: (intent: { type: 'mark_read'; conversationId: string; upTo: number }) => Promise<unknown>;
}

/**
 * Read state backed by the per-agent `read_mark` fact: marking read is a command (optimistic here at
 * once, durable in the outbox), and the marks other devices of the agent made arrive in pulls
 * (`applyPulled`). Marks only move forward, so applying one twice, or out of order, changes nothing.
 */
export class FactReadState implements ReadState {
  private marks: Record<string, number> = {};
  private readonly changed = new Emitter<string[]>();
  private loaded: Promise<void> | null = null;

  constructor(private readonly o: FactReadStateOptions) {}

  /** Loads the marks stored on the device (call before the first read; idempotent). */
  load(): Promise<void> {
    this.loaded ??= (async () => {
      const stored = (await this.o.store.getMeta<Record<string, number>>(readMarksMetaKey(this.o.agentId))) ?? {};
      const ids = this.merge(Object.entries(stored).map(([conversationId, readUpTo]) => ({ conversationId, readUpTo })));
      if (ids.length) this.changed.emit(ids);
    })();
    return this.loaded;
  }

  readUpTo(conversationId: string): number {
    return this.marks[conversationId] ?? 0;
  }

  /** The port's name for readUpTo. */
  lastReadAt(conversationId: string): number {
    return this.readUpTo(conversationId);
  }

  /** The port's change signal (onChange with the moved ids). */
  subscribe(fn: () => void): () => void {
    return this.onChange(() => fn());
  }

  isUnread(c: Pick<Conversation, 'id' | 'lastMessageDirection' | 'lastMessageAt'>): boolean {
    return isUnreadAt(c, this.readUpTo(c.id));
  }

  async markRead(c: Pick<Conversation, 'id' | 'lastMessageAt'>): Promise<void> {
    await this.load();
    if (this.readUpTo(c.id) >= c.lastMessageAt) return;
    this.merge([{ conversationId: c.id, readUpTo: c.lastMessageAt }]);
    await this.persist();
    this.changed.emit([c.id]);
    await this.o.dispatch({ type: 'mark_read', conversationId: c.id, upTo: c.lastMessageAt });
  }

  /** The agent's marks from a pull (stored before the pull's facts, so a crash never loses them). */
  async applyPulled(marks: readonly Pick<ReadMark, 'conversationId' | 'readUpTo'>[]): Promise<void> {
    await this.load();
    const ids = this.merge(marks);
    if (ids.length === 0) return;
    await this.persist();
    this.changed.emit(ids);
  }

  onChange(listener: (conversationIds: string[]) => void): Unsubscribe {
    return this.changed.on(listener);
  }

  /** Raises marks (never lowers); returns the conversations whose mark moved. */
  private merge(marks: readonly Pick<ReadMark, 'conversationId' | 'readUpTo'>[]): string[] {
    const moved: string[] = [];
    for (const m of marks) {
      if (typeof m.readUpTo !== 'number' || !(m.readUpTo > (this.marks[m.conversationId] ?? 0))) continue;
      this.marks = { ...this.marks, [m.conversationId]: m.readUpTo };
      moved.push(m.conversationId);
    }
    return moved;
  }

  private persist(): Promise<void> {
    return this.o.store.setMeta(readMarksMetaKey(this.o.agentId), this.marks);
  }
}

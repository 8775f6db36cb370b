import type { Message } from '../domain/model.js';
import { decidePush, type FactsFrame, type PullResponse, type PushDecision } from '../protocol/wire.js';
import type { FactBatch, LocalStore } from '../ports/storage.js';
import type { Logger } from '../ports/platform.js';
import type { Transport } from '../ports/transport.js';
import { Emitter } from '../util/observable.js';
import { isPastRetention, type RetentionPolicy } from '../rules/accountRules.js';

/** [accounts] Meta key of the last retention policy the server announced. */
export const RETENTION_META = 'retentionPolicy';

export interface FactsChanged {
  conversationIds: string[];
  /** Conversations whose messages changed. */
  messageConversationIds: string[];
  contactIds: string[];
  directory: boolean;
  reset: boolean;
  checkpoint: number;
  /** [search-read] Conversations whose read mark (the agent's own) arrived in this pull. */
  readConversationIds?: string[];
}

export interface ReplicatorOptions {
  store: LocalStore;
  transport: Transport;
  logger: Logger;
  batchSize?: number;
  /**
   * Which pulled messages the device keeps (its working set). Messages of other conversations
   * are not stored; their summaries are, and their history loads by page when opened.
   */
  keepMessage?: (message: Message, batch: PullResponse) => boolean | Promise<boolean>;
  /** [accounts] The device clock, for the retention the server announces (local messages past it are evicted). */
  now?: () => number;
  /** [search-read] Receives the agent's read marks of a pull, before its facts are stored. */
  onReadMarks?: (marks: NonNullable<PullResponse['readMarks']>) => Promise<void>;
}

/**
 * Pulls the server's log into the local store by checkpoint (RxDB's replication protocol:
 * checkpoint iteration, RESYNC on reconnect). Single-flight: a poke during a pull schedules
 * one more pull instead of a parallel one.
 */
export class Replicator {
  private running: Promise<number> | null = null;
  private again = false;
  /** Pulls and pushed frames write the store one at a time (the checkpoint is read, then advanced). */
  private tail: Promise<unknown> | null = null;
  readonly changed = new Emitter<FactsChanged>();

  constructor(private readonly o: ReplicatorOptions) {}

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail ? this.tail.then(fn, fn) : fn();
    const tail = run.catch(() => undefined);
    this.tail = tail;
    void tail.then(() => {
      if (this.tail === tail) this.tail = null;
    });
    return run;
  }

  /**
   * [push] A `facts` frame from the socket: applied when it starts at the stored checkpoint (same
   * upsert rule as a pull), ignored when the checkpoint is already past it, and a `gap` otherwise
   * (missed or reordered push, reconnect, scope change): the caller pulls.
   */
  push(frame: FactsFrame): Promise<{ decision: PushDecision; checkpoint: number }> {
    return this.exclusive(async () => {
      const stored = await this.o.store.getCheckpoint();
      const decision = decidePush(frame, stored);
      if (decision !== 'apply') return { decision, checkpoint: stored.checkpoint };
      await this.applyRows(frame, frame.to, frame.scope, false);
      return { decision, checkpoint: frame.to };
    });
  }

  /** Pulls until the server has nothing more; resolves with the new checkpoint. */
  pull(): Promise<number> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      let cp = 0;
      try {
        do {
          this.again = false;
          cp = await this.exclusive(() => this.pullAll());
        } while (this.again);
      } finally {
        this.running = null;
      }
      return cp;
    })();
    return this.running;
  }

  /** [accounts] Evicts local messages past the server's retention (and remembers the policy). */
  private async evictPastRetention(policy: RetentionPolicy, now: number): Promise<void> {
    await this.o.store.setMeta(RETENTION_META, policy);
    if (policy.days === null && Object.values(policy.channels).every((d) => d === null || d === undefined)) return;
    const n = (await this.o.store.purgeMessages?.((m, ch) => ch !== null && isPastRetention(policy, ch, m.createdAt, now))) ?? 0;
    if (n > 0) this.o.logger.info('retention: evicted local messages', { count: n });
  }

  private async pullAll(): Promise<number> {
    for (;;) {
      const { checkpoint, scope } = await this.o.store.getCheckpoint();
      const res = await this.o.transport.pull({ checkpoint, limit: this.o.batchSize ?? 500, ...(scope ? { scope } : {}) });
      if (res.reset) {
        this.o.logger.info('replication: scope changed, starting over', { from: scope, to: res.scope });
        await this.o.store.clearFacts();
      }
      await this.applyRows(res, res.checkpoint, res.scope, res.reset);
      if (!res.hasMore) return res.checkpoint;
    }
  }

  /** Stores one page of facts (pulled or pushed) and advances the checkpoint with it. */
  private async applyRows(res: Omit<PullResponse, 'checkpoint' | 'hasMore' | 'reset' | 'scope'>, checkpoint: number, scope: string, reset: boolean): Promise<void> {
    const messages: Message[] = [];
    const now = (this.o.now ?? Date.now)();
    const channelOf = new Map(res.conversations.map((c) => [c.id, c.channel]));
    const batchView = { ...res, checkpoint, scope, reset, hasMore: false };
    for (const m of res.messages) {
      // [accounts] A message past the retention is never stored on the device.
      const ch = channelOf.get(m.conversationId) ?? (await this.o.store.getConversation(m.conversationId))?.channel ?? null;
      if (res.retention && ch && isPastRetention(res.retention, ch, m.createdAt, now)) continue;
      if (!this.o.keepMessage || (await this.o.keepMessage(m, batchView))) messages.push(m);
    }
    const batch: FactBatch = {
      conversations: res.conversations,
      messages,
      contacts: res.contacts,
      inboxes: res.inboxes,
      agents: res.agents,
      teams: res.teams,
    };
    // [search-read] Read marks only move forward: stored first, a crash before the checkpoint just repeats them.
    if (res.readMarks?.length && this.o.onReadMarks) await this.o.onReadMarks(res.readMarks);
    await this.o.store.applyFacts(batch, checkpoint, scope);
    if (res.retention) await this.evictPastRetention(res.retention, now);
    const changed: FactsChanged = {
      conversationIds: res.conversations.map((c) => c.id),
      messageConversationIds: [...new Set(res.messages.map((m) => m.conversationId))],
      contactIds: res.contacts.map((c) => c.id),
      directory: res.inboxes.length + res.agents.length + res.teams.length > 0,
      reset,
      checkpoint,
      ...(res.readMarks?.length ? { readConversationIds: res.readMarks.map((m) => m.conversationId) } : {}),
    };
    if (changed.readConversationIds || reset || changed.conversationIds.length || changed.messageConversationIds.length || changed.contactIds.length || changed.directory) {
      this.changed.emit(changed);
    }
  }
}

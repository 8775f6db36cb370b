import { Command, laneOf } from '../commands/commands.js';
import type { CommandOutcome } from '../protocol/wire.js';
import type { LocalStore, OutboxEntry } from '../ports/storage.js';
import type { Clock, Logger } from '../ports/platform.js';
import { ProtocolMismatchError, TransportError, type Transport } from '../ports/transport.js';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffPolicy } from '../util/backoff.js';
import { Emitter } from '../util/observable.js';

/** Why a dispatch was refused before it was queued (the intent itself is invalid). */
export class InvalidCommandError extends Error {
  override readonly name = 'InvalidCommandError';
  constructor(message: string, readonly issues: unknown) {
    super(message);
  }
}

export interface OutboxOptions {
  store: LocalStore;
  transport: Transport;
  clock: Clock;
  random: () => number;
  logger: Logger;
  backoff?: BackoffPolicy;
  /** At most this many commands go in one request. */
  batchSize?: number;
}

export interface OutboxCounts {
  pending: number;
  failed: number;
}

/**
 * The durable outbox (Signal's job queue, Replicache's pending mutations):
 *  - a command is written to the local store before anything else happens;
 *  - commands of one lane (a conversation, a contact) go to the server in order, lanes in parallel
 *    (one request carries the ready head-run of every lane; the server applies them in array order);
 *  - network errors and 5xx/429 back off exponentially with jitter; nothing is dropped;
 *  - a rejection becomes a visible failed entry with the server's reason (retry or discard);
 *  - an acknowledged entry stays (state `acked`, with the commit's seq) until pulled facts reach
 *    that seq, so the optimistic overlay never flickers back to the old state.
 */
export class Outbox {
  private entries = new Map<string, OutboxEntry>();
  private order = 0;
  private inflight = new Set<string>();
  private timer: unknown = null;
  private draining: Promise<void> | null = null;
  private again = false;
  private canSend = false;
  private stopped = false;
  private loading: Promise<void> | null = null;
  readonly changed = new Emitter<OutboxEntry[]>();
  /** Fires with the highest acknowledged seq after a push, so the client pulls the facts. */
  readonly acknowledged = new Emitter<number>();

  constructor(private readonly o: OutboxOptions) {}

  /**
   * Reads the persisted entries (once). `enqueue` and `retry` wait for it, so a command queued while
   * the app is still starting is numbered after the entries of the previous session.
   */
  load(): Promise<void> {
    this.loading ??= (async () => {
      for (const e of await this.o.store.outboxList()) {
        if (!this.entries.has(e.id)) this.entries.set(e.id, e);
        this.order = Math.max(this.order, e.order);
      }
      this.emit();
    })();
    return this.loading;
  }

  /** Entries in device order; an entry being sent right now shows as `inflight`. */
  list(): OutboxEntry[] {
    return this.sorted().map((e) => (this.inflight.has(e.id) && e.state === 'pending' ? { ...e, state: 'inflight' as const } : e));
  }

  private sorted(): OutboxEntry[] {
    return [...this.entries.values()].sort((a, b) => a.order - b.order);
  }

  /** Commands not yet confirmed by a pull (pending, in flight, acknowledged-but-not-pulled). */
  unconfirmed(): OutboxEntry[] {
    return this.list().filter((e) => e.state !== 'failed');
  }

  counts(): OutboxCounts {
    let pending = 0;
    let failed = 0;
    for (const e of this.entries.values()) {
      if (e.state === 'failed') failed++;
      else if (e.state === 'pending' || e.state === 'inflight') pending++;
    }
    return { pending, failed };
  }

  /** Validates and durably queues a command. Resolves once it is persisted on the device. */
  async enqueue(raw: unknown): Promise<OutboxEntry> {
    const parsed = Command.safeParse(raw);
    if (!parsed.success) throw new InvalidCommandError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '), parsed.error.issues);
    const command = parsed.data;
    await this.load();
    if (this.entries.has(command.id)) return this.entries.get(command.id)!;
    const entry: OutboxEntry = {
      id: command.id,
      lane: laneOf(command),
      command,
      state: 'pending',
      attempts: 0,
      nextAttemptAt: 0,
      order: ++this.order,
      error: null,
      ackSeq: null,
      createdAt: command.deviceTime,
    };
    await this.o.store.outboxPut(entry);
    this.entries.set(entry.id, entry);
    this.emit();
    this.kick();
    return entry;
  }

  /** Puts a failed command back in the queue (at the end of its lane), keeping its id. */
  async retry(id: string): Promise<void> {
    await this.load();
    const e = this.entries.get(id);
    if (!e || e.state !== 'failed') return;
    const next: OutboxEntry = { ...e, state: 'pending', attempts: 0, nextAttemptAt: 0, error: null, order: ++this.order };
    await this.o.store.outboxPut(next);
    this.entries.set(id, next);
    this.emit();
    this.kick();
  }

  /** Drops a failed command for good. */
  async discard(id: string): Promise<void> {
    const e = this.entries.get(id);
    if (!e || e.state !== 'failed') return;
    await this.o.store.outboxDelete(id);
    this.entries.delete(id);
    this.emit();
  }

  /** Removes acknowledged entries whose facts are now in the local store. */
  async confirmUpTo(checkpoint: number): Promise<void> {
    let changed = false;
    for (const e of [...this.entries.values()]) {
      if (e.state === 'acked' && e.ackSeq !== null && e.ackSeq <= checkpoint) {
        await this.o.store.outboxDelete(e.id);
        this.entries.delete(e.id);
        changed = true;
      }
    }
    if (changed) this.emit();
  }

  /** Whether the server is reachable and authenticated; the client toggles this. */
  setCanSend(can: boolean): void {
    this.canSend = can;
    if (can) {
      // Connectivity is back: every waiting command may go now, not after its backoff.
      for (const e of this.entries.values()) if (e.state === 'pending') e.nextAttemptAt = 0;
      this.kick();
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) this.o.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  /** Resolves when the current drain finished (tests and shutdown use it). */
  async idle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  kick(): void {
    if (this.stopped || !this.canSend) return;
    if (this.draining) {
      this.again = true;
      return;
    }
    this.draining = this.drain().finally(() => {
      this.draining = null;
      if (this.again) {
        this.again = false;
        this.kick();
      } else this.schedule();
    });
  }

  private schedule(): void {
    if (this.timer !== null) this.o.clock.clearTimeout(this.timer);
    this.timer = null;
    if (this.stopped || !this.canSend) return;
    // Only the head of each lane can become ready: a later entry of a lane whose head backs off
    // waits for the head (timing on it would spin on a 0 ms timer until the head's backoff ends).
    const heads = new Map<string, OutboxEntry>();
    for (const e of this.sorted()) if (e.state === 'pending' && !heads.has(e.lane)) heads.set(e.lane, e);
    const waiting = [...heads.values()];
    if (waiting.length === 0) return;
    const at = Math.min(...waiting.map((e) => e.nextAttemptAt));
    const delay = Math.max(0, at - this.o.clock.now());
    this.timer = this.o.clock.setTimeout(() => {
      this.timer = null;
      this.kick();
    }, delay);
  }

  /** The ready head-run of each lane, in device order. */
  private readyBatch(): OutboxEntry[] {
    const now = this.o.clock.now();
    const blocked = new Set<string>();
    const batch: OutboxEntry[] = [];
    const limit = this.o.batchSize ?? 50;
    for (const e of this.sorted()) {
      if (e.state === 'failed' || e.state === 'acked') continue;
      if (blocked.has(e.lane)) continue;
      if (this.inflight.has(e.id) || e.nextAttemptAt > now) {
        blocked.add(e.lane);
        continue;
      }
      if (batch.length < limit) batch.push(e);
    }
    return batch;
  }

  private async drain(): Promise<void> {
    for (;;) {
      if (this.stopped || !this.canSend) return;
      const batch = this.readyBatch();
      if (batch.length === 0) return;
      for (const e of batch) this.inflight.add(e.id);
      this.emit();
      try {
        const res = await this.o.transport.push(batch.map((e) => e.command));
        await this.settle(batch, res.results);
      } catch (err) {
        await this.fail(batch, err);
        if (err instanceof TransportError && (err.retryable || err instanceof ProtocolMismatchError)) return;
      } finally {
        for (const e of batch) this.inflight.delete(e.id);
        this.emit();
      }
    }
  }

  private async settle(batch: OutboxEntry[], results: CommandOutcome[]): Promise<void> {
    const byId = new Map(results.map((r) => [r.id, r]));
    let maxSeq = -1;
    for (const e of batch) {
      const r = byId.get(e.id);
      let next: OutboxEntry;
      if (!r) {
        // The server did not answer for this one: treat as transient.
        next = { ...e, attempts: e.attempts + 1, nextAttemptAt: this.o.clock.now() + backoffDelay(e.attempts + 1, this.o.random, this.o.backoff ?? DEFAULT_BACKOFF) };
      } else if (r.outcome === 'rejected') {
        next = { ...e, state: 'failed', error: r.error };
        this.o.logger.warn('outbox: command rejected', { id: e.id, type: e.command.type, code: r.error.code, reason: r.error.message });
      } else {
        next = { ...e, state: 'acked', ackSeq: r.seq, error: null };
        maxSeq = Math.max(maxSeq, r.seq);
      }
      await this.o.store.outboxPut(next);
      this.entries.set(e.id, next);
    }
    if (maxSeq >= 0) this.acknowledged.emit(maxSeq);
  }

  private async fail(batch: OutboxEntry[], err: unknown): Promise<void> {
    // A protocol mismatch is not the commands' fault: they wait for the updated app.
    const retryable = !(err instanceof TransportError) || err.retryable || err.kind === 'auth' || err instanceof ProtocolMismatchError;
    for (const e of batch) {
      const attempts = e.attempts + 1;
      const next: OutboxEntry = retryable
        ? { ...e, attempts, nextAttemptAt: this.o.clock.now() + backoffDelay(attempts, this.o.random, this.o.backoff ?? DEFAULT_BACKOFF) }
        : { ...e, attempts, state: 'failed', error: { code: err instanceof TransportError ? err.code : 'error', message: (err as Error).message } };
      await this.o.store.outboxPut(next);
      this.entries.set(e.id, next);
    }
    this.o.logger[retryable ? 'info' : 'warn']('outbox: push failed', { count: batch.length, error: (err as Error).message, retryable });
  }

  private emit(): void {
    this.changed.emit(this.list());
  }
}

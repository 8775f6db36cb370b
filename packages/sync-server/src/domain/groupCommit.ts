import { AsyncLocalStorage } from 'node:async_hooks';
import type { Db, Queryable } from '../db/db.js';

/** One caller's work: runs inside the shared transaction, under its own savepoint. */
type Work<T> = (q: Queryable) => Promise<T>;

interface Unit {
  fn: Work<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

type Settled = { ok: true; value: unknown } | { ok: false; error: unknown };

export interface GroupCommitOptions {
  /** Most units in one transaction (the rest wait for the next one). Default 256. */
  maxUnits?: number;
}

/** Counters of the commit queue (benchmarks and tests read them). */
export interface GroupCommitStats {
  /** Transactions committed (or attempted) by the queue. */
  transactions: number;
  /** Units run, whatever their outcome. */
  units: number;
  /** Largest group so far. */
  largest: number;
}

/** PostgreSQL serialisation failure and deadlock: the whole transaction is retried by `Db.tx`. */
function retryable(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === '40001' || code === '40P01';
}

/**
 * Group commit: units of work that arrive together (in the same event-loop turn, or while the
 * previous group is committing) run in ONE transaction, so they share one commit and one fsync.
 *
 * - Each unit runs under its own SAVEPOINT: a unit that throws is rolled back alone and its caller
 *   gets its error; its neighbours still commit.
 * - Every caller is answered only after the shared COMMIT returned (nothing is acknowledged that a
 *   crash could lose); a failed commit fails nobody silently: the group is re-run unit by unit,
 *   each in its own transaction, so each caller gets its own outcome.
 * - Units run in arrival order on one connection, so a unit sees the writes of the units before it
 *   (a command id or an inbound external id repeated inside a group is deduplicated as usual).
 * - A unit must use the Queryable it is given, and may not submit another unit (that would wait for
 *   its own group): it is refused with an error.
 */
export class GroupCommit {
  private queue: Unit[] = [];
  private running = false;
  private scheduled = false;
  private readonly inUnit = new AsyncLocalStorage<boolean>();
  readonly stats: GroupCommitStats = { transactions: 0, units: 0, largest: 0 };
  /** Most units in one transaction; 1 turns grouping off (benchmarks compare the two). */
  maxUnits: number;

  constructor(private readonly db: Db, opts: GroupCommitOptions = {}) {
    this.maxUnits = Math.max(1, opts.maxUnits ?? 256);
  }

  /** Runs `fn` in the next group's transaction; resolves after that transaction committed. */
  run<T>(fn: Work<T>): Promise<T> {
    if (this.inUnit.getStore()) return Promise.reject(new Error('group commit: a unit may not submit another unit (use its Queryable)'));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      this.kick();
    });
  }

  /** Runs several units in order, in the same group (one caller's batch): each settles on its own. */
  runAll<T>(fns: readonly Work<T>[]): Promise<PromiseSettledResult<T>[]> {
    return Promise.allSettled(fns.map((fn) => this.run(fn)));
  }

  private kick(): void {
    if (this.running || this.scheduled) return;
    this.scheduled = true;
    // Gather what arrives in this event-loop turn; while a group commits, the next one gathers.
    setImmediate(() => {
      this.scheduled = false;
      void this.drain();
    });
  }

  private async drain(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.queue.length) {
        const group = this.queue.splice(0, this.maxUnits);
        await this.commit(group);
      }
    } finally {
      this.running = false;
    }
  }

  private async commit(group: Unit[]): Promise<void> {
    this.stats.largest = Math.max(this.stats.largest, group.length);
    if (group.length === 1) return this.alone(group[0]!);
    let results: Settled[] = [];
    try {
      this.stats.transactions++;
      await this.db.tx(async (q) => {
        results = [];
        for (let i = 0; i < group.length; i++) results.push(await this.savepoint(q, `gc_${i}`, group[i]!));
      });
    } catch {
      // The shared transaction failed (its commit, or a savepoint the database lost): nothing of it
      // is durable. Each unit again in its own transaction, so each caller gets its own outcome.
      for (const u of group) await this.alone(u);
      return;
    }
    this.stats.units += group.length;
    group.forEach((u, i) => {
      const r = results[i]!;
      if (r.ok) u.resolve(r.value);
      else u.reject(r.error);
    });
  }

  private async savepoint(q: Queryable, name: string, u: Unit): Promise<Settled> {
    await q.run(`SAVEPOINT ${name}`);
    try {
      const value = await this.inUnit.run(true, () => u.fn(q));
      await q.run(`RELEASE SAVEPOINT ${name}`);
      return { ok: true, value };
    } catch (error) {
      if (retryable(error)) throw error;
      await q.run(`ROLLBACK TO SAVEPOINT ${name}`);
      await q.run(`RELEASE SAVEPOINT ${name}`);
      return { ok: false, error };
    }
  }

  private async alone(u: Unit): Promise<void> {
    this.stats.transactions++;
    this.stats.units++;
    try {
      u.resolve(await this.db.tx((q) => this.inUnit.run(true, () => u.fn(q))));
    } catch (e) {
      u.reject(e);
    }
  }
}

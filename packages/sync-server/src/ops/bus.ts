import crypto from 'node:crypto';
import { PassLoop } from '../util/passLoop.js';
import type { Logger, OpsEnvelope } from '@goutong/core';
import type { Queryable } from '../db/db.js';
import type { Workspace } from '../domain/workspace.js';
import { opsBatchTransaction, opsTransaction, opsUnit, type OpsContext } from '../domain/opsTx.js';
import {
  claimOpsJobs,
  completeOpsJob,
  completeOpsJobAlone,
  deliveredListeners,
  deliveredListenersOf,
  dueOpsJobs,
  markDelivered,
  retryOpsJob,
  type ClaimedJob,
  type DueTimer,
} from '../domain/opsJobs.js';

export type { OpsContext } from '../domain/opsTx.js';

export type OpsListener = (env: OpsEnvelope, ctx: OpsContext) => Promise<void>;
export type TimerHandler = (timer: DueTimer, ctx: OpsContext) => Promise<void>;

export interface OpsBusOptions {
  now: () => number;
  intervalMs: number;
  /** How long a claim holds a job before another process may take it over. */
  leaseMs?: number;
  /**
   * How many claimed jobs run in one transaction (default 50). Each (event, listener) and each
   * timer still runs alone inside it, in a savepoint with its delivery record; 1 gives the
   * one-transaction-per-listener path (benchmarks compare the two).
   */
  batch?: number;
  logger: Logger;
}

/** Counts of the bus's work since it started (benchmarks, tests). */
export interface OpsBusStats {
  jobs: number;
  /** Transactions that ran jobs (claims not counted). */
  transactions: number;
  /** Batches that failed as a whole and were run again one job at a time. */
  fallbacks: number;
}

/** Thrown inside a handler's transaction to roll it back when another process completed the job first. */
class Superseded extends Error {}

/**
 * The ops bus: delivers the events of committed facts to the service-operations listeners
 * (automation, routing, auto-replies, SLA, CSAT; in registration order) and fires durable timers.
 * Each (event, listener) runs together with its delivery record, and each timer with its completion,
 * in one unit that commits or rolls back whole: exactly once across retries, restarts and processes.
 * The jobs of one claim run in ONE transaction (one fsync for many events), each unit in its own
 * savepoint, so a failing listener rolls back alone and is retried alone; if the batch's
 * transaction itself fails, its jobs run again one unit per transaction.
 */
export class OpsBus {
  readonly owner = `${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
  private readonly listeners: Array<{ name: string; fn: OpsListener }> = [];
  private readonly timers = new Map<string, TimerHandler>();
  private readonly loop: PassLoop;
  /** Jobs per transaction (see OpsBusOptions.batch); benchmarks switch it between rounds. */
  batch: number;
  readonly stats: OpsBusStats = { jobs: 0, transactions: 0, fallbacks: 0 };

  constructor(private readonly ws: Workspace, private readonly o: OpsBusOptions) {
    this.batch = Math.max(1, Math.floor(o.batch ?? 50));
    this.loop = new PassLoop({ pass: () => this.pass(), intervalMs: o.intervalMs, onError: (e) => o.logger.error('ops: pass failed', { error: String(e) }), startStopped: true });
  }

  /** Adds a listener; names are unique and listeners run in the order they were added. */
  listen(name: string, fn: OpsListener): void {
    if (this.listeners.some((l) => l.name === name)) throw new Error(`ops listener "${name}" is registered twice`);
    this.listeners.push({ name, fn });
  }

  onTimer(name: string, fn: TimerHandler): void {
    if (this.timers.has(name)) throw new Error(`ops timer "${name}" is registered twice`);
    this.timers.set(name, fn);
  }

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** Runs a pass soon (after a commit). */
  kick(): void {
    this.loop.kick();
  }

  /** Tests: runs passes until nothing is due (follow-on events included). */
  async drain(maxPasses = 50): Promise<void> {
    await this.loop.idle();
    for (let i = 0; i < maxPasses; i += 1) {
      const ran = await this.pass();
      if (ran === 0 && (await dueOpsJobs(this.ws.db, this.o.now())) === 0) return;
      if (ran === 0) await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Claims and runs due jobs until none is left. Returns how many ran. */
  async pass(): Promise<number> {
    let total = 0;
    for (;;) {
      const jobs = await claimOpsJobs(this.ws.db, { owner: this.owner, now: this.o.now(), leaseMs: this.o.leaseMs ?? 60_000, limit: 50 });
      if (jobs.length === 0) return total;
      total += jobs.length;
      this.stats.jobs += jobs.length;
      // In order: events of one conversation are handled as they happened.
      for (let i = 0; i < jobs.length; i += this.batch) {
        const part = jobs.slice(i, i + this.batch);
        if (this.batch === 1) await this.run(part[0]!);
        else await this.runBatch(part);
      }
    }
  }

  /**
   * Runs claimed jobs in one transaction, each (event, listener) and each timer in a savepoint.
   * After the commit: the seqs and relay jobs are announced, once per tenant. A failed unit is
   * rolled back to its savepoint, the rest of its event's listeners wait for the retry (in order),
   * and the job is given back for a retry in the same transaction.
   */
  private async runBatch(jobs: readonly ClaimedJob[]): Promise<void> {
    const seqs = new Map<string, number>();
    const relays: Array<{ tenantId: string; messageId: string }> = [];
    const failures: Array<{ job: ClaimedJob; error: unknown }> = [];
    try {
      this.stats.transactions++;
      await opsBatchTransaction(this.ws, async (q) => {
        // A PostgreSQL serialisation retry runs this again from the start.
        seqs.clear();
        relays.length = 0;
        failures.length = 0;
        const done = await deliveredListenersOf(q, jobs.filter((j) => j.kind === 'event').map((j) => j.id));
        /** One unit in its savepoint: null when it committed, else what it threw. */
        const unit = async (job: ClaimedJob, fn: (ctx: OpsContext) => Promise<void>): Promise<{ error: unknown } | null> => {
          const r = await opsUnit(this.ws, q, job.tenantId, this.o.now(), this.o.logger, fn);
          if (!r.ok) return { error: r.error };
          if (r.state.seq !== null) seqs.set(job.tenantId, Math.max(r.state.seq, seqs.get(job.tenantId) ?? 0));
          for (const messageId of r.state.relays) relays.push({ tenantId: job.tenantId, messageId });
          return null;
        };
        for (const job of jobs) {
          if (job.kind === 'event') {
            const env = job.payload as unknown as OpsEnvelope;
            const had = done.get(job.id);
            let failed: { error: unknown } | null = null;
            for (const l of this.listeners) {
              if (had?.has(l.name)) continue;
              failed = await unit(job, async (ctx) => {
                if (!(await markDelivered(q, job.id, l.name, ctx.now))) throw new Superseded();
                await l.fn(env, ctx);
              });
              if (failed) break;
            }
            if (failed === null) await completeOpsJob(q, job, this.owner);
            else if (!(failed.error instanceof Superseded)) failures.push({ job, error: failed.error });
          } else {
            const handler = this.timers.get(job.name);
            const timer: DueTimer = { id: job.id, tenantId: job.tenantId, name: job.name, subjectId: job.subjectId, dueAt: job.dueAt, payload: job.payload, attempts: job.attempts };
            const failed = await unit(job, async (ctx) => {
              // Completing first: a timer cancelled or replaced meanwhile, or taken over, fires nothing.
              if (!(await completeOpsJob(q, job, this.owner))) throw new Superseded();
              if (handler) await handler(timer, ctx);
              else this.o.logger.warn('ops: no handler for timer', { name: job.name });
            });
            if (failed && !(failed.error instanceof Superseded)) failures.push({ job, error: failed.error });
          }
        }
        for (const { job, error } of failures) await retryOpsJob(q, job, this.owner, this.o.now() + this.retryDelay(job), String(error));
      });
    } catch (e) {
      // The transaction itself failed (commit, connection, a savepoint that could not roll back):
      // nothing of it was written. Run the jobs again one unit per transaction.
      this.stats.fallbacks++;
      this.o.logger.warn('ops: batch failed, running its jobs one by one', { jobs: jobs.length, error: String(e) });
      for (const job of jobs) await this.run(job);
      return;
    }
    for (const { job, error } of failures) {
      this.o.logger.error('ops: job failed, will retry', { job: job.id, kind: job.kind, name: job.name, attempts: job.attempts, error: String(error) });
    }
    for (const [tenantId, seq] of seqs) this.ws.committed.emit({ tenantId, seq });
    for (const r of relays) this.ws.relayEnqueued.emit(r);
  }

  private retryDelay(job: ClaimedJob): number {
    return Math.min(5 * 60_000, 1000 * 2 ** Math.min(job.attempts, 8));
  }

  private async run(job: ClaimedJob): Promise<void> {
    try {
      if (job.kind === 'event') await this.deliver(job);
      else await this.fire(job);
    } catch (e) {
      if (e instanceof Superseded) return;
      const delay = this.retryDelay(job);
      this.o.logger.error('ops: job failed, will retry', { job: job.id, kind: job.kind, name: job.name, attempts: job.attempts, error: String(e) });
      await retryOpsJob(this.ws.db, job, this.owner, this.o.now() + delay, String(e)).catch(() => undefined);
    }
  }

  private async deliver(job: ClaimedJob): Promise<void> {
    const env = job.payload as unknown as OpsEnvelope;
    const done = await deliveredListeners(this.ws.db, job.id);
    for (const l of this.listeners) {
      if (done.has(l.name)) continue;
      await this.inTx(job.tenantId, async (ctx, q) => {
        if (!(await markDelivered(q, job.id, l.name, ctx.now))) throw new Superseded();
        await l.fn(env, ctx);
      });
    }
    this.stats.transactions++;
    await completeOpsJobAlone(this.ws.db, job, this.owner);
  }

  private async fire(job: ClaimedJob): Promise<void> {
    const handler = this.timers.get(job.name);
    const timer: DueTimer = { id: job.id, tenantId: job.tenantId, name: job.name, subjectId: job.subjectId, dueAt: job.dueAt, payload: job.payload, attempts: job.attempts };
    await this.inTx(job.tenantId, async (ctx, q) => {
      // Completing first: a timer cancelled or replaced meanwhile, or taken over, fires nothing.
      if (!(await completeOpsJob(q, job, this.owner))) throw new Superseded();
      if (handler) await handler(timer, ctx);
      else this.o.logger.warn('ops: no handler for timer', { name: job.name });
    });
  }

  private inTx(tenantId: string, fn: (ctx: OpsContext, q: Queryable) => Promise<void>): Promise<void> {
    this.stats.transactions++;
    return opsTransaction(this.ws, tenantId, this.o.now(), this.o.logger, fn);
  }
}

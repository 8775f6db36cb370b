import crypto from 'node:crypto';
import { PassLoop } from '../util/passLoop.js';
import type { Logger, OpsEnvelope } from '@goutong/core';
import type { Queryable } from '../db/db.js';
import type { Workspace } from '../domain/workspace.js';
import { opsTransaction, type OpsContext } from '../domain/opsTx.js';
import {
  claimOpsJobs,
  completeOpsJob,
  completeOpsJobAlone,
  deliveredListeners,
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
  logger: Logger;
}

/** Thrown inside a handler's transaction to roll it back when another process completed the job first. */
class Superseded extends Error {}

/**
 * The ops bus: delivers the events of committed facts to the service-operations listeners
 * (automation, routing, auto-replies, SLA, CSAT; in registration order) and fires durable timers.
 * Each (event, listener) runs in its own transaction together with its delivery record, and each
 * timer in the transaction that completes it: exactly once across retries, restarts and processes.
 */
export class OpsBus {
  readonly owner = `${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
  private readonly listeners: Array<{ name: string; fn: OpsListener }> = [];
  private readonly timers = new Map<string, TimerHandler>();
  private readonly loop: PassLoop;

  constructor(private readonly ws: Workspace, private readonly o: OpsBusOptions) {
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
      // In order: events of one conversation are handled as they happened.
      for (const job of jobs) await this.run(job);
    }
  }

  private async run(job: ClaimedJob): Promise<void> {
    try {
      if (job.kind === 'event') await this.deliver(job);
      else await this.fire(job);
    } catch (e) {
      if (e instanceof Superseded) return;
      const delay = Math.min(5 * 60_000, 1000 * 2 ** Math.min(job.attempts, 8));
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
    return opsTransaction(this.ws, tenantId, this.o.now(), this.o.logger, fn);
  }
}

import crypto from 'node:crypto';
import { PassLoop } from '../util/passLoop.js';
import { assertNever, backoffDelay, type Logger } from '@goutong/core';
import type { Db } from '../db/db.js';
import type { Workspace } from '../domain/workspace.js';
import { RelayJobs, type RelayJob, type RelayJobState, type RelayStatus } from '../domain/relayJobs.js';
import type { ProviderDeps, ProviderRegistry } from '../channels/provider.js';

/** Retries of a relay job: from 1 s up to 5 min, ±20 %. */
const RELAY_BACKOFF = { baseMs: 1000, maxMs: 300_000, jitter: 0.2 } as const;

export interface RelayOptions {
  db: Db;
  workspace: Workspace;
  providers: ProviderRegistry;
  deps: ProviderDeps;
  logger: Logger;
  intervalMs: number;
  leaseMs?: number;
  maxAttempts?: number;
  batch?: number;
  now?: () => number;
}

/**
 * Relays queued outbound messages to their providers (the server's transactional outbox).
 * Jobs are claimed with a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL), so several workers and
 * several server processes share the queue; a job whose worker died is claimed again when its
 * lease runs out, with the same idempotency key.
 */
export class RelayWorker {
  readonly owner = `${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
  private readonly loop: PassLoop;

  private readonly jobs: RelayJobs;

  constructor(private readonly o: RelayOptions) {
    this.jobs = new RelayJobs(o.db, o.workspace);
    this.loop = new PassLoop({ pass: () => this.pass(), intervalMs: o.intervalMs, onError: (e) => o.logger.error('relay: pass failed', { error: String(e) }) });
  }

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** Runs a pass now (after a new job was committed). */
  kick(): void {
    this.loop.kick();
  }

  /** Claims and runs ready jobs until none is left. Returns how many ran. */
  async pass(): Promise<number> {
    let total = 0;
    for (;;) {
      const jobs = await this.claim();
      if (jobs.length === 0) return total;
      total += jobs.length;
      await Promise.all(jobs.map((j) => this.run(j)));
    }
  }

  private now(): number {
    return (this.o.now ?? Date.now)();
  }

  private async claim(): Promise<RelayJob[]> {
    return this.jobs.claim({ owner: this.owner, now: this.now(), leaseMs: this.o.leaseMs ?? 60_000, limit: this.o.batch ?? 10 });
  }

  /** Finishes the job and records the status fact in one transaction, if this worker still holds the lease. */
  private finish(job: RelayJob, state: RelayJobState, fields: { error?: string | null; nextAttemptAt?: number }, status: RelayStatus | null = null): Promise<boolean> {
    return this.jobs.finish({ jobId: job.id, owner: this.owner, attempts: job.attempts }, job.messageId, { state, ...fields }, status, this.now());
  }

  private async run(job: RelayJob): Promise<void> {
    const { messageId, attempts } = job;
    const lease = { jobId: job.id, owner: this.owner, attempts };
    const log = { job: job.id, message: messageId, attempt: attempts };
    try {
      const target = await this.jobs.target(messageId);
      if (!target) {
        await this.finish(job, 'failed', { error: 'message vanished' });
        return;
      }
      const { message, conversation, contact } = target;
      const settings = await this.o.deps.inboxSettings(job.inboxId);
      if (!settings) {
        await this.finish(job, 'failed', { error: 'inbox not found' }, { status: 'failed', reason: 'inbox not found' });
        return;
      }
      const provider = this.o.providers.get(settings.inbox.channel, settings.inbox.provider);
      if (!provider) {
        await this.finish(job, 'failed', { error: 'no provider for this inbox' }, { status: 'failed', reason: `no provider ${settings.inbox.channel}/${settings.inbox.provider ?? ''}` });
        return;
      }
      const ctx = { ...settings, message, conversation, contact, idempotencyKey: message.id };
      if (attempts > 1 && provider.reconcile) {
        // An earlier attempt may have reached the provider (its answer lost, or its worker died):
        // ask before sending again.
        const r = await provider.reconcile(ctx, job.createdAt - 60_000);
        if (r.kind === 'found') {
          await this.finish(job, 'done', {}, { status: 'accepted', providerMessageId: r.providerMessageId, meta: { reconciled: true } });
          this.o.logger.info('relay: an earlier attempt had gone through; not sending again', { ...log, providerMessageId: r.providerMessageId });
          return;
        }
        if (r.kind === 'unknown') {
          await this.finish(job, 'queued', { error: r.reason, nextAttemptAt: this.now() + backoffDelay(attempts, Math.random, RELAY_BACKOFF) });
          this.o.logger.warn('relay: cannot tell whether an earlier attempt got through; waiting', { ...log, reason: r.reason });
          return;
        }
      }
      // The lease is checked (and `sending` recorded) right before the provider is called: a worker
      // whose lease was taken over does not send.
      if (!(await this.jobs.markSending(lease, messageId, this.now()))) {
        this.o.logger.warn('relay: lease lost before sending; leaving the job to its new holder', log);
        return;
      }
      const result = await provider.send(ctx);
      let finished: boolean;
      switch (result.kind) {
        case 'accepted':
          finished = await this.finish(job, 'done', {}, { status: 'accepted', providerMessageId: result.providerMessageId, ...(result.cost ? { meta: { cost: result.cost } } : {}) });
          this.o.logger.info('relay: accepted', { ...log, providerMessageId: result.providerMessageId });
          break;
        case 'rejected':
          finished = await this.finish(job, 'failed', { error: result.reason }, { status: 'failed', reason: result.reason, meta: result.code ? { errorCode: result.code } : {} });
          this.o.logger.warn('relay: rejected by provider', { ...log, reason: result.reason });
          break;
        case 'retry': {
          const max = this.o.maxAttempts ?? 12;
          if (attempts >= max) {
            finished = await this.finish(job, 'failed', { error: result.reason }, { status: 'failed', reason: `gave up after ${attempts} attempts: ${result.reason}` });
          } else {
            const delay = result.retryAfterMs ?? backoffDelay(attempts, Math.random, RELAY_BACKOFF);
            finished = await this.finish(job, 'queued', { error: result.reason, nextAttemptAt: this.now() + delay }, { status: 'queued', reason: `retrying: ${result.reason}` });
          }
          this.o.logger.info('relay: will retry', { ...log, reason: result.reason });
          break;
        }
        default:
          return assertNever(result, 'send result');
      }
      if (!finished) this.o.logger.warn('relay: lease was taken over while sending; this late result is ignored', { ...log, result: result.kind });
    } catch (e) {
      this.o.logger.error('relay: job crashed', { ...log, error: String(e) });
      await this.finish(job, 'queued', { error: String(e), nextAttemptAt: this.now() + 5000 }).catch(() => undefined);
    }
  }
}

import crypto from 'node:crypto';
import { backoffDelay, type Logger } from '@goutong/core';
import type { Db, Row } from '../db/db.js';
import type { Workspace } from '../domain/workspace.js';
import { toContact, toConversation, toMessage } from '../domain/rows.js';
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
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;

  constructor(private readonly o: RelayOptions) {}

  start(): void {
    this.stopped = false;
    const loop = () => {
      if (this.stopped) return;
      this.kick();
      this.timer = setTimeout(loop, this.o.intervalMs);
      this.timer.unref();
    };
    loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    while (this.running) await this.running;
  }

  /** Runs a pass now (after a new job was committed). */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.pass()
      .then(() => undefined)
      .catch((e: unknown) => this.o.logger.error('relay: pass failed', { error: String(e) }))
      .finally(() => {
        this.running = null;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
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

  private async claim(): Promise<Row[]> {
    const now = this.now();
    const lease = now + (this.o.leaseMs ?? 60_000);
    const limit = this.o.batch ?? 10;
    const pick = `SELECT id FROM relay_jobs WHERE (state = 'queued' AND next_attempt_at <= ?) OR (state = 'sending' AND lease_until < ?) ORDER BY next_attempt_at LIMIT ?`;
    const sql = `UPDATE relay_jobs SET state = 'sending', lease_until = ?, lease_owner = ?, attempts = attempts + 1, updated_at = ?
      WHERE id IN (${this.o.db.dialect === 'pg' ? `${pick} FOR UPDATE SKIP LOCKED` : pick}) RETURNING *`;
    return this.o.db.tx((q) => q.all(sql, [lease, this.owner, now, now, now, limit]));
  }

  private async finish(jobId: string, state: 'done' | 'failed' | 'queued', fields: { error?: string | null; nextAttemptAt?: number }): Promise<boolean> {
    // Only the lease holder may finish the job (a slow worker whose lease was taken over must not).
    const r = await this.o.db.run(
      `UPDATE relay_jobs SET state = ?, last_error = ?, next_attempt_at = COALESCE(?, next_attempt_at), lease_until = NULL, lease_owner = NULL, updated_at = ?
       WHERE id = ? AND lease_owner = ?`,
      [state, fields.error ?? null, fields.nextAttemptAt ?? null, this.now(), jobId, this.owner],
    );
    return r.changes > 0;
  }

  private async run(job: Row): Promise<void> {
    const jobId = String(job.id);
    const messageId = String(job.message_id);
    const attempts = Number(job.attempts);
    const log = { job: jobId, message: messageId, attempt: attempts };
    try {
      const mrow = await this.o.db.one('SELECT * FROM messages WHERE id = ?', [messageId]);
      if (!mrow) {
        await this.finish(jobId, 'failed', { error: 'message vanished' });
        return;
      }
      const message = toMessage(mrow);
      const conversation = toConversation((await this.o.db.one('SELECT * FROM conversations WHERE id = ?', [message.conversationId]))!);
      const contact = toContact((await this.o.db.one('SELECT * FROM contacts WHERE id = ?', [conversation.contactId]))!);
      const settings = await this.o.deps.inboxSettings(String(job.inbox_id));
      if (!settings) {
        await this.finish(jobId, 'failed', { error: 'inbox not found' });
        await this.o.workspace.setMessageStatus(messageId, 'failed', { reason: 'inbox not found' });
        return;
      }
      const provider = this.o.providers.get(settings.inbox.channel, settings.inbox.provider);
      if (!provider) {
        await this.finish(jobId, 'failed', { error: 'no provider for this inbox' });
        await this.o.workspace.setMessageStatus(messageId, 'failed', { reason: `no provider ${settings.inbox.channel}/${settings.inbox.provider ?? ''}` });
        return;
      }
      const ctx = { ...settings, message, conversation, contact, idempotencyKey: message.id };
      if (attempts > 1 && provider.reconcile) {
        // An earlier attempt may have reached the provider (its answer lost, or its worker died):
        // ask before sending again.
        const r = await provider.reconcile(ctx, Number(job.created_at) - 60_000);
        if (r.kind === 'found') {
          if (await this.finish(jobId, 'done', {})) await this.o.workspace.setMessageStatus(messageId, 'accepted', { providerMessageId: r.providerMessageId, meta: { reconciled: true } });
          this.o.logger.info('relay: an earlier attempt had gone through; not sending again', { ...log, providerMessageId: r.providerMessageId });
          return;
        }
        if (r.kind === 'unknown') {
          await this.finish(jobId, 'queued', { error: r.reason, nextAttemptAt: this.now() + backoffDelay(attempts, Math.random, RELAY_BACKOFF) });
          this.o.logger.warn('relay: cannot tell whether an earlier attempt got through; waiting', { ...log, reason: r.reason });
          return;
        }
      }
      if (message.status === 'queued') await this.o.workspace.setMessageStatus(messageId, 'sending');
      const result = await provider.send(ctx);
      switch (result.kind) {
        case 'accepted': {
          if (await this.finish(jobId, 'done', {})) {
            await this.o.workspace.setMessageStatus(messageId, 'accepted', {
              providerMessageId: result.providerMessageId,
              ...(result.cost ? { meta: { cost: result.cost } } : {}),
            });
          }
          this.o.logger.info('relay: accepted', { ...log, providerMessageId: result.providerMessageId });
          break;
        }
        case 'rejected':
          if (await this.finish(jobId, 'failed', { error: result.reason })) {
            await this.o.workspace.setMessageStatus(messageId, 'failed', { reason: result.reason, meta: result.code ? { errorCode: result.code } : {} });
          }
          this.o.logger.warn('relay: rejected by provider', { ...log, reason: result.reason });
          break;
        case 'retry': {
          const max = this.o.maxAttempts ?? 12;
          if (attempts >= max) {
            if (await this.finish(jobId, 'failed', { error: result.reason })) {
              await this.o.workspace.setMessageStatus(messageId, 'failed', { reason: `gave up after ${attempts} attempts: ${result.reason}` });
            }
          } else {
            const delay = result.retryAfterMs ?? backoffDelay(attempts, Math.random, RELAY_BACKOFF);
            await this.finish(jobId, 'queued', { error: result.reason, nextAttemptAt: this.now() + delay });
            await this.o.workspace.setMessageStatus(messageId, 'queued', { reason: `retrying: ${result.reason}` });
          }
          this.o.logger.info('relay: will retry', { ...log, reason: result.reason });
          break;
        }
      }
    } catch (e) {
      this.o.logger.error('relay: job crashed', { ...log, error: String(e) });
      await this.finish(jobId, 'queued', { error: String(e), nextAttemptAt: this.now() + 5000 }).catch(() => undefined);
    }
  }
}

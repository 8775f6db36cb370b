import type { Logger } from '@goutong/core';
import type { Db } from '../db/db.js';

export interface Retention {
  /** Idempotency keys of REST requests are honoured this long (a client retrying after days gets a fresh request). */
  idempotencyMs: number;
  /** Webhook replay records outlive every provider's retry and signature window. */
  webhookReplayMs: number;
}

export const DEFAULT_RETENTION: Retention = {
  idempotencyMs: 7 * 24 * 3600_000,
  webhookReplayMs: 3 * 24 * 3600_000,
};

export interface Purged {
  idempotencyKeys: number;
  webhookReplay: number;
  refreshTokens: number;
}

/** Removes expired idempotency keys, webhook replay records and refresh tokens (expired ones can never be used again). */
export async function purgeExpired(db: Db, now: number, retention: Retention = DEFAULT_RETENTION): Promise<Purged> {
  const idem = await db.run('DELETE FROM idempotency_keys WHERE created_at < ?', [now - retention.idempotencyMs]);
  const replay = await db.run('DELETE FROM webhook_replay WHERE seen_at < ?', [now - retention.webhookReplayMs]);
  // A revoked token is kept until it expires: presenting it again must still revoke its family.
  const refresh = await db.run('DELETE FROM refresh_tokens WHERE expires_at <= ?', [now]);
  return { idempotencyKeys: idem.changes, webhookReplay: replay.changes, refreshTokens: refresh.changes };
}

/** Runs purgeExpired now and then on an unref'd timer (it never keeps the process alive). */
export class Housekeeping {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<Purged | null> | null = null;

  constructor(
    private readonly db: Db,
    private readonly logger: Logger,
    private readonly opts: { intervalMs: number; retention?: Retention; now?: () => number },
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.runOnce(), this.opts.intervalMs);
    this.timer.unref();
  }

  /** One pass (tests call it); concurrent calls share the pass in flight. */
  runOnce(): Promise<Purged | null> {
    this.running ??= purgeExpired(this.db, (this.opts.now ?? Date.now)(), this.opts.retention)
      .then((p) => {
        if (p.idempotencyKeys + p.webhookReplay + p.refreshTokens > 0) this.logger.debug('housekeeping: purged', { ...p });
        return p;
      })
      .catch((e: unknown) => {
        this.logger.warn('housekeeping: purge failed; will retry', { error: String(e) });
        return null;
      })
      .finally(() => (this.running = null));
    return this.running;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }
}

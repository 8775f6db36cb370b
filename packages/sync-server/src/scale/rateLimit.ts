// [trust] Rate limits shared by the server processes: a fixed window per key, counted in Redis when the
// deployment scales out (REDIS_URL), in this process otherwise. API keys use it (`ratePerMinute`).
import { Redis } from 'ioredis';
import type { Logger } from '@goutong/core';

export type RateDecision = { ok: true } | { ok: false; retryAfterSeconds: number };

export interface RateLimiter {
  /** Counts one request of `key` in the window around `now`; refused once `limit` were counted there. */
  hit(key: string, limit: number, windowMs: number, now: number): Promise<RateDecision>;
  close(): Promise<void>;
}

function decide(count: number, limit: number, windowStart: number, windowMs: number, now: number): RateDecision {
  if (count <= limit) return { ok: true };
  return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((windowStart + windowMs - now) / 1000)) };
}

/** One process: windows in a bounded map (the oldest key goes first). */
export class LocalRateLimiter implements RateLimiter {
  private windows = new Map<string, { start: number; count: number }>();
  constructor(private readonly maxKeys = 10_000) {}

  async hit(key: string, limit: number, windowMs: number, now: number): Promise<RateDecision> {
    const start = Math.floor(now / windowMs) * windowMs;
    let w = this.windows.get(key);
    if (!w || w.start !== start) {
      w = { start, count: 0 };
      this.windows.delete(key);
      this.windows.set(key, w);
      if (this.windows.size > this.maxKeys) this.windows.delete(this.windows.keys().next().value!);
    }
    w.count++;
    return decide(w.count, limit, start, windowMs, now);
  }

  async close(): Promise<void> {}
}

/**
 * Several processes: `INCR` of `<prefix><key>:<window>` with an expiry of two windows, so every
 * process counts into the same window (windows are aligned on the clock: the processes' clocks must
 * agree to a second or so, as the tokens' expiry already requires). When Redis cannot answer, the
 * process falls back to its own count rather than refusing or letting everything through.
 */
export class RedisRateLimiter implements RateLimiter {
  private readonly redis: Redis;
  private readonly fallback = new LocalRateLimiter();

  constructor(url: string, private readonly logger: Logger, private readonly prefix = 'goutong:rl:') {
    this.redis = new Redis(url, { maxRetriesPerRequest: 1, enableOfflineQueue: true, lazyConnect: false });
    this.redis.on('error', (e: Error) => this.logger.warn('rate limit: redis error', { error: e.message }));
  }

  async hit(key: string, limit: number, windowMs: number, now: number): Promise<RateDecision> {
    const start = Math.floor(now / windowMs) * windowMs;
    const k = `${this.prefix}${key}:${start}`;
    try {
      const r = await this.redis.multi().incr(k).pexpire(k, windowMs * 2).exec();
      const count = Number(r?.[0]?.[1]);
      if (!Number.isFinite(count)) throw new Error('unexpected INCR answer');
      return decide(count, limit, start, windowMs, now);
    } catch (e) {
      this.logger.warn('rate limit: counting in this process (redis failed)', { error: String(e) });
      return this.fallback.hit(key, limit, windowMs, now);
    }
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => undefined);
  }
}

// [trust] Rate limits shared by the server processes: a fixed window per key that starts with the key's
// first request, counted in Redis when the deployment scales out (REDIS_URL), in this process
// otherwise. API keys use it (`ratePerMinute`).
import { Redis } from 'ioredis';
import type { Logger } from '@goutong/core';

export type RateDecision = { ok: true } | { ok: false; retryAfterSeconds: number };

export interface RateLimiter {
  /** Counts one request of `key` in its current window; refused once `limit` were counted there. */
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
    let w = this.windows.get(key);
    if (!w || now - w.start >= windowMs) {
      w = { start: now, count: 0 };
      this.windows.delete(key);
      this.windows.set(key, w);
      if (this.windows.size > this.maxKeys) this.windows.delete(this.windows.keys().next().value!);
    }
    w.count++;
    return decide(w.count, limit, w.start, windowMs, now);
  }

  async close(): Promise<void> {}
}

/**
 * Several processes: one counter `<prefix><key>` in Redis, created with the window as its expiry by
 * the first request (`SET … NX PX`), then `INCR`; the time left (`PTTL`) is the Retry-After. Redis
 * keeps the time, so the processes' clocks do not matter. When Redis cannot answer, the process falls
 * back to its own count rather than refusing or letting everything through.
 */
export class RedisRateLimiter implements RateLimiter {
  private readonly redis: Redis;
  private readonly fallback = new LocalRateLimiter();

  constructor(url: string, private readonly logger: Logger, private readonly prefix = 'goutong:rl:') {
    this.redis = new Redis(url, { maxRetriesPerRequest: 1, enableOfflineQueue: true, lazyConnect: false });
    this.redis.on('error', (e: Error) => this.logger.warn('rate limit: redis error', { error: e.message }));
  }

  async hit(key: string, limit: number, windowMs: number, now: number): Promise<RateDecision> {
    const k = `${this.prefix}${key}`;
    try {
      const r = await this.redis.multi().set(k, '0', 'PX', windowMs, 'NX').incr(k).pttl(k).exec();
      const count = Number(r?.[1]?.[1]);
      const left = Number(r?.[2]?.[1]);
      if (!Number.isFinite(count) || !Number.isFinite(left)) throw new Error('unexpected answer from Redis');
      if (count <= limit) return { ok: true };
      return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((left > 0 ? left : windowMs) / 1000)) };
    } catch (e) {
      this.logger.warn('rate limit: counting in this process (redis failed)', { error: String(e) });
      return this.fallback.hit(key, limit, windowMs, now);
    }
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => undefined);
  }
}

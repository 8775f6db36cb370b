import { ApiError } from '../../errors.js';

/**
 * Fixed one-minute windows per key (visitor, IP address), in this process. Several server processes
 * each count their own share: a visitor spread over N processes gets at most N times the limit.
 */
export class RateLimiter {
  private windows = new Map<string, { start: number; n: number }>();
  constructor(private readonly now: () => number = Date.now, private readonly windowMs = 60_000) {}

  /** Counts one hit; throws 429 with Retry-After when the key is over `limit` in the current window. */
  hit(key: string, limit: number, what: string): void {
    const now = this.now();
    let w = this.windows.get(key);
    if (!w || now - w.start >= this.windowMs) {
      w = { start: now, n: 0 };
      this.windows.set(key, w);
      if (this.windows.size > 50_000) this.sweep(now);
    }
    w.n += 1;
    if (w.n > limit) {
      const retryAfterSeconds = Math.max(1, Math.ceil((w.start + this.windowMs - now) / 1000));
      throw new ApiError('rate_limited', `too many requests from this ${what}; try again in ${retryAfterSeconds} s`, { retryAfterSeconds });
    }
  }

  private sweep(now: number): void {
    for (const [k, w] of this.windows) if (now - w.start >= this.windowMs) this.windows.delete(k);
  }
}

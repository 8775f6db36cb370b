import type { Db } from '../db/db.js';
import { checkSignIn } from '@goutong/core';
import { ApiError, forbidden, unauthorized } from '../errors.js';
import { apiKeyByToken, apiKeyPrincipal } from '../domain/apiKeys.js';
import type { Principal } from '../domain/permissions.js';
import { LocalRateLimiter, type RateLimiter } from '../scale/rateLimit.js';

/**
 * `Authorization: Bearer gtk_...` on the REST API: the key's service principal, rate-limited per key
 * (a fixed one-minute window, counted across the server processes in Redis when they scale out,
 * see scale/rateLimit.ts).
 */
export class ApiKeyAuth {
  constructor(
    private readonly db: Db,
    private readonly now: () => number = Date.now,
    private readonly limiter: RateLimiter = new LocalRateLimiter(),
  ) {}

  async authenticate(token: string, ip?: string): Promise<{ principal: Principal; apiKeyId: string }> {
    const now = this.now();
    const key = await apiKeyByToken(this.db, token, now);
    if (!key) throw unauthorized('invalid or revoked API key');
    const rate = await this.limiter.hit(`apikey:${key.id}`, key.ratePerMinute, 60_000, now);
    if (!rate.ok) {
      const s = rate.retryAfterSeconds;
      throw new ApiError('rate_limited', `this API key is limited to ${key.ratePerMinute} requests per minute; retry in ${s} s`, { retryAfterSeconds: s });
    }
    const principal = apiKeyPrincipal(key);
    // A key's permission set may name IP ranges and hours, like a role's sign-in restrictions.
    if (ip !== undefined) {
      const allowed = checkSignIn(principal, ip, now);
      if (!allowed.ok) throw forbidden(`this API key may not be used ${allowed.reason === 'ip' ? 'from this address' : 'at this time'}`);
    }
    return { principal, apiKeyId: key.id };
  }
}

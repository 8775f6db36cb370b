import type { Db } from '../db/db.js';
import { checkSignIn } from '@goutong/core';
import { ApiError, forbidden, unauthorized } from '../errors.js';
import { apiKeyByToken, apiKeyPrincipal } from '../domain/apiKeys.js';
import type { Principal } from '../domain/permissions.js';

/**
 * `Authorization: Bearer gtk_...` on the REST API: the key's service principal, rate-limited per key
 * (a fixed one-minute window per server process; several processes each allow the rate).
 */
export class ApiKeyAuth {
  private windows = new Map<string, { start: number; count: number }>();

  constructor(private readonly db: Db, private readonly now: () => number = Date.now) {}

  async authenticate(token: string, ip?: string): Promise<{ principal: Principal; apiKeyId: string }> {
    const now = this.now();
    const key = await apiKeyByToken(this.db, token, now);
    if (!key) throw unauthorized('invalid or revoked API key');
    let w = this.windows.get(key.id);
    if (!w || now - w.start >= 60_000) {
      w = { start: now, count: 0 };
      this.windows.set(key.id, w);
      if (this.windows.size > 10_000) this.windows.delete(this.windows.keys().next().value!);
    }
    if (++w.count > key.ratePerMinute) {
      const s = Math.max(1, Math.ceil((w.start + 60_000 - now) / 1000));
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

import type { Agent } from '@goutong/core';
import type { Db } from '../db/db.js';
import { ApiError, unauthorized } from '../errors.js';
import { toAgent } from '../domain/rows.js';
import { AccessTokens } from './tokens.js';
import { DUMMY_HASH, randomToken, sha256Hex, verifyPassword } from './crypto.js';

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
}

/** Sliding-window counter of failed login attempts (per address and per account). */
class FailureLimiter {
  private hits = new Map<string, number[]>();
  constructor(private readonly max: number, private readonly windowMs: number) {}
  blocked(key: string, now: number): boolean {
    const list = (this.hits.get(key) ?? []).filter((t) => now - t < this.windowMs);
    this.hits.set(key, list);
    return list.length >= this.max;
  }
  fail(key: string, now: number): void {
    const list = this.hits.get(key) ?? [];
    list.push(now);
    this.hits.set(key, list);
    if (this.hits.size > 10_000) this.hits.clear();
  }
}

/**
 * Password login, short-lived access tokens and rotating refresh tokens. Reusing a refresh token
 * that was already rotated revokes its whole family (a stolen token stops working for both sides).
 */
export class AuthService {
  // An office behind one NAT address shares the address budget; an account gets fewer tries.
  private byAddress = new FailureLimiter(50, 60_000);
  private byAccount = new FailureLimiter(10, 15 * 60_000);

  constructor(
    private readonly db: Db,
    readonly tokens: AccessTokens,
    private readonly refreshTtlSeconds: number,
    private readonly now: () => number = Date.now,
  ) {}

  async login(email: string, password: string, ip: string, tenantSlug?: string): Promise<{ agent: Agent; tokens: TokenPair }> {
    const now = this.now();
    const normalized = email.trim().toLowerCase();
    if (this.byAddress.blocked(ip, now) || this.byAccount.blocked(normalized, now)) {
      throw new ApiError('rate_limited', 'too many failed login attempts; wait a few minutes and try again');
    }
    const rows = tenantSlug
      ? await this.db.all('SELECT a.* FROM agents a JOIN tenants t ON t.id = a.tenant_id WHERE lower(a.email) = ? AND t.slug = ?', [normalized, tenantSlug])
      : await this.db.all('SELECT * FROM agents WHERE lower(email) = ?', [normalized]);
    const row = rows.length === 1 ? rows[0]! : null;
    const ok = await verifyPassword(password, row ? String(row.password_hash) : DUMMY_HASH);
    if (!row || !ok) {
      this.byAddress.fail(ip, now);
      this.byAccount.fail(normalized, now);
    }
    if (!row || !ok) throw unauthorized(rows.length > 1 ? 'this e-mail belongs to several workspaces: name the workspace' : 'wrong e-mail or password');
    const agent = toAgent(row);
    if (!agent.active) throw unauthorized('this account is deactivated');
    return { agent, tokens: await this.issue(agent, randomToken(12)) };
  }

  async refresh(refreshToken: string): Promise<TokenPair> {
    const now = this.now();
    const hash = sha256Hex(refreshToken);
    const row = await this.db.one<{ agent_id: string; family: string; expires_at: number; revoked_at: number | null }>(
      'SELECT agent_id, family, expires_at, revoked_at FROM refresh_tokens WHERE token_hash = ?',
      [hash],
    );
    if (!row) throw unauthorized('unknown refresh token');
    if (row.revoked_at !== null) {
      await this.db.run('UPDATE refresh_tokens SET revoked_at = ? WHERE family = ? AND revoked_at IS NULL', [now, row.family]);
      throw unauthorized('refresh token was already used; log in again');
    }
    if (Number(row.expires_at) <= now) throw unauthorized('refresh token expired; log in again');
    const agentRow = await this.db.one('SELECT * FROM agents WHERE id = ?', [row.agent_id]);
    if (!agentRow) throw unauthorized('account no longer exists');
    const agent = toAgent(agentRow);
    if (!agent.active) throw unauthorized('this account is deactivated');
    const r = await this.db.run('UPDATE refresh_tokens SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL', [now, hash]);
    if (r.changes === 0) throw unauthorized('refresh token was already used; log in again');
    return this.issue(agent, row.family);
  }

  async logout(refreshToken: string): Promise<void> {
    const row = await this.db.one<{ family: string }>('SELECT family FROM refresh_tokens WHERE token_hash = ?', [sha256Hex(refreshToken)]);
    if (row) await this.db.run('UPDATE refresh_tokens SET revoked_at = ? WHERE family = ? AND revoked_at IS NULL', [this.now(), row.family]);
  }

  /** Verifies an access token and loads the agent as it is now (role and teams may have changed). */
  async authenticate(token: string): Promise<Agent> {
    const check = this.tokens.verify(token, this.now());
    if (!check.ok) throw unauthorized(check.reason === 'expired' ? 'access token expired' : 'invalid access token');
    const row = await this.db.one('SELECT * FROM agents WHERE id = ? AND tenant_id = ?', [check.claims.sub, check.claims.tid]);
    if (!row) throw unauthorized('account no longer exists');
    const agent = toAgent(row);
    if (!agent.active) throw unauthorized('this account is deactivated');
    return agent;
  }

  private async issue(agent: Agent, family: string): Promise<TokenPair> {
    const now = this.now();
    const refreshToken = randomToken(32);
    await this.db.run('INSERT INTO refresh_tokens (token_hash, agent_id, tenant_id, family, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?)', [
      sha256Hex(refreshToken), agent.id, agent.tenantId, family, now + this.refreshTtlSeconds * 1000, now,
    ]);
    return {
      accessToken: this.tokens.issue({ agentId: agent.id, tenantId: agent.tenantId, role: agent.role }, now),
      refreshToken,
      expiresIn: this.tokens.ttl,
    };
  }
}

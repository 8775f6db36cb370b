import { Emitter, checkSignIn, type Agent } from '@goutong/core';
import type { Db } from '../db/db.js';
import { ApiError, unauthorized } from '../errors.js';
import { toAgent } from '../domain/rows.js';
import { agentRow, agentsByEmail, insertRefreshToken, refreshToken, revokeFamily, rotateRefreshToken, sessionLive } from '../domain/accounts.js';
import { AccessTokens } from './tokens.js';
import { DUMMY_HASH, randomToken, sha256Hex, verifyPassword } from './crypto.js';
import { LoginThrottle } from './throttle.js';
import { ApiKeyAuth } from './apiKeyAuth.js';
import { isApiKeyToken } from '../domain/apiKeys.js';
import { insertAudit } from '../domain/audit.js';
import { withPermissions, type Principal } from '../domain/permissions.js';

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
}

/** An authenticated request or socket: the agent as it is now, its session and when its token ends. */
export interface Authenticated {
  agent: Principal;
  sessionId: string;
  expiresAt: number;
}

/** A REST request's principal: an agent's session, or an API key. */
export interface RequestPrincipal {
  agent: Principal;
  sessionId: string | null;
  apiKeyId: string | null;
}

/** One answer for unknown address, wrong password and an address in several workspaces. */
export const LOGIN_FAILED = 'wrong e-mail or password (if your address is in several workspaces, name the workspace)';

export interface AuthOptions {
  throttle?: LoginThrottle;
  /** The password check (tests count calls: every failed login does the same work). */
  verify?: (password: string, stored: string) => Promise<boolean>;
  /** How long a "session is live" answer is reused; revocations in this process clear it at once. */
  sessionCacheMs?: number;
}

const SESSION_CACHE_MAX = 10_000;

/**
 * Password login, short-lived access tokens and rotating refresh tokens. Reusing a refresh token
 * that was already rotated revokes its whole family (a stolen token stops working for both sides).
 * Access tokens name their session (the refresh family): logout and family revocation end them at
 * once, and `revoked` tells the sockets (and, through the broker, other processes) to close.
 */
export class AuthService {
  readonly throttle: LoginThrottle;
  /** A session ended (logout or family revocation) in this process. */
  readonly revoked = new Emitter<string>();
  private readonly verify: (password: string, stored: string) => Promise<boolean>;
  private readonly sessionCacheMs: number;
  /** sessionId → checked live until (ms). */
  private liveSessions = new Map<string, number>();
  /** `Bearer gtk_...` service tokens (REST only). */
  readonly apiKeys: ApiKeyAuth;

  constructor(
    private readonly db: Db,
    readonly tokens: AccessTokens,
    private readonly refreshTtlSeconds: number,
    private readonly now: () => number = Date.now,
    opts: AuthOptions = {},
  ) {
    this.throttle = opts.throttle ?? new LoginThrottle();
    this.verify = opts.verify ?? verifyPassword;
    this.sessionCacheMs = opts.sessionCacheMs ?? 30_000;
    this.apiKeys = new ApiKeyAuth(db, now);
  }

  async login(email: string, password: string, ip: string, tenantSlug?: string): Promise<{ agent: Agent; tokens: TokenPair }> {
    const now = this.now();
    const normalized = email.trim().toLowerCase();
    const wait = this.throttle.retryAfterMs(normalized, ip, now);
    if (wait > 0) {
      const s = Math.ceil(wait / 1000);
      throw new ApiError('rate_limited', `too many failed login attempts; try again in ${s} s`, { retryAfterSeconds: s });
    }
    const rows = await agentsByEmail(this.db, normalized, tenantSlug);
    // Exactly one password check whatever the case (unknown, ambiguous, known): same work, same answer.
    const row = rows.length === 1 ? rows[0]! : null;
    const ok = await this.verify(password, row ? String(row.password_hash) : DUMMY_HASH);
    if (!row || !ok) {
      this.throttle.fail(normalized, ip, now);
      // Audited in every workspace the address belongs to (an unknown address has no workspace to record it in).
      for (const r of rows) await insertAudit(this.db, { tenantId: String(r.tenant_id), agentId: null }, { action: 'auth.login_failed', target: String(r.id), details: { email: normalized, ip, reason: rows.length > 1 ? 'ambiguous' : 'password' } }, now);
      throw unauthorized(LOGIN_FAILED);
    }
    this.throttle.succeed(normalized, ip);
    const agent = await withPermissions(this.db, toAgent(row));
    const refuse = async (reason: string, message: string) => {
      await insertAudit(this.db, { tenantId: agent.tenantId, agentId: agent.id }, { action: 'auth.login_refused', target: agent.id, details: { ip, reason } }, now);
      return unauthorized(message);
    };
    if (!agent.active) throw await refuse('deactivated', 'this account is deactivated');
    // The role's sign-in restrictions (IP ranges, hours): rules/permissions.ts.
    const allowed = checkSignIn(agent, ip, now);
    if (!allowed.ok) throw await refuse(allowed.reason, allowed.message);
    const family = randomToken(12);
    const tokens = await this.issue(agent, family);
    await insertAudit(this.db, { tenantId: agent.tenantId, agentId: agent.id }, { action: 'auth.login', target: agent.id, details: { ip, sessionId: family } }, now);
    return { agent, tokens };
  }

  async refresh(token: string): Promise<TokenPair> {
    const now = this.now();
    const hash = sha256Hex(token);
    const row = await refreshToken(this.db, hash);
    if (!row) throw unauthorized('unknown refresh token');
    if (row.revoked_at !== null) {
      await this.endSession(row.family);
      throw unauthorized('refresh token was already used; log in again');
    }
    if (row.expires_at <= now) throw unauthorized('refresh token expired; log in again');
    const agentR = await agentRow(this.db, row.agent_id);
    if (!agentR) throw unauthorized('account no longer exists');
    const agent = toAgent(agentR);
    if (!agent.active) throw unauthorized('this account is deactivated');
    const next = this.nextRefresh(agent, row.family, now);
    if (!(await rotateRefreshToken(this.db, hash, next.row))) throw unauthorized('refresh token was already used; log in again');
    return next.pair;
  }

  async logout(token: string): Promise<void> {
    const row = await refreshToken(this.db, sha256Hex(token));
    if (row) await this.endSession(row.family);
  }

  /** Verifies an access token and loads the agent as it is now (role and teams may have changed). */
  async authenticate(token: string): Promise<Agent> {
    return (await this.authenticateRequest(token)).agent;
  }

  /** A REST request's bearer token: an access token (an agent's session) or an API key (`gtk_...`). */
  async authenticateRequest(token: string, ip?: string): Promise<RequestPrincipal> {
    if (isApiKeyToken(token)) {
      const k = await this.apiKeys.authenticate(token, ip);
      return { agent: k.principal, sessionId: null, apiKeyId: k.apiKeyId };
    }
    const a = await this.authenticateSession(token);
    return { agent: a.agent, sessionId: a.sessionId, apiKeyId: null };
  }

  /** As authenticate, with the session and expiry (sockets close when either ends). */
  async authenticateSession(token: string): Promise<Authenticated> {
    const now = this.now();
    const check = this.tokens.verify(token, now);
    if (!check.ok) throw unauthorized(check.reason === 'expired' ? 'access token expired' : 'invalid access token');
    const { sub, tid, sid, exp } = check.claims;
    if (!(await this.isSessionLive(sid, now))) throw unauthorized('session ended (logged out or revoked); log in again');
    const row = await agentRow(this.db, sub, tid);
    if (!row) throw unauthorized('account no longer exists');
    const agent = await withPermissions(this.db, toAgent(row));
    if (!agent.active) throw unauthorized('this account is deactivated');
    return { agent, sessionId: sid, expiresAt: exp * 1000 };
  }

  /** Another process ended this session: forget the cached answer (sockets are closed by the caller). */
  forgetSession(sessionId: string): void {
    this.liveSessions.delete(sessionId);
  }

  private async isSessionLive(sid: string, now: number): Promise<boolean> {
    const until = this.liveSessions.get(sid);
    if (until !== undefined && until > now) return true;
    const live = await sessionLive(this.db, sid, now);
    if (live) {
      this.liveSessions.delete(sid);
      this.liveSessions.set(sid, now + this.sessionCacheMs);
      if (this.liveSessions.size > SESSION_CACHE_MAX) this.liveSessions.delete(this.liveSessions.keys().next().value!);
    } else this.liveSessions.delete(sid);
    return live;
  }

  private async endSession(family: string): Promise<void> {
    await revokeFamily(this.db, family, this.now());
    this.liveSessions.delete(family);
    this.revoked.emit(family);
  }

  private nextRefresh(agent: Agent, family: string, now: number) {
    const refresh = randomToken(32);
    return {
      row: { tokenHash: sha256Hex(refresh), agentId: agent.id, tenantId: agent.tenantId, family, expiresAt: now + this.refreshTtlSeconds * 1000, createdAt: now },
      pair: {
        accessToken: this.tokens.issue({ agentId: agent.id, tenantId: agent.tenantId, role: agent.role, sessionId: family }, now),
        refreshToken: refresh,
        expiresIn: this.tokens.ttl,
      } satisfies TokenPair,
    };
  }

  private async issue(agent: Agent, family: string): Promise<TokenPair> {
    const next = this.nextRefresh(agent, family, this.now());
    await insertRefreshToken(this.db, next.row);
    return next.pair;
  }
}

import { Emitter, checkSignIn, type Agent } from '@goutong/core';
import type { Db } from '../db/db.js';
import { ApiError, unauthorized } from '../errors.js';
import { toAgent } from '../domain/rows.js';
import { agentRow, agentsByEmail, refreshToken, revokeFamily, rotateRefreshToken, sessionLive } from '../domain/accounts.js';
import { AccessTokens } from './tokens.js';
import { DUMMY_HASH, randomToken, sha256Hex, verifyPassword } from './crypto.js';
import { LoginThrottle } from './throttle.js';
import { ApiKeyAuth } from './apiKeyAuth.js';
import type { RateLimiter } from '../scale/rateLimit.js';
import { isApiKeyToken } from '../domain/apiKeys.js';
import { insertAudit } from '../domain/audit.js';
import { withPermissions, type Principal } from '../domain/permissions.js';
import { sessionWipe, startSession, touchSession } from '../domain/sessions.js';

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
  /** [trust] Where API-key rate limits are counted (Redis when the server scales out). */
  rateLimiter?: RateLimiter;
}

const SESSION_CACHE_MAX = 10_000;
export const MFA_CHALLENGE_SECONDS = 300;

/** [accounts] The device a session was signed in from (shown in the sessions list). */
export interface DeviceInfo {
  deviceName?: string | undefined;
  platform?: string | undefined;
}

export type LoginStep =
  | { kind: 'tokens'; agent: Agent; tokens: TokenPair }
  | { kind: 'mfa'; agent: Agent; mfaToken: string; expiresIn: number };

/** [accounts] Two-factor sign-in (auth/accounts.ts implements it). */
export interface MfaVerifier {
  enabled(agentId: string): Promise<boolean>;
  challenge(agent: Agent, device: DeviceInfo & { ip: string }, now: number): Promise<string>;
  complete(mfaToken: string, code: string, now: number): Promise<{ challenge: { agentId: string; tenantId: string; deviceName: string | null; platform: string | null; ip: string | null }; usedRecoveryCode: boolean }>;
}

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
  /** [accounts] A session ended whose device must wipe its local data (deactivation, remote wipe). */
  readonly wiped = new Emitter<string>();
  /** [accounts] The second login step, when two-factor sign-in is available (set by the server). */
  mfa: MfaVerifier | null = null;
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
    this.apiKeys = new ApiKeyAuth(db, now, opts.rateLimiter);
  }

  async login(email: string, password: string, ip: string, tenantSlug?: string): Promise<{ agent: Agent; tokens: TokenPair }> {
    const step = await this.beginLogin(email, password, ip, tenantSlug);
    if (step.kind === 'mfa') throw unauthorized('a two-factor code is required: sign in through /api/v1/auth/login and /api/v1/auth/mfa');
    return step;
  }

  /**
   * [accounts] The first step of a login: the password is checked; an agent with two-factor on gets
   * a short-lived challenge token for /api/v1/auth/mfa instead of tokens.
   */
  async beginLogin(email: string, password: string, ip: string, tenantSlug?: string, device: DeviceInfo = {}): Promise<LoginStep> {
    const agent = await this.checkPassword(email, password, ip, tenantSlug);
    const mfa = this.mfa;
    if (mfa && (await mfa.enabled(agent.id))) {
      return { kind: 'mfa', agent, mfaToken: await mfa.challenge(agent, { ...device, ip }, this.now()), expiresIn: MFA_CHALLENGE_SECONDS };
    }
    const family = randomToken(12);
    const tokens = await this.issue(agent, family, { ...device, ip });
    await insertAudit(this.db, { tenantId: agent.tenantId, agentId: agent.id }, { action: 'auth.login', target: agent.id, details: { ip, sessionId: family } }, this.now());
    return { kind: 'tokens', agent, tokens };
  }

  /** [accounts] The second step: a TOTP or recovery code for the challenge (see MfaVerifier). */
  async completeMfa(mfaToken: string, code: string): Promise<{ agent: Agent; tokens: TokenPair; usedRecoveryCode: boolean }> {
    if (!this.mfa) throw unauthorized('two-factor sign-in is not available');
    const r = await this.mfa.complete(mfaToken, code, this.now());
    const row = await agentRow(this.db, r.challenge.agentId, r.challenge.tenantId);
    if (!row) throw unauthorized('account no longer exists');
    const agent = await withPermissions(this.db, toAgent(row));
    if (!agent.active) throw new ApiError('unauthorized', 'this account is deactivated', { wipe: true });
    const allowed = checkSignIn(agent, r.challenge.ip ?? '', this.now());
    if (!allowed.ok) throw unauthorized(allowed.message);
    const family = randomToken(12);
    const tokens = await this.issue(agent, family, { deviceName: r.challenge.deviceName ?? undefined, platform: r.challenge.platform ?? undefined, ip: r.challenge.ip ?? '' });
    await insertAudit(this.db, { tenantId: agent.tenantId, agentId: agent.id }, { action: 'auth.login', target: agent.id, details: { ip: r.challenge.ip, sessionId: family, mfa: true } }, this.now());
    return { agent, tokens, usedRecoveryCode: r.usedRecoveryCode };
  }

  /**
   * [accounts] Sessions ended by account administration (deactivation, remote wipe, password
   * change): the rows are already revoked in the caller's transaction; forget them and close their
   * sockets here and, through the broker, in the other processes.
   */
  sessionsEnded(sessionIds: readonly string[], wipe: boolean): void {
    for (const s of sessionIds) {
      this.liveSessions.delete(s);
      if (wipe) this.wiped.emit(s);
      else this.revoked.emit(s);
    }
  }

  private async checkPassword(email: string, password: string, ip: string, tenantSlug?: string): Promise<Agent> {
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
    const refuse = async (reason: string, message: string, details?: Record<string, unknown>) => {
      await insertAudit(this.db, { tenantId: agent.tenantId, agentId: agent.id }, { action: 'auth.login_refused', target: agent.id, details: { ip, reason } }, now);
      return details ? new ApiError('unauthorized', message, details) : unauthorized(message);
    };
    if (!agent.active) throw await refuse('deactivated', 'this account is deactivated', { wipe: true });
    // The role's sign-in restrictions (IP ranges, hours): rules/permissions.ts.
    const allowed = checkSignIn(agent, ip, now);
    if (!allowed.ok) throw await refuse(allowed.reason, allowed.message);
    return agent;
  }

  async refresh(token: string): Promise<TokenPair> {
    const now = this.now();
    const hash = sha256Hex(token);
    const row = await refreshToken(this.db, hash);
    if (!row) throw unauthorized('unknown refresh token');
    if (row.revoked_at !== null) {
      if (await sessionWipe(this.db, row.family)) throw new ApiError('unauthorized', 'this device was signed out and must erase its local data', { wipe: true });
      await this.endSession(row.family);
      throw unauthorized('refresh token was already used; log in again');
    }
    if (row.expires_at <= now) throw unauthorized('refresh token expired; log in again');
    const agentR = await agentRow(this.db, row.agent_id);
    if (!agentR) throw unauthorized('account no longer exists');
    const agent = toAgent(agentR);
    if (!agent.active) throw new ApiError('unauthorized', 'this account is deactivated', { wipe: true });
    await touchSession(this.db, row.family, now);
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
    if (!(await this.isSessionLive(sid, now))) {
      // [accounts] A device signed out remotely (or of a deactivated agent) is told to wipe its local data.
      if (await sessionWipe(this.db, sid)) throw new ApiError('unauthorized', 'this device was signed out and must erase its local data', { wipe: true });
      throw unauthorized('session ended (logged out or revoked); log in again');
    }
    const row = await agentRow(this.db, sub, tid);
    if (!row) throw unauthorized('account no longer exists');
    const agent = await withPermissions(this.db, toAgent(row));
    if (!agent.active) throw new ApiError('unauthorized', 'this account is deactivated', { wipe: true });
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
      await touchSession(this.db, sid, now);
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

  private async issue(agent: Agent, family: string, device: DeviceInfo & { ip?: string } = {}): Promise<TokenPair> {
    const now = this.now();
    const next = this.nextRefresh(agent, family, now);
    await startSession(this.db, next.row, { deviceName: device.deviceName ?? null, platform: device.platform ?? null, ip: device.ip || null });
    return next.pair;
  }
}

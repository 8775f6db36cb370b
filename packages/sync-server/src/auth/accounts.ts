import type { Agent, AgentPatch, Role } from '@goutong/core';
import { passwordProblem } from '@goutong/core';
import type { Db } from '../db/db.js';
import { ApiError, badRequest, notFound, unauthorized } from '../errors.js';
import {
  changePassword,
  createResetToken,
  disableMfa,
  enableMfa,
  insertChallenge,
  inviteAgent,
  mfaOf,
  passwordHashOf,
  patchAgent,
  recoveryCodesLeft,
  regenerateRecovery,
  setPendingMfa,
  takeChallengeAttempt,
  useAgentToken,
  useSecondFactor,
} from '../domain/agentAdmin.js';
import { endSessionsAudited, liveSessionsOf, sessionById, type SessionRow } from '../domain/sessions.js';
import { agentRow } from '../domain/accounts.js';
import { decryptSecret, encryptSecret, hashPassword, randomToken, sha256Hex, verifyPassword } from './crypto.js';
import type { AuthService, DeviceInfo, MfaVerifier } from './service.js';
import { MFA_CHALLENGE_SECONDS } from './service.js';
import { matchTotp, newRecoveryCodes, newTotpSecret, normalizeRecoveryCode, otpauthUri } from './totp.js';

export const INVITE_TTL_MS = 7 * 24 * 3600_000;
export const RESET_TTL_MS = 24 * 3600_000;
const MFA_MAX_ATTEMPTS = 5;

export interface SessionView {
  id: string;
  deviceName: string | null;
  platform: string | null;
  ip: string | null;
  createdAt: number;
  lastSeenAt: number;
  current: boolean;
}

const view = (s: SessionRow, current: string | null): SessionView => ({
  id: s.id, deviceName: s.deviceName, platform: s.platform, ip: s.ip, createdAt: s.createdAt, lastSeenAt: s.lastSeenAt, current: s.id === current,
});

/**
 * [accounts] Accounts: invites and reset links, agent edits, passwords, two-factor sign-in and the
 * agent's sessions. The SQL is in domain/agentAdmin.ts and domain/sessions.ts; sessions that end
 * here are announced through AuthService (sockets close, other processes hear of it).
 */
export class AccountService implements MfaVerifier {
  constructor(
    private readonly db: Db,
    private readonly auth: AuthService,
    private readonly secret: string,
    private readonly ids: { next(): string },
    private readonly now: () => number = Date.now,
  ) {
    auth.mfa = this;
  }

  // ----- invites, resets, edits -----------------------------------------------------------------------

  async invite(actor: Agent, input: { name: string; email: string; role: Role; teamIds: string[] }): Promise<{ agent: Agent; token: string; expiresAt: number }> {
    if (actor.role !== 'admin') throw new ApiError('forbidden', 'only admins invite agents');
    const token = randomToken(32);
    const now = this.now();
    const expiresAt = now + INVITE_TTL_MS;
    const agent = await inviteAgent(this.db, actor, { id: this.ids.next(), ...input, tokenHash: sha256Hex(`agent-token:${token}`), expiresAt, now });
    return { agent, token, expiresAt };
  }

  async resetLink(actor: Agent, agentId: string): Promise<{ token: string; expiresAt: number }> {
    if (actor.role !== 'admin') throw new ApiError('forbidden', 'only admins reset passwords');
    const token = randomToken(32);
    const now = this.now();
    const expiresAt = now + RESET_TTL_MS;
    await createResetToken(this.db, actor, agentId, sha256Hex(`agent-token:${token}`), expiresAt, now);
    return { token, expiresAt };
  }

  /** Sets the password of an invite or a reset link; the link works once. */
  async useLink(token: string, password: string): Promise<Agent> {
    const problem = passwordProblem(password);
    if (problem) throw badRequest(problem);
    const hash = await hashPassword(password);
    const r = await useAgentToken(this.db, sha256Hex(`agent-token:${token}`), hash, this.now());
    if (!r) throw new ApiError('unauthorized', 'this link is unknown, was used already or has expired; ask an admin for a new one');
    this.auth.sessionsEnded(r.ended, false);
    return r.agent;
  }

  async patch(actor: Agent, agentId: string, patch: AgentPatch): Promise<Agent> {
    const r = await patchAgent(this.db, actor, agentId, patch, this.now());
    // Deactivation: every session ends at once and its devices are told to wipe.
    this.auth.sessionsEnded(r.ended, !r.agent.active);
    return r.agent;
  }

  async changePassword(agent: Agent, sessionId: string, current: string, next: string): Promise<{ sessionsEnded: number }> {
    const stored = await passwordHashOf(this.db, agent.id);
    if (!stored || !(await verifyPassword(current, stored))) throw new ApiError('forbidden', 'the current password is wrong');
    const problem = passwordProblem(next);
    if (problem) throw badRequest(problem);
    const ended = await changePassword(this.db, agent, sessionId, await hashPassword(next), this.now());
    this.auth.sessionsEnded(ended, false);
    return { sessionsEnded: ended.length };
  }

  // ----- sessions ---------------------------------------------------------------------------------

  async sessions(tenantId: string, agentId: string, current: string | null): Promise<SessionView[]> {
    return (await liveSessionsOf(this.db, tenantId, agentId, this.now())).map((s) => view(s, current));
  }

  /**
   * Ends one session of `agentId` (the agent's own, or any agent's for an admin); with `wipe` the
   * device erases its local data (a lost phone signed out from the desktop).
   */
  async endSession(actor: Agent, agentId: string, sessionId: string, wipe: boolean): Promise<void> {
    if (agentId !== actor.id && actor.role !== 'admin') throw new ApiError('forbidden', "only admins end other agents' sessions");
    const s = await sessionById(this.db, sessionId);
    if (!s || s.agentId !== agentId || s.tenantId !== actor.tenantId) throw notFound('session not found');
    const now = this.now();
    await endSessionsAudited(this.db, [sessionId], {
      now, wipe, actor: { tenantId: actor.tenantId, agentId: actor.id }, action: wipe ? 'session.wipe' : 'session.end', target: sessionId, details: { agentId, deviceName: s.deviceName, platform: s.platform },
    });
    this.auth.sessionsEnded([sessionId], wipe);
  }

  /** Signs out every other device of the agent. */
  async endOtherSessions(actor: Agent, current: string): Promise<number> {
    const others = (await liveSessionsOf(this.db, actor.tenantId, actor.id, this.now())).filter((s) => s.id !== current).map((s) => s.id);
    const now = this.now();
    await endSessionsAudited(this.db, others, { now, wipe: false, actor: { tenantId: actor.tenantId, agentId: actor.id }, action: 'session.end_others', target: actor.id, details: { count: others.length } });
    this.auth.sessionsEnded(others, false);
    return others.length;
  }

  // ----- two-factor ---------------------------------------------------------------------------------

  async mfaStatus(agent: Agent): Promise<{ enabled: boolean; pending: boolean; recoveryCodesLeft: number }> {
    const m = await mfaOf(this.db, agent.id);
    return { enabled: Boolean(m?.enabledAt), pending: Boolean(m && !m.enabledAt), recoveryCodesLeft: m?.enabledAt ? await recoveryCodesLeft(this.db, agent.id) : 0 };
  }

  /** Enrolment, step one: a new secret (shown as an otpauth:// URI and for manual entry). */
  async mfaSetup(agent: Agent, issuer: string): Promise<{ secret: string; otpauthUri: string }> {
    const secret = newTotpSecret();
    await setPendingMfa(this.db, agent, encryptSecret(this.secret, secret), this.now());
    return { secret, otpauthUri: otpauthUri({ secret, account: agent.email, issuer }) };
  }

  /** Enrolment, step two: a code from the app proves the secret is there; answers the recovery codes (shown once). */
  async mfaEnable(agent: Agent, code: string): Promise<{ recoveryCodes: string[] }> {
    const m = await mfaOf(this.db, agent.id);
    if (!m) throw badRequest('start the set-up first (POST /api/v1/me/mfa/setup)');
    if (m.enabledAt) throw new ApiError('conflict', 'two-factor sign-in is on already');
    const now = this.now();
    const step = matchTotp(decryptSecret(this.secret, m.secret), code, now);
    if (step === null) throw badRequest('the code does not match; check the time on your phone and try the next code');
    const codes = newRecoveryCodes();
    if (!(await enableMfa(this.db, agent, step, codes.map((c) => sha256Hex(`recovery:${normalizeRecoveryCode(c)}`)), now))) throw badRequest('this code was used already; wait for the next one');
    return { recoveryCodes: codes };
  }

  async mfaDisable(agent: Agent, password: string): Promise<void> {
    const stored = await passwordHashOf(this.db, agent.id);
    if (!stored || !(await verifyPassword(password, stored))) throw new ApiError('forbidden', 'the password is wrong');
    await disableMfa(this.db, agent, agent.id, this.now());
  }

  /** An admin turns off an agent's two-factor (a lost phone and no recovery codes). */
  async mfaReset(actor: Agent, agentId: string): Promise<void> {
    if (actor.role !== 'admin') throw new ApiError('forbidden', 'only admins reset two-factor sign-in');
    if (!(await agentRow(this.db, agentId, actor.tenantId))) throw notFound('agent not found');
    await disableMfa(this.db, actor, agentId, this.now());
  }

  async mfaRecoveryCodes(agent: Agent, password: string): Promise<{ recoveryCodes: string[] }> {
    const stored = await passwordHashOf(this.db, agent.id);
    if (!stored || !(await verifyPassword(password, stored))) throw new ApiError('forbidden', 'the password is wrong');
    if (!(await mfaOf(this.db, agent.id))?.enabledAt) throw new ApiError('conflict', 'two-factor sign-in is off');
    const codes = newRecoveryCodes();
    await regenerateRecovery(this.db, agent, codes.map((c) => sha256Hex(`recovery:${normalizeRecoveryCode(c)}`)), this.now());
    return { recoveryCodes: codes };
  }

  // ----- MfaVerifier (the login's second step) ---------------------------------------------------

  async enabled(agentId: string): Promise<boolean> {
    return Boolean((await mfaOf(this.db, agentId))?.enabledAt);
  }

  async challenge(agent: Agent, device: DeviceInfo & { ip: string }, now: number): Promise<string> {
    const token = randomToken(32);
    await insertChallenge(this.db, {
      tokenHash: sha256Hex(`mfa:${token}`), agentId: agent.id, tenantId: agent.tenantId, deviceName: device.deviceName ?? null, platform: device.platform ?? null,
      ip: device.ip || null, expiresAt: now + MFA_CHALLENGE_SECONDS * 1000, now,
    });
    return token;
  }

  async complete(mfaToken: string, code: string, now: number) {
    const hash = sha256Hex(`mfa:${mfaToken}`);
    const challenge = await takeChallengeAttempt(this.db, hash, now, MFA_MAX_ATTEMPTS);
    if (!challenge) throw unauthorized('the sign-in expired or had too many wrong codes; sign in again');
    const m = await mfaOf(this.db, challenge.agentId);
    if (!m?.enabledAt) throw unauthorized('two-factor sign-in is off for this account; sign in again');
    const step = matchTotp(decryptSecret(this.secret, m.secret), code, now);
    const ok = await useSecondFactor(this.db, { challengeHash: hash, challenge, step, recoveryHash: sha256Hex(`recovery:${normalizeRecoveryCode(code)}`), now });
    if (!ok) throw unauthorized(step !== null ? 'this code was used already; wait for the next one' : 'wrong code');
    return { challenge, usedRecoveryCode: ok === 'recovery' };
  }
}

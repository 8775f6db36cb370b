import { decideAgentPatch, type Agent, type AgentPatch, type Role } from '@goutong/core';
import type { Db, Queryable } from '../db/db.js';
import { ApiError, conflict, notFound } from '../errors.js';
import { insertAudit, type AuditActor } from './audit.js';
import { nextSeq, toAgent } from './rows.js';
import { endSessions, liveFamiliesOf } from './sessions.js';

/**
 * [accounts] The SQL of account administration: invites and reset links (single-use, expiring
 * tokens stored as hashes), agent edits through the core rule, password changes and the two-factor
 * rows. Every change writes its audit row in the same transaction.
 */

/** A password hash no password matches (an invited agent signs in only after accepting). */
export const NO_PASSWORD = '!unset';
export type AgentTokenKind = 'invite' | 'reset';

const actorOf = (a: Agent): AuditActor => ({ tenantId: a.tenantId, agentId: a.id });

export async function activeAdmins(q: Queryable, tenantId: string): Promise<number> {
  const r = await q.one<{ n: number }>("SELECT COUNT(*) AS n FROM agents WHERE tenant_id = ? AND role = 'admin' AND active = 1", [tenantId]);
  return Number(r?.n ?? 0);
}

async function teamIdsOf(q: Queryable, tenantId: string): Promise<string[]> {
  return (await q.all<{ id: string }>('SELECT id FROM teams WHERE tenant_id = ?', [tenantId])).map((r) => String(r.id));
}

/** Creates the invited agent (no usable password yet) and its invite token, audited. */
export async function inviteAgent(
  db: Db,
  actor: Agent,
  input: { id: string; name: string; email: string; role: Role; teamIds: string[]; tokenHash: string; expiresAt: number; now: number },
): Promise<Agent> {
  return db.tx(async (q) => {
    const email = input.email.trim().toLowerCase();
    if (await q.one('SELECT id FROM agents WHERE tenant_id = ? AND lower(email) = ?', [actor.tenantId, email])) throw conflict(`an agent with e-mail ${email} exists already`);
    const known = await teamIdsOf(q, actor.tenantId);
    const unknown = input.teamIds.filter((t) => !known.includes(t));
    if (unknown.length) throw new ApiError('bad_request', `unknown team ${unknown.join(', ')}`);
    const seq = await nextSeq(q, actor.tenantId);
    await q.run('INSERT INTO agents (id, tenant_id, email, name, role, team_ids, password_hash, active, created_at, seq) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?)', [
      input.id, actor.tenantId, email, input.name, input.role, JSON.stringify([...new Set(input.teamIds)]), NO_PASSWORD, input.now, seq,
    ]);
    await insertToken(q, { tokenHash: input.tokenHash, tenantId: actor.tenantId, agentId: input.id, kind: 'invite', expiresAt: input.expiresAt, createdBy: actor.id, now: input.now });
    await insertAudit(q, actorOf(actor), { action: 'agent.invite', target: input.id, details: { role: input.role, teamIds: input.teamIds } }, input.now);
    return toAgent((await q.one('SELECT * FROM agents WHERE id = ?', [input.id]))!);
  });
}

async function insertToken(q: Queryable, t: { tokenHash: string; tenantId: string; agentId: string; kind: AgentTokenKind; expiresAt: number; createdBy: string | null; now: number }): Promise<void> {
  // A new link replaces the agent's earlier unused ones of the same kind.
  await q.run('UPDATE agent_tokens SET used_at = ? WHERE agent_id = ? AND kind = ? AND used_at IS NULL', [t.now, t.agentId, t.kind]);
  await q.run('INSERT INTO agent_tokens (token_hash, tenant_id, agent_id, kind, expires_at, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)', [
    t.tokenHash, t.tenantId, t.agentId, t.kind, t.expiresAt, t.createdBy, t.now,
  ]);
}

/** An admin's reset link for an agent (the agent's sessions go on until the new password is set). */
export async function createResetToken(db: Db, actor: Agent, agentId: string, tokenHash: string, expiresAt: number, now: number): Promise<void> {
  await db.tx(async (q) => {
    const row = await q.one('SELECT * FROM agents WHERE id = ? AND tenant_id = ?', [agentId, actor.tenantId]);
    if (!row) throw notFound('agent not found');
    await insertToken(q, { tokenHash, tenantId: actor.tenantId, agentId, kind: 'reset', expiresAt, createdBy: actor.id, now });
    await insertAudit(q, actorOf(actor), { action: 'agent.password_reset_link', target: agentId, details: {} }, now);
  });
}

/**
 * Uses a token once: the conditional update succeeds for exactly one request, and only while the
 * token is unexpired. Sets the password, ends the agent's other sessions (a reset), audited.
 * Returns the agent and the sessions ended, or null when the token is unknown, used or expired.
 */
export async function useAgentToken(db: Db, tokenHash: string, passwordHash: string, now: number): Promise<{ agent: Agent; kind: AgentTokenKind; ended: string[] } | null> {
  return db.tx(async (q) => {
    const t = await q.one<{ agent_id: string; tenant_id: string; kind: string }>('SELECT agent_id, tenant_id, kind FROM agent_tokens WHERE token_hash = ?', [tokenHash]);
    if (!t) return null;
    const used = await q.run('UPDATE agent_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?', [now, tokenHash, now]);
    if (used.changes === 0) return null;
    const row = await q.one('SELECT * FROM agents WHERE id = ?', [t.agent_id]);
    if (!row || !toAgent(row).active) return null;
    await q.run('UPDATE agents SET password_hash = ? WHERE id = ?', [passwordHash, t.agent_id]);
    const ended = await liveFamiliesOf(q, t.agent_id, now);
    await endSessions(q, ended, { now, wipe: false });
    const kind: AgentTokenKind = t.kind === 'reset' ? 'reset' : 'invite';
    await insertAudit(q, { tenantId: String(t.tenant_id), agentId: String(t.agent_id) }, { action: kind === 'invite' ? 'agent.invite_accepted' : 'agent.password_reset', target: String(t.agent_id), details: {} }, now);
    return { agent: toAgent(row), kind, ended };
  });
}

/**
 * An admin's edit of an agent through the core rule (decideAgentPatch). Deactivation ends every
 * session of the agent with the wipe flag, in the same transaction. Returns the agent and the ended sessions.
 */
export async function patchAgent(db: Db, actor: Agent, agentId: string, patch: AgentPatch, now: number): Promise<{ agent: Agent; ended: string[] }> {
  return db.tx(async (q) => {
    const row = await q.one('SELECT * FROM agents WHERE id = ? AND tenant_id = ?', [agentId, actor.tenantId]);
    const d = decideAgentPatch(actor, row ? toAgent(row) : null, patch, { activeAdmins: await activeAdmins(q, actor.tenantId), knownTeamIds: await teamIdsOf(q, actor.tenantId) });
    if (!d.ok) throw new ApiError(d.rejection.code, d.rejection.message);
    if (d.changed.length === 0) return { agent: d.agent, ended: [] };
    const seq = await nextSeq(q, actor.tenantId);
    const a = d.agent;
    await q.run('UPDATE agents SET name = ?, role = ?, team_ids = ?, active = ?, seq = ? WHERE id = ?', [a.name, a.role, JSON.stringify(a.teamIds), a.active ? 1 : 0, seq, a.id]);
    let ended: string[] = [];
    if (d.deactivated) {
      ended = await liveFamiliesOf(q, a.id, now);
      await endSessions(q, ended, { now, wipe: true });
    }
    const action = d.deactivated ? 'agent.deactivate' : d.reactivated ? 'agent.reactivate' : 'agent.update';
    const details: Record<string, unknown> = {};
    for (const k of d.changed) details[k] = patch[k];
    await insertAudit(q, actorOf(actor), { action, target: a.id, details: { changed: details, sessionsEnded: ended.length } }, now);
    return { agent: { ...a, seq }, ended };
  });
}

export async function passwordHashOf(q: Queryable, agentId: string): Promise<string | null> {
  const r = await q.one<{ password_hash: string }>('SELECT password_hash FROM agents WHERE id = ?', [agentId]);
  return r ? String(r.password_hash) : null;
}

/** The agent's own password change: every other session ends; audited. */
export async function changePassword(db: Db, agent: Agent, keepSession: string, passwordHash: string, now: number): Promise<string[]> {
  return db.tx(async (q) => {
    await q.run('UPDATE agents SET password_hash = ? WHERE id = ?', [passwordHash, agent.id]);
    const ended = (await liveFamiliesOf(q, agent.id, now)).filter((f) => f !== keepSession);
    await endSessions(q, ended, { now, wipe: false });
    await insertAudit(q, actorOf(agent), { action: 'agent.password_change', target: agent.id, details: { sessionsEnded: ended.length } }, now);
    return ended;
  });
}

// ----- two-factor -------------------------------------------------------------------------------

export interface MfaRow {
  secret: string;
  enabledAt: number | null;
  lastStep: number;
}

export async function mfaOf(q: Queryable, agentId: string): Promise<MfaRow | null> {
  const r = await q.one<{ secret: string; enabled_at: number | null; last_step: number }>('SELECT secret, enabled_at, last_step FROM agent_mfa WHERE agent_id = ?', [agentId]);
  return r ? { secret: String(r.secret), enabledAt: r.enabled_at === null ? null : Number(r.enabled_at), lastStep: Number(r.last_step) } : null;
}

/** Stores a pending (not yet confirmed) secret; refused while two-factor is on. */
export async function setPendingMfa(db: Db, agent: Agent, sealedSecret: string, now: number): Promise<void> {
  await db.tx(async (q) => {
    const cur = await mfaOf(q, agent.id);
    if (cur?.enabledAt) throw conflict('two-factor sign-in is on already; turn it off first');
    await q.run('DELETE FROM agent_mfa WHERE agent_id = ?', [agent.id]);
    await q.run('INSERT INTO agent_mfa (agent_id, tenant_id, secret, enabled_at, last_step, created_at) VALUES (?, ?, ?, NULL, 0, ?)', [agent.id, agent.tenantId, sealedSecret, now]);
  });
}

/**
 * Records that the code of `step` was used: succeeds once per step and never for a step at or
 * before the last used one (a replayed code is refused).
 */
export async function useTotpStep(q: Queryable, agentId: string, step: number): Promise<boolean> {
  return (await q.run('UPDATE agent_mfa SET last_step = ? WHERE agent_id = ? AND last_step < ?', [step, agentId, step])).changes > 0;
}

export async function enableMfa(db: Db, agent: Agent, step: number, recoveryHashes: readonly string[], now: number): Promise<boolean> {
  return db.tx(async (q) => {
    if (!(await useTotpStep(q, agent.id, step))) return false;
    await q.run('UPDATE agent_mfa SET enabled_at = ? WHERE agent_id = ?', [now, agent.id]);
    await replaceRecovery(q, agent.id, recoveryHashes);
    await insertAudit(q, actorOf(agent), { action: 'agent.mfa_enable', target: agent.id, details: {} }, now);
    return true;
  });
}

async function replaceRecovery(q: Queryable, agentId: string, hashes: readonly string[]): Promise<void> {
  await q.run('DELETE FROM agent_recovery_codes WHERE agent_id = ?', [agentId]);
  for (const h of hashes) await q.run('INSERT INTO agent_recovery_codes (agent_id, code_hash) VALUES (?, ?)', [agentId, h]);
}

export async function regenerateRecovery(db: Db, agent: Agent, hashes: readonly string[], now: number): Promise<void> {
  await db.tx(async (q) => {
    await replaceRecovery(q, agent.id, hashes);
    await insertAudit(q, actorOf(agent), { action: 'agent.mfa_recovery_codes', target: agent.id, details: {} }, now);
  });
}

export async function disableMfa(db: Db, actor: Agent, agentId: string, now: number): Promise<void> {
  await db.tx(async (q) => {
    await q.run('DELETE FROM agent_recovery_codes WHERE agent_id = ?', [agentId]);
    await q.run('DELETE FROM agent_mfa WHERE agent_id = ?', [agentId]);
    await insertAudit(q, actorOf(actor), { action: 'agent.mfa_disable', target: agentId, details: {} }, now);
  });
}

/** A recovery code works once. */
export async function useRecoveryCode(q: Queryable, agentId: string, codeHash: string, now: number): Promise<boolean> {
  return (await q.run('UPDATE agent_recovery_codes SET used_at = ? WHERE agent_id = ? AND code_hash = ? AND used_at IS NULL', [now, agentId, codeHash])).changes > 0;
}

export async function recoveryCodesLeft(q: Queryable, agentId: string): Promise<number> {
  return Number((await q.one<{ n: number }>('SELECT COUNT(*) AS n FROM agent_recovery_codes WHERE agent_id = ? AND used_at IS NULL', [agentId]))?.n ?? 0);
}

// ----- the second step of a login --------------------------------------------------------------------

export interface MfaChallenge {
  agentId: string;
  tenantId: string;
  deviceName: string | null;
  platform: string | null;
  ip: string | null;
}

export async function insertChallenge(q: Queryable, c: MfaChallenge & { tokenHash: string; expiresAt: number; now: number }): Promise<void> {
  await q.run('INSERT INTO mfa_challenges (token_hash, tenant_id, agent_id, expires_at, device_name, platform, ip, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)', [
    c.tokenHash, c.tenantId, c.agentId, c.expiresAt, c.deviceName, c.platform, c.ip, c.now,
  ]);
}

/** A live challenge that has attempts left (each look counts one attempt, so guessing is bounded). */
export async function takeChallengeAttempt(q: Queryable, tokenHash: string, now: number, maxAttempts: number): Promise<MfaChallenge | null> {
  const r = await q.run('UPDATE mfa_challenges SET attempts = attempts + 1 WHERE token_hash = ? AND used_at IS NULL AND expires_at > ? AND attempts < ?', [tokenHash, now, maxAttempts]);
  if (r.changes === 0) return null;
  const c = await q.one<{ agent_id: string; tenant_id: string; device_name: string | null; platform: string | null; ip: string | null }>('SELECT agent_id, tenant_id, device_name, platform, ip FROM mfa_challenges WHERE token_hash = ?', [tokenHash]);
  return c ? { agentId: String(c.agent_id), tenantId: String(c.tenant_id), deviceName: c.device_name ?? null, platform: c.platform ?? null, ip: c.ip ?? null } : null;
}

/**
 * The login's second step, in one transaction: a TOTP step used once (never one at or before the
 * last used), or a recovery code used once; the challenge is finished; the audit row says which.
 */
export async function useSecondFactor(
  db: Db,
  o: { challengeHash: string; challenge: MfaChallenge; step: number | null; recoveryHash: string; now: number },
): Promise<'totp' | 'recovery' | null> {
  return db.tx(async (q) => {
    const c = o.challenge;
    let used: 'totp' | 'recovery' | null = null;
    if (o.step !== null) {
      if (await useTotpStep(q, c.agentId, o.step)) used = 'totp';
    } else if (await useRecoveryCode(q, c.agentId, o.recoveryHash, o.now)) used = 'recovery';
    if (used && !(await finishChallenge(q, o.challengeHash, o.now))) used = null;
    await insertAudit(q, { tenantId: c.tenantId, agentId: c.agentId }, { action: used ? 'auth.mfa' : 'auth.mfa_failed', target: c.agentId, details: { ip: c.ip, ...(used ? { method: used } : {}) } }, o.now);
    return used;
  });
}

export async function finishChallenge(q: Queryable, tokenHash: string, now: number): Promise<boolean> {
  return (await q.run('UPDATE mfa_challenges SET used_at = ? WHERE token_hash = ? AND used_at IS NULL', [now, tokenHash])).changes > 0;
}

/** Every sealed value of the database, for key rotation: provider secrets and two-factor secrets. */
export async function sealedValues(q: Queryable): Promise<{ table: 'inboxes' | 'agent_mfa'; id: string; sealed: string }[]> {
  const inboxes = await q.all<{ id: string; secrets: string }>('SELECT id, secrets FROM inboxes WHERE secrets IS NOT NULL ORDER BY id');
  const mfa = await q.all<{ agent_id: string; secret: string }>('SELECT agent_id, secret FROM agent_mfa ORDER BY agent_id');
  return [
    ...inboxes.map((r) => ({ table: 'inboxes' as const, id: String(r.id), sealed: String(r.secrets) })),
    ...mfa.map((r) => ({ table: 'agent_mfa' as const, id: String(r.agent_id), sealed: String(r.secret) })),
  ];
}

export async function resealValue(q: Queryable, v: { table: 'inboxes' | 'agent_mfa'; id: string; sealed: string }): Promise<void> {
  if (v.table === 'inboxes') await q.run('UPDATE inboxes SET secrets = ? WHERE id = ?', [v.sealed, v.id]);
  else await q.run('UPDATE agent_mfa SET secret = ? WHERE agent_id = ?', [v.sealed, v.id]);
}

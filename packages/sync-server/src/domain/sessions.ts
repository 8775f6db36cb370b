import type { Db, Queryable } from '../db/db.js';
import { insertRefreshToken } from './accounts.js';
import { insertAudit, type AuditActor } from './audit.js';

/**
 * [accounts] Sessions and devices: one row per refresh family (a signed-in device), with what the
 * agent sees in their list (device name, platform, IP, last seen) and the remote-wipe flag.
 */
export interface SessionRow {
  id: string;
  agentId: string;
  tenantId: string;
  deviceName: string | null;
  platform: string | null;
  ip: string | null;
  createdAt: number;
  lastSeenAt: number;
  endedAt: number | null;
  wipe: boolean;
}

const toSession = (r: Record<string, unknown>): SessionRow => ({
  id: String(r.family), agentId: String(r.agent_id), tenantId: String(r.tenant_id), deviceName: (r.device_name as string | null) ?? null,
  platform: (r.platform as string | null) ?? null, ip: (r.ip as string | null) ?? null, createdAt: Number(r.created_at), lastSeenAt: Number(r.last_seen_at),
  endedAt: r.ended_at === null || r.ended_at === undefined ? null : Number(r.ended_at), wipe: Number(r.wipe) === 1,
});

export async function insertSession(q: Queryable, s: { id: string; agentId: string; tenantId: string; deviceName: string | null; platform: string | null; ip: string | null; now: number }): Promise<void> {
  await q.run('INSERT INTO agent_sessions (family, tenant_id, agent_id, device_name, platform, ip, created_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING', [
    s.id, s.tenantId, s.agentId, s.deviceName, s.platform, s.ip, s.now, s.now,
  ]);
}

export async function touchSession(q: Queryable, id: string, now: number, ip?: string): Promise<void> {
  if (ip) await q.run('UPDATE agent_sessions SET last_seen_at = ?, ip = ? WHERE family = ? AND last_seen_at < ?', [now, ip, id, now]);
  else await q.run('UPDATE agent_sessions SET last_seen_at = ? WHERE family = ? AND last_seen_at < ?', [now, id, now]);
}

export async function sessionById(q: Queryable, id: string): Promise<SessionRow | null> {
  const r = await q.one('SELECT * FROM agent_sessions WHERE family = ?', [id]);
  return r ? toSession(r) : null;
}

/** The agent's sessions that are still live (a live refresh token and not ended), most recent first. */
export async function liveSessionsOf(q: Queryable, tenantId: string, agentId: string, now: number): Promise<SessionRow[]> {
  const rows = await q.all(
    `SELECT s.* FROM agent_sessions s WHERE s.tenant_id = ? AND s.agent_id = ? AND s.ended_at IS NULL
       AND EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.family = s.family AND r.revoked_at IS NULL AND r.expires_at > ?)
     ORDER BY s.last_seen_at DESC, s.family`,
    [tenantId, agentId, now],
  );
  return rows.map(toSession);
}

/** Every family of the agent with a live token (sessions from before the sessions table included). */
export async function liveFamiliesOf(q: Queryable, agentId: string, now: number): Promise<string[]> {
  const rows = await q.all<{ family: string }>('SELECT DISTINCT family FROM refresh_tokens WHERE agent_id = ? AND revoked_at IS NULL AND expires_at > ?', [agentId, now]);
  return rows.map((r) => String(r.family));
}

/** Ends sessions: their tokens are revoked and the rows marked (with the wipe flag when the device must erase its data). */
export async function endSessions(q: Queryable, families: readonly string[], o: { now: number; wipe: boolean }): Promise<void> {
  for (const f of families) {
    await q.run('UPDATE refresh_tokens SET revoked_at = ? WHERE family = ? AND revoked_at IS NULL', [o.now, f]);
    await q.run(`UPDATE agent_sessions SET ended_at = COALESCE(ended_at, ?)${o.wipe ? ', wipe = 1' : ''} WHERE family = ?`, [o.now, f]);
  }
}

/** Whether the device of this session was told to wipe (its 401 answers say so). */
export async function sessionWipe(q: Queryable, id: string): Promise<boolean> {
  const r = await q.one<{ wipe: number }>('SELECT wipe FROM agent_sessions WHERE family = ?', [id]);
  return r !== null && Number(r.wipe) === 1;
}

/** A new session: its first refresh token and its row (device, platform, IP), in one transaction. */
export async function startSession(
  db: Db,
  token: { tokenHash: string; agentId: string; tenantId: string; family: string; expiresAt: number; createdAt: number },
  device: { deviceName: string | null; platform: string | null; ip: string | null },
): Promise<void> {
  await db.tx(async (q) => {
    await insertRefreshToken(q, token);
    await insertSession(q, { id: token.family, agentId: token.agentId, tenantId: token.tenantId, ...device, now: token.createdAt });
  });
}

/** Ends sessions and writes the audit row of it, in one transaction. */
export async function endSessionsAudited(
  db: Db,
  families: readonly string[],
  o: { now: number; wipe: boolean; actor: AuditActor; action: string; target: string; details: Record<string, unknown> },
): Promise<void> {
  await db.tx(async (q) => {
    await endSessions(q, families, { now: o.now, wipe: o.wipe });
    await insertAudit(q, o.actor, { action: o.action, target: o.target, details: o.details }, o.now);
  });
}

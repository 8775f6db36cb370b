import type { Db, Queryable, Row } from '../db/db.js';

/**
 * Accounts and sessions: the SQL of login, refresh tokens and session liveness. A session is a
 * refresh-token family; it is live while one of its tokens is neither revoked nor expired.
 */

export interface RefreshTokenRow {
  agent_id: string;
  tenant_id: string;
  family: string;
  expires_at: number;
  revoked_at: number | null;
}

/** Agents with this (lower-cased) e-mail, in the named workspace when a slug is given. */
export function agentsByEmail(db: Queryable, email: string, tenantSlug?: string): Promise<Row[]> {
  return tenantSlug
    ? db.all('SELECT a.* FROM agents a JOIN tenants t ON t.id = a.tenant_id WHERE lower(a.email) = ? AND t.slug = ?', [email, tenantSlug])
    : db.all('SELECT * FROM agents WHERE lower(email) = ?', [email]);
}

export function agentRow(db: Queryable, agentId: string, tenantId?: string): Promise<Row | null> {
  return tenantId === undefined
    ? db.one('SELECT * FROM agents WHERE id = ?', [agentId])
    : db.one('SELECT * FROM agents WHERE id = ? AND tenant_id = ?', [agentId, tenantId]);
}

export async function refreshToken(db: Queryable, tokenHash: string): Promise<RefreshTokenRow | null> {
  const r = await db.one<RefreshTokenRow & Row>('SELECT agent_id, tenant_id, family, expires_at, revoked_at FROM refresh_tokens WHERE token_hash = ?', [tokenHash]);
  return r ? { ...r, expires_at: Number(r.expires_at), revoked_at: r.revoked_at === null ? null : Number(r.revoked_at) } : null;
}

export async function insertRefreshToken(
  db: Queryable,
  t: { tokenHash: string; agentId: string; tenantId: string; family: string; expiresAt: number; createdAt: number },
): Promise<void> {
  await db.run('INSERT INTO refresh_tokens (token_hash, agent_id, tenant_id, family, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?)', [
    t.tokenHash, t.agentId, t.tenantId, t.family, t.expiresAt, t.createdAt,
  ]);
}

/** Revokes one token if it is still live; false when another request used it first. */
export async function revokeRefreshToken(db: Queryable, tokenHash: string, now: number): Promise<boolean> {
  return (await db.run('UPDATE refresh_tokens SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL', [now, tokenHash])).changes > 0;
}

/** Ends a session: every token of the family is revoked. */
export async function revokeFamily(db: Queryable, family: string, now: number): Promise<void> {
  await db.run('UPDATE refresh_tokens SET revoked_at = ? WHERE family = ? AND revoked_at IS NULL', [now, family]);
}

export async function sessionLive(db: Queryable, family: string, now: number): Promise<boolean> {
  return (await db.one('SELECT 1 AS live FROM refresh_tokens WHERE family = ? AND revoked_at IS NULL AND expires_at > ? LIMIT 1', [family, now])) !== null;
}

/** Rotation in one transaction: the session never has a moment without a live token. */
export function rotateRefreshToken(
  db: Db,
  oldHash: string,
  next: { tokenHash: string; agentId: string; tenantId: string; family: string; expiresAt: number; createdAt: number },
): Promise<boolean> {
  return db.tx(async (q) => {
    if (!(await revokeRefreshToken(q, oldHash, next.createdAt))) return false;
    await insertRefreshToken(q, next);
    return true;
  });
}

export async function tenantOf(db: Queryable, tenantId: string): Promise<{ id: string; slug: string; name: string } | null> {
  return db.one<{ id: string; slug: string; name: string }>('SELECT id, slug, name FROM tenants WHERE id = ?', [tenantId]);
}

// API keys: scoped service tokens. Only a hash of the secret is stored; the token is shown once.
import crypto from 'node:crypto';
import { z } from 'zod';
import { PermissionSet, can, seesAllInboxes, type Agent } from '@goutong/core';
import type { Db, Queryable, Row } from '../db/db.js';
import { forbidden, notFound } from '../errors.js';
import { insertAudit } from './audit.js';

type Principal = Agent & { permissions?: PermissionSet };

export const ApiKeyBody = z
  .object({
    name: z.string().trim().min(1).max(100),
    permissions: PermissionSet,
    /** Requests per minute this key may make (per server process). */
    ratePerMinute: z.number().int().min(1).max(10_000).default(120),
  })
  .strict();

export interface ApiKey {
  id: string;
  tenantId: string;
  name: string;
  permissions: PermissionSet;
  ratePerMinute: number;
  createdBy: string | null;
  createdAt: number;
  revokedAt: number | null;
  lastUsedAt: number | null;
}

const TOKEN = /^gtk_([a-f0-9]{16})_([A-Za-z0-9_-]{43})$/;

export const isApiKeyToken = (t: string): boolean => t.startsWith('gtk_');

const hashOf = (token: string) => crypto.createHash('sha256').update(token).digest('hex');

function toApiKey(r: Row): ApiKey {
  return {
    id: String(r.id), tenantId: String(r.tenant_id), name: String(r.name), permissions: PermissionSet.parse(JSON.parse(String(r.permissions))),
    ratePerMinute: Number(r.rate_per_minute), createdBy: (r.created_by as string | null) ?? null, createdAt: Number(r.created_at),
    revokedAt: r.revoked_at === null || r.revoked_at === undefined ? null : Number(r.revoked_at), lastUsedAt: r.last_used_at === null || r.last_used_at === undefined ? null : Number(r.last_used_at),
  };
}

function requireManage(actor: Principal): void {
  if (!can(actor, 'apikeys.manage')) throw forbidden('requires the apikeys.manage permission');
}

export async function createApiKey(db: Db, actor: Principal, body: z.infer<typeof ApiKeyBody>, now: number): Promise<{ key: ApiKey; token: string }> {
  requireManage(actor);
  // A key never holds more than its creator.
  const extra = body.permissions.actions.filter((a) => !can(actor, a));
  if (extra.length > 0) throw forbidden(`a key cannot hold permissions you lack: ${extra.join(', ')}`);
  if (body.permissions.scope.kind === 'all' && !seesAllInboxes(actor)) throw forbidden('a key cannot reach all inboxes when you do not');
  const id = crypto.randomBytes(8).toString('hex');
  const token = `gtk_${id}_${crypto.randomBytes(32).toString('base64url')}`;
  const key: ApiKey = { id, tenantId: actor.tenantId, name: body.name, permissions: body.permissions, ratePerMinute: body.ratePerMinute, createdBy: actor.id, createdAt: now, revokedAt: null, lastUsedAt: null };
  await db.tx(async (q) => {
    await q.run('INSERT INTO api_keys (id, tenant_id, name, secret_hash, permissions, rate_per_minute, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)', [
      id, key.tenantId, key.name, hashOf(token), JSON.stringify(key.permissions), key.ratePerMinute, actor.id, now,
    ]);
    await insertAudit(q, { tenantId: actor.tenantId, agentId: actor.id }, { action: 'apikey.create', target: id, details: { after: { name: key.name, permissions: key.permissions, ratePerMinute: key.ratePerMinute } } }, now);
  });
  return { key, token };
}

export async function listApiKeys(q: Queryable, actor: Principal): Promise<ApiKey[]> {
  requireManage(actor);
  return (await q.all('SELECT * FROM api_keys WHERE tenant_id = ? ORDER BY created_at DESC, id', [actor.tenantId])).map(toApiKey);
}

export async function revokeApiKey(db: Db, actor: Principal, id: string, now: number): Promise<void> {
  requireManage(actor);
  await db.tx(async (q) => {
    const r = await q.run('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND tenant_id = ? AND revoked_at IS NULL', [now, id, actor.tenantId]);
    if (r.changes === 0) {
      if (!(await q.one('SELECT id FROM api_keys WHERE id = ? AND tenant_id = ?', [id, actor.tenantId]))) throw notFound(`api key ${id} not found`);
      return;
    }
    await insertAudit(q, { tenantId: actor.tenantId, agentId: actor.id }, { action: 'apikey.revoke', target: id, details: {} }, now);
  });
}

/** The live key a token names, or null (unknown, wrong secret, revoked). */
export async function apiKeyByToken(q: Queryable, token: string, now: number): Promise<ApiKey | null> {
  const m = TOKEN.exec(token);
  if (!m) return null;
  const r = await q.one('SELECT * FROM api_keys WHERE id = ?', [m[1]!]);
  if (!r || r.revoked_at !== null) return null;
  const a = Buffer.from(hashOf(token));
  const b = Buffer.from(String(r.secret_hash));
  if (a.length !== b.length || !crypto.timingSafeEqual(a, b)) return null;
  // Last use, at most once a minute per key (no write per request).
  if (r.last_used_at === null || Number(r.last_used_at) < now - 60_000) await q.run('UPDATE api_keys SET last_used_at = ? WHERE id = ?', [now, m[1]!]);
  return toApiKey(r);
}

/** The principal a key acts as: a service identity of the tenant with the key's permission set. */
export function apiKeyPrincipal(k: ApiKey): Principal {
  return {
    id: `apikey:${k.id}`, tenantId: k.tenantId, email: `apikey-${k.id}@api-keys.invalid`, name: `API key ${k.name}`.slice(0, 200), role: 'agent',
    teamIds: [], active: true, seq: 0, permissions: k.permissions,
  };
}

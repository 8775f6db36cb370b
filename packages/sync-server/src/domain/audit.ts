import { AsyncLocalStorage } from 'node:async_hooks';
import { z } from 'zod';
import { csvCell } from '@goutong/core';
import type { Queryable, Row } from '../db/db.js';

/** Who did something, in which workspace (null agent: the system or the command line). */
export interface AuditActor {
  tenantId: string;
  agentId: string | null;
}

export interface AuditEntry {
  action: string;
  target: string | null;
  details: Record<string, unknown>;
}

/** From where: the request an audited change came in with (set once per request, see auditContextHook). */
export interface AuditContext {
  ip: string | null;
  userAgent: string | null;
  sessionId: string | null;
  apiKeyId: string | null;
}

const store = new AsyncLocalStorage<AuditContext>();

/** Runs `fn` (the rest of a request) with a request context that every audit row written inside records. */
export function runWithAuditContext<T>(ctx: AuditContext, fn: () => T): T {
  return store.run(ctx, fn);
}

/** The current request's context (mutable: authentication adds the session or API key once known). */
export function currentAuditContext(): AuditContext | null {
  return store.getStore() ?? null;
}

/**
 * THE writer of audit rows (the `audit` fact of writeFacts, Workspace.audit and every domain module
 * call it). Writes inside the caller's transaction, so the row commits with the change it records (or
 * not at all): pass the transaction's Queryable. The table is append-only (migration 220 triggers).
 */
export async function insertAudit(q: Queryable, actor: AuditActor, entry: AuditEntry, now: number): Promise<void> {
  const ctx = currentAuditContext();
  await q.run(
    'INSERT INTO audit_log (tenant_id, agent_id, action, target, details, created_at, ip, user_agent, session_id, api_key_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    [actor.tenantId, actor.agentId, entry.action, entry.target, JSON.stringify(entry.details), now, ctx?.ip ?? null, ctx?.userAgent?.slice(0, 300) ?? null, ctx?.sessionId ?? null, ctx?.apiKeyId ?? null],
  );
}

// ----- reading -----------------------------------------------------------------------------

export interface AuditEvent {
  id: number;
  tenantId: string;
  actorId: string | null;
  action: string;
  target: string | null;
  details: Record<string, unknown>;
  at: number;
  ip: string | null;
  userAgent: string | null;
  sessionId: string | null;
  apiKeyId: string | null;
}

export const AuditQuery = z
  .object({
    actorId: z.string().min(1).max(128).optional(),
    action: z.string().min(1).max(100).regex(/^[a-z0-9_.*]+$/, 'action: letters, digits, _ . and a trailing * (prefix)').optional(),
    from: z.coerce.number().int().nonnegative().optional(),
    to: z.coerce.number().int().nonnegative().optional(),
    q: z.string().min(1).max(200).optional(),
    cursor: z.string().regex(/^\d{1,18}$/, 'invalid cursor').optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
  })
  .strict();
export type AuditQuery = z.infer<typeof AuditQuery>;

function toAuditEvent(r: Row): AuditEvent {
  let details: Record<string, unknown> = {};
  try {
    const v: unknown = JSON.parse(String(r.details));
    if (v && typeof v === 'object' && !Array.isArray(v)) details = v as Record<string, unknown>;
  } catch {
    details = { raw: String(r.details) };
  }
  return {
    id: Number(r.id), tenantId: String(r.tenant_id), actorId: (r.agent_id as string | null) ?? null, action: String(r.action), target: (r.target as string | null) ?? null,
    details, at: Number(r.created_at), ip: (r.ip as string | null) ?? null, userAgent: (r.user_agent as string | null) ?? null,
    sessionId: (r.session_id as string | null) ?? null, apiKeyId: (r.api_key_id as string | null) ?? null,
  };
}

/** Audit events of a tenant, newest first, with a keyset cursor (the last id). */
export async function searchAudit(q: Queryable, tenantId: string, f: AuditQuery): Promise<{ items: AuditEvent[]; nextCursor: string | null }> {
  const where = ['tenant_id = ?'];
  const params: (string | number)[] = [tenantId];
  if (f.actorId) {
    where.push('agent_id = ?');
    params.push(f.actorId);
  }
  if (f.action) {
    if (f.action.endsWith('*')) {
      where.push('action LIKE ?');
      params.push(`${f.action.slice(0, -1).replace(/[%_]/g, (c) => `\\${c}`)}%`);
      where[where.length - 1] += " ESCAPE '\\'";
    } else {
      where.push('action = ?');
      params.push(f.action);
    }
  }
  if (f.from !== undefined) {
    where.push('created_at >= ?');
    params.push(f.from);
  }
  if (f.to !== undefined) {
    where.push('created_at < ?');
    params.push(f.to);
  }
  if (f.q) {
    const like = `%${f.q.toLowerCase().replace(/[%_\\]/g, (c) => `\\${c}`)}%`;
    where.push("(LOWER(action) LIKE ? ESCAPE '\\' OR LOWER(COALESCE(target, '')) LIKE ? ESCAPE '\\' OR LOWER(details) LIKE ? ESCAPE '\\' OR LOWER(COALESCE(ip, '')) LIKE ? ESCAPE '\\')");
    params.push(like, like, like, like);
  }
  if (f.cursor) {
    where.push('id < ?');
    params.push(Number(f.cursor));
  }
  const rows = await q.all(`SELECT * FROM audit_log WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT ?`, [...params, f.limit + 1]);
  const items = rows.slice(0, f.limit).map(toAuditEvent);
  const last = items[items.length - 1];
  return { items, nextCursor: rows.length > f.limit && last ? String(last.id) : null };
}

export function auditCsv(items: readonly AuditEvent[]): string {
  const head = ['id', 'at', 'actorId', 'action', 'target', 'ip', 'userAgent', 'sessionId', 'apiKeyId', 'details'];
  const lines = items.map((e) => [e.id, new Date(e.at).toISOString(), e.actorId, e.action, e.target, e.ip, e.userAgent, e.sessionId, e.apiKeyId, e.details].map(csvCell).join(','));
  return `${head.join(',')}\r\n${lines.map((l) => `${l}\r\n`).join('')}`;
}

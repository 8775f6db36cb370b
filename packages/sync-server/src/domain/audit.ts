import type { Queryable } from '../db/db.js';

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

/**
 * Writes an audit row inside the caller's transaction, so the row commits with the change it
 * records (or not at all): pass the transaction's Queryable.
 */
export async function insertAudit(q: Queryable, actor: AuditActor, entry: AuditEntry, now: number): Promise<void> {
  await q.run('INSERT INTO audit_log (tenant_id, agent_id, action, target, details, created_at) VALUES (?, ?, ?, ?, ?, ?)', [
    actor.tenantId, actor.agentId, entry.action, entry.target, JSON.stringify(entry.details), now,
  ]);
}

/** An audit row on its own (a read that is itself audited, such as an export). */
export async function insertAuditStandalone(db: Queryable, actor: AuditActor, entry: AuditEntry, now: number): Promise<void> {
  await insertAudit(db, actor, entry, now);
}

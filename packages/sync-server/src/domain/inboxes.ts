// Inbox administration facts: create and update an inbox (config validated and secrets sealed by
// the caller), each with its audit row in the same transaction.
import type { InboxOps } from '@goutong/core';
import type { Queryable } from '../db/db.js';
import type { Workspace } from './workspace.js';
import { insertInbox, nextSeq } from './rows.js';

interface AuditEntry {
  agentId: string | null;
  action: string;
  details: Record<string, unknown>;
}

async function auditIn(q: Queryable, tenantId: string, target: string, a: AuditEntry, at: number): Promise<void> {
  await q.run('INSERT INTO audit_log (tenant_id, agent_id, action, target, details, created_at) VALUES (?, ?, ?, ?, ?, ?)', [
    tenantId, a.agentId, a.action, target, JSON.stringify(a.details), at,
  ]);
}

export async function createInbox(
  ws: Workspace,
  i: { id: string; tenantId: string; name: string; channel: string; provider: string; teamIds: readonly string[]; config: Record<string, unknown>; sealedSecrets: string; createdAt: number },
  audit: AuditEntry,
): Promise<number> {
  const seq = await ws.db.tx(async (q) => {
    const seq = await nextSeq(q, i.tenantId);
    await insertInbox(q, { ...i, seq });
    await auditIn(q, i.tenantId, i.id, audit, i.createdAt);
    return seq;
  });
  ws.committed.emit({ tenantId: i.tenantId, seq });
  return seq;
}

export async function updateInbox(
  ws: Workspace,
  tenantId: string,
  id: string,
  u: { name: string; teamIds: readonly string[]; config: Record<string, unknown>; sealedSecrets: string; ops: InboxOps },
  audit: AuditEntry,
): Promise<number> {
  const now = Date.now();
  const seq = await ws.db.tx(async (q) => {
    const seq = await nextSeq(q, tenantId);
    await q.run('UPDATE inboxes SET name = ?, team_ids = ?, config = ?, secrets = ?, ops = ?, seq = ? WHERE id = ? AND tenant_id = ?', [
      u.name, JSON.stringify(u.teamIds), JSON.stringify(u.config), u.sealedSecrets, JSON.stringify(u.ops), seq, id, tenantId,
    ]);
    await auditIn(q, tenantId, id, audit, now);
    return seq;
  });
  ws.committed.emit({ tenantId, seq });
  return seq;
}

/** The first of these team ids that is not a team of the tenant, or null when all are. */
export async function unknownTeam(ws: Workspace, tenantId: string, teamIds: readonly string[]): Promise<string | null> {
  for (const t of teamIds) {
    if (!(await ws.db.one('SELECT id FROM teams WHERE id = ? AND tenant_id = ?', [t, tenantId]))) return t;
  }
  return null;
}

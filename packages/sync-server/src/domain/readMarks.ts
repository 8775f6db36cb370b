// [search-read] Read state as a per-agent fact: `mark_read` (core rules/commandRules.ts) writes a
// read_marks row through writeFacts (the mark only moves forward); each agent's devices pull their
// own marks (never a colleague's) with the other facts, by seq.
import type { ReadMark } from '@goutong/core';
import type { Queryable } from '../db/db.js';

/** The agent's read marks written after `from` up to `to` (a pull's range). */
export async function readMarksOf(q: Queryable, tenantId: string, agentId: string, from: number, to: number): Promise<ReadMark[]> {
  const rows = await q.all<{ conversation_id: string; read_up_to: number | string; seq: number | string }>(
    'SELECT conversation_id, read_up_to, seq FROM read_marks WHERE tenant_id = ? AND agent_id = ? AND seq > ? AND seq <= ? ORDER BY seq',
    [tenantId, agentId, from, to],
  );
  return rows.map((r) => ({ conversationId: String(r.conversation_id), readUpTo: Number(r.read_up_to), seq: Number(r.seq) }));
}

/** The read marks of several agents in one range, by agent (one query for a push to many sockets). */
export async function readMarksByAgent(q: Queryable, tenantId: string, agentIds: readonly string[], from: number, to: number): Promise<Map<string, ReadMark[]>> {
  const out = new Map<string, ReadMark[]>();
  if (agentIds.length === 0) return out;
  const rows = await q.all<{ agent_id: string; conversation_id: string; read_up_to: number | string; seq: number | string }>(
    `SELECT agent_id, conversation_id, read_up_to, seq FROM read_marks WHERE tenant_id = ? AND agent_id IN (${agentIds.map(() => '?').join(', ')}) AND seq > ? AND seq <= ? ORDER BY seq`,
    [tenantId, ...agentIds, from, to],
  );
  for (const r of rows) {
    const list = out.get(String(r.agent_id)) ?? [];
    list.push({ conversationId: String(r.conversation_id), readUpTo: Number(r.read_up_to), seq: Number(r.seq) });
    out.set(String(r.agent_id), list);
  }
  return out;
}

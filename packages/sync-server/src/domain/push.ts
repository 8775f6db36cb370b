// [push] The facts pushed over /sync after commits (protocol 1.1): for a range of seqs, one frame
// per scope digest (the digest says which inboxes and whether personal data is masked), read and
// serialised once however many sockets share it. The rows are exactly what a pull from `from`
// would carry (Workspace.pull), so a pushed frame and a pull never disagree.
import type { Agent, FactsFrame } from '@goutong/core';
import type { Db } from '../db/db.js';
import { withPermissions, type Principal } from './permissions.js';
import { toAgent, toInbox } from './rows.js';
import { readMarksByAgent } from './readMarks.js';
import { scopeOf } from './scope.js';
import type { Workspace } from './workspace.js';

/** A range of facts larger than this is not pushed: its sockets get a poke and pull in pages. */
export const PUSH_MAX_ROWS = 500;

export interface PushBatch {
  from: number;
  to: number;
  /** The frame (JSON text) for each connected agent, or null: too large or not pushable, poke instead. */
  frames: Map<string, string | null>;
}

/**
 * The frames for facts with `from < seq ≤ to` (to: the tenant's committed seq now) for the
 * connected agents, with their current teams, role and permissions (a socket's agent may have
 * changed since it authenticated). Null when nothing was committed after `from`.
 */
export async function buildPushFrames(db: Db, ws: Workspace, tenantId: string, from: number, agentIds: readonly string[], maxRows = PUSH_MAX_ROWS): Promise<PushBatch | null> {
  const to = await ws.currentSeq(tenantId);
  if (to <= from || agentIds.length === 0) return null;
  const ids = [...new Set(agentIds)];
  const [agentRows, inboxRows] = await Promise.all([
    db.all(`SELECT * FROM agents WHERE tenant_id = ? AND id IN (${ids.map(() => '?').join(', ')})`, [tenantId, ...ids]),
    db.all('SELECT * FROM inboxes WHERE tenant_id = ?', [tenantId]),
  ]);
  const inboxes = inboxRows.map(toInbox);
  // [search-read] Each agent's own read marks of the range join their copy of the frame (never a colleague's).
  const marksOf = await readMarksByAgent(db, tenantId, ids, from, to);
  const frames = new Map<string, string | null>(ids.map((id) => [id, null]));
  const byScope = new Map<string, { principal: Principal; scope: ReturnType<typeof scopeOf>; agents: string[] }>();
  // A role's permissions are read once per build, however many connected agents share it.
  const roleOf = new Map<string, Principal['permissions']>();
  for (const r of agentRows) {
    const agent: Agent = toAgent(r);
    if (!agent.active) continue;
    let principal: Principal = agent;
    if (agent.roleId) {
      if (!roleOf.has(agent.roleId)) roleOf.set(agent.roleId, (await withPermissions(db, agent)).permissions);
      principal = { ...agent, permissions: roleOf.get(agent.roleId) };
    }
    const scope = scopeOf(principal, inboxes);
    const group = byScope.get(scope.key);
    if (group) group.agents.push(agent.id);
    else byScope.set(scope.key, { principal, scope, agents: [agent.id] });
  }
  for (const { principal, scope, agents } of byScope.values()) {
    const res = await ws.pull(principal, { checkpoint: from, limit: maxRows }, scope, to, false);
    if (res.hasMore) continue;
    const frame: FactsFrame = {
      t: 'facts',
      from,
      to,
      scope: res.scope,
      conversations: res.conversations,
      messages: res.messages,
      contacts: res.contacts,
      inboxes: res.inboxes,
      agents: res.agents,
      teams: res.teams,
      ...(res.retention ? { retention: res.retention } : {}),
    };
    const text = JSON.stringify(frame);
    for (const id of agents) {
      const marks = marksOf.get(id);
      frames.set(id, marks ? `${text.slice(0, -1)},"readMarks":${JSON.stringify(marks)}}` : text);
    }
  }
  return { from, to, frames };
}

import {
  decideAgentRoutingPatch,
  decidePresence,
  decideRelease,
  decideRouting,
  effectiveRouting,
  InboxRouting,
  LOAD_STATUSES,
  queuesOf,
  RELEASE_STATUSES,
  routingScope,
  type Agent,
  type AgentRoutingPatch,
  type Channel,
  type Conversation,
  type Fact,
  type IdSource,
  type QueueEntry,
  type RoutingCandidate,
  type RoutingOutcome,
} from '@goutong/core';
import type { Db, Queryable } from '../db/db.js';
import { ApiError, notFound } from '../errors.js';
import { insertAudit } from './audit.js';
import { toAgent, toContact, toConversation, toInbox } from './rows.js';

/**
 * One transaction's way to write routing facts: the tenant seq is allocated once, when the first
 * fact needs it (the ops bus's ctx, or a plain transaction's), and `write` is the domain's writeFacts.
 */
export interface RoutingTx {
  q: Queryable;
  now: number;
  ids: IdSource;
  seq(): Promise<number>;
  write(facts: readonly Fact[]): Promise<void>;
}

const forUpdate = (q: Queryable) => (q.dialect === 'pg' ? ' FOR UPDATE' : '');

/**
 * Routing in a tenant takes turns: the tenant's routing row is locked first (FOR UPDATE on
 * PostgreSQL; SQLite transactions are serial). Two processes never hand out one round-robin turn
 * or one agent's last free slot twice, and always lock in the same order (no deadlock).
 */
async function lockTenantRouting(tx: RoutingTx, tenantId: string): Promise<void> {
  await tx.q.run("INSERT INTO routing_pointers (tenant_id, scope, agent_id, updated_at) VALUES (?, '*', NULL, ?) ON CONFLICT (tenant_id, scope) DO NOTHING", [tenantId, tx.now]);
  await tx.q.one(`SELECT scope FROM routing_pointers WHERE tenant_id = ? AND scope = '*'${forUpdate(tx.q)}`, [tenantId]);
}

/** The agent row with the routing state that is not on core's Agent (call in progress, last routed). */
async function agentRow(q: Queryable, tenantId: string, agentId: string, lock = false): Promise<{ agent: Agent; onCall: boolean; lastRoutedAt: number } | null> {
  const r = await q.one(`SELECT * FROM agents WHERE id = ? AND tenant_id = ?${lock ? forUpdate(q) : ''}`, [agentId, tenantId]);
  return r ? { agent: toAgent(r), onCall: Number(r.on_call ?? 0) === 1, lastRoutedAt: Number(r.last_routed_at ?? 0) } : null;
}

/** Whether any device of the agent holds a live socket (on any server process). */
export async function isConnected(q: Queryable, agentId: string): Promise<boolean> {
  return (await q.one('SELECT conn_id FROM agent_presence WHERE agent_id = ? LIMIT 1', [agentId])) !== null;
}

/** Every agent of the tenant as routing weighs them: the agent, their open+pending load per channel, their idle time. */
export async function routingCandidates(q: Queryable, tenantId: string): Promise<RoutingCandidate[]> {
  const agents = await q.all('SELECT * FROM agents WHERE tenant_id = ? ORDER BY id', [tenantId]);
  const loads = await q.all<{ assignee_id: string; channel: Channel; n: number }>(
    `SELECT assignee_id, channel, COUNT(*) AS n FROM conversations WHERE tenant_id = ? AND assignee_id IS NOT NULL AND status IN (${LOAD_STATUSES.map(() => '?').join(', ')}) GROUP BY assignee_id, channel`,
    [tenantId, ...LOAD_STATUSES],
  );
  const byAgent = new Map<string, Partial<Record<Channel, number>>>();
  for (const l of loads) {
    const m = byAgent.get(l.assignee_id) ?? {};
    m[l.channel] = Number(l.n);
    byAgent.set(l.assignee_id, m);
  }
  return agents.map((r) => ({ agent: toAgent(r), load: byAgent.get(String(r.id)) ?? {}, lastRoutedAt: Number(r.last_routed_at ?? 0) }));
}

/**
 * Routes one conversation (core's decideRouting) inside the caller's transaction, under the tenant's
 * routing lock; the conversation is re-read under that lock, so it is assigned at most once and the
 * scope's round-robin pointer moves once per turn.
 */
export async function routeConversation(tx: RoutingTx, tenantId: string, conversationId: string): Promise<RoutingOutcome> {
  const { q } = tx;
  const first = await q.one('SELECT * FROM conversations WHERE id = ? AND tenant_id = ?', [conversationId, tenantId]);
  if (!first) return { kind: 'skip', reason: 'no such conversation' };
  const scope = routingScope(toConversation(first));
  await lockTenantRouting(tx, tenantId);
  const pointer = await q.one<{ agent_id: string | null }>('SELECT agent_id FROM routing_pointers WHERE tenant_id = ? AND scope = ?', [tenantId, scope]);
  const r = await q.one(`SELECT * FROM conversations WHERE id = ? AND tenant_id = ?${forUpdate(q)}`, [conversationId, tenantId]);
  const conversation = toConversation(r!);
  const inboxRow = await q.one('SELECT * FROM inboxes WHERE id = ? AND tenant_id = ?', [conversation.inboxId, tenantId]);
  if (!inboxRow) return { kind: 'skip', reason: 'no such inbox' };
  const inbox = toInbox(inboxRow);
  const teamRouting = conversation.teamId ? await teamRoutingOf(q, tenantId, conversation.teamId) : null;
  if (effectiveRouting(inbox, teamRouting).strategy === 'manual' || conversation.assigneeId !== null || conversation.status !== 'open') {
    return decideRouting({ conversation, inbox, contact: null, candidates: [], pointer: null, teamRouting }, { now: tx.now, seq: 0, ids: tx.ids });
  }
  const contactRow = await q.one('SELECT * FROM contacts WHERE id = ?', [conversation.contactId]);
  const state = { conversation, inbox, contact: contactRow ? toContact(contactRow) : null, candidates: await routingCandidates(q, tenantId), pointer: pointer?.agent_id ?? null, teamRouting };
  const probe = decideRouting(state, { now: tx.now, seq: 0, ids: tx.ids });
  if (probe.kind !== 'assign') return probe;
  const decided = decideRouting(state, { now: tx.now, seq: await tx.seq(), ids: tx.ids });
  if (decided.kind === 'assign') await tx.write(decided.facts);
  return decided;
}

/** The open, unassigned conversations of routed inboxes, longest waiting first (the order a freed agent is offered them). */
export async function waitingConversations(q: Queryable, tenantId: string, limit = 200): Promise<Conversation[]> {
  const rows = await q.all(
    "SELECT c.* FROM conversations c JOIN inboxes i ON i.id = c.inbox_id WHERE c.tenant_id = ? AND c.assignee_id IS NULL AND c.status = 'open' AND (i.ops IS NOT NULL OR c.team_id IN (SELECT t.team_id FROM team_routing t WHERE t.tenant_id = c.tenant_id)) ORDER BY COALESCE(c.waiting_since, c.created_at), c.id LIMIT ?",
    [tenantId, limit],
  );
  return rows.map(toConversation);
}

/** Offers the queue again (an agent became available or freed capacity): each waiting conversation in turn. Returns how many were assigned. */
export async function routeQueue(tx: RoutingTx, tenantId: string): Promise<number> {
  // Nobody online: nothing to offer (the common case at night), without reading the queue.
  if (!(await tx.q.one("SELECT id FROM agents WHERE tenant_id = ? AND active = 1 AND availability = 'online' LIMIT 1", [tenantId]))) return 0;
  let n = 0;
  for (const c of await waitingConversations(tx.q, tenantId)) {
    if ((await routeConversation(tx, tenantId, c.id)).kind === 'assign') n++;
  }
  return n;
}

/**
 * `PATCH /api/v1/agents/{id}` (routing's fields): core's decideAgentRoutingPatch on the locked
 * agent row. Returns the agent as stored afterwards and whether their availability changed.
 */
export async function patchAgentRouting(tx: RoutingTx, actor: Agent, targetId: string, patch: AgentRoutingPatch): Promise<{ agent: Agent; availabilityChanged: boolean; wrote: boolean }> {
  const { q } = tx;
  const row = await agentRow(q, actor.tenantId, targetId, true);
  const presence = { connected: row ? await isConnected(q, targetId) : false, onCall: row?.onCall ?? false };
  const probe = decideAgentRoutingPatch(actor, row?.agent ?? null, targetId, patch, presence, { now: tx.now, seq: 0 });
  if (!probe.ok) throw new ApiError(probe.rejection.code, probe.rejection.message);
  if (probe.facts.length === 0) return { agent: row!.agent, availabilityChanged: false, wrote: false };
  const decision = decideAgentRoutingPatch(actor, row!.agent, targetId, patch, presence, { now: tx.now, seq: await tx.seq() });
  if (!decision.ok) throw new ApiError(decision.rejection.code, decision.rejection.message);
  await tx.write(decision.facts);
  const written = decision.facts.find((f) => f.kind === 'agent_routing');
  const agent = written?.kind === 'agent_routing' ? written.agent : row!.agent;
  return { agent, availabilityChanged: agent.availability !== row!.agent.availability, wrote: true };
}

/**
 * A device's socket of the agent authenticated (`connected`) or closed. The presence row is written
 * or removed; when that changes the agent's availability (the first device came, the last one went)
 * the agent fact is written. Returns the availability before and after.
 */
export async function recordPresence(
  tx: RoutingTx,
  p: { tenantId: string; agentId: string; connId: string; processId: string; connected: boolean; at: number },
): Promise<{ before: Agent['availability']; after: Agent['availability']; connected: boolean } | null> {
  const { q } = tx;
  const row = await agentRow(q, p.tenantId, p.agentId, true);
  if (!row) return null;
  if (p.connected) {
    await q.run('INSERT INTO agent_presence (conn_id, tenant_id, agent_id, process_id, connected_at, seen_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (conn_id) DO UPDATE SET seen_at = excluded.seen_at', [
      p.connId, p.tenantId, p.agentId, p.processId, p.at, p.at,
    ]);
  } else {
    await q.run('DELETE FROM agent_presence WHERE conn_id = ?', [p.connId]);
  }
  const connected = await isConnected(q, p.agentId);
  const probe = decidePresence(row.agent, { connected, onCall: row.onCall }, row.onCall, 0);
  if (!probe) return { before: row.agent.availability, after: row.agent.availability, connected };
  const fact = decidePresence(row.agent, { connected, onCall: row.onCall }, row.onCall, await tx.seq())!;
  await tx.write([fact]);
  return { before: row.agent.availability, after: fact.kind === 'agent_routing' ? fact.agent.availability : row.agent.availability, connected };
}

/** Presence rows a process keeps alive (heartbeat); rows of a process that died go stale. */
export async function touchPresence(q: Queryable, processId: string, at: number): Promise<void> {
  await q.run('UPDATE agent_presence SET seen_at = ? WHERE process_id = ?', [at, processId]);
}

/** Connections whose process stopped refreshing them (crashed): removed by the caller, one by one, through recordPresence. */
export async function stalePresence(q: Queryable, olderThan: number): Promise<{ connId: string; tenantId: string; agentId: string; processId: string }[]> {
  const rows = await q.all<{ conn_id: string; tenant_id: string; agent_id: string; process_id: string }>('SELECT conn_id, tenant_id, agent_id, process_id FROM agent_presence WHERE seen_at < ? LIMIT 500', [olderThan]);
  return rows.map((r) => ({ connId: r.conn_id, tenantId: r.tenant_id, agentId: r.agent_id, processId: r.process_id }));
}

/**
 * The grace period of an agent whose devices all went offline ran out: each of their open and pending
 * conversations is released to its queue (core's decideRelease; nothing when they are back).
 * Returns the released conversation ids (the caller re-routes them).
 */
export async function releaseOfflineAgent(tx: RoutingTx, tenantId: string, agentId: string): Promise<string[]> {
  const { q } = tx;
  const row = await agentRow(q, tenantId, agentId, true);
  if (!row || (row.agent.availability ?? 'offline') !== 'offline') return [];
  const convs = (
    await q.all(
      `SELECT * FROM conversations WHERE tenant_id = ? AND assignee_id = ? AND status IN (${RELEASE_STATUSES.map(() => '?').join(', ')}) ORDER BY id${forUpdate(q)}`,
      [tenantId, agentId, ...RELEASE_STATUSES],
    )
  ).map(toConversation);
  const released: string[] = [];
  for (const c of convs) {
    if (decideRelease(row.agent, c, { now: tx.now, seq: 0, ids: tx.ids }).length === 0) continue;
    await tx.write(decideRelease(row.agent, c, { now: tx.now, seq: await tx.seq(), ids: tx.ids }));
    released.push(c.id);
  }
  return released;
}

export interface QueueView extends QueueEntry {
  inboxName: string;
  strategy: string;
  /** The longest-waiting conversations (at most 50) with what a supervisor needs to re-route them. */
  unassigned: Pick<Conversation, 'id' | 'contactName' | 'channel' | 'priority' | 'subject' | 'lastMessagePreview' | 'waitingSince' | 'createdAt' | 'teamId' | 'inboxId'>[];
  agents: { id: string; name: string; availability: string; load: number; capacity: number | null }[];
}

/** `GET /api/v1/queues`: per inbox and team, the waiting count, the longest wait, the unassigned list and the agents in scope with their availability and load. */
export async function queueViews(q: Queryable, tenantId: string, now: number, visibleInbox: (inboxId: string) => boolean): Promise<QueueView[]> {
  const inboxes = new Map((await q.all('SELECT * FROM inboxes WHERE tenant_id = ?', [tenantId])).map((r) => [String(r.id), toInbox(r)]));
  const rows = (await q.all("SELECT * FROM conversations WHERE tenant_id = ? AND assignee_id IS NULL AND status = 'open' ORDER BY id", [tenantId])).map(toConversation);
  const convs = rows.filter((c) => visibleInbox(c.inboxId));
  const byId = new Map(convs.map((c) => [c.id, c]));
  const candidates = await routingCandidates(q, tenantId);
  const teamRoutings = await teamRoutingsOf(q, tenantId);
  return queuesOf(convs, now).map((e) => {
    const inbox = inboxes.get(e.inboxId);
    const routing = inbox ? effectiveRouting(inbox, e.teamId ? (teamRoutings.get(e.teamId) ?? null) : null) : { strategy: 'manual' as const };
    const channel = inbox?.channel ?? 'api';
    const agents = candidates
      .filter((c) => c.agent.active && (e.teamId === null ? (inbox?.teamIds.length ?? 0) === 0 || c.agent.teamIds.some((t) => inbox!.teamIds.includes(t)) : c.agent.teamIds.includes(e.teamId)))
      .map((c) => {
        const cap = typeof c.agent.capacity === 'number' ? c.agent.capacity : (c.agent.capacity?.[channel] ?? routing.capacity ?? null);
        return { id: c.agent.id, name: c.agent.name, availability: c.agent.availability ?? 'offline', load: c.load[channel] ?? 0, capacity: cap };
      });
    return {
      ...e,
      inboxName: inbox?.name ?? e.inboxId,
      strategy: routing.strategy,
      unassigned: e.conversationIds.slice(0, 50).map((id) => {
        const c = byId.get(id)!;
        return { id: c.id, contactName: c.contactName, channel: c.channel, priority: c.priority, subject: c.subject, lastMessagePreview: c.lastMessagePreview, waitingSince: c.waitingSince, createdAt: c.createdAt, teamId: c.teamId, inboxId: c.inboxId };
      }),
      agents,
    };
  });
}

/** An agent of the tenant, or not_found. */
export async function agentOfTenant(q: Queryable, tenantId: string, id: string): Promise<Agent> {
  const r = await agentRow(q, tenantId, id);
  if (!r) throw notFound(`agent ${id} not found`);
  return r.agent;
}

/** The tenant's grace period (ms) for releasing an offline agent's conversations, or null when not set. */
export async function tenantGraceMs(q: Queryable, tenantId: string): Promise<number | null> {
  const r = await q.one<{ value: string }>('SELECT value FROM settings WHERE key = ?', [`routing.grace_ms:${tenantId}`]);
  const n = r ? Number(r.value) : NaN;
  return Number.isInteger(n) && n >= 0 ? n : null;
}

/** Sets the tenant's grace period (admins, audited in the same transaction). */
export async function setTenantGraceMs(db: Db, tenantId: string, agentId: string, ms: number, now: number): Promise<void> {
  await db.tx(async (q) => {
    await q.run('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [`routing.grace_ms:${tenantId}`, String(ms)]);
    await insertAudit(q, { tenantId, agentId }, { action: 'routing.settings', target: tenantId, details: { graceMs: ms } }, now);
  });
}

/** A team's own routing (null: its conversations route by their inbox's settings). */
export async function teamRoutingOf(q: Queryable, tenantId: string, teamId: string): Promise<InboxRouting | null> {
  const r = await q.one<{ routing: string }>('SELECT routing FROM team_routing WHERE team_id = ? AND tenant_id = ?', [teamId, tenantId]);
  if (!r) return null;
  const parsed = InboxRouting.safeParse(JSON.parse(String(r.routing)));
  return parsed.success ? parsed.data : null;
}

export async function teamRoutingsOf(q: Queryable, tenantId: string): Promise<Map<string, InboxRouting>> {
  const rows = await q.all<{ team_id: string; routing: string }>('SELECT team_id, routing FROM team_routing WHERE tenant_id = ?', [tenantId]);
  const out = new Map<string, InboxRouting>();
  for (const r of rows) {
    const parsed = InboxRouting.safeParse(JSON.parse(String(r.routing)));
    if (parsed.success) out.set(String(r.team_id), parsed.data);
  }
  return out;
}

/** Sets (or with null removes) a team's routing, audited with the change in one transaction. */
export async function saveTeamRouting(db: Db, tenantId: string, agentId: string, teamId: string, routing: InboxRouting | null, now: number): Promise<InboxRouting | null> {
  return db.tx(async (q) => {
    if (!(await q.one('SELECT id FROM teams WHERE id = ? AND tenant_id = ?', [teamId, tenantId]))) throw notFound(`team ${teamId} not found`);
    const before = await teamRoutingOf(q, tenantId, teamId);
    if (routing === null) await q.run('DELETE FROM team_routing WHERE team_id = ? AND tenant_id = ?', [teamId, tenantId]);
    else {
      await q.run(
        'INSERT INTO team_routing (team_id, tenant_id, routing, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (team_id) DO UPDATE SET routing = excluded.routing, updated_at = excluded.updated_at',
        [teamId, tenantId, JSON.stringify(routing), now],
      );
    }
    await insertAudit(q, { tenantId, agentId }, { action: 'team.routing', target: teamId, details: { before, after: routing } }, now);
    return routing;
  });
}

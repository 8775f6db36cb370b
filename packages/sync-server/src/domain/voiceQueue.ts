import { z } from 'zod';
import { callQueueStats, decideCallOffer, type CallOffer, type CallQueueStats, type QueuedCall } from '@goutong/core';
import type { Db, Queryable } from '../db/db.js';
import type { Migration } from '../db/migrations.js';
import { routingCandidates, teamRoutingOf } from './routing.js';
import { toInbox } from './rows.js';

/**
 * The callers waiting in the voice queues (ACD), one row per live call, shared by every server
 * process: the queue's order (entry time), whose phone rings, who talks with whom. The one writer of
 * these rows; the decisions are core's (`rules/voiceQueue.ts`). A row is deleted when its call
 * leaves the queue (the call itself is recorded as a message on the conversation). One live call per
 * agent is a unique index, so two processes never ring the same agent. Rows of a process that died
 * (no heartbeat for `STALE_MS`) no longer count and are swept.
 */
export const VOICE_QUEUE_MIGRATION: Migration = {
  id: 400,
  name: 'voice: call queues',
  sql: `
CREATE TABLE voice_queue (
  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, inbox_id TEXT NOT NULL, team_id TEXT, call_id TEXT NOT NULL UNIQUE, caller TEXT NOT NULL,
  entered_at {{bigint}} NOT NULL, state TEXT NOT NULL, agent_id TEXT, declined TEXT NOT NULL, owner TEXT NOT NULL, heartbeat_at {{bigint}} NOT NULL);
CREATE UNIQUE INDEX voice_queue_agent ON voice_queue (agent_id);
CREATE INDEX voice_queue_order ON voice_queue (tenant_id, entered_at);
CREATE TABLE voice_queue_agents (tenant_id TEXT NOT NULL, agent_id TEXT NOT NULL, last_call_at {{bigint}} NOT NULL, PRIMARY KEY (tenant_id, agent_id))
`,
};

/** A row whose process sent no heartbeat for this long belongs to a dead process. */
export const STALE_MS = 15_000;

const Row = z.object({
  id: z.string().min(1),
  tenant_id: z.string().min(1),
  inbox_id: z.string().min(1),
  team_id: z.string().nullable(),
  entered_at: z.coerce.number(),
  state: z.enum(['waiting', 'ringing', 'connected']),
  agent_id: z.string().nullable(),
  declined: z.string().transform((s) => z.array(z.string()).parse(JSON.parse(s))),
});

const toCall = (r: unknown): QueuedCall => {
  const x = Row.parse(r);
  return { id: x.id, tenantId: x.tenant_id, inboxId: x.inbox_id, teamId: x.team_id, enteredAt: x.entered_at, state: x.state, agentId: x.agent_id, declined: x.declined };
};

export class VoiceQueue {
  constructor(private readonly db: Db, private readonly now: () => number = Date.now) {}

  /** The live calls of a tenant (every queue, every process), in queue order. */
  async live(q: Queryable, tenantId: string): Promise<QueuedCall[]> {
    const rows = await q.all('SELECT * FROM voice_queue WHERE tenant_id = ? AND heartbeat_at > ? ORDER BY entered_at, id', [tenantId, this.now() - STALE_MS]);
    return rows.map(toCall);
  }

  /** A caller enters a queue (entry time: now). */
  async enter(o: { id: string; tenantId: string; inboxId: string; teamId: string | null; callId: string; caller: string; owner: string }): Promise<QueuedCall> {
    const at = this.now();
    await this.db.run(
      `INSERT INTO voice_queue (id, tenant_id, inbox_id, team_id, call_id, caller, entered_at, state, agent_id, declined, owner, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'waiting', NULL, '[]', ?, ?)`,
      [o.id, o.tenantId, o.inboxId, o.teamId, o.callId, o.caller, at, o.owner, at],
    );
    return { id: o.id, tenantId: o.tenantId, inboxId: o.inboxId, teamId: o.teamId, enteredAt: at, state: 'waiting', agentId: null, declined: [] };
  }

  /** This process's calls are alive; rows of dead processes are removed. */
  async heartbeat(owner: string): Promise<void> {
    const at = this.now();
    await this.db.run('UPDATE voice_queue SET heartbeat_at = ? WHERE owner = ?', [at, owner]);
    await this.db.run('DELETE FROM voice_queue WHERE heartbeat_at <= ?', [at - STALE_MS]);
  }

  /** The caller's position now (1 = next; core `queuePosition`). */
  async get(tenantId: string, id: string): Promise<{ call: QueuedCall | null; calls: QueuedCall[] }> {
    const calls = await this.live(this.db, tenantId);
    return { call: calls.find((c) => c.id === id) ?? null, calls };
  }

  /**
   * Offers a waiting call to an agent (core `decideCallOffer` on the live calls and routing's
   * candidates) and, when one is chosen, marks the call ringing at that agent, in one transaction.
   * Another process that claimed the same agent first wins (unique index): the call keeps waiting.
   */
  async offer(tenantId: string, id: string, labels: readonly string[]): Promise<CallOffer> {
    try {
      return await this.db.tx(async (q) => {
        const calls = await this.live(q, tenantId);
        const call = calls.find((c) => c.id === id);
        if (!call) return { kind: 'wait', reason: 'the call left the queue' } as const;
        const inboxRow = await q.one('SELECT * FROM inboxes WHERE id = ? AND tenant_id = ?', [call.inboxId, tenantId]);
        if (!inboxRow) return { kind: 'wait', reason: 'no such inbox' } as const;
        const lastCalls = await q.all<{ agent_id: string; last_call_at: number | string }>('SELECT agent_id, last_call_at FROM voice_queue_agents WHERE tenant_id = ? ORDER BY last_call_at DESC', [tenantId]);
        const lastCallAt = new Map(lastCalls.map((r) => [r.agent_id, Number(r.last_call_at)]));
        const decided = decideCallOffer(
          {
            call,
            labels,
            inbox: toInbox(inboxRow),
            teamRouting: call.teamId ? await teamRoutingOf(q, tenantId, call.teamId) : null,
            calls,
            candidates: await routingCandidates(q, tenantId),
            lastCallAt,
            pointer: lastCalls[0]?.agent_id ?? null,
          },
          { now: this.now(), seq: 0, ids: { next: (k) => `${k}-voice-queue` } },
        );
        if (decided.kind !== 'offer') return decided;
        const declined = decided.newRound ? [] : call.declined;
        const r = await q.run("UPDATE voice_queue SET state = 'ringing', agent_id = ?, declined = ? WHERE id = ? AND state = 'waiting'", [decided.agentId, JSON.stringify(declined), id]);
        if (r.changes !== 1) return { kind: 'wait', reason: 'the call changed meanwhile' } as const;
        await this.touchAgent(q, tenantId, decided.agentId);
        return decided;
      });
    } catch (e) {
      // the agent was claimed by a call of another process in the meantime (unique index on agent_id)
      if (/unique|duplicate/i.test(String(e))) return { kind: 'wait', reason: 'the agent took another call' };
      throw e;
    }
  }

  /** The agent's phone rang out (or refused): the call waits again, the agent is asked after the others. */
  async rangOut(tenantId: string, id: string, agentId: string): Promise<void> {
    await this.db.tx(async (q) => {
      const r = await q.one('SELECT * FROM voice_queue WHERE id = ? AND tenant_id = ?', [id, tenantId]);
      if (!r) return;
      const call = toCall(r);
      const declined = [...new Set([...call.declined, agentId])];
      await q.run("UPDATE voice_queue SET state = 'waiting', agent_id = NULL, declined = ? WHERE id = ?", [JSON.stringify(declined), id]);
    });
  }

  /** The agent answered. */
  async connected(tenantId: string, id: string): Promise<void> {
    await this.db.run("UPDATE voice_queue SET state = 'connected' WHERE id = ? AND tenant_id = ?", [id, tenantId]);
  }

  /** The call left the queue (answered call ended, voicemail, callback, hang-up); the agent's idle time starts now. */
  async leave(tenantId: string, id: string): Promise<void> {
    await this.db.tx(async (q) => {
      const r = await q.one<{ agent_id: string | null }>('SELECT agent_id FROM voice_queue WHERE id = ? AND tenant_id = ?', [id, tenantId]);
      await q.run('DELETE FROM voice_queue WHERE id = ? AND tenant_id = ?', [id, tenantId]);
      if (r?.agent_id) await this.touchAgent(q, tenantId, r.agent_id);
    });
  }

  /** An agent's e-mail (the inbox's `agents` map names agents by id or e-mail). */
  async agentEmail(tenantId: string, agentId: string): Promise<string | null> {
    const r = await this.db.one<{ email: string }>('SELECT email FROM agents WHERE id = ? AND tenant_id = ?', [agentId, tenantId]);
    return r?.email ?? null;
  }

  private async touchAgent(q: Queryable, tenantId: string, agentId: string): Promise<void> {
    await q.run('INSERT INTO voice_queue_agents (tenant_id, agent_id, last_call_at) VALUES (?, ?, ?) ON CONFLICT (tenant_id, agent_id) DO UPDATE SET last_call_at = excluded.last_call_at', [tenantId, agentId, this.now()]);
  }

  /** Queue length and longest wait per queue (live: `GET /api/v1/voice/queues`, `GET /api/v1/queues`). */
  async stats(tenantId: string): Promise<CallQueueStats[]> {
    return callQueueStats(await this.live(this.db, tenantId), this.now());
  }
}

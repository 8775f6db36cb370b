import crypto from 'node:crypto';
import type { Agent, AgentRoutingPatch, Logger } from '@goutong/core';
import type { Workspace } from '../domain/workspace.js';
import {
  inRoutingTx,
  patchAgentRouting,
  queueViews,
  recordPresence,
  routeQueue,
  stalePresence,
  touchPresence,
  type QueueView,
  type RoutingTx,
} from '../domain/routing.js';

/** The grace timer's name on the ops bus (subject: the agent id). */
export const GRACE_TIMER = 'routing.grace';

export interface RoutingOptions {
  /** How long an assignment stays with an agent whose devices all went offline (GOUTONG_ROUTING_GRACE_MS; default 5 min). */
  graceMs: number;
  /** The server's clock (the test clock under GOUTONG_TEST_CLOCK). */
  now: () => number;
  /** How often this process refreshes its presence rows; rows older than 3 beats belong to a dead process. */
  heartbeatMs?: number;
}

/** Hooks the grace timer into the transaction that changes presence (the ops bus's timers, once wired). */
export interface GraceTimers {
  schedule(tx: RoutingTx, tenantId: string, agentId: string, dueAt: number): Promise<void>;
  cancel(tx: RoutingTx, agentId: string): Promise<void>;
}

/** The grace period from the environment (tests shorten it), else the default of 5 minutes. */
export function graceMsFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.GOUTONG_ROUTING_GRACE_MS;
  if (raw === undefined || raw === '') return 5 * 60_000;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error('GOUTONG_ROUTING_GRACE_MS must be a whole number of milliseconds');
  return n;
}

/**
 * Routing's server part: device presence (the sockets of every process, kept in the database),
 * availability changes, re-offering the queue, and the grace release. Decisions are core's
 * (rules/routing.ts); rows are the domain layer's (domain/routing.ts).
 */
export class RoutingService {
  readonly processId = crypto.randomUUID();
  timers: GraceTimers | null = null;
  private beat: NodeJS.Timeout | null = null;
  private readonly heartbeatMs: number;

  constructor(private readonly ws: Workspace, private readonly logger: Logger, readonly opts: RoutingOptions) {
    this.heartbeatMs = opts.heartbeatMs ?? 10_000;
  }

  private pending = new Set<Promise<unknown>>();

  /** Tracks presence work so a shutdown waits for it before the database closes. */
  private track<T>(p: Promise<T>): Promise<T> {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p)).catch(() => undefined);
    return p;
  }

  /** Waits for the presence writes in flight (the server calls it before closing the database). */
  async drain(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  connected(agent: Agent, connId: string): Promise<void> {
    return this.track(this.onConnected(agent, connId));
  }

  disconnected(agent: Pick<Agent, 'id' | 'tenantId'>, connId: string): Promise<void> {
    return this.track(this.onDisconnected(agent, connId));
  }

  /** A device of the agent authenticated its socket: online again (their choice), the grace timer cancelled. */
  private async onConnected(agent: Agent, connId: string): Promise<void> {
    const change = await inRoutingTx(this.ws, agent.tenantId, this.opts.now(), async (tx) => {
      const r = await recordPresence(tx, { tenantId: agent.tenantId, agentId: agent.id, connId, processId: this.processId, connected: true, at: Date.now() });
      if (r?.connected) await this.timers?.cancel(tx, agent.id);
      return r;
    });
    if (change && change.after === 'online' && change.before !== 'online') await this.offerQueue(agent.tenantId);
  }

  /** A socket closed: when it was the agent's last device, they are offline and the grace timer starts. */
  private async onDisconnected(agent: Pick<Agent, 'id' | 'tenantId'>, connId: string): Promise<void> {
    await inRoutingTx(this.ws, agent.tenantId, this.opts.now(), async (tx) => {
      const r = await recordPresence(tx, { tenantId: agent.tenantId, agentId: agent.id, connId, processId: this.processId, connected: false, at: Date.now() });
      if (r && !r.connected) await this.timers?.schedule(tx, agent.tenantId, agent.id, tx.now + this.opts.graceMs);
    });
  }

  /** `PATCH /api/v1/agents/{id}` (routing's fields); an agent who became available is offered the queue. */
  async patchAgent(actor: Agent, targetId: string, patch: AgentRoutingPatch): Promise<Agent> {
    const r = await inRoutingTx(this.ws, actor.tenantId, this.opts.now(), (tx) => patchAgentRouting(tx, actor, targetId, patch));
    if (r.wrote) await this.offerQueue(actor.tenantId);
    return r.agent;
  }

  /** Offers the tenant's waiting conversations to whoever is available and has room (its own transaction). */
  async offerQueue(tenantId: string): Promise<number> {
    return inRoutingTx(this.ws, tenantId, this.opts.now(), (tx) => routeQueue(tx, tenantId));
  }

  async queues(agent: Agent, visibleInbox: (inboxId: string) => boolean): Promise<QueueView[]> {
    return queueViews(this.ws.db, agent.tenantId, this.opts.now(), visibleInbox);
  }

  /** Keeps this process's presence rows fresh and clears those of processes that died (their agents go offline). */
  start(): void {
    if (this.beat) return;
    this.beat = setInterval(() => void this.heartbeat().catch((e: unknown) => this.logger.warn('routing: presence heartbeat failed', { error: String(e) })), this.heartbeatMs);
    this.beat.unref();
  }

  async heartbeat(): Promise<void> {
    const at = Date.now();
    await touchPresence(this.ws.db, this.processId, at);
    for (const s of await stalePresence(this.ws.db, at - 3 * this.heartbeatMs)) {
      if (s.processId === this.processId) continue;
      await this.disconnected({ id: s.agentId, tenantId: s.tenantId }, s.connId);
    }
  }

  /** Stops the heartbeat; this process's connections are closed by the socket server (each a disconnect). */
  stop(): void {
    if (this.beat) clearInterval(this.beat);
    this.beat = null;
  }
}

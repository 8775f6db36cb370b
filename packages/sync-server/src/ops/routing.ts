import crypto from 'node:crypto';
import { LOAD_STATUSES, type Agent, type AgentRoutingPatch, type Logger, type OpsCause, type OpsEnvelope } from '@goutong/core';
import type { Workspace } from '../domain/workspace.js';
import { opsTransaction, type OpsContext } from '../domain/opsTx.js';
import { pendingTimer } from '../domain/opsJobs.js';
import type { OpsBus } from './bus.js';
import type { ServerClock } from './clock.js';
import {
  patchAgentRouting,
  queueViews,
  recordPresence,
  releaseOfflineAgent,
  routeConversation,
  routeQueue,
  setTenantGraceMs,
  stalePresence,
  tenantGraceMs,
  touchPresence,
  type QueueView,
  type RoutingTx,
} from '../domain/routing.js';

/** The grace timer's name on the ops bus (subject: the agent id). */
export const GRACE_TIMER = 'routing.grace';

export interface RoutingOptions {
  /**
   * How long an assignment stays with an agent whose devices all went offline: GOUTONG_ROUTING_GRACE_MS
   * when set (tests), else the tenant's setting (PATCH /api/v1/routing/settings), else 5 minutes.
   */
  graceMs: number | null;
  /** The server's clock (the test clock under GOUTONG_TEST_CLOCK). */
  now: () => number;
  /** How often this process refreshes its presence rows; rows older than 3 beats belong to a dead process. */
  heartbeatMs?: number;
}

/** Routing's cause on the facts it writes (automation's loop protection counts it as one more step). */
const causeAfter = (env: Pick<OpsEnvelope, 'cause'> | null): OpsCause => ({ ruleId: 'routing', depth: (env?.cause?.depth ?? 0) + 1 });

/** The domain's RoutingTx over an ops transaction's context. */
function routingTx(ctx: OpsContext, ws: Workspace, cause: OpsCause): RoutingTx {
  return { q: ctx.q, now: ctx.now, ids: { next: () => ws.ids.next() }, seq: () => ctx.nextSeq(), write: (facts) => ctx.write(facts, { actorId: null, cause }) };
}

/** The grace period from the environment (tests shorten it), else the default of 5 minutes. */
export const DEFAULT_GRACE_MS = 5 * 60_000;

export function graceMsFromEnv(env: NodeJS.ProcessEnv = process.env): number | null {
  const raw = env.GOUTONG_ROUTING_GRACE_MS;
  if (raw === undefined || raw === '') return null;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error('GOUTONG_ROUTING_GRACE_MS must be a whole number of milliseconds');
  return n;
}

/** How often each process refreshes its presence rows (GOUTONG_PRESENCE_HEARTBEAT_MS; default 10 s). */
export function heartbeatMsFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.GOUTONG_PRESENCE_HEARTBEAT_MS;
  if (raw === undefined || raw === '') return 10_000;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 50) throw new Error('GOUTONG_PRESENCE_HEARTBEAT_MS must be a whole number of milliseconds (at least 50)');
  return n;
}

/**
 * Routing's server part: device presence (the sockets of every process, kept in the database),
 * availability changes, re-offering the queue, and the grace release. Decisions are core's
 * (rules/routing.ts); rows are the domain layer's (domain/routing.ts).
 */
export class RoutingService {
  readonly processId = crypto.randomUUID();
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
    const change = await this.transact(agent.tenantId, null, async (tx, ctx) => {
      const r = await recordPresence(tx, { tenantId: agent.tenantId, agentId: agent.id, connId, processId: this.processId, connected: true, at: Date.now() });
      if (r?.connected) await ctx.cancelTimer(GRACE_TIMER, agent.id);
      return r;
    });
    if (change && change.after === 'online' && change.before !== 'online') await this.offerQueue(agent.tenantId);
  }

  /** One ops transaction (facts announce their events, timers are the bus's) with routing's view of it. */
  private async transact<T>(tenantId: string, actorId: string | null, fn: (tx: RoutingTx, ctx: OpsContext) => Promise<T>): Promise<T> {
    let out!: T;
    await opsTransaction(this.ws, tenantId, this.opts.now(), this.logger, async (ctx) => {
      const base = routingTx(ctx, this.ws, causeAfter(null));
      const tx: RoutingTx = actorId ? { ...base, write: (facts) => ctx.write(facts, { actorId, cause: null }) } : base;
      out = await fn(tx, ctx);
    });
    return out;
  }

  /** A socket closed: when it was the agent's last device, they are offline and the grace timer starts. */
  private async onDisconnected(agent: Pick<Agent, 'id' | 'tenantId'>, connId: string): Promise<void> {
    await this.transact(agent.tenantId, null, async (tx, ctx) => {
      const r = await recordPresence(tx, { tenantId: agent.tenantId, agentId: agent.id, connId, processId: this.processId, connected: false, at: Date.now() });
      // The last device went away: the grace period starts (a pending one keeps its due time, so a
      // second report of the same absence, e.g. two processes sweeping a dead one's sockets, does not extend it).
      if (r && !r.connected && !(await pendingTimer(tx.q, GRACE_TIMER, agent.id))) {
        const grace = this.opts.graceMs ?? (await tenantGraceMs(tx.q, agent.tenantId)) ?? DEFAULT_GRACE_MS;
        await ctx.scheduleTimer({ name: GRACE_TIMER, subjectId: agent.id, dueAt: tx.now + grace });
      }
    });
  }

  /** `PATCH /api/v1/agents/{id}` (routing's fields); an agent who became available is offered the queue. */
  async patchAgent(actor: Agent, targetId: string, patch: AgentRoutingPatch): Promise<Agent> {
    const r = await this.transact(actor.tenantId, actor.id, (tx) => patchAgentRouting(tx, actor, targetId, patch));
    if (r.wrote) await this.offerQueue(actor.tenantId);
    return r.agent;
  }

  /** Offers the tenant's waiting conversations to whoever is available and has room (its own transaction). */
  async offerQueue(tenantId: string): Promise<number> {
    return this.transact(tenantId, null, (tx) => routeQueue(tx, tenantId));
  }

  /** The tenant's routing settings: the grace period (and whether the environment overrides it). */
  async settings(tenantId: string): Promise<{ graceMs: number; source: 'environment' | 'tenant' | 'default' }> {
    if (this.opts.graceMs !== null) return { graceMs: this.opts.graceMs, source: 'environment' };
    const t = await tenantGraceMs(this.ws.db, tenantId);
    return t === null ? { graceMs: DEFAULT_GRACE_MS, source: 'default' } : { graceMs: t, source: 'tenant' };
  }

  async setGraceMs(actor: Agent, ms: number): Promise<{ graceMs: number; source: 'environment' | 'tenant' | 'default' }> {
    await setTenantGraceMs(this.ws.db, actor.tenantId, actor.id, ms, this.opts.now());
    return this.settings(actor.tenantId);
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

/**
 * The routing listener: a new conversation, a reopened one and one handed back to nobody are routed;
 * a conversation leaving an agent's load (resolved, snoozed, handed over) offers the queue to them.
 */
export async function onRoutingEvent(env: OpsEnvelope, ctx: OpsContext): Promise<void> {
  const tx = routingTx(ctx, ctx.ws, causeAfter(env));
  const e = env.event;
  const load = LOAD_STATUSES as readonly string[];
  switch (e.type) {
    case 'conversation_created':
      await routeConversation(tx, env.tenantId, e.conversationId);
      return;
    case 'status_changed':
      if (e.to === 'open') await routeConversation(tx, env.tenantId, e.conversationId);
      if (load.includes(e.from) && !load.includes(e.to)) await routeQueue(tx, env.tenantId);
      return;
    case 'assigned':
      if (e.from !== null && e.from !== e.to) await routeQueue(tx, env.tenantId);
      else if (e.to === null) await routeConversation(tx, env.tenantId, e.conversationId);
      return;
    case 'message_received':
    case 'agent_replied':
    case 'priority_changed':
      return;
    default:
      return;
  }
}

const services = new WeakMap<OpsBus, RoutingService>();

/** The routing service registered on a bus (the server hands it to the sockets and the routes). */
export function routingService(bus: OpsBus): RoutingService {
  const s = services.get(bus);
  if (!s) throw new Error('routing is not registered on this ops bus');
  return s;
}

/**
 * Routing on the ops bus: the "routing" listener, and the grace timer that releases an offline
 * agent's conversations (exactly once: the bus completes the timer in the release's transaction;
 * a reconnect cancels it, a later disconnect replaces it).
 */
export function register(bus: OpsBus, deps: { workspace: Workspace; logger: Logger; clock: ServerClock }): RoutingService {
  const service = new RoutingService(deps.workspace, deps.logger, { graceMs: graceMsFromEnv(), now: deps.clock.now, heartbeatMs: heartbeatMsFromEnv() });
  services.set(bus, service);
  bus.listen('routing', onRoutingEvent);
  bus.onTimer(GRACE_TIMER, async (timer, ctx) => {
    const tx = routingTx(ctx, ctx.ws, { ruleId: 'routing.grace', depth: 1 });
    const released = await releaseOfflineAgent(tx, timer.tenantId, timer.subjectId);
    if (released.length > 0) ctx.log.info('routing: released an offline agent\'s conversations', { agent: timer.subjectId, conversations: released.length });
  });
  return service;
}

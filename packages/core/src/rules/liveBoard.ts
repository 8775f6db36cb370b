/**
 * The supervisors' live board, once: per queue (inbox and team) how many conversations are open, how
 * many customers wait for an answer, how many nobody has, and the longest wait; per agent their
 * availability and load. Computed from conversation summaries and agents, so a supervisor's device
 * keeps it live from the facts the sync socket delivers (and offline, as of its last sync), and the
 * server answers the same figures.
 */
import type { Agent, Availability, Conversation } from '../domain/model.js';
import { routingScope, waitingStart } from './routing.js';

export interface LiveQueue {
  scope: string;
  inboxId: string;
  teamId: string | null;
  /** Open conversations (status open). */
  open: number;
  /** Open conversations whose customer waits for an answer. */
  awaitingReply: number;
  /** Open conversations nobody is assigned to. */
  unassigned: number;
  /** Pending (waiting on the customer) and snoozed ones, for context. */
  pending: number;
  snoozed: number;
  /** The longest a customer of this queue has waited for an answer (ms), 0 when nobody waits. */
  longestWaitMs: number;
}

export interface LiveAgent {
  id: string;
  name: string;
  availability: Availability;
  /** Open conversations assigned to the agent, and how many of them wait for the agent's answer. */
  load: number;
  awaitingReply: number;
  /** The agent's capacity when a single number is set (per-channel capacities: null). */
  capacity: number | null;
}

export interface LiveBoard {
  at: number;
  totals: { open: number; awaitingReply: number; unassigned: number; longestWaitMs: number; agentsOnline: number };
  queues: LiveQueue[];
  agents: LiveAgent[];
}

type Summary = Pick<Conversation, 'id' | 'inboxId' | 'teamId' | 'status' | 'assigneeId' | 'waitingSince' | 'createdAt'>;

/** The live board of the given conversation summaries (any statuses; only the working ones count) and agents. */
export function liveBoard(conversations: Iterable<Summary>, agents: readonly Agent[], now: number): LiveBoard {
  const queues = new Map<string, LiveQueue>();
  const load = new Map<string, { load: number; awaitingReply: number }>();
  for (const c of conversations) {
    if (c.status !== 'open' && c.status !== 'pending' && c.status !== 'snoozed') continue;
    const scope = routingScope(c);
    let q = queues.get(scope);
    if (!q) queues.set(scope, (q = { scope, inboxId: c.inboxId, teamId: c.teamId, open: 0, awaitingReply: 0, unassigned: 0, pending: 0, snoozed: 0, longestWaitMs: 0 }));
    if (c.status === 'pending') q.pending += 1;
    if (c.status === 'snoozed') q.snoozed += 1;
    if (c.status !== 'open') continue;
    q.open += 1;
    const waits = c.waitingSince !== null;
    if (waits) {
      q.awaitingReply += 1;
      q.longestWaitMs = Math.max(q.longestWaitMs, Math.max(0, now - waitingStart(c)));
    }
    if (c.assigneeId === null) {
      q.unassigned += 1;
      // An unassigned conversation waits from its start even when nobody wrote yet.
      q.longestWaitMs = Math.max(q.longestWaitMs, Math.max(0, now - waitingStart(c)));
    } else {
      const l = load.get(c.assigneeId) ?? { load: 0, awaitingReply: 0 };
      l.load += 1;
      if (waits) l.awaitingReply += 1;
      load.set(c.assigneeId, l);
    }
  }
  const list = [...queues.values()].sort((a, b) => b.longestWaitMs - a.longestWaitMs || b.open - a.open || (a.scope < b.scope ? -1 : 1));
  const liveAgents: LiveAgent[] = agents
    .filter((a) => a.active)
    .map((a) => ({
      id: a.id,
      name: a.name,
      availability: a.availability ?? 'offline',
      load: load.get(a.id)?.load ?? 0,
      awaitingReply: load.get(a.id)?.awaitingReply ?? 0,
      capacity: typeof a.capacity === 'number' ? a.capacity : null,
    }))
    .sort((a, b) => AVAILABILITY_ORDER[a.availability] - AVAILABILITY_ORDER[b.availability] || b.load - a.load || a.name.localeCompare(b.name));
  return {
    at: now,
    totals: {
      open: list.reduce((n, q) => n + q.open, 0),
      awaitingReply: list.reduce((n, q) => n + q.awaitingReply, 0),
      unassigned: list.reduce((n, q) => n + q.unassigned, 0),
      longestWaitMs: list.reduce((n, q) => Math.max(n, q.longestWaitMs), 0),
      agentsOnline: liveAgents.filter((a) => a.availability === 'online').length,
    },
    queues: list,
    agents: liveAgents,
  };
}

const AVAILABILITY_ORDER: Record<LiveAgent['availability'], number> = { online: 0, busy: 1, away: 2, offline: 3 };

import type { Fact, Logger, OpsCause } from '@goutong/core';
import type { Queryable } from '../db/db.js';
import type { Workspace } from './workspace.js';
import { writeFacts } from './facts.js';
import { nextSeq } from './rows.js';
import { cancelTimer, scheduleTimer, type TimerSpec } from './opsJobs.js';

/** What a listener or timer handler works with: ONE transaction, committed with its delivery record. */
export interface OpsContext {
  /** The transaction. Read and write through the domain layer with it. */
  readonly q: Queryable;
  readonly ws: Workspace;
  readonly tenantId: string;
  /** The server clock at the start of the transaction. */
  readonly now: number;
  /** The tenant seq of this transaction's facts (allocated on first call, the same afterwards). */
  nextSeq(): Promise<number>;
  /** Writes a decision's facts (the one writer), stamping events with the actor and the cause. */
  write(facts: readonly Fact[], o?: { actorId?: string | null; cause?: OpsCause | null }): Promise<void>;
  /** Announces a relay job after the commit (the relay worker sends it at once). */
  relay(messageId: string): void;
  scheduleTimer(t: Omit<TimerSpec, 'tenantId'> & { tenantId?: string }): Promise<void>;
  cancelTimer(name: string, subjectId: string): Promise<void>;
  readonly log: Logger;
}

/** What a context collected for after the commit: the seq it allocated (if any) and its relay jobs. */
export interface OpsUnitState {
  seq: number | null;
  relays: string[];
}

/** The context of one listener or timer handler inside transaction `q` (its own, or a batch's savepoint). */
export function opsContext(ws: Workspace, q: Queryable, tenantId: string, now: number, log: Logger, st: OpsUnitState): OpsContext {
  return {
    q,
    ws,
    tenantId,
    now,
    log,
    nextSeq: async () => (st.seq ??= await nextSeq(q, tenantId)),
    write: async (facts, wo) => {
      const s = (st.seq ??= await nextSeq(q, tenantId));
      await writeFacts(q, tenantId, facts, { now, newId: () => ws.ids.next(), seq: s, actorId: wo?.actorId ?? null, cause: wo?.cause ?? null });
    },
    relay: (messageId) => void st.relays.push(messageId),
    scheduleTimer: (t) => scheduleTimer(q, { ...t, tenantId: t.tenantId ?? tenantId }, () => ws.ids.next(), now),
    cancelTimer: (name, subjectId) => cancelTimer(q, name, subjectId),
  };
}

/**
 * Runs an ops listener or timer handler in ONE transaction with its context, then announces the
 * transaction's seq (pokes, fan-out) and its relay jobs after the commit.
 */
export async function opsTransaction(
  ws: Workspace,
  tenantId: string,
  now: number,
  log: Logger,
  fn: (ctx: OpsContext, q: Queryable) => Promise<void>,
): Promise<void> {
  const st: OpsUnitState = { seq: null, relays: [] };
  await ws.db.tx(async (q) => {
    st.seq = null;
    st.relays.length = 0;
    await fn(opsContext(ws, q, tenantId, now, log, st), q);
  });
  if (st.seq !== null) ws.committed.emit({ tenantId, seq: st.seq });
  for (const messageId of st.relays) ws.relayEnqueued.emit({ tenantId, messageId });
}

/**
 * Runs one listener or timer handler inside a batch's transaction `q`, in a savepoint: its writes
 * commit with the batch, or roll back alone when it throws (the batch carries on). Returns what
 * it collected for after the commit, or what it threw (boxed: any value may be thrown).
 */
export async function opsUnit(
  ws: Workspace,
  q: Queryable,
  tenantId: string,
  now: number,
  log: Logger,
  fn: (ctx: OpsContext) => Promise<void>,
): Promise<{ ok: true; state: OpsUnitState } | { ok: false; error: unknown }> {
  const state: OpsUnitState = { seq: null, relays: [] };
  await q.run('SAVEPOINT ops_unit');
  try {
    await fn(opsContext(ws, q, tenantId, now, log, state));
  } catch (error) {
    await q.run('ROLLBACK TO SAVEPOINT ops_unit');
    await q.run('RELEASE SAVEPOINT ops_unit');
    return { ok: false, error };
  }
  await q.run('RELEASE SAVEPOINT ops_unit');
  return { ok: true, state };
}

/** The transaction of a batch of ops units (see opsUnit); fn may run again on a PostgreSQL serialisation retry. */
export function opsBatchTransaction<T>(ws: Workspace, fn: (q: Queryable) => Promise<T>): Promise<T> {
  return ws.db.tx(fn);
}

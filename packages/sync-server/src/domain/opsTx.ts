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
  let seq: number | null = null;
  const relays: string[] = [];
  await ws.db.tx(async (q) => {
    seq = null;
    relays.length = 0;
    const ctx: OpsContext = {
      q,
      ws,
      tenantId,
      now,
      log,
      nextSeq: async () => (seq ??= await nextSeq(q, tenantId)),
      write: async (facts, wo) => {
        const s = (seq ??= await nextSeq(q, tenantId));
        await writeFacts(q, tenantId, facts, { now, newId: () => ws.ids.next(), seq: s, actorId: wo?.actorId ?? null, cause: wo?.cause ?? null });
      },
      relay: (messageId) => void relays.push(messageId),
      scheduleTimer: (t) => scheduleTimer(q, { ...t, tenantId: t.tenantId ?? tenantId }, () => ws.ids.next(), now),
      cancelTimer: (name, subjectId) => cancelTimer(q, name, subjectId),
    };
    await fn(ctx, q);
  });
  if (seq !== null) ws.committed.emit({ tenantId, seq });
  for (const messageId of relays) ws.relayEnqueued.emit({ tenantId, messageId });
}

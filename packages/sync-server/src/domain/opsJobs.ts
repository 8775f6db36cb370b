// The ops bus's rows: events of committed facts (written by writeFacts in the facts' transaction)
// and durable timers, both claimed under a lease and completed in the transaction of what they did.
import { z } from 'zod';
import type { OpsCause, OpsEnvelope, OpsEvent } from '@goutong/core';
import type { Db, Queryable } from '../db/db.js';

export type OpsJobKind = 'event' | 'timer';

export interface TimerSpec {
  tenantId: string;
  /** What the timer does (a handler registered with OpsBus.onTimer), e.g. `sla.breach`. */
  name: string;
  /** What it is about (a conversation id, an agent id …): one pending timer per (name, subject). */
  subjectId: string;
  dueAt: number;
  payload?: Record<string, unknown>;
}

export interface DueTimer extends Required<TimerSpec> {
  id: string;
  attempts: number;
}

export interface ClaimedJob {
  id: string;
  tenantId: string;
  kind: OpsJobKind;
  name: string;
  subjectId: string;
  payload: Record<string, unknown>;
  dueAt: number;
  attempts: number;
  createdAt: number;
}

const JobRow = z.object({
  id: z.string().min(1),
  tenant_id: z.string().min(1),
  kind: z.enum(['event', 'timer']),
  name: z.string().min(1),
  subject_id: z.string(),
  payload: z.string(),
  due_at: z.coerce.number(),
  attempts: z.coerce.number().int(),
  created_at: z.coerce.number(),
});

const toJob = (r: unknown): ClaimedJob => {
  const j = JobRow.parse(r);
  return {
    id: j.id, tenantId: j.tenant_id, kind: j.kind, name: j.name, subjectId: j.subject_id,
    payload: z.record(z.string(), z.unknown()).parse(JSON.parse(j.payload)), dueAt: j.due_at, attempts: j.attempts, createdAt: j.created_at,
  };
};

/** Stores the events of a commit, in its transaction. */
export async function insertEvents(
  q: Queryable,
  tenantId: string,
  events: readonly OpsEvent[],
  o: { at: number; actorId: string | null; cause: OpsCause | null; newId: () => string },
): Promise<void> {
  for (const event of events) {
    const env: OpsEnvelope = { id: o.newId(), tenantId, at: o.at, actorId: o.actorId, cause: o.cause, event };
    await q.run('INSERT INTO ops_jobs (id, tenant_id, kind, name, subject_id, payload, due_at, attempts, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?)', [
      env.id, tenantId, 'event', event.type, event.conversationId, JSON.stringify(env), o.at, o.at,
    ]);
  }
}

/** Schedules a timer in the caller's transaction, replacing a pending one with the same name and subject. */
export async function scheduleTimer(q: Queryable, t: TimerSpec, newId: () => string, now: number): Promise<void> {
  await cancelTimer(q, t.name, t.subjectId);
  await q.run('INSERT INTO ops_jobs (id, tenant_id, kind, name, subject_id, payload, due_at, attempts, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?)', [
    newId(), t.tenantId, 'timer', t.name, t.subjectId, JSON.stringify(t.payload ?? {}), t.dueAt, now,
  ]);
}

/** Cancels the pending timer (name, subject), if any; a firing in progress then fails to complete and changes nothing. */
export async function cancelTimer(q: Queryable, name: string, subjectId: string): Promise<void> {
  await q.run("DELETE FROM ops_jobs WHERE kind = 'timer' AND name = ? AND subject_id = ?", [name, subjectId]);
}

/** The pending timer (name, subject), if any. */
export async function pendingTimer(q: Queryable, name: string, subjectId: string): Promise<DueTimer | null> {
  const r = await q.one("SELECT * FROM ops_jobs WHERE kind = 'timer' AND name = ? AND subject_id = ?", [name, subjectId]);
  if (!r) return null;
  const j = toJob(r);
  return { id: j.id, tenantId: j.tenantId, name: j.name, subjectId: j.subjectId, dueAt: j.dueAt, payload: j.payload, attempts: j.attempts };
}

/** Claims due jobs (never leased, or with an expired lease) for `owner`, oldest first. */
export async function claimOpsJobs(db: Db, o: { owner: string; now: number; leaseMs: number; limit: number }): Promise<ClaimedJob[]> {
  const pick = 'SELECT id FROM ops_jobs WHERE due_at <= ? AND (lease_until IS NULL OR lease_until < ?) ORDER BY due_at, id LIMIT ?';
  const sql = `UPDATE ops_jobs SET lease_owner = ?, lease_until = ?, attempts = attempts + 1
    WHERE id IN (${db.dialect === 'pg' ? `${pick} FOR UPDATE SKIP LOCKED` : pick}) RETURNING *`;
  const rows = await db.tx((q) => q.all(sql, [o.owner, o.now + o.leaseMs, o.now, o.now, o.limit]));
  return rows.map(toJob).sort((a, b) => a.dueAt - b.dueAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** The listeners that already handled an event (each in its own committed transaction). */
export async function deliveredListeners(q: Queryable, jobId: string): Promise<Set<string>> {
  return new Set((await q.all<{ listener: string }>('SELECT listener FROM ops_deliveries WHERE job_id = ?', [jobId])).map((r) => String(r.listener)));
}

/** The listeners that already handled each of these events (a batch reads them at once). */
export async function deliveredListenersOf(q: Queryable, jobIds: readonly string[]): Promise<Map<string, Set<string>>> {
  const out = new Map<string, Set<string>>();
  if (jobIds.length === 0) return out;
  const rows = await q.all<{ job_id: string; listener: string }>(`SELECT job_id, listener FROM ops_deliveries WHERE job_id IN (${jobIds.map(() => '?').join(', ')})`, jobIds);
  for (const r of rows) {
    const id = String(r.job_id);
    const set = out.get(id) ?? new Set<string>();
    set.add(String(r.listener));
    out.set(id, set);
  }
  return out;
}

/**
 * Records that a listener handled an event, in the listener's transaction. False when another
 * process recorded it first (the caller rolls back: the listener's facts are written once).
 */
export async function markDelivered(q: Queryable, jobId: string, listener: string, now: number): Promise<boolean> {
  if (await q.one('SELECT job_id FROM ops_deliveries WHERE job_id = ? AND listener = ?', [jobId, listener])) return false;
  const r = await q.run(
    q.dialect === 'pg'
      ? 'INSERT INTO ops_deliveries (job_id, listener, done_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING'
      : 'INSERT OR IGNORE INTO ops_deliveries (job_id, listener, done_at) VALUES (?, ?, ?)',
    [jobId, listener, now],
  );
  return r.changes === 1;
}

/**
 * Completes a job while `owner` still holds it (same attempt): removes it and its deliveries.
 * False when the lease was taken over or the timer was cancelled/replaced meanwhile.
 */
export async function completeOpsJob(q: Queryable, job: Pick<ClaimedJob, 'id' | 'attempts'>, owner: string): Promise<boolean> {
  const r = await q.run('DELETE FROM ops_jobs WHERE id = ? AND lease_owner = ? AND attempts = ?', [job.id, owner, job.attempts]);
  if (r.changes !== 1) return false;
  await q.run('DELETE FROM ops_deliveries WHERE job_id = ?', [job.id]);
  return true;
}

/** Completes a job in a transaction of its own (an event whose listeners all ran). */
export async function completeOpsJobAlone(db: Db, job: Pick<ClaimedJob, 'id' | 'attempts'>, owner: string): Promise<boolean> {
  return db.tx((q) => completeOpsJob(q, job, owner));
}

/** Gives a failed job back for a later retry (kept while `owner` holds it); in a transaction or alone. */
export async function retryOpsJob(db: Queryable, job: Pick<ClaimedJob, 'id' | 'attempts'>, owner: string, dueAt: number, error: string): Promise<void> {
  await db.run('UPDATE ops_jobs SET lease_owner = NULL, lease_until = NULL, due_at = ?, last_error = ? WHERE id = ? AND lease_owner = ? AND attempts = ?', [
    dueAt, error.slice(0, 2000), job.id, owner, job.attempts,
  ]);
}

/** How many jobs are due by `now` (drain in tests, health). */
export async function dueOpsJobs(db: Queryable, now: number): Promise<number> {
  const r = await db.one<{ n: number }>('SELECT COUNT(*) AS n FROM ops_jobs WHERE due_at <= ?', [now]);
  return Number(r?.n ?? 0);
}

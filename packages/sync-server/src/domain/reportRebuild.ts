// [reports] Rebuilding the rollups from facts: for databases whose history predates the rollups
// (migration 300) or whose rollups are out of date. The events are re-derived from the stored facts by
// core's rule (`reportReplayOf`) and folded by the same code as the live "reports" listener. Volume by
// label, which began with migration 480, is filled for older history by this rebuild.
import { reportReplayOf, type Calendar, type Message, type OpsEnvelope } from '@goutong/core';
import type { Db, Queryable } from '../db/db.js';
import { foldReportEvent, pricingOf, type CalendarLookup } from './reports.js';
import { toConversation, toMessage } from './rows.js';
import { backfillHistograms } from './reportHistograms.js';
import { bufferedReportWriter } from '../db/reportWrites.js';

/** Counters only the live events knew (no fact records them): a rebuild keeps them as they are. */
const KEPT = ['resolved', 'reopened', 'transfers', 'sla_resolved', 'sla_resolved_breached', 'sla_breach_first', 'sla_breach_next', 'sla_breach_resolution'] as const;
/** Counters the facts determine: a rebuild recomputes them. */
const REBUILT = ['opened', 'msgs_in', 'msgs_out', 'calls', 'calls_missed', 'calls_abandoned', 'handle_seconds', 'cost_micros'] as const;
/** Every counter of report_hourly (and report_hourly_channels). */
const COUNTERS = [...KEPT, ...REBUILT];

/** The label rollups' counters a rebuild recomputes (with the labels conversations carry now). */
const LABEL_REBUILT = ['opened', 'msgs_in', 'msgs_out', 'calls', 'calls_missed'] as const;

/** Conversations folded per page (one read of their messages, one flush of the rows they give). */
const PAGE = 500;

/**
 * Takes the tenant's report lock: exclusive for a rebuild, shared for the live listener (PostgreSQL; on
 * SQLite every write transaction is exclusive already). Taken first in each transaction, so they never
 * wait on each other in the opposite order.
 */
export async function lockReports(q: Queryable, tenantId: string, mode: 'shared' | 'exclusive'): Promise<void> {
  if (q.dialect !== 'pg') return;
  await q.run(`SELECT ${mode === 'shared' ? 'pg_advisory_xact_lock_shared' : 'pg_advisory_xact_lock'}(hashtext(?))`, [`goutong:reports:${tenantId}`]);
}

/**
 * The live listener's guard (call inside its transaction, before folding): true when a rebuild already
 * counted this event's facts (the event was pending when it ran), which must then not be folded again.
 */
export async function countedByRebuild(q: Queryable, env: Pick<OpsEnvelope, 'id' | 'tenantId'>): Promise<boolean> {
  await lockReports(q, env.tenantId, 'shared');
  const r = await q.run('DELETE FROM report_rebuild_skips WHERE job_id = ? AND tenant_id = ?', [env.id, env.tenantId]);
  return r.changes > 0;
}

export interface RebuildResult {
  tenantId: string;
  conversations: number;
  messages: number;
  /** Events pending at the time of the rebuild, whose facts it counted (the listener skips them). */
  pending: number;
}

/**
 * Recomputes a tenant's fact-derived rollups (report_hourly's volume, call and cost counters and their sums per channel, report_costs and its spans,
 * response and handle durations, the duration histograms) in one transaction; keeps what only events recorded (resolutions with their
 * durations, reopens, transfers, SLA counters) and adds a resolution, at the conversation's last change,
 * for a resolved conversation that has none. Idempotent: running it twice gives the same rows. Safe while
 * servers run: it holds the tenant's report lock and (PostgreSQL) blocks new events until it commits, and
 * events pending at that moment are marked counted so the listener does not fold them a second time.
 * Rebuilds by several processes take turns.
 */
export async function rebuildReports(db: Db, tenantId: string, o: { calendarOf: CalendarLookup; now: number; pageSize?: number }): Promise<RebuildResult> {
  return db.tx(async (q) => {
    await lockReports(q, tenantId, 'exclusive');
    // No fact (with its event) commits meanwhile: the facts read below and the pending events agree.
    if (q.dialect === 'pg') await q.run('LOCK TABLE ops_jobs IN SHARE MODE');
    const pending = await q.all<{ id: string }>(
      `SELECT j.id FROM ops_jobs j WHERE j.tenant_id = ? AND j.kind = 'event'
       AND NOT EXISTS (SELECT 1 FROM ops_deliveries d WHERE d.job_id = j.id AND d.listener = 'reports')`,
      [tenantId],
    );
    for (const p of pending) {
      await q.run(
        q.dialect === 'pg'
          ? 'INSERT INTO report_rebuild_skips (job_id, tenant_id, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING'
          : 'INSERT OR IGNORE INTO report_rebuild_skips (job_id, tenant_id, created_at) VALUES (?, ?, ?)',
        [p.id, tenantId, o.now],
      );
    }
    await q.run(`UPDATE report_hourly SET ${REBUILT.map((c) => `${c} = 0`).join(', ')} WHERE tenant_id = ?`, [tenantId]);
    await q.run('DELETE FROM report_costs WHERE tenant_id = ?', [tenantId]);
    await q.run('DELETE FROM report_cost_spans WHERE tenant_id = ?', [tenantId]);
    // Per label: counted again with the labels conversations carry now (resolutions are kept).
    await q.run(`UPDATE report_hourly_labels SET ${LABEL_REBUILT.map((c) => `${c} = 0`).join(', ')} WHERE tenant_id = ?`, [tenantId]);
    await q.run('DELETE FROM report_label_marks WHERE tenant_id = ?', [tenantId]);
    await q.run("DELETE FROM report_durations WHERE tenant_id = ? AND kind IN ('first_response', 'next_response', 'handle')", [tenantId]);
    // The histograms again, from every duration row once the fold below has written its own.
    await q.run('DELETE FROM report_histograms WHERE tenant_id = ?', [tenantId]);
    const resolvedBefore = new Set(
      (await q.all<{ c: string }>("SELECT DISTINCT conversation_id AS c FROM report_durations WHERE tenant_id = ? AND kind = 'resolution'", [tenantId])).map((r) => String(r.c)),
    );
    const pricing = await pricingOf(q, tenantId);
    // One calendar per inbox and team (the lookup reads settings rows).
    const calendars = new Map<string, Promise<Calendar | null>>();
    const calendarOf: CalendarLookup = (cq, c) => {
      const key = `${c.inboxId}|${c.teamId ?? ''}`;
      let cal = calendars.get(key);
      if (!cal) calendars.set(key, (cal = o.calendarOf(cq, c)));
      return cal;
    };
    // The fold's writes of a page combined into a few multi-row upserts (the fold itself is the live one).
    const w = bufferedReportWriter(q);
    let conversations = 0;
    let messages = 0;
    for (let after = ''; ;) {
      const convs = (await q.all('SELECT * FROM conversations WHERE tenant_id = ? AND id > ? ORDER BY id LIMIT ?', [tenantId, after, o.pageSize ?? PAGE])).map(toConversation);
      if (convs.length === 0) break;
      after = convs[convs.length - 1]!.id;
      const rows = await q.all(
        `SELECT * FROM messages WHERE tenant_id = ? AND conversation_id IN (${convs.map(() => '?').join(', ')}) ORDER BY conversation_id, server_time, id`,
        [tenantId, ...convs.map((c) => c.id)],
      );
      const byConv = new Map<string, Message[]>();
      for (const r of rows) {
        const m = toMessage(r);
        const list = byConv.get(m.conversationId) ?? [];
        list.push(m);
        byConv.set(m.conversationId, list);
      }
      for (const c of convs) {
        const list = byConv.get(c.id) ?? [];
        messages += list.length;
        conversations += 1;
        const known = { conversation: c, messages: new Map(list.map((m) => [m.id, m])), pricing };
        for (const e of reportReplayOf(c, list, { resolvedAt: resolvedBefore.has(c.id) ? null : c.updatedAt })) {
          await foldReportEvent(q, { id: e.id, tenantId, at: e.at, actorId: null, cause: null, event: e.event }, calendarOf, known, w);
        }
      }
      await w.flush();
    }
    await backfillHistograms(q, tenantId);
    await q.run(`DELETE FROM report_hourly WHERE tenant_id = ? AND ${COUNTERS.map((c) => `${c} = 0`).join(' AND ')}`, [tenantId]);
    // The rows per hour and channel: report_hourly's sums (what only events knew included).
    await q.run('DELETE FROM report_hourly_channels WHERE tenant_id = ?', [tenantId]);
    await q.run(
      `INSERT INTO report_hourly_channels (tenant_id, hour, channel, ${COUNTERS.join(', ')})
       SELECT tenant_id, hour, channel, ${COUNTERS.map((c) => `SUM(${c})`).join(', ')} FROM report_hourly WHERE tenant_id = ? GROUP BY tenant_id, hour, channel`,
      [tenantId],
    );
    await q.run(`DELETE FROM report_hourly_labels WHERE tenant_id = ? AND resolved = 0 AND ${LABEL_REBUILT.map((c) => `${c} = 0`).join(' AND ')}`, [tenantId]);
    await q.run(
      `INSERT INTO report_rebuilds (tenant_id, rebuilt_at, conversations, messages) VALUES (?, ?, ?, ?)
       ON CONFLICT (tenant_id) DO UPDATE SET rebuilt_at = excluded.rebuilt_at, conversations = excluded.conversations, messages = excluded.messages`,
      [tenantId, o.now, conversations, messages],
    );
    return { tenantId, conversations, messages, pending: pending.length };
  });
}

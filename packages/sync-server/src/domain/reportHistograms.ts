// [reports] Duration histograms per UTC hour, UTC day and UTC calendar month (migration 461): the
// percentiles of the overview and the agents report read bucket rows instead of every duration row of
// the period. Hourly rows alone barely help: at a busy workspace's density one agent's ~30 first responses
// of an hour fall in ~30 different buckets, so an hour has about as many bucket rows as durations. A year
// therefore reads ~11 whole UTC months from the monthly rows, the whole UTC days around them from the
// daily rows, the whole hours of a partial UTC day at each end (a local day in a zone other than UTC)
// from the hourly rows, and the partial hours at the very ends from report_durations.
// Written with each duration row, in the same transaction, by the same writer (the "reports" listener's
// fold, `duration` in reports.ts), so they always agree with report_durations; the migration and the
// rollup rebuild fill them from report_durations (`backfillHistograms`).
//
// Reading a period [from, to): its whole UTC months, days and hours come from the histograms; the durations of a partial
// hour at either end (a period that does not start or end on the hour) come from report_durations and are
// bucketed the same way, so the counts are exact for any period and only the median/P90 are estimated
// (relative error < 2.5 %, core reportHistogram). Hours are UTC hours: a period in a time zone with a
// whole-hour offset starts and ends on UTC hours; in a half-hour (or 45-minute) zone such as
// Asia/Kolkata the local midnights fall at :30 UTC, so the first and last half hour of the period are
// read from the duration rows (correct, and still two half-hours of rows however long the period).
import {
  histogramAddBucket,
  histogramBucketOf,
  histogramDistribution,
  type Distribution,
  type Histogram,
  type ReportQuery,
} from '@goutong/core';
import type { Queryable } from '../db/db.js';
import { startOf, nextOf, type Clock, type Grain, type HistogramKind, type Scope } from '../db/reportHistogramRows.js';

export { addDurationToHistograms, backfillHistograms, HISTOGRAM_KINDS, type Clock, type HistogramKind } from '../db/reportHistogramRows.js';

/** A distribution to read: a duration kind in wall or business seconds. */
export interface Wanted {
  kind: HistogramKind;
  clock: Clock;
}

const keyOf = (w: Wanted) => `${w.kind}:${w.clock}`;

function filters(rq: Pick<ReportQuery, 'inboxId' | 'teamId' | 'agentId' | 'channel'>): { sql: string; params: string[] } {
  const parts: Array<[string, string | undefined]> = [['inbox_id', rq.inboxId], ['team_id', rq.teamId], ['agent_id', rq.agentId], ['channel', rq.channel]];
  const set = parts.filter((p): p is [string, string] => !!p[1]);
  return { sql: set.map(([c]) => ` AND ${c} = ?`).join(''), params: set.map(([, v]) => v) };
}

interface Span {
  from: number;
  to: number;
}

/** The whole units (UTC hours, days or months) inside [from, to), or null, and the pieces before and after them. */
function wholeUnits(from: number, to: number, grain: Grain): { whole: Span | null; rest: Span[] } {
  const first = startOf(from, grain) === from ? from : nextOf(startOf(from, grain), grain);
  const last = startOf(to, grain);
  if (first >= last) return { whole: null, rest: from < to ? [{ from, to }] : [] };
  return { whole: { from: first, to: last }, rest: [{ from, to: first }, { from: last, to }].filter((e) => e.from < e.to) };
}

/**
 * How a period [from, to) is read: its whole UTC months from the monthly rows, its other whole UTC days
 * from the daily rows, its other whole UTC hours from the hourly rows, and the partial hours at its ends
 * (`edges`) from the duration rows.
 */
export function splitPeriod(from: number, to: number): { months: Span | null; days: Span[]; hours: Span[]; edges: Span[] } {
  const h = wholeUnits(from, to, 'hour');
  if (!h.whole) return { months: null, days: [], hours: [], edges: h.rest };
  const d = wholeUnits(h.whole.from, h.whole.to, 'day');
  if (!d.whole) return { months: null, days: [], hours: d.rest, edges: h.rest };
  const m = wholeUnits(d.whole.from, d.whole.to, 'month');
  return { months: m.whole, days: m.whole ? m.rest : [d.whole], hours: d.rest, edges: h.rest };
}

/**
 * Distributions of several kinds over a period, from the histograms (whole hours) and the duration rows
 * (partial end hours), optionally one set per agent. Group '' when not grouped.
 */
export async function histogramDistributions(
  q: Queryable,
  tenantId: string,
  rq: ReportQuery,
  wanted: readonly Wanted[],
  o: { byAgent?: boolean } = {},
): Promise<Map<string, Map<string, Distribution>>> {
  const f = filters(rq);
  const kinds = [...new Set(wanted.map((w) => w.kind))];
  const inKinds = kinds.map(() => '?').join(', ');
  const hs = new Map<string, Map<string, Histogram>>();
  const histogramOfGroup = (group: string, key: string): Histogram => {
    let g = hs.get(group);
    if (!g) hs.set(group, (g = new Map()));
    let h = g.get(key);
    if (!h) g.set(key, (h = new Map()));
    return h;
  };
  const wantedKeys = new Set(wanted.map(keyOf));
  const { months, days, hours, edges } = splitPeriod(rq.from, rq.to);
  const agentCol = o.byAgent ? 'agent_id' : "''";
  const ranges: Array<[Grain, Span]> = [
    ...(months ? [['month', months] as [Grain, Span]] : []),
    ...days.map((d) => ['day', d] as [Grain, Span]),
    ...hours.map((h) => ['hour', h] as [Grain, Span]),
  ];
  if (ranges.length > 0) {
    // The coarsest rows that answer the filters: without dimensions, by agent, or by every dimension.
    const scope: Scope = rq.channel || rq.inboxId || rq.teamId ? 'dims' : rq.agentId || o.byAgent ? 'agent' : 'all';
    const hf = scope === 'dims' ? f : scope === 'agent' ? filters({ agentId: rq.agentId }) : filters({});
    // One branch per range (each an index range on tenant, scope, grain, kind, hour; an OR of them scans the tenant).
    const branch = `SELECT ${agentCol} AS g, kind, clock, bucket, n, min_s, max_s FROM report_histograms
       WHERE tenant_id = ? AND scope = ? AND grain = ? AND kind IN (${inKinds}) AND hour >= ? AND hour < ?${hf.sql}`;
    const rows = await q.all<{ g: string; kind: string; clock: string; bucket: number; n: number; lo: number; hi: number }>(
      `SELECT g, kind, clock, bucket, SUM(n) AS n, MIN(min_s) AS lo, MAX(max_s) AS hi FROM (${ranges.map(() => branch).join(' UNION ALL ')}) AS h
       GROUP BY g, kind, clock, bucket`,
      ranges.flatMap(([g, r]) => [tenantId, scope, g, ...kinds, r.from, r.to, ...hf.params]),
    );
    for (const r of rows) {
      const key = `${r.kind}:${r.clock}`;
      if (!wantedKeys.has(key)) continue;
      histogramAddBucket(histogramOfGroup(String(r.g), key), Number(r.bucket), { count: Number(r.n), min: Number(r.lo), max: Number(r.hi) });
    }
  }
  for (const e of edges) {
    const rows = await q.all<{ g: string; kind: string; s: number; b: number }>(
      `SELECT ${agentCol} AS g, kind, seconds AS s, business_seconds AS b FROM report_durations WHERE tenant_id = ? AND kind IN (${inKinds}) AND at >= ? AND at < ?${f.sql}`,
      [tenantId, ...kinds, e.from, e.to, ...f.params],
    );
    for (const r of rows) {
      for (const clock of ['wall', 'business'] as const) {
        const key = `${r.kind}:${clock}`;
        if (!wantedKeys.has(key)) continue;
        const v = Math.max(0, Number(clock === 'wall' ? r.s : r.b));
        histogramAddBucket(histogramOfGroup(String(r.g), key), histogramBucketOf(v), { count: 1, min: v, max: v });
      }
    }
  }
  const out = new Map<string, Map<string, Distribution>>();
  for (const [g, byKey] of hs) {
    out.set(g, new Map(wanted.map((w) => [keyOf(w), histogramDistribution(byKey.get(keyOf(w)) ?? new Map())])));
  }
  return out;
}

const EMPTY: Distribution = { count: 0, medianS: null, p90S: null };
/** One distribution of a `histogramDistributions` answer (empty when the period has none). */
export const distributionOf = (groups: Map<string, Map<string, Distribution>>, group: string, w: Wanted): Distribution => groups.get(group)?.get(keyOf(w)) ?? EMPTY;

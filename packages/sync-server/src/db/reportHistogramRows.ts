// [reports] The duration histograms' rows (migration 461): what each duration counts in, written by the
// reports fold with the duration row (domain/reports.ts) and filled from report_durations by the migration
// and the rollup rebuild (`backfillHistograms`). Reading them is domain/reportHistograms.ts.
import { histogramBucketOf, hourOf, HOUR_MS } from '@goutong/core';
import type { Queryable } from './db.js';

export const HISTOGRAM_KINDS = ['first_response', 'next_response', 'resolution', 'handle'] as const;
export type HistogramKind = (typeof HISTOGRAM_KINDS)[number];
/** Wall-clock seconds or seconds counted in business hours. */
export type Clock = 'wall' | 'business';

export interface HistogramDims {
  tenantId: string;
  channel: string;
  inboxId: string;
  teamId: string;
  agentId: string;
}

/** Rows per UTC hour, day and calendar month: a long period reads the coarsest that fit. */
export const GRAINS = ['hour', 'day', 'month'] as const;
export type Grain = (typeof GRAINS)[number];
const DAY_MS = 24 * HOUR_MS;
/** The start of the UTC hour, day or calendar month `at` falls in. */
export function startOf(at: number, grain: Grain): number {
  if (grain === 'hour') return hourOf(at);
  if (grain === 'day') return Math.floor(at / DAY_MS) * DAY_MS;
  const d = new Date(at);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}
/** The start of the next UTC hour, day or month after the one starting at `start`. */
export function nextOf(start: number, grain: Grain): number {
  if (grain === 'hour') return start + HOUR_MS;
  if (grain === 'day') return start + DAY_MS;
  const d = new Date(start);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}

/**
 * Which dimensions a row keeps: `dims` all four (any filter), `agent` the agent only (the agents report,
 * an agent filter), `all` none (a report without filters). The coarser scopes keep a year to a few
 * thousand rows however many inboxes, teams and agents the rows are spread over.
 */
export const SCOPES = ['dims', 'agent', 'all'] as const;
export type Scope = (typeof SCOPES)[number];

interface HistogramRow {
  tenantId: string;
  scope: Scope;
  grain: Grain;
  /** The start of the UTC hour or day. */
  hour: number;
  kind: string;
  clock: Clock;
  channel: string;
  inboxId: string;
  teamId: string;
  agentId: string;
  bucket: number;
  n: number;
  min: number;
  max: number;
}

const COLUMNS = 'tenant_id, scope, grain, hour, kind, clock, channel, inbox_id, team_id, agent_id, bucket, n, min_s, max_s';

const upsertSql = (q: Queryable, rows: number): string => {
  const least = q.dialect === 'pg' ? 'LEAST' : 'MIN';
  const greatest = q.dialect === 'pg' ? 'GREATEST' : 'MAX';
  return `INSERT INTO report_histograms (${COLUMNS}) VALUES ${Array.from({ length: rows }, () => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}
    ON CONFLICT (tenant_id, scope, grain, kind, hour, clock, channel, inbox_id, team_id, agent_id, bucket) DO UPDATE SET
    n = report_histograms.n + excluded.n, min_s = ${least}(report_histograms.min_s, excluded.min_s), max_s = ${greatest}(report_histograms.max_s, excluded.max_s)`;
};

const paramsOf = (r: HistogramRow) => [r.tenantId, r.scope, r.grain, r.hour, r.kind, r.clock, r.channel, r.inboxId, r.teamId, r.agentId, r.bucket, r.n, r.min, r.max];

async function upsertRows(q: Queryable, rows: readonly HistogramRow[]): Promise<void> {
  const BATCH = 400;
  for (let i = 0; i < rows.length; i += BATCH) {
    const part = rows.slice(i, i + BATCH);
    await q.run(upsertSql(q, part.length), part.flatMap(paramsOf));
  }
}

/** Counts one duration (wall and business seconds) in its hour's histograms: call with its duration row. */
export async function addDurationToHistograms(q: Queryable, d: HistogramDims, kind: HistogramKind, at: number, seconds: number, businessSeconds: number): Promise<void> {
  await upsertRows(q, rowsOfDuration(d, kind, hourOf(at), seconds, businessSeconds, 1));
}

/** The rows `n` equal durations of an hour count in: each scope, grain and clock (18 rows). */
function rowsOfDuration(d: HistogramDims, kind: string, hour: number, seconds: number, businessSeconds: number, n: number): HistogramRow[] {
  const w = Math.max(0, seconds);
  const b = Math.max(0, businessSeconds);
  const out: HistogramRow[] = [];
  for (const scope of SCOPES) {
    const dims =
      scope === 'dims'
        ? { channel: d.channel, inboxId: d.inboxId, teamId: d.teamId, agentId: d.agentId }
        : { channel: '', inboxId: '', teamId: '', agentId: scope === 'agent' ? d.agentId : '' };
    for (const grain of GRAINS) {
      const start = startOf(hour, grain);
      out.push({ tenantId: d.tenantId, scope, grain, hour: start, kind, clock: 'wall', ...dims, bucket: histogramBucketOf(w), n, min: w, max: w });
      out.push({ tenantId: d.tenantId, scope, grain, hour: start, kind, clock: 'business', ...dims, bucket: histogramBucketOf(b), n, min: b, max: b });
    }
  }
  return out;
}

/**
 * Fills report_histograms from report_durations (added to what is there): migration 461's backfill for
 * all tenants, and the rollup rebuild's for one (after it emptied the tenant's histograms). Reads a
 * month of durations at a time, grouped by hour, dimensions and value.
 */
export async function backfillHistograms(q: Queryable, tenantId?: string): Promise<number> {
  const tenants = tenantId !== undefined ? [tenantId] : (await q.all<{ t: string }>('SELECT DISTINCT tenant_id AS t FROM report_durations')).map((r) => String(r.t));
  let durations = 0;
  for (const t of tenants) {
    const span = await q.one<{ lo: number | null; hi: number | null }>('SELECT MIN(at) AS lo, MAX(at) AS hi FROM report_durations WHERE tenant_id = ?', [t]);
    if (span?.lo === null || span?.lo === undefined || span.hi === null) continue;
    // A UTC month at a time (its rows are complete within one read), kind by kind (the index).
    for (let from = startOf(Number(span.lo), 'month'); from <= Number(span.hi); from = nextOf(from, 'month')) {
      for (const kind of HISTOGRAM_KINDS) {
        const rows = await q.all<{ kind: string; channel: string; inbox_id: string; team_id: string; agent_id: string; hour: number; s: number; b: number; n: number }>(
          `SELECT kind, channel, inbox_id, team_id, agent_id, (at / ${HOUR_MS}) * ${HOUR_MS} AS hour, seconds AS s, business_seconds AS b, COUNT(*) AS n
           FROM report_durations WHERE tenant_id = ? AND kind = ? AND at >= ? AND at < ?
           GROUP BY kind, channel, inbox_id, team_id, agent_id, (at / ${HOUR_MS}) * ${HOUR_MS}, seconds, business_seconds`,
          [t, kind, from, nextOf(from, 'month')],
        );
        const acc = new Map<string, HistogramRow>();
        for (const r of rows) {
          const n = Number(r.n);
          durations += n;
          const d = { tenantId: t, channel: String(r.channel), inboxId: String(r.inbox_id), teamId: String(r.team_id), agentId: String(r.agent_id) };
          for (const row of rowsOfDuration(d, String(r.kind), Number(r.hour), Number(r.s), Number(r.b), n)) {
            const key = [row.scope, row.grain, row.kind, row.clock, row.channel, row.inboxId, row.teamId, row.agentId, row.hour, row.bucket].join('\u0000');
            const cur = acc.get(key);
            if (cur) {
              cur.n += row.n;
              cur.min = Math.min(cur.min, row.min);
              cur.max = Math.max(cur.max, row.max);
            } else acc.set(key, row);
          }
        }
        await upsertRows(q, [...acc.values()]);
      }
    }
  }
  return durations;
}


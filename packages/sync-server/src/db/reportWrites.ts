// [reports] How the reports fold writes its rows. The live listener writes each upsert as it folds
// (`directReportWriter`); the rollup rebuild, which folds a tenant's whole history in one transaction,
// combines them in memory and writes a page of history as a few multi-row upserts
// (`bufferedReportWriter`). The fold (domain/reports.ts) is the same code either way.
import type { Param, Queryable } from './db.js';

/** The rollup tables: a row is created by its first write and merged with each later one. */
export type RollupTable = 'report_hourly' | 'report_hourly_channels' | 'report_hourly_labels' | 'report_costs' | 'report_cost_spans';

/** How a written value merges into the row's: summed (the default), or the smaller or larger kept. */
type Merge = 'sum' | 'min' | 'max';

/** Each rollup table's key (its primary key) and how its values merge (columns not named: summed). */
const SHAPES: Record<RollupTable, { key: readonly string[]; merge?: Readonly<Record<string, Merge>> }> = {
  report_hourly: { key: ['tenant_id', 'hour', 'channel', 'inbox_id', 'team_id', 'agent_id'] },
  report_hourly_channels: { key: ['tenant_id', 'hour', 'channel'] },
  report_hourly_labels: { key: ['tenant_id', 'hour', 'label', 'channel', 'inbox_id', 'team_id', 'agent_id'] },
  report_costs: { key: ['tenant_id', 'conversation_id', 'hour'] },
  report_cost_spans: { key: ['tenant_id', 'kind', 'scope', 'head_id', 'channel', 'inbox_id', 'team_id', 'agent_id'], merge: { first_hour: 'min', last_hour: 'max' } },
};
const mergeOf = (table: RollupTable, col: string): Merge => SHAPES[table].merge?.[col] ?? 'sum';
const merged = (m: Merge, a: number, b: number): number => (m === 'min' ? Math.min(a, b) : m === 'max' ? Math.max(a, b) : a + b);

/** A duration row (report_durations). */
export interface DurationRow {
  id: string;
  tenantId: string;
  kind: string;
  conversationId: string;
  channel: string;
  inboxId: string;
  teamId: string;
  agentId: string;
  at: number;
  seconds: number;
  businessSeconds: number;
}

export interface ReportWriter {
  /**
   * Merges `add` into the row of `table` at `key` (summed, or the smaller or larger kept, by the
   * table's shape), creating it with `init` when it is new. Zero values are not written.
   */
  add(table: RollupTable, key: Readonly<Record<string, Param>>, add: Readonly<Record<string, number>>, init?: Readonly<Record<string, Param>>): Promise<void>;
  /** Marks that a conversation entered a label; true the first time only. */
  markLabel(tenantId: string, conversationId: string, label: string): Promise<boolean>;
  /** Writes a duration row; true when it is new (a fold runs once per event). */
  insertDuration(row: DurationRow): Promise<boolean>;
  /** Whether the caller adds each new duration to the histograms with its row (false: filled afterwards). */
  readonly histogramsWithRows: boolean;
}

const upsertSql = (q: Queryable, table: RollupTable, cols: readonly string[], adds: readonly string[], rows: number): string => {
  const one = `(${cols.map(() => '?').join(', ')})`;
  const set = (c: string): string => {
    const m = mergeOf(table, c);
    if (m === 'sum') return `${c} = ${table}.${c} + excluded.${c}`;
    const fn = q.dialect === 'pg' ? (m === 'min' ? 'LEAST' : 'GREATEST') : m === 'min' ? 'MIN' : 'MAX';
    return `${c} = ${fn}(${table}.${c}, excluded.${c})`;
  };
  return `INSERT INTO ${table} (${cols.join(', ')}) VALUES ${Array.from({ length: rows }, () => one).join(', ')}
     ON CONFLICT (${SHAPES[table].key.join(', ')}) DO UPDATE SET ${adds.map(set).join(', ')}`;
};

const insertOnceSql = (q: Queryable, table: string, cols: readonly string[], rows: number): string => {
  const one = `(${cols.map(() => '?').join(', ')})`;
  const values = Array.from({ length: rows }, () => one).join(', ');
  return q.dialect === 'pg' ? `INSERT INTO ${table} (${cols.join(', ')}) VALUES ${values} ON CONFLICT DO NOTHING` : `INSERT OR IGNORE INTO ${table} (${cols.join(', ')}) VALUES ${values}`;
};

const MARK_COLS = ['tenant_id', 'conversation_id', 'label'] as const;
const DURATION_COLS = ['id', 'tenant_id', 'kind', 'conversation_id', 'channel', 'inbox_id', 'team_id', 'agent_id', 'at', 'seconds', 'business_seconds'] as const;
const durationParams = (r: DurationRow): Param[] => [r.id, r.tenantId, r.kind, r.conversationId, r.channel, r.inboxId, r.teamId, r.agentId, r.at, r.seconds, r.businessSeconds];

/** Each write as the fold makes it (the live listener: a few events per transaction). */
export function directReportWriter(q: Queryable): ReportWriter {
  return {
    histogramsWithRows: true,
    async add(table, key, add, init = {}) {
      const adds = Object.keys(add).filter((c) => add[c] !== 0);
      if (adds.length === 0) return;
      const row: Record<string, Param> = { ...init, ...key };
      for (const c of adds) row[c] = add[c]!;
      const cols = Object.keys(row);
      await q.run(upsertSql(q, table, cols, adds, 1), cols.map((c) => row[c]!));
    },
    async markLabel(tenantId, conversationId, label) {
      const r = await q.run(insertOnceSql(q, 'report_label_marks', MARK_COLS, 1), [tenantId, conversationId, label]);
      return r.changes > 0;
    },
    async insertDuration(row) {
      const r = await q.run(insertOnceSql(q, 'report_durations', DURATION_COLS, 1), durationParams(row));
      return r.changes > 0;
    },
  };
}

/** Bound parameters per statement (under SQLite's 32,766 and PostgreSQL's 65,535). */
const MAX_PARAMS = 30_000;

export interface BufferedReportWriter extends ReportWriter {
  /** Writes what was combined so far (a few statements per table) and empties the buffer. */
  flush(): Promise<void>;
}

/**
 * Combines the fold's writes in memory: additions to the same row are summed, label marks and durations
 * are deduplicated by their keys. For the rollup rebuild, which first empties what it refolds (the
 * tenant's label marks, its response and handle durations): "new" is then decided in memory, and the
 * histograms are filled from the duration rows afterwards (`histogramsWithRows` is false).
 */
export function bufferedReportWriter(q: Queryable): BufferedReportWriter {
  const rows = new Map<RollupTable, Map<string, { row: Record<string, Param>; adds: Set<string> }>>();
  const marks = new Set<string>();
  let newMarks: Param[][] = [];
  const durationIds = new Set<string>();
  let newDurations: DurationRow[] = [];
  const chunks = async (cols: readonly string[], params: Param[][], sql: (n: number) => string) => {
    const per = Math.max(1, Math.floor(MAX_PARAMS / cols.length));
    for (let i = 0; i < params.length; i += per) {
      const part = params.slice(i, i + per);
      await q.run(sql(part.length), part.flat());
    }
  };
  return {
    histogramsWithRows: false,
    async add(table, key, add, init = {}) {
      const adds = Object.keys(add).filter((c) => add[c] !== 0);
      if (adds.length === 0) return;
      let byKey = rows.get(table);
      if (!byKey) rows.set(table, (byKey = new Map()));
      const k = SHAPES[table].key.map((c) => String(key[c])).join('\u0000');
      const cur = byKey.get(k);
      if (!cur) {
        const row: Record<string, Param> = { ...init, ...key };
        for (const c of adds) row[c] = add[c]!;
        byKey.set(k, { row, adds: new Set(adds) });
        return;
      }
      for (const c of adds) {
        const prev = cur.row[c];
        cur.row[c] = prev === undefined ? add[c]! : merged(mergeOf(table, c), Number(prev), add[c]!);
        cur.adds.add(c);
      }
    },
    async markLabel(tenantId, conversationId, label) {
      const k = `${tenantId}\u0000${conversationId}\u0000${label}`;
      if (marks.has(k)) return false;
      marks.add(k);
      newMarks.push([tenantId, conversationId, label]);
      return true;
    },
    async insertDuration(row) {
      if (durationIds.has(row.id)) return false;
      durationIds.add(row.id);
      newDurations.push(row);
      return true;
    },
    async flush() {
      for (const [table, byKey] of rows) {
        // One statement shape per set of columns (every row of a shape has the same columns).
        const shapes = new Map<string, { cols: string[]; adds: string[]; params: Param[][] }>();
        for (const { row, adds } of byKey.values()) {
          const cols = Object.keys(row).sort();
          const addCols = [...adds].sort();
          const sig = `${cols.join(',')}|${addCols.join(',')}`;
          let s = shapes.get(sig);
          if (!s) shapes.set(sig, (s = { cols, adds: addCols, params: [] }));
          s.params.push(cols.map((c) => row[c]!));
        }
        for (const s of shapes.values()) await chunks(s.cols, s.params, (n) => upsertSql(q, table, s.cols, s.adds, n));
      }
      rows.clear();
      await chunks(MARK_COLS, newMarks, (n) => insertOnceSql(q, 'report_label_marks', MARK_COLS, n));
      newMarks = [];
      await chunks(DURATION_COLS, newDurations.map(durationParams), (n) => insertOnceSql(q, 'report_durations', DURATION_COLS, n));
      newDurations = [];
    },
  };
}

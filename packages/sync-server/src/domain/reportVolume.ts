// [insight] Volume by channel, inbox, team, agent, label or hour of day, from the hourly rollups (one
// grouped aggregate over report_hourly or report_hourly_labels, whatever the range); core's volumeRows
// folds and orders.
import { volumeRows, type ReportQuery, type VolumeGroup, type VolumeRow } from '@goutong/core';
import type { Queryable } from '../db/db.js';
import { labelTotals, rollupTotals } from './reports.js';

const COLUMN = { channel: 'channel', inbox: 'inbox_id', team: 'team_id', agent: 'agent_id', hourOfDay: 'hour' } as const satisfies Record<Exclude<VolumeGroup, 'label'>, string>;
const NAMES: Record<VolumeGroup, string | null> = { channel: null, inbox: 'inboxes', team: 'teams', agent: 'agents', label: null, hourOfDay: null };

export async function volumeReport(q: Queryable, tenantId: string, rq: ReportQuery, group: VolumeGroup): Promise<VolumeRow[]> {
  const sums = group === 'label' ? await labelTotals(q, tenantId, rq) : await rollupTotals(q, tenantId, rq, COLUMN[group]);
  const table = NAMES[group];
  const names = new Map<string, string>();
  const keys = sums.map((s) => s.key).filter((k) => k !== '');
  if (table && keys.length > 0) {
    const rows = await q.all<{ id: string; name: string }>(`SELECT id, name FROM ${table} WHERE tenant_id = ? AND id IN (${keys.map(() => '?').join(', ')})`, [tenantId, ...keys]);
    for (const r of rows) names.set(String(r.id), String(r.name));
  }
  return volumeRows(group, sums, rq.tz, (k) => names.get(k) ?? null);
}

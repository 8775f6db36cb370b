// The "reports" listener: folds every committed event into the report rollups, exactly once.
import type { Calendar, Conversation } from '@goutong/core';
import type { Queryable } from '../db/db.js';
import { foldReportEvent } from '../domain/reports.js';
import { countedByRebuild } from '../domain/reportRebuild.js';
import type { OpsBus } from './bus.js';

export interface ReportsDeps {
  /** The business-hours calendar a conversation's times are counted in (null: wall time). */
  calendarOf?: (q: Queryable, conversation: Conversation) => Promise<Calendar | null>;
}

export function registerReports(bus: OpsBus, deps: ReportsDeps = {}): void {
  const calendarOf = deps.calendarOf ?? (async () => null);
  bus.listen('reports', async (env, ctx) => {
    // [reports] A rollup rebuild that ran while this event waited counted its facts already.
    if (await countedByRebuild(ctx.q, env)) return;
    await foldReportEvent(ctx.q, env, calendarOf);
  });
}

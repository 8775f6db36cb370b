/**
 * [reports] Duration histograms (migration 461, domain/reportHistograms.ts): the rows the live fold
 * writes equal the ones built from the duration facts (migration backfill, rollup rebuild); the overview's
 * and the agents report's percentiles from them stay within the documented error of the exact ones
 * (counts exact) for whole-hour periods, periods cut inside an hour and a half-hour time zone; the
 * migration's backfill fills a database whose durations predate it. SQLite and PostgreSQL.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HISTOGRAM_MAX_RELATIVE_ERROR, ReportQuery, type Distribution } from '@goutong/core';
import { seededRandom } from '@goutong/core/testing';
import { startTestServer, type Dialect } from './support/inProcess.js';
import { api, loginToken } from './support/agentClient.js';
import { FakeWebhook } from './channels/fakes/fakeWebhook.js';
import { rebuildReports } from '../src/domain/reportRebuild.js';
import { calendarFor } from '../src/domain/businessHours.js';
import { backfillHistograms, distributionOf, histogramDistributions, splitPeriod } from '../src/domain/reportHistograms.js';
import { durations, overviewDistributions, agentReport } from '../src/domain/reports.js';
import { migrate } from '../src/db/migrations.js';

/** Monday 2027-01-04 09:00 in Shanghai (01:00Z). */
const T0 = Date.UTC(2027, 0, 4, 1, 0, 0);
const S = 1000;
const H = 3_600_000;

let n = 0;
const uuid = () => `01940000-0000-7000-8000-${String(++n).padStart(12, '0')}`;


/** The histogram estimate against the exact distribution: same count, median and P90 within the bound (+ rounding). */
function expectClose(est: Distribution, exact: Distribution, what: string): void {
  expect(est.count, what).toBe(exact.count);
  for (const k of ['medianS', 'p90S'] as const) {
    if (exact[k] === null) {
      expect(est[k], what).toBeNull();
      continue;
    }
    expect(Math.abs(est[k]! - exact[k]!), `${what} ${k}: ${est[k]} vs ${exact[k]}`).toBeLessThanOrEqual(Math.max(1, exact[k]! * HISTOGRAM_MAX_RELATIVE_ERROR + 0.5));
  }
}

for (const dialect of ['sqlite', 'postgres'] as Dialect[]) {
  describe(`report duration histograms (${dialect})`, () => {
    let s: Awaited<ReturnType<typeof startTestServer>>;
    const hook = new FakeWebhook();
    const clockFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'goutong-clock-')), 'clock');
    let admin: ReturnType<typeof api>;
    let inboxId: string;
    let tenantId: string;
    const at = (ms: number) => s.clock.freeze(T0 + ms);
    const command = async (c: Record<string, unknown>) => {
      const r = await admin('POST', '/api/v1/commands', { commands: [{ id: uuid(), deviceTime: s.clock.now(), ...c }] });
      expect(r.body.results[0].outcome).toBe('applied');
    };
    const histogramRows = () =>
      s.db.all('SELECT * FROM report_histograms WHERE tenant_id = ? ORDER BY scope, grain, hour, kind, clock, channel, inbox_id, team_id, agent_id, bucket', [tenantId]);
    const rebuild = () => rebuildReports(s.db, tenantId, { now: s.clock.now(), calendarOf: (q, c) => calendarFor(q, c.tenantId, { inboxId: c.inboxId, teamId: c.teamId }) });

    beforeAll(async () => {
      await hook.start();
      s = await startTestServer(dialect, { GOUTONG_TEST_CLOCK: clockFile });
      admin = api(s.url, await loginToken(s.url, 'admin@demo.goutong'));
      tenantId = String((await s.db.one<{ id: string }>("SELECT id FROM tenants WHERE slug = 'demo'"))!.id);
      inboxId = (await admin('POST', '/api/v1/inboxes', { name: 'Histogram API', channel: 'api', config: { webhookUrl: hook.url }, teamIds: [] })).body.id;
      // 12 conversations over 12 hours: first responses from 5 s to ~3 h, a next response, resolutions.
      const r = seededRandom(3);
      for (let i = 0; i < 12; i += 1) {
        const start = i * H + Math.floor(r() * 20) * 60 * S;
        at(start);
        const res = await admin('POST', `/api/v1/inboxes/${inboxId}/inbound`, { externalId: `hist-${dialect}-${i}`, from: { identifier: `+8613900001${String(i).padStart(2, '0')}`, name: `Customer ${i}` }, text: `question ${i}` });
        const conversationId = String(res.body.conversationId ?? res.body.conversation?.id);
        const first = start + Math.round(5 * Math.exp(r() * 7.6)) * S;
        at(first);
        await command({ type: 'send_reply', conversationId, text: `answer ${i}` });
        if (i % 3 === 0) {
          at(first + 60 * S);
          await admin('POST', `/api/v1/inboxes/${inboxId}/inbound`, { externalId: `hist-${dialect}-${i}-b`, from: { identifier: `+8613900001${String(i).padStart(2, '0')}`, name: `Customer ${i}` }, text: `and ${i}?` });
          at(first + 60 * S + Math.round(r() * 900) * S);
          await command({ type: 'send_reply', conversationId, text: `also ${i}` });
        }
        if (i % 2 === 0) {
          at(first + 2 * H);
          await command({ type: 'set_status', conversationId, status: 'resolved' });
        }
      }
      at(20 * H);
      await s.ops.drain();
    }, 120_000);
    afterAll(async () => {
      await s?.stopAll();
      await hook.stop();
    });

    it('the histograms the live fold wrote equal the ones built from the duration facts, and a rebuild', async () => {
      const live = await histogramRows();
      const durationCount = Number((await s.db.one<{ n: number }>('SELECT COUNT(*) AS n FROM report_durations WHERE tenant_id = ?', [tenantId]))!.n);
      expect(durationCount).toBeGreaterThanOrEqual(12 + 4 + 6);
      // Each duration counts in 18 rows: wall and business seconds, in its hour, its day and its month,
      // by all its dimensions, by its agent and in the total.
      expect(live.reduce((a, r) => a + Number(r.n), 0)).toBe(18 * durationCount);
      await s.db.tx(async (q) => {
        await q.run('DELETE FROM report_histograms WHERE tenant_id = ?', [tenantId]);
        expect(await backfillHistograms(q, tenantId)).toBe(durationCount);
      });
      expect(await histogramRows()).toEqual(live);
      await rebuild();
      expect(await histogramRows()).toEqual(live);
      await rebuild(); // idempotent
      expect(await histogramRows()).toEqual(live);
    });

    it('the overview over the HTTP API answers the same counts and percentiles within 2.5 % of the exact ones', async () => {
      for (const [from, to, tz] of [
        [T0, T0 + 24 * H, 'Asia/Shanghai'], // whole hours
        [T0 + 17 * 60 * S, T0 + 9 * H + 41 * 60 * S, 'UTC'], // cut inside the first and last hour
        [T0 + 10 * 60 * S, T0 + 40 * 60 * S, 'UTC'], // inside one hour
        [T0 - 30 * 60 * S, T0 + 23 * H + 30 * 60 * S, 'Asia/Kolkata'], // a local day in a half-hour zone
        [T0 - 3 * 24 * H - 30 * 60 * S, T0 + 3 * 24 * H + 23 * H + 30 * 60 * S, 'Asia/Kolkata'], // a local week: whole UTC days inside
      ] as const) {
        const rq = ReportQuery.parse({ from, to, tz, inboxId });
        const o = (await admin('GET', `/api/v1/reports/overview?from=${from}&to=${to}&tz=${tz}&inboxId=${inboxId}`)).body;
        const exact = await overviewDistributions(s.db, tenantId, rq, { exact: true });
        const got = [o.firstResponse, o.nextResponse, o.resolution, o.wallClock.firstResponse, o.wallClock.nextResponse, o.wallClock.resolution, o.calls.handle];
        got.forEach((d, i) => expectClose(d, exact[i]!, `${tz} [${from}, ${to}) #${i}`));
      }
      expect(splitPeriod(T0 - 30 * 60 * S, T0 + 23 * H + 30 * 60 * S)).toEqual({
        months: null,
        days: [],
        hours: [{ from: T0, to: T0 + 23 * H }],
        edges: [{ from: T0 - 30 * 60 * S, to: T0 }, { from: T0 + 23 * H, to: T0 + 23 * H + 30 * 60 * S }],
      });
      // A Kolkata week: six whole UTC days, the hours around them, the half hours at the ends.
      const day = Date.UTC(2027, 0, 4);
      expect(splitPeriod(day - 5.5 * H, day + 6 * 24 * H + 18.5 * H)).toEqual({
        months: null,
        days: [{ from: day, to: day + 6 * 24 * H }],
        hours: [{ from: day - 5 * H, to: day }, { from: day + 6 * 24 * H, to: day + 6 * 24 * H + 18 * H }],
        edges: [{ from: day - 5.5 * H, to: day - 5 * H }, { from: day + 6 * 24 * H + 18 * H, to: day + 6 * 24 * H + 18.5 * H }],
      });
      // A Shanghai year: whole UTC months, the whole days and hours around them, no partial hour.
      const y0 = Date.UTC(2026, 11, 31, 16); // 2027-01-01 00:00 in Shanghai
      const y1 = Date.UTC(2027, 11, 31, 16);
      expect(splitPeriod(y0, y1)).toEqual({
        months: { from: Date.UTC(2027, 0, 1), to: Date.UTC(2027, 11, 1) },
        days: [{ from: Date.UTC(2027, 11, 1), to: Date.UTC(2027, 11, 31) }],
        hours: [{ from: y0, to: Date.UTC(2027, 0, 1) }, { from: Date.UTC(2027, 11, 31), to: y1 }],
        edges: [],
      });
    });

    it('the agents report reads every agent from the histograms, within 2.5 % of the exact percentiles', async () => {
      const rq = ReportQuery.parse({ from: T0 + 5 * 60 * S, to: T0 + 24 * H, tz: 'UTC' });
      const rows = await agentReport(s.db, tenantId, rq);
      expect(rows.length).toBeGreaterThan(0);
      for (const row of rows) expectClose(row.firstResponse, await durations(s.db, tenantId, { ...rq, agentId: row.agentId }, 'first_response', true), row.agentId);
    });

    it('many random durations: filters and ranges agree with the exact percentiles, and the migration backfills them', async () => {
      const r = seededRandom(42);
      const other = `${tenantId}-random`; // the random durations' own tenant (no tenant row needed)
      await s.db.tx(async (q) => {
        for (let i = 0; i < 3_000; i += 1) {
          const kind = (['first_response', 'next_response', 'resolution', 'handle'] as const)[Math.floor(r() * 4)];
          const secs = Math.floor(Math.exp(r() * 15));
          await q.run(
            'INSERT INTO report_durations (id, tenant_id, kind, conversation_id, channel, inbox_id, team_id, agent_id, at, seconds, business_seconds) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
            [`rand-${i}`, other, kind, `rc-${i % 50}`, i % 2 ? 'sms' : 'email', `rand-inbox-${i % 3}`, '', `rand-agent-${Math.floor(r() * 4)}`, T0 + 20 * 24 * H + Math.floor(r() * 70 * 24 * H), secs, Math.floor(secs * r())],
          );
        }
      });
      // A database whose durations predate migration 461: drop its table and run the migration again.
      const before = await s.db.all('SELECT * FROM report_histograms ORDER BY tenant_id, scope, grain, hour, kind, clock, channel, inbox_id, team_id, agent_id, bucket');
      await s.db.exec('DROP TABLE report_histograms');
      await s.db.run('DELETE FROM schema_migrations WHERE id = 461');
      await migrate(s.db);
      const after = await s.db.all('SELECT * FROM report_histograms ORDER BY tenant_id, scope, grain, hour, kind, clock, channel, inbox_id, team_id, agent_id, bucket');
      expect(after.filter((x) => x.tenant_id === tenantId)).toEqual(before);
      expect(after.filter((x) => x.tenant_id === other).reduce((a, x) => a + Number(x.n), 0)).toBe(18 * 3_000);
      const base = T0 + 20 * 24 * H;
      const feb = Date.UTC(2027, 1, 1);
      for (const [from, to] of [[base, base + 70 * 24 * H], [feb - 5.5 * H, Date.UTC(2027, 2, 1) + 18.5 * H], [base + 7 * 60 * S, base + 5 * 24 * H + 13 * 60 * S], [base + 3 * H, base + 4 * H]]) {
        for (const f of [{}, { inboxId: 'rand-inbox-1' }, { agentId: 'rand-agent-2', channel: 'sms' }, { agentId: 'rand-agent-3' }]) {
          const rq = ReportQuery.parse({ from, to, tz: 'UTC', ...f });
          const exact = await overviewDistributions(s.db, other, rq, { exact: true });
          const est = await overviewDistributions(s.db, other, rq);
          est.forEach((d, i) => expectClose(d, exact[i]!, `${JSON.stringify(f)} [${from}, ${to}) #${i}`));
          if (from === base) expect(exact[0]!.count).toBeGreaterThan(0);
        }
        // By agent (the agents report's read) against each agent's exact first responses.
        const rq = ReportQuery.parse({ from, to, tz: 'UTC' });
        const byAgent = await histogramDistributions(s.db, other, rq, [{ kind: 'first_response', clock: 'business' }], { byAgent: true });
        for (const a of ['rand-agent-0', 'rand-agent-1', 'rand-agent-2', 'rand-agent-3']) {
          expectClose(distributionOf(byAgent, a, { kind: 'first_response', clock: 'business' }), await durations(s.db, other, { ...rq, agentId: a }, 'first_response', true), a);
        }
      }
    });
  });
}

/**
 * [reports] Migration 481: the rollups per hour and channel and the cost spans per conversation and
 * contact. The rows the live fold writes equal the ones migration 481 builds from report_hourly and
 * report_costs, and the ones a rollup rebuild writes; the totals per channel are report_hourly's sums;
 * the count of conversations and contacts that cost anything in a period, read from the spans, is the
 * distinct count over every cost row (any range, including ranges inside a head's gap, and any filter).
 * SQLite and PostgreSQL.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReportQuery } from '@goutong/core';
import { seededRandom } from '@goutong/core/testing';
import { startTestServer, type Dialect } from './support/inProcess.js';
import { api, loginToken } from './support/agentClient.js';
import { rebuildReports } from '../src/domain/reportRebuild.js';
import { calendarFor } from '../src/domain/businessHours.js';
import { costHeads, costHeadsByScan, rollupTotals } from '../src/domain/reports.js';
import { migrate } from '../src/db/migrations.js';

/** Monday 2027-01-04 09:00 in Shanghai (01:00Z). */
const T0 = Date.UTC(2027, 0, 4, 1, 0, 0);
const S = 1000;
const H = 3_600_000;
const D = 24 * H;

for (const dialect of ['sqlite', 'postgres'] as Dialect[]) {
  describe(`report rollups per channel and cost spans (${dialect})`, () => {
    // An api inbox without a webhook: its provider accepts each reply as it is relayed (and it costs).
    const clockFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'goutong-clock-')), 'clock');
    let s: Awaited<ReturnType<typeof startTestServer>>;
    let admin: ReturnType<typeof api>;
    let tenantId: string;
    /** At T0 + `ms`, the admin's command (applied). */
    const actAt = async (ms: number, c: Record<string, unknown>) => {
      s.clock.freeze(T0 + ms);
      const [out] = await s.workspace.applyCommands((await s.workspace.agents(tenantId)).find((a) => a.email === 'admin@demo.goutong')!, [{ id: s.workspace.ids.next(), deviceTime: T0 + ms, ...c }]);
      expect(out?.outcome).toBe('applied');
    };
    const rows = async (tenant: string) => ({
      channels: await s.db.all('SELECT * FROM report_hourly_channels WHERE tenant_id = ? ORDER BY hour, channel', [tenant]),
      spans: await s.db.all('SELECT * FROM report_cost_spans WHERE tenant_id = ? ORDER BY kind, scope, head_id, channel, inbox_id, team_id, agent_id', [tenant]),
    });
    /** A database whose rollups predate migration 481 (and 482): its tables and column dropped and the migrations run again. */
    const remigrate = async () => {
      await s.db.exec('DROP TABLE report_hourly_channels');
      await s.db.exec('DROP TABLE report_cost_spans');
      await s.db.exec('DROP INDEX report_costs_contact');
      await s.db.exec('ALTER TABLE report_hourly DROP COLUMN calls_abandoned');
      await s.db.run('DELETE FROM schema_migrations WHERE id IN (481, 482)');
      await migrate(s.db);
    };

    beforeAll(async () => {
      s = await startTestServer(dialect, { GOUTONG_TEST_CLOCK: clockFile });
      admin = api(s.url, await loginToken(s.url, 'admin@demo.goutong'));
      tenantId = String((await s.db.one<{ id: string }>("SELECT id FROM tenants WHERE slug = 'demo'"))!.id);
      expect((await admin('PUT', '/api/v1/settings/pricing', { currency: 'CNY', apiPerMessage: 0.045, voicePerMinute: 0.1, timeZone: 'Asia/Shanghai' })).status).toBe(200);
      const inboxId = (await admin('POST', '/api/v1/inboxes', { name: 'Spans API', channel: 'api', config: {}, teamIds: [] })).body.id;
      // Three customers over three days; customer 0 writes on day 0 and again on day 2 (a gap on day 1).
      for (const [day, who] of [[0, 0], [0, 1], [1, 2], [2, 0]] as const) {
        const start = day * D + who * H;
        s.clock.freeze(T0 + start);
        const res = await admin('POST', `/api/v1/inboxes/${inboxId}/inbound`, { externalId: `span-${dialect}-${day}-${who}`, from: { identifier: `+86139000020${who}`, name: `Customer ${who}` }, text: `question ${day}` });
        const conversationId = String(res.body.conversationId ?? res.body.conversation?.id);
        await actAt(start + 5 * 60 * S, { type: 'send_reply', conversationId, text: `answer ${day}` });
        await s.relay.pass();
        await actAt(start + 2 * H, { type: 'send_reply', conversationId, text: `and more ${day}` });
        await s.relay.pass();
        await actAt(start + 3 * H, { type: 'set_status', conversationId, status: 'resolved' });
      }
      s.clock.freeze(T0 + 4 * D);
      await s.ops.drain();
    }, 120_000);
    afterAll(async () => {
      await s?.stopAll();
    });

    it('the live rows equal the ones migration 481 builds from the older rollups, and a rebuild', async () => {
      const live = await rows(tenantId);
      // 8 replies cost 0.045 each: spans for 3 or 4 conversations (customer 0's second one reopened
      // or new) of 3 contacts, overall and per dimensions.
      expect(live.spans.filter((r) => r.kind === 'contact' && r.scope === 'all')).toHaveLength(3);
      expect(live.channels.reduce((a, r) => a + Number(r.cost_micros), 0)).toBe(8 * 45_000);
      await remigrate();
      expect(await rows(tenantId)).toEqual(live);
      // A rebuild counts each fact at its own time with the conversation's dimensions as they are now
      // (reportRebuild.ts): its rows may differ from the live ones, and again agree with its cost rows.
      await rebuildReports(s.db, tenantId, { now: s.clock.now(), calendarOf: (q, c) => calendarFor(q, c.tenantId, { inboxId: c.inboxId, teamId: c.teamId }) });
      const rebuilt = await rows(tenantId);
      expect(rebuilt.channels.reduce((a, r) => a + Number(r.cost_micros), 0)).toBe(8 * 45_000);
      await remigrate();
      expect(await rows(tenantId)).toEqual(rebuilt);
    });

    it('the totals per channel are report_hourly\'s sums, for any range', async () => {
      for (const [from, to] of [[T0, T0 + 4 * D], [T0 + 30 * 60 * S, T0 + D + 7 * H], [T0 + 2 * D, T0 + 3 * D]]) {
        const rq = ReportQuery.parse({ from, to, tz: 'UTC' });
        const [fromChannels] = await rollupTotals(s.db, tenantId, rq, 'none');
        const byDims = await s.db.one<{ i: number; o: number; c: number; r: number }>(
          'SELECT SUM(msgs_in) AS i, SUM(msgs_out) AS o, SUM(cost_micros) AS c, SUM(resolved) AS r FROM report_hourly WHERE tenant_id = ? AND hour >= ? AND hour < ?',
          [tenantId, Math.floor(from / H) * H, to],
        );
        expect([fromChannels?.msgs_in ?? 0, fromChannels?.msgs_out ?? 0, fromChannels?.cost_micros ?? 0, fromChannels?.resolved ?? 0]).toEqual([Number(byDims!.i ?? 0), Number(byDims!.o ?? 0), Number(byDims!.c ?? 0), Number(byDims!.r ?? 0)]);
      }
      // The overview's cost per contact over the three days: 8 × 0.045 over 3 contacts.
      const overview = (await admin('GET', `/api/v1/reports/overview?from=${T0}&to=${T0 + 4 * D}&tz=Asia/Shanghai`)).body;
      expect(overview.cost.perContact).toBe(0.12);
      // Day 1 alone: only customer 2 cost anything (customer 0's span encloses the day, with nothing in it).
      const day1 = (await admin('GET', `/api/v1/reports/overview?from=${T0 + D}&to=${T0 + 2 * D}&tz=Asia/Shanghai`)).body;
      expect(day1.cost.perContact).toBe(0.09);
    });

    it('many random cost rows: heads counted from the spans equal the distinct count, for any range and filter', async () => {
      const r = seededRandom(481);
      const other = `${tenantId}-spans`; // the random rows' own tenant (no tenant row needed)
      const cost = new Map<string, Array<string | number>>();
      for (let i = 0; i < 2_000; i += 1) {
        const conversation = Math.floor(r() * 120);
        // Each conversation is active on a few separate days: gaps between its spans' ends.
        const day = (conversation * 7 + Math.floor(r() * 4) * 11) % 60;
        const hour = T0 + day * D + Math.floor(r() * 24) * H;
        const key = `${conversation}|${hour}`;
        if (cost.has(key)) continue;
        // A tenth of the conversations change contact half-way (a merge): rows name either.
        const contact = conversation % 10 === 0 && day > 30 ? `sp-merged-${conversation}` : `sp-${conversation % 37}`;
        cost.set(key, [other, `sc-${conversation}`, contact, hour, conversation % 2 ? 'sms' : 'email', `s-inbox-${conversation % 3}`, '', `s-agent-${Math.floor(r() * 4)}`, 45_000, 1]);
      }
      await s.db.tx(async (q) => {
        for (const row of cost.values()) {
          await q.run('INSERT INTO report_costs (tenant_id, conversation_id, contact_id, hour, channel, inbox_id, team_id, agent_id, cost_micros, items) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)', row);
        }
      });
      const before = await rows(tenantId);
      await remigrate();
      expect(await rows(tenantId)).toEqual(before); // the seeded tenant's rows are built again the same
      expect((await rows(other)).spans.length).toBeGreaterThan(2 * (120 + 37));
      let nonEmpty = 0;
      for (let i = 0; i < 40; i += 1) {
        const from = T0 + Math.floor(r() * 62 * D) - D;
        const to = from + Math.floor(r() * (i % 2 ? 3 * D : 40 * D)) + 1;
        for (const f of [{}, { inboxId: 's-inbox-1' }, { agentId: 's-agent-2', channel: 'sms' }, { channel: 'email' }]) {
          const rq = ReportQuery.parse({ from, to, tz: 'UTC', ...f });
          for (const kind of ['conversation', 'contact'] as const) {
            const exact = await costHeadsByScan(s.db, other, rq, kind);
            expect(await costHeads(s.db, other, rq, kind), `${kind} ${JSON.stringify(f)} [${from}, ${to})`).toBe(exact);
            if (exact > 0) nonEmpty += 1;
          }
        }
      }
      expect(nonEmpty).toBeGreaterThan(100);
    });
  });
}

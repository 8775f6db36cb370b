/**
 * [reports] Rebuilding the rollups from facts (domain/reportRebuild.ts, CLI `rebuild-reports`): a history
 * whose rollups are missing (a database older than migration 300) or out of date yields the same
 * overview, cost breakdown and timeseries as the one built incrementally as the facts committed; running
 * it twice changes nothing; an event pending during a rebuild is not counted twice. SQLite and PostgreSQL.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type Dialect } from './support/inProcess.js';
import { api, loginToken } from './support/agentClient.js';
import { FakeWebhook } from './channels/fakes/fakeWebhook.js';
import { rebuildReports } from '../src/domain/reportRebuild.js';
import { calendarFor } from '../src/domain/businessHours.js';
import { runCli } from '../src/cli.js';
import { loadConfig } from '../src/config.js';
import { createTestDatabase } from './support/pg.js';

/** Monday 2027-01-04 09:00 in Shanghai (01:00Z). */
const T0 = Date.UTC(2027, 0, 4, 1, 0, 0);
const S = 1000;
const H = 3_600_000;

let n = 0;
const uuid = () => `01940000-0000-7000-8000-${String(++n).padStart(12, '0')}`;

for (const dialect of ['sqlite', 'postgres'] as Dialect[]) {
  describe(`report rollup rebuild (${dialect})`, () => {
    let s: Awaited<ReturnType<typeof startTestServer>>;
    const hook = new FakeWebhook();
    const clockFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'goutong-clock-')), 'clock');
    let admin: ReturnType<typeof api>;
    let inboxId: string;
    let tenantId: string;
    const conv: string[] = [];

    const at = (ms: number) => s.clock.freeze(T0 + ms);
    const inbound = async (who: number, text: string) => {
      const r = await admin('POST', `/api/v1/inboxes/${inboxId}/inbound`, { externalId: `rb-${dialect}-${++n}`, from: { identifier: `+86139000000${who}`, name: `Customer ${who}` }, text });
      expect(r.status).toBeLessThan(300);
      return String(r.body.conversationId ?? r.body.conversation?.id);
    };
    const command = async (c: Record<string, unknown>) => {
      const r = await admin('POST', '/api/v1/commands', { commands: [{ id: uuid(), deviceTime: s.clock.now(), ...c }] });
      expect(r.body.results[0].outcome).toBe('applied');
    };
    const reply = (conversationId: string, text: string) => command({ type: 'send_reply', conversationId, text });
    const resolve = (conversationId: string) => command({ type: 'set_status', conversationId, status: 'resolved' });
    const accepted = async (count: number) => {
      for (let i = 0; i < 200; i += 1) {
        const r = await s.db.one<{ n: number }>("SELECT COUNT(*) AS n FROM messages WHERE inbox_id = ? AND status = 'accepted'", [inboxId]);
        if (Number(r?.n) >= count) return;
        await new Promise((res) => setTimeout(res, 50));
      }
      throw new Error('the provider did not accept the replies');
    };
    const range = () => `from=${T0}&to=${T0 + 24 * H}&tz=Asia/Shanghai&inboxId=${inboxId}`;
    /** Everything the reports answer for this inbox. */
    const figures = async () => ({
      overview: (await admin('GET', `/api/v1/reports/overview?${range()}`)).body,
      byConversation: (await admin('GET', `/api/v1/reports/costs?groupBy=conversation&${range()}`)).body,
      byContact: (await admin('GET', `/api/v1/reports/costs?groupBy=contact&${range()}`)).body,
      perDay: (await admin('GET', `/api/v1/reports/timeseries?metric=conversations_opened&interval=day&${range()}`)).body,
      agents: (await admin('GET', `/api/v1/reports/agents?${range()}`)).body,
      byLabel: (await admin('GET', `/api/v1/reports/volume?groupBy=label&${range()}`)).body,
    });
    const rebuild = () => rebuildReports(s.db, tenantId, { now: s.clock.now(), calendarOf: (q, c) => calendarFor(q, c.tenantId, { inboxId: c.inboxId, teamId: c.teamId }) });
    const rollupRows = async () => ({
      hourly: await s.db.all('SELECT * FROM report_hourly WHERE tenant_id = ? ORDER BY hour, channel, inbox_id, team_id, agent_id', [tenantId]),
      costs: await s.db.all('SELECT * FROM report_costs WHERE tenant_id = ? ORDER BY conversation_id, hour', [tenantId]),
      durations: await s.db.all('SELECT * FROM report_durations WHERE tenant_id = ? ORDER BY id', [tenantId]),
      labels: await s.db.all('SELECT * FROM report_hourly_labels WHERE tenant_id = ? ORDER BY hour, label, channel, inbox_id, team_id, agent_id', [tenantId]),
      marks: await s.db.all('SELECT * FROM report_label_marks WHERE tenant_id = ? ORDER BY conversation_id, label', [tenantId]),
      channels: await s.db.all('SELECT * FROM report_hourly_channels WHERE tenant_id = ? ORDER BY hour, channel', [tenantId]),
      spans: await s.db.all('SELECT * FROM report_cost_spans WHERE tenant_id = ? ORDER BY kind, scope, head_id, channel, inbox_id, team_id, agent_id', [tenantId]),
      histograms: await s.db.all('SELECT * FROM report_histograms WHERE tenant_id = ? ORDER BY scope, grain, kind, hour, clock, channel, inbox_id, team_id, agent_id, bucket', [tenantId]),
    });
    let incremental: Awaited<ReturnType<typeof figures>>;
    /**
     * A rebuild attributes a fact to the conversation's inbox, team and assignee as they are now (no fact
     * records who was assigned when it committed): here the conversations opened unassigned and the admin
     * took them by replying, so the rebuilt per-agent table credits the admin with opening them.
     */
    const asRebuilt = (f: Awaited<ReturnType<typeof figures>>) => ({
      ...f,
      agents: { ...f.agents, items: f.agents.items.map((a: { opened: number; messagesOut: number }) => ({ ...a, opened: a.messagesOut > 0 ? 2 : a.opened })) },
      // Likewise by label: c1's first message came before its label; a rebuild counts it under the label it carries now.
      byLabel: { ...f.byLabel, items: f.byLabel.items.map((r: { key: string; messagesIn: number }) => ({ ...r, messagesIn: r.key === 'billing' ? r.messagesIn + 1 : r.messagesIn })) },
    });
    // The CLI opens the same database: this test names it.
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'goutong-rebuild-'));
    let pgDb: Awaited<ReturnType<typeof createTestDatabase>> | null = null;

    beforeAll(async () => {
      await hook.start();
      pgDb = dialect === 'postgres' ? await createTestDatabase('gtrb') : null;
      s = await startTestServer(dialect, { GOUTONG_TEST_CLOCK: clockFile, GOUTONG_DATA_DIR: dataDir, ...(pgDb ? { DATABASE_URL: pgDb.url } : {}) });
      admin = api(s.url, await loginToken(s.url, 'admin@demo.goutong'));
      tenantId = String((await s.db.one<{ id: string }>("SELECT id FROM tenants WHERE slug = 'demo'"))!.id);
      inboxId = (await admin('POST', '/api/v1/inboxes', { name: 'Rebuild API', channel: 'api', config: { webhookUrl: hook.url }, teamIds: [] })).body.id;
      expect((await admin('PUT', '/api/v1/settings/pricing', { currency: 'CNY', apiPerMessage: 0.045, voicePerMinute: 0.1, timeZone: 'Asia/Shanghai' })).status).toBe(200);
      // c1: first response 60 s, next response 300 s, resolved after 600 s.
      at(0);
      conv.push(await inbound(1, 'Where is my invoice?'));
      await s.ops.drain();
      at(30 * S);
      await command({ type: 'add_label', conversationId: conv[0], label: 'billing' });
      await s.ops.drain();
      at(60 * S);
      await reply(conv[0]!, 'We will e-mail the invoice within one business day.');
      at(120 * S);
      await inbound(1, 'thanks, and the VAT number?');
      at(420 * S);
      await reply(conv[0]!, 'The VAT number is printed on the invoice.');
      await accepted(2);
      at(600 * S);
      await resolve(conv[0]!);
      // c2 (next day in Shanghai): first response 180 s, an answered call of 125 s (3 started minutes), a missed inbound call.
      at(16 * H);
      conv.push(await inbound(2, '我的快递怎么还没到？'));
      at(16 * H + 180 * S);
      await reply(conv[1]!, '您的包裹正在派送中，预计明天送达。');
      await command({ type: 'log_call', conversationId: conv[1], direction: 'out', from: '1000', to: '+86139000002', startedAt: T0 + 16 * H, answeredAt: T0 + 16 * H + 5 * S, endedAt: T0 + 16 * H + 130 * S, outcome: 'answered' });
      await command({ type: 'log_call', conversationId: conv[1], direction: 'in', from: '+86139000002', to: '1000', startedAt: T0 + 17 * H, endedAt: T0 + 17 * H + 20 * S, outcome: 'missed' });
      await accepted(3);
      at(18 * H);
      await s.ops.drain();
      incremental = await figures();
    }, 90_000);
    afterAll(async () => {
      await s?.stopAll();
      await pgDb?.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
      await hook.stop();
    });

    it('the incremental figures are the seeded history (the baseline the rebuild must meet)', () => {
      const o = incremental.overview;
      expect(o.conversations).toEqual({ opened: 2, resolved: 1, reopened: 0, transfers: 0 });
      expect(o.messages).toEqual({ in: 3, out: 3 }); // calls count as calls
      expect(o.firstResponse).toEqual({ count: 2, medianS: 60, p90S: 180 });
      expect(o.nextResponse).toEqual({ count: 1, medianS: 300, p90S: 300 });
      expect(o.calls).toEqual({ total: 2, missed: 1, abandoned: 0, handle: { count: 1, medianS: 125, p90S: 125 } });
      expect(o.cost).toMatchObject({ total: 0.44, currency: 'CNY' }); // 3 × 0.045 + 3 minutes × 0.1 = 0.435 → 0.44
      expect(incremental.perDay.points.map((p: { v: number }) => p.v)).toEqual([1, 1]);
      expect(incremental.byLabel.items).toEqual([{ key: 'billing', label: null, conversationsOpened: 1, conversationsResolved: 1, messagesIn: 1, messagesOut: 2, calls: 0, missedCalls: 0 }]);
    });

    it('a history without rollups (a database older than migration 300) rebuilds to the same figures, and again to the same rows', async () => {
      await s.db.run('DELETE FROM report_hourly WHERE tenant_id = ?', [tenantId]);
      await s.db.run('DELETE FROM report_costs WHERE tenant_id = ?', [tenantId]);
      await s.db.run('DELETE FROM report_durations WHERE tenant_id = ?', [tenantId]);
      await s.db.run('DELETE FROM report_hourly_labels WHERE tenant_id = ?', [tenantId]);
      await s.db.run('DELETE FROM report_label_marks WHERE tenant_id = ?', [tenantId]);
      expect((await figures()).overview.conversations.opened).toBe(0);
      const r = await rebuild();
      expect(r.conversations).toBeGreaterThanOrEqual(2);
      expect(await figures()).toEqual(asRebuilt(incremental));
      const rows = await rollupRows();
      await rebuild();
      expect(await rollupRows()).toEqual(rows);
      // Page by page (one conversation each), the rows a page combined in memory add up to the same.
      await rebuildReports(s.db, tenantId, { now: s.clock.now(), pageSize: 1, calendarOf: (q, c) => calendarFor(q, c.tenantId, { inboxId: c.inboxId, teamId: c.teamId }) });
      expect(await rollupRows()).toEqual(rows);
      expect(await figures()).toEqual(asRebuilt(incremental));
    });

    it('rollups out of date (some rows lost, some doubled) are repaired, keeping what only events knew', async () => {
      await s.db.run("DELETE FROM report_durations WHERE tenant_id = ? AND kind = 'first_response'", [tenantId]);
      await s.db.run('UPDATE report_hourly SET msgs_in = msgs_in * 2, cost_micros = cost_micros + 7, transfers = transfers + 1 WHERE tenant_id = ? AND inbox_id = ?', [tenantId, inboxId]);
      const before = (await figures()).overview;
      expect(before.messages.in).toBe(6);
      await rebuild();
      const after = await figures();
      // Transfers exist only as events: a rebuild keeps them (here the one added per row above).
      const transfers = after.overview.conversations.transfers;
      expect(transfers).toBe(before.conversations.transfers);
      expect({ ...after.overview, conversations: { ...after.overview.conversations, transfers: 0 }, rates: { ...after.overview.rates, transfer: 0 } }).toEqual(incremental.overview);
      await s.db.run('UPDATE report_hourly SET transfers = 0 WHERE tenant_id = ? AND inbox_id = ?', [tenantId, inboxId]);
      expect(await figures()).toEqual(asRebuilt(incremental));
    });

    it('an event pending while the rollups are rebuilt is counted once', async () => {
      await s.ops.stop();
      at(19 * H);
      await inbound(3, 'one more question');
      const r = await rebuild();
      expect(r.pending).toBeGreaterThanOrEqual(2); // the new conversation and its message
      s.ops.start();
      await s.ops.drain();
      const o = (await figures()).overview;
      expect(o.conversations.opened).toBe(incremental.overview.conversations.opened + 1);
      expect(o.messages.in).toBe(incremental.overview.messages.in + 1);
      expect(await s.db.all('SELECT job_id FROM report_rebuild_skips WHERE tenant_id = ?', [tenantId])).toEqual([]);
    });

    it('the CLI rebuilds a workspace from another connection while the server runs, and refuses an unknown one', async () => {
      const expected = await figures();
      const config = loadConfig({ GOUTONG_DATA_DIR: dataDir, GOUTONG_LOG: 'silent', ...(pgDb ? { DATABASE_URL: pgDb.url } : {}) });
      expect(await runCli(['rebuild-reports', '--tenant', 'demo'], config, {})).toBe(0);
      expect(await figures()).toEqual(expected);
      expect(await runCli(['rebuild-reports', '--tenant', 'nobody'], config, {})).toBe(1);
      expect(await runCli(['rebuild-reports', '--planet', 'x'], config, {})).toBe(2);
    });
  });
}

/**
 * The demo workspace's history (`GOUTONG_DEMO_HISTORY_DAYS`, set by `npm start`): written through the
 * domain writers with a clock in the past, it gives every dashboard something to show on first start:
 * volume, response and resolution times, CSAT, cost within a budget, an offer used, a custom field on
 * the contacts, and past answers the suggestions learn from. The figures the live fold computed are
 * the ones a rollup rebuild computes from the same facts. SQLite and PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type Dialect } from './support/inProcess.js';
import { api, loginToken } from './support/agentClient.js';
import { rebuildReports } from '../src/domain/reportRebuild.js';
import { calendarFor } from '../src/domain/businessHours.js';

const DAY = 86_400_000;
const DAYS = 21;

for (const dialect of ['sqlite', 'postgres'] as Dialect[]) {
  describe(`demo history (${dialect})`, () => {
    let s: Awaited<ReturnType<typeof startTestServer>>;
    let admin: ReturnType<typeof api>;
    let tenantId: string;
    const range = () => `from=${Date.now() - (DAYS + 1) * DAY}&to=${Date.now() + 60_000}&tz=Asia/Shanghai`;

    beforeAll(async () => {
      s = await startTestServer(dialect, { GOUTONG_DEMO_HISTORY_DAYS: String(DAYS) });
      await s.ops.drain();
      admin = api(s.url, await loginToken(s.url, 'admin@demo.goutong'));
      tenantId = String((await s.db.one<{ id: string }>("SELECT id FROM tenants WHERE slug = 'demo'"))!.id);
    }, 180_000);
    afterAll(async () => {
      await s?.stopAll();
    });

    it('the overview shows weeks of answered, resolved, rated and priced conversations', async () => {
      const o = (await admin('GET', `/api/v1/reports/overview?${range()}`)).body;
      // 15 weekdays × 3–6 and 6 weekend days × 1–2, plus today's 8 open samples.
      expect(o.conversations.opened).toBeGreaterThanOrEqual(15 * 3 + 6 + 8);
      expect(o.conversations.resolved).toBeGreaterThan(o.conversations.opened / 2);
      expect(o.messages.out).toBeGreaterThan(o.conversations.opened);
      expect(o.firstResponse.count).toBeGreaterThan(40);
      expect(o.firstResponse.medianS).toBeGreaterThan(60);
      expect(o.firstResponse.p90S).toBeGreaterThan(o.firstResponse.medianS);
      expect(o.resolution.medianS).toBeGreaterThan(o.firstResponse.medianS);
      expect(o.csat.responses).toBeGreaterThan(15);
      expect(o.csat.average).toBeGreaterThan(3);
      expect(o.csat.average).toBeLessThanOrEqual(5);
      expect(o.cost.currency).toBe('CNY');
      // Each reply on the inbox costs 0.045 CNY (in fen, without float error).
      expect(Math.round(o.cost.total * 1000) % 45).toBe(0);
      expect(o.cost.total).toBeGreaterThan(0.045 * 40);
      expect(o.cost.perConversation).toBeGreaterThan(0.04);
      const budget = (await admin('GET', '/api/v1/settings/pricing')).body;
      expect(budget.monthlyBudget).toBe(50);
      // Nothing is dated in the future, and every past reply went out (accepted by the provider then).
      const future = await s.db.one<{ n: number }>('SELECT COUNT(*) AS n FROM messages WHERE tenant_id = ? AND server_time > ?', [tenantId, Date.now()]);
      expect(Number(future!.n)).toBe(0);
      const waiting = await s.db.one<{ n: number }>("SELECT COUNT(*) AS n FROM messages WHERE tenant_id = ? AND direction = 'out' AND author_type = 'agent' AND kind NOT IN ('note', 'event') AND (status IS NULL OR status <> 'accepted')", [tenantId]);
      expect(Number(waiting!.n)).toBe(0);
    });

    it('the offer for gold members was used, the contacts carry the custom field, and the suggestions know the past answers', async () => {
      const offers = (await admin('GET', `/api/v1/reports/offers?${range()}`)).body;
      expect(offers.items[0].uses).toBeGreaterThan(0);
      const contacts = (await admin('GET', '/api/v1/contacts?q=Emma')).body;
      expect(contacts.items[0].attributes.tier).toBe('gold');
      const inbox = (await s.db.one<{ id: string }>("SELECT id FROM inboxes WHERE tenant_id = ? AND name = 'Demo API'", [tenantId]))!.id;
      const inbound = await admin('POST', `/api/v1/inboxes/${inbox}/inbound`, { externalId: 'history-question', from: { identifier: '+8613899990000', name: 'New' }, text: '请问我的快递为什么还没到呢' });
      const suggestions = (await admin('GET', `/api/v1/conversations/${inbound.body.conversationId}/suggestions`)).body;
      expect(suggestions.items[0].text).toBe('您的包裹正在派送中，预计明天送达。');
      expect(suggestions.items[0].source).not.toBe('canned');
    });

    it('a rollup rebuild from the same facts gives the same overview', async () => {
      await s.ops.drain();
      const before = (await admin('GET', `/api/v1/reports/overview?${range()}`)).body;
      await rebuildReports(s.db, tenantId, { now: Date.now(), calendarOf: (q, c) => calendarFor(q, c.tenantId, { inboxId: c.inboxId, teamId: c.teamId }) });
      const after = (await admin('GET', `/api/v1/reports/overview?${range()}`)).body;
      expect({ ...after, from: 0, to: 0 }).toEqual({ ...before, from: 0, to: 0 });
    });
  });
}

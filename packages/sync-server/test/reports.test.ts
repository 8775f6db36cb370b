/**
 * Reports from facts: a seeded history under a frozen test clock, with figures computed by hand
 * (nearest-rank medians and P90s, rates, costs summed in micro-units), on SQLite and PostgreSQL;
 * the timeseries in a time zone; CSV; the previous period; pricing validation; agents refused;
 * reply suggestions for paraphrased questions in Chinese and English.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type Dialect } from './support/inProcess.js';
import { api, loginToken } from './support/agentClient.js';
import { FakeWebhook } from './channels/fakes/fakeWebhook.js';

/** Monday 2027-01-04 09:00 in Shanghai (01:00Z). */
const T0 = Date.UTC(2027, 0, 4, 1, 0, 0);
const S = 1000;
const H = 3_600_000;

let n = 0;
const uuid = () => `01940000-0000-7000-8000-${String(++n).padStart(12, '0')}`;

for (const dialect of ['sqlite', 'postgres'] as Dialect[]) {
  describe(`reports (${dialect})`, () => {
    let s: Awaited<ReturnType<typeof startTestServer>>;
    const hook = new FakeWebhook();
    const clockFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'goutong-clock-')), 'clock');
    let admin: ReturnType<typeof api>;
    let inboxId: string;
    const conv: string[] = [];

    const at = (ms: number) => s.clock.freeze(T0 + ms);
    const inbound = async (who: number, text: string) => {
      const r = await admin('POST', `/api/v1/inboxes/${inboxId}/inbound`, { externalId: `rep-${dialect}-${++n}`, from: { identifier: `+86139000000${who}`, name: `Customer ${who}` }, text });
      expect(r.status).toBeLessThan(300);
      // The rollups fold each event with the conversation as it is then (labels included): folded before the next step.
      await s.ops.drain();
      return String(r.body.conversationId ?? r.body.conversation?.id);
    };
    const command = async (c: Record<string, unknown>) => {
      const r = await admin('POST', '/api/v1/commands', { commands: [{ id: uuid(), deviceTime: s.clock.now(), ...c }] });
      expect(r.body.results[0].outcome).toBe('applied');
      await s.ops.drain();
    };
    const reply = (conversationId: string, text: string) => command({ type: 'send_reply', conversationId, text });
    const resolve = (conversationId: string) => command({ type: 'set_status', conversationId, status: 'resolved' });
    /** Waits until the provider accepted the four replies (their status facts carry the cost), then drains the bus. */
    const settle = async () => {
      for (let i = 0; i < 200; i += 1) {
        const r = await s.db.one<{ n: number }>("SELECT COUNT(*) AS n FROM messages WHERE inbox_id = ? AND status = 'accepted'", [inboxId]);
        if (Number(r?.n) >= 4) break;
        await new Promise((res) => setTimeout(res, 50));
      }
      await s.ops.drain();
    };

    beforeAll(async () => {
      await hook.start();
      s = await startTestServer(dialect, { GOUTONG_TEST_CLOCK: clockFile });
      admin = api(s.url, await loginToken(s.url, 'admin@demo.goutong'));
      const created = await admin('POST', '/api/v1/inboxes', { name: 'Reports API', channel: 'api', config: { webhookUrl: hook.url }, teamIds: [] });
      inboxId = created.body.id;
      expect((await admin('PUT', '/api/v1/settings/pricing', { currency: 'CNY', apiPerMessage: 0.045, voicePerMinute: 0.1, monthlyBudget: 0.4, timeZone: 'Asia/Shanghai' })).status).toBe(200);
      // c1: first response 60 s, next response 300 s, resolved after 600 s.
      at(0);
      conv.push(await inbound(1, 'Where is my invoice? I need it for accounting'));
      // Labelled after its first message; taken off and put back (one "opened" under the label).
      at(30 * S);
      await command({ type: 'add_label', conversationId: conv[0], label: 'billing' });
      await command({ type: 'remove_label', conversationId: conv[0], label: 'billing' });
      await command({ type: 'add_label', conversationId: conv[0], label: 'billing' });
      at(60 * S);
      await reply(conv[0]!, 'We will e-mail the invoice within one business day.');
      at(120 * S);
      await inbound(1, 'thanks, and the VAT number?');
      at(420 * S);
      await reply(conv[0]!, 'The VAT number is printed on the invoice.');
      at(600 * S);
      await resolve(conv[0]!);
      // c2: first response 180 s, resolved after 1800 s.
      at(H);
      conv.push(await inbound(2, '我的快递怎么还没到？'));
      at(H + 180 * S);
      await reply(conv[1]!, '您的包裹正在派送中，预计明天送达。');
      at(H + 1800 * S);
      await resolve(conv[1]!);
      // c3: first response 30 s, an answered call of 125 s (3 started minutes).
      at(2 * H);
      conv.push(await inbound(3, 'Can I change my delivery address?'));
      at(2 * H + 10 * S);
      await command({ type: 'add_label', conversationId: conv[2], label: 'billing' });
      await command({ type: 'add_label', conversationId: conv[2], label: 'delivery' });
      at(2 * H + 30 * S);
      await reply(conv[2]!, 'Yes, reply with the new address and we update the order.');
      await command({ type: 'log_call', conversationId: conv[2], direction: 'out', from: '1000', to: '+86139000003', startedAt: T0 + 2 * H, answeredAt: T0 + 2 * H + 5 * S, endedAt: T0 + 2 * H + 130 * S, outcome: 'answered' });
      // c4: no answer; a missed inbound call.
      at(3 * H);
      conv.push(await inbound(4, 'hello?'));
      await command({ type: 'log_call', conversationId: conv[3], direction: 'in', from: '+86139000004', to: '1000', startedAt: T0 + 3 * H, endedAt: T0 + 3 * H + 20 * S, outcome: 'missed' });
      at(4 * H);
      await settle();
    }, 60_000);
    afterAll(async () => {
      await s?.stopAll();
      await hook.stop();
    });

    const range = `from=${T0}&to=${T0 + 24 * H}&tz=Asia/Shanghai&inboxId=`;

    it('computes the overview by hand: counts, nearest-rank medians and P90s, rates, calls and cost', async () => {
      // This inbox only: under the frozen clock (a month on) the lifecycle timers also auto-resolve the demo's pending conversation.
      const r = await admin('GET', `/api/v1/reports/overview?${range}${inboxId}`);
      expect(r.status).toBe(200);
      const o = r.body;
      expect(o.conversations).toEqual({ opened: 4, resolved: 2, reopened: 0, transfers: 0 });
      expect(o.messages).toEqual({ in: 5, out: 4 });
      expect(o.firstResponse).toEqual({ count: 3, medianS: 60, p90S: 180 }); // [30, 60, 180]
      expect(o.nextResponse).toEqual({ count: 1, medianS: 300, p90S: 300 });
      expect(o.resolution).toEqual({ count: 2, medianS: 600, p90S: 1800 }); // [600, 1800]
      expect(o.rates).toEqual({ resolution: 0.5, reopen: 0, transfer: 0 });
      expect(o.calls).toEqual({ total: 2, missed: 1, abandoned: 0, handle: { count: 1, medianS: 125, p90S: 125 } });
      // 4 replies × 0.045 + 3 minutes × 0.1 = 0.48 CNY (summed in micro-units: no float drift).
      // Three conversations (three contacts) cost anything: 0.48 / 3 = 0.16 each.
      expect(o.cost).toEqual({ total: 0.48, currency: 'CNY', byChannel: { api: 0.48 }, perResolved: 0.24, perConversation: 0.16, perContact: 0.16 });
      expect(o.csat).toBeNull();
      expect(o.sla).toBeNull(); // no SLA policy in this workspace
    });

    it('counts volume by local hour of day, by inbox and by channel from the rollups, with CSV', async () => {
      const byHour = (await admin('GET', `/api/v1/reports/volume?groupBy=hourOfDay&${range}${inboxId}`)).body;
      expect(byHour.items).toHaveLength(24);
      const busy = byHour.items.filter((r: { conversationsOpened: number; messagesIn: number; messagesOut: number; calls: number }) => r.conversationsOpened + r.messagesIn + r.messagesOut + r.calls > 0);
      // T0 is 09:00 in Shanghai: one conversation an hour from 09:00; c1 and c2 resolved in their own hour.
      expect(busy).toEqual([
        { key: '09', label: null, conversationsOpened: 1, conversationsResolved: 1, messagesIn: 2, messagesOut: 2, calls: 0, missedCalls: 0 },
        { key: '10', label: null, conversationsOpened: 1, conversationsResolved: 1, messagesIn: 1, messagesOut: 1, calls: 0, missedCalls: 0 },
        { key: '11', label: null, conversationsOpened: 1, conversationsResolved: 0, messagesIn: 1, messagesOut: 1, calls: 1, missedCalls: 0 },
        { key: '12', label: null, conversationsOpened: 1, conversationsResolved: 0, messagesIn: 1, messagesOut: 0, calls: 1, missedCalls: 1 },
      ]);
      // The same facts in UTC: 01:00 to 04:00.
      const utc = (await admin('GET', `/api/v1/reports/volume?groupBy=hourOfDay&${range.replace('Asia/Shanghai', 'UTC')}${inboxId}`)).body;
      expect(utc.items.filter((r: { conversationsOpened: number }) => r.conversationsOpened > 0).map((r: { key: string }) => r.key)).toEqual(['01', '02', '03', '04']);
      const byInbox = (await admin('GET', `/api/v1/reports/volume?groupBy=inbox&${range}${inboxId}`)).body;
      expect(byInbox.items).toEqual([{ key: inboxId, label: 'Reports API', conversationsOpened: 4, conversationsResolved: 2, messagesIn: 5, messagesOut: 4, calls: 2, missedCalls: 1 }]);
      expect((await admin('GET', `/api/v1/reports/volume?${range}${inboxId}`)).body.items.map((r: { key: string }) => r.key)).toEqual(['api']);
      const csv = await fetch(`${s.url}/api/v1/reports/volume?groupBy=inbox&${range}${inboxId}`, { headers: { authorization: `Bearer ${await loginToken(s.url, 'admin@demo.goutong')}`, accept: 'text/csv' } });
      const text = await csv.text();
      expect(text).toContain('inbox,name,conversationsOpened,conversationsResolved,messagesIn,messagesOut,calls,missedCalls');
      expect(text).toContain(`${inboxId},Reports API,4,2,5,4,2,1`);
      expect((await admin('GET', `/api/v1/reports/volume?groupBy=weekday&${range}`)).status).toBe(400);
    });

    it('counts volume by label: what happened while the conversation carried it, each conversation once per label', async () => {
      const byLabel = (await admin('GET', `/api/v1/reports/volume?groupBy=label&${range}${inboxId}`)).body;
      // billing: c1 from 30 s (its first message came before; two replies, one message in, resolved) and c3 (a reply, a call).
      // delivery: c3 only. Busiest first.
      expect(byLabel.items).toEqual([
        { key: 'billing', label: null, conversationsOpened: 2, conversationsResolved: 1, messagesIn: 1, messagesOut: 3, calls: 1, missedCalls: 0 },
        { key: 'delivery', label: null, conversationsOpened: 1, conversationsResolved: 0, messagesIn: 0, messagesOut: 1, calls: 1, missedCalls: 0 },
      ]);
      const csv = await fetch(`${s.url}/api/v1/reports/volume?groupBy=label&${range}${inboxId}`, { headers: { authorization: `Bearer ${await loginToken(s.url, 'admin@demo.goutong')}`, accept: 'text/csv' } });
      expect(await csv.text()).toContain('billing,,2,1,1,3,1,0');
    });

    it('breaks the cost down by conversation and contact, most expensive first, with CSV', async () => {
      const byConv = (await admin('GET', `/api/v1/reports/costs?groupBy=conversation&${range}${inboxId}`)).body;
      // c3: a reply 0.045 + a 3-minute call 0.3; c1: two replies; c2: one reply; c4 cost nothing.
      expect(byConv).toMatchObject({ groupBy: 'conversation', currency: 'CNY' });
      expect(byConv.items.map((r: { key: string; cost: number; items: number }) => [r.key, r.cost, r.items])).toEqual([[conv[2], 0.345, 2], [conv[0], 0.09, 2], [conv[1], 0.045, 1]]);
      const byContact = (await admin('GET', `/api/v1/reports/costs?groupBy=contact&${range}${inboxId}`)).body.items;
      expect(byContact.map((r: { label: string; cost: number }) => [r.label, r.cost])).toEqual([['Customer 3', 0.345], ['Customer 1', 0.09], ['Customer 2', 0.045]]);
      const res = await fetch(`${s.url}/api/v1/reports/costs?groupBy=contact&${range}${inboxId}`, { headers: { authorization: `Bearer ${await loginToken(s.url, 'admin@demo.goutong')}`, accept: 'text/csv' } });
      expect(await res.text()).toContain('Customer 3,0.345,2\r\n');
      expect((await admin('GET', `/api/v1/reports/costs?groupBy=planet&${range}${inboxId}`)).status).toBe(400);
    });

    it('filters by inbox and agent, and compares with the previous period', async () => {
      const me = (await admin('GET', '/api/v1/me')).body.agent;
      const byInbox = (await admin('GET', `/api/v1/reports/overview?${range}${inboxId}&compare=previous`)).body;
      expect(byInbox.conversations.opened).toBe(4);
      expect(byInbox.previous.conversations).toEqual({ opened: 0, resolved: 0, reopened: 0, transfers: 0 });
      const agents = (await admin('GET', `/api/v1/reports/agents?${range}${inboxId}`)).body.items;
      // Replies and response times go to their author (the admin); conversations were unassigned.
      expect(agents.find((a: { agentId: string }) => a.agentId === me.id)).toMatchObject({ messagesOut: 4, firstResponse: { count: 3, medianS: 60 } });
    });

    it('answers timeseries per hour and per local day, and CSV', async () => {
      const hours = (await admin('GET', `/api/v1/reports/timeseries?metric=conversations_opened&interval=hour&from=${T0}&to=${T0 + 4 * H}&tz=Asia/Shanghai`)).body;
      expect(hours.points).toEqual([0, 1, 2, 3].map((i) => ({ t: T0 + i * H, v: 1 })));
      const days = (await admin('GET', `/api/v1/reports/timeseries?metric=messages_in&interval=day&from=${T0 - 9 * H}&to=${T0 + 15 * H}&tz=Asia/Shanghai`)).body;
      // The local day in Shanghai starts at 16:00Z the day before.
      expect(days.points).toEqual([{ t: T0 - 9 * H, v: 5 }]);
      const cost = (await admin('GET', `/api/v1/reports/timeseries?metric=cost&interval=day&from=${T0 - 9 * H}&to=${T0 + 15 * H}&tz=Asia/Shanghai`)).body;
      expect(cost.points[0].v).toBe(0.48);
      const res = await fetch(`${s.url}/api/v1/reports/overview?from=${T0}&to=${T0 + 24 * H}&tz=Asia/Shanghai`, { headers: { authorization: `Bearer ${await loginToken(s.url, 'admin@demo.goutong')}`, accept: 'text/csv' } });
      expect(res.headers.get('content-type')).toMatch(/text\/csv/);
      const csv = await res.text();
      expect(csv).toContain('firstResponse.medianS,60\r\n');
      expect(csv).toContain('cost.total,0.48\r\n');
    });

    it('warns when the month crosses the budget', async () => {
      s.clock.freeze(T0 + 5 * H);
      const b = (await admin('GET', '/api/v1/reports/budget')).body;
      expect(b).toMatchObject({ currency: 'CNY', monthly: 0.4, spent: 0.48, exceeded: true });
    });

    it('refuses agents, bad ranges, unknown zones and bad prices with clear errors', async () => {
      const zhang = api(s.url, await loginToken(s.url, 'zhang.san@demo.goutong'));
      expect((await zhang('GET', `/api/v1/reports/overview?from=${T0}&to=${T0 + H}`)).status).toBe(403);
      expect((await admin('GET', `/api/v1/reports/overview?from=${T0}&to=${T0 - H}`)).status).toBe(400);
      const tz = await admin('GET', `/api/v1/reports/overview?from=${T0}&to=${T0 + H}&tz=Mars/Olympus`);
      expect(tz.status).toBe(400);
      expect(JSON.stringify(tz.body)).toMatch(/unknown time zone/);
      expect((await admin('GET', `/api/v1/reports/timeseries?metric=vibes&from=${T0}&to=${T0 + H}`)).status).toBe(400);
      expect((await admin('PUT', '/api/v1/settings/pricing', { currency: 'yuan' })).status).toBe(400);
    });

    it('counts CSAT answers when they exist (the one CSAT writer)', async () => {
      const { answerInPlace } = await import('../src/domain/csat.js');
      await answerInPlace(s.workspace, conv[0]!, { rating: 4, comment: '很好' }, T0 + 6 * H);
      await answerInPlace(s.workspace, conv[1]!, { rating: 5, comment: null }, T0 + 6 * H);
      await answerInPlace(s.workspace, conv[1]!, { rating: 1, comment: null }, T0 + 6 * H); // a second answer changes nothing
      const o = (await admin('GET', `/api/v1/reports/overview?${range}${inboxId}`)).body;
      expect(o.csat).toEqual({ responses: 2, average: 4.5 });
      expect((await admin('GET', `/api/v1/conversations/${conv[0]}`)).body.csat).toEqual({ rating: 4, comment: '很好' });
    });

    it('suggests the right canned or past answer for paraphrased questions, learning from picks', async () => {
      at(5 * H);
      const c = await inbound(5, 'could you send me the invoices again?');
      const sug = (await admin('GET', `/api/v1/conversations/${c}/suggestions`)).body;
      expect(sug.items[0]).toMatchObject({ text: 'We will e-mail the invoice within one business day.', source: 'history' });
      const zh = await inbound(6, '快递还没到，怎么回事');
      const zhSug = (await admin('GET', `/api/v1/conversations/${zh}/suggestions`)).body;
      expect(zhSug.items[0].text).toBe('您的包裹正在派送中，预计明天送达。');
      const refund = await inbound(7, 'I want my money back, how long does a refund take?');
      const top = (await admin('GET', `/api/v1/conversations/${refund}/suggestions`)).body.items;
      expect(top[0]).toMatchObject({ source: 'canned', text: expect.stringMatching(/^Refunds reach your account/) });
      expect((await admin('POST', `/api/v1/conversations/${refund}/suggestions/pick`, { key: top[0].key })).status).toBe(204);
      // An agent of Sales sees no answers from the Support inbox's conversations.
      const bob = api(s.url, await loginToken(s.url, 'bob@demo.goutong'));
      expect((await bob('GET', `/api/v1/conversations/${c}/suggestions`)).status).toBe(200); // a team-less inbox
    });
  });
}

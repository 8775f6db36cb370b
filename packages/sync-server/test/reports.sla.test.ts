/**
 * [insight] SLA compliance in reports, from SLA facts under a frozen test clock, SQLite and
 * PostgreSQL: of the conversations under a policy resolved in the period, how many met every target,
 * and each target's breaches (the SLA timer's breach facts), also in the CSV.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type Dialect } from './support/inProcess.js';
import { api, loginToken } from './support/agentClient.js';
import { FakeWebhook } from './channels/fakes/fakeWebhook.js';

const T0 = Date.UTC(2027, 1, 1, 2, 0, 0);
const MIN = 60_000;
let n = 0;
const uuid = () => `01960000-0000-7000-8000-${String(++n).padStart(12, '0')}`;

for (const dialect of ['sqlite', 'postgres'] as Dialect[]) {
  describe(`SLA compliance in reports (${dialect})`, () => {
    let s: Awaited<ReturnType<typeof startTestServer>>;
    const hook = new FakeWebhook();
    const clockFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'goutong-clock-')), 'clock');
    let admin: ReturnType<typeof api>;
    let inboxId: string;
    const at = (ms: number) => s.clock.freeze(T0 + ms);
    const inbound = async (who: number, text: string): Promise<string> => {
      const r = await admin('POST', `/api/v1/inboxes/${inboxId}/inbound`, { externalId: `slarep-${dialect}-${++n}`, from: { identifier: `+86139200000${who}` }, text });
      expect(r.status).toBeLessThan(300);
      await s.ops.drain();
      return String(r.body.conversationId ?? r.body.conversation?.id);
    };
    const command = async (c: Record<string, unknown>) => {
      const r = await admin('POST', '/api/v1/commands', { commands: [{ id: uuid(), deviceTime: s.clock.now(), ...c }] });
      expect(r.body.results[0].outcome, JSON.stringify(r.body)).toBe('applied');
      await s.ops.drain();
    };

    beforeAll(async () => {
      await hook.start();
      s = await startTestServer(dialect, { GOUTONG_TEST_CLOCK: clockFile, GOUTONG_OPS_INTERVAL_MS: '60000' });
      at(0);
      await s.ops.drain();
      admin = api(s.url, await loginToken(s.url, 'admin@demo.goutong'));
      inboxId = (await admin('POST', '/api/v1/inboxes', { name: 'SLA reports', channel: 'api', config: { webhookUrl: hook.url }, teamIds: [] })).body.id;
      const policy = await admin('POST', '/api/v1/sla-policies', { name: 'Fast', isDefault: true, targets: { normal: { firstResponseSeconds: 300 } } });
      expect(policy.status, JSON.stringify(policy.body)).toBe(201);
      // a: answered in 2 minutes, resolved: met.
      const a = await inbound(1, 'Where is my parcel?');
      at(2 * MIN);
      await command({ type: 'send_reply', conversationId: a, text: 'It arrives tomorrow.' });
      at(3 * MIN);
      await command({ type: 'set_status', conversationId: a, status: 'resolved' });
      // b: nobody answers within 5 minutes (the SLA timer writes the breach), then resolved: not met.
      at(10 * MIN);
      const b = await inbound(2, 'Hello? I need help with my invoice');
      at(16 * MIN);
      await s.ops.drain();
      await s.ops.drain();
      at(17 * MIN);
      await command({ type: 'send_reply', conversationId: b, text: 'Sorry for the wait, here it is.' });
      await command({ type: 'set_status', conversationId: b, status: 'resolved' });
      // c: still open, never answered: a breach, but not resolved yet.
      at(20 * MIN);
      await inbound(3, 'Is anyone there?');
      at(30 * MIN);
      await s.ops.drain();
      await s.ops.drain();
    }, 120_000);
    afterAll(async () => {
      await s?.stopAll();
      await hook.stop();
    });

    it('counts compliance over resolved conversations and breaches per target', async () => {
      const range = `from=${T0 - 60 * MIN}&to=${T0 + 120 * MIN}&tz=Asia/Shanghai&inboxId=${inboxId}`;
      const o = (await admin('GET', `/api/v1/reports/overview?${range}`)).body;
      expect(o.conversations).toMatchObject({ opened: 3, resolved: 2 });
      expect(o.sla).toEqual({ resolved: 2, met: 1, compliance: 0.5, breaches: { first_response: 2, next_response: 0, resolution: 0 } });
      const res = await fetch(`${s.url}/api/v1/reports/overview?${range}`, { headers: { authorization: `Bearer ${await loginToken(s.url, 'admin@demo.goutong')}`, accept: 'text/csv' } });
      const csv = await res.text();
      expect(csv).toContain('sla.compliance,0.5\r\n');
      expect(csv).toContain('sla.breaches.first_response,2\r\n');
    });

    it('answers the live board: per queue open, awaiting and unassigned with the longest wait; agents refused', async () => {
      const board = (await admin('GET', '/api/v1/reports/live')).body;
      const q = board.queues.find((x: { inboxId: string }) => x.inboxId === inboxId);
      // Only "Is anyone there?" is still open: unassigned, waiting since minute 20, now minute 30.
      expect(q).toMatchObject({ open: 1, awaitingReply: 1, unassigned: 1, longestWaitMs: 10 * MIN });
      expect(board.totals.open).toBeGreaterThanOrEqual(1);
      expect(board.agents.length).toBeGreaterThan(0);
      const zhang = api(s.url, await loginToken(s.url, 'zhang.san@demo.goutong'));
      expect((await zhang('GET', '/api/v1/reports/live')).status).toBe(403);
    });

    it('documents the insight routes in the OpenAPI document', async () => {
      const doc = (await admin('GET', '/api/v1/openapi.json')).body;
      for (const p of ['/api/v1/reports/overview', '/api/v1/reports/timeseries', '/api/v1/reports/costs', '/api/v1/reports/live', '/api/v1/contacts', '/api/v1/contacts/{id}/timeline', '/api/v1/contacts/{id}/merge', '/api/v1/conversations/{id}/suggestions', '/api/v1/conversations/{id}/summary']) {
        expect(doc.paths[p], p).toBeTruthy();
      }
      expect(doc.paths['/api/v1/reports/overview'].get.parameters.map((x: { name: string }) => x.name)).toEqual(expect.arrayContaining(['from', 'to', 'tz', 'inboxId']));
      expect(doc.paths['/api/v1/reports/costs'].get.parameters.find((x: { name: string }) => x.name === 'groupBy').schema.enum).toEqual(['conversation', 'contact', 'inbox', 'team', 'channel']);
    });
  });
}

/**
 * [reports] Calls in the overview (core `callFigures`, migration 482): answered calls count their talk
 * time, unanswered inbound calls are missed, and a missed call whose caller hung up waiting in a call
 * queue is abandoned; in JSON and CSV, and the same after a rollup rebuild. SQLite and PostgreSQL.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type Dialect } from './support/inProcess.js';
import { api, loginToken } from './support/agentClient.js';
import { rebuildReports } from '../src/domain/reportRebuild.js';
import { calendarFor } from '../src/domain/businessHours.js';

/** Monday 2027-01-04 09:00 in Shanghai (01:00Z). */
const T0 = Date.UTC(2027, 0, 4, 1, 0, 0);
const H = 3_600_000;

for (const dialect of ['sqlite', 'postgres'] as Dialect[]) {
  describe(`report calls: missed and abandoned (${dialect})`, () => {
    let s: Awaited<ReturnType<typeof startTestServer>>;
    const clockFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'goutong-clock-')), 'clock');
    let admin: ReturnType<typeof api>;
    let inboxId: string;
    let tenantId: string;
    const range = () => `from=${T0}&to=${T0 + 6 * H}&tz=Asia/Shanghai&inboxId=${inboxId}`;

    beforeAll(async () => {
      s = await startTestServer(dialect, { GOUTONG_TEST_CLOCK: clockFile });
      admin = api(s.url, await loginToken(s.url, 'admin@demo.goutong'));
      tenantId = String((await s.db.one<{ id: string }>("SELECT id FROM tenants WHERE slug = 'demo'"))!.id);
      inboxId = (await admin('POST', '/api/v1/inboxes', { name: 'Calls API', channel: 'api', config: {}, teamIds: [] })).body.id;
      const inbox = (await s.workspace.inbox(tenantId, inboxId))!;
      // As the IVR logs its calls (voice/service.ts): the call, and the IVR's outcome with the queue's.
      const calls: Array<[string, Record<string, unknown>]> = [
        ['answered', { call: { direction: 'in', outcome: 'answered', durationSeconds: 125 }, ivr: { queue: { result: 'answered', waitSeconds: 12 } } }],
        ['no answer', { call: { direction: 'in', outcome: 'missed', durationSeconds: 20 } }],
        ['hung up in the queue', { call: { direction: 'in', outcome: 'missed', durationSeconds: 95 }, ivr: { queue: { result: 'hangup', waitSeconds: 80 } } }],
        ['sent on by overflow', { call: { direction: 'in', outcome: 'missed', durationSeconds: 200 }, ivr: { queue: { result: 'overflow', waitSeconds: 180 } } }],
      ];
      for (const [i, [text, meta]] of calls.entries()) {
        s.clock.freeze(T0 + i * H);
        await s.workspace.ingestInbound(inbox, { externalId: `call-${dialect}-${i}`, from: { identifier: `+8613900003${i}00`, name: `Caller ${i}` }, text, kind: 'call', meta });
      }
      s.clock.freeze(T0 + 5 * H);
      await s.ops.drain();
    }, 120_000);
    afterAll(async () => {
      await s?.stopAll();
    });

    it('counts missed and abandoned calls and the answered one\'s talk time, in JSON and CSV, and again after a rebuild', async () => {
      const o = (await admin('GET', `/api/v1/reports/overview?${range()}`)).body;
      expect(o.calls).toEqual({ total: 4, missed: 3, abandoned: 1, handle: { count: 1, medianS: 125, p90S: 125 } });
      const csv = await fetch(`${s.url}/api/v1/reports/overview?${range()}`, { headers: { authorization: `Bearer ${await loginToken(s.url, 'admin@demo.goutong')}`, accept: 'text/csv' } });
      expect(await csv.text()).toContain('calls.abandoned,1\r\n');
      // Without a filter (the sums per hour and channel) the same.
      const all = (await admin('GET', `/api/v1/reports/overview?from=${T0}&to=${T0 + 6 * H}&tz=Asia/Shanghai`)).body;
      expect(all.calls.abandoned).toBe(1);
      await rebuildReports(s.db, tenantId, { now: s.clock.now(), calendarOf: (q, c) => calendarFor(q, c.tenantId, { inboxId: c.inboxId, teamId: c.teamId }) });
      expect((await admin('GET', `/api/v1/reports/overview?${range()}`)).body.calls).toEqual(o.calls);
    });
  });
}

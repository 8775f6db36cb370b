/**
 * SLA warnings and breaches fire once each with real server processes and the shared test clock:
 * on SQLite across a SIGKILL and restart of the one process; on PostgreSQL with two processes
 * running their ops buses against one database, one of them killed and restarted in between.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServerProcess } from './support/serverProcess.js';
import { api, eventually, loginToken } from './support/agentClient.js';
import { createTestDatabase } from './support/pg.js';

const MIN = 60_000;

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`SLA timers in server processes (${dialect})`, () => {
    const clockFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'goutong-clock-')), 'offset');
    const env = {
      GOUTONG_DEMO: '1', GOUTONG_TEST_CLOCK: clockFile, GOUTONG_OPS_INTERVAL_MS: '100',
      GOUTONG_SECRET: 'sla-processes-secret-0123456789abcdef0123',
    };
    let database: Awaited<ReturnType<typeof createTestDatabase>> | null = null;
    const procs: ServerProcess[] = [];
    let dataDir: string;

    const client = async (p: ServerProcess) => api(p.url, await loginToken(p.url, 'admin@demo.goutong'));

    beforeAll(async () => {
      if (dialect === 'postgres') database = await createTestDatabase('gtsla');
      dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'goutong-sla-'));
      const count = dialect === 'postgres' ? 2 : 1;
      for (let i = 0; i < count; i += 1) {
        // SQLite: one process owns the data directory; PostgreSQL: each process its own directory, one database.
        const p = new ServerProcess({ ...(database ? { databaseUrl: database.url } : { dataDir }), env });
        await p.start();
        procs.push(p);
      }
    }, 90_000);

    afterAll(async () => {
      for (const p of procs) {
        await p.stop();
        p.cleanup();
      }
      fs.rmSync(dataDir, { recursive: true, force: true });
      await database?.drop();
    });

    it('fires the warning and the breach once each, across a restart' + (dialect === 'postgres' ? ' and with two processes' : ''), async () => {
      let admin = await client(procs[0]!);
      const inboxId = (await admin('GET', '/api/v1/inboxes')).body.items.find((i: { channel: string }) => i.channel === 'api').id;
      // 24/7 clocks: first response 1 h (warned at 50 %), resolution 4 h (warned at 2 h).
      const policy = await admin('POST', '/api/v1/sla-policies', {
        name: 'Fast', isDefault: false, inboxIds: [inboxId], targets: { normal: { firstResponseSeconds: 3600, resolutionSeconds: 4 * 3600 } },
        warning: { percent: 50 }, escalation: { notify: true },
      });
      expect(policy.status, JSON.stringify(policy.body)).toBe(201);
      const r = await admin('POST', `/api/v1/inboxes/${inboxId}/inbound`, { externalId: `sla-proc-${dialect}`, from: { identifier: '+8613700000001' }, text: '需要帮助' });
      const id = r.body.conversationId as string;
      const conv = async () => (await admin('GET', `/api/v1/conversations/${id}`)).body;
      const slaEvents = async (kind: string, metric: string) =>
        ((await admin('GET', `/api/v1/conversations/${id}/messages?limit=200`)).body.items as Array<{ kind: string; meta: Record<string, unknown> }>).filter(
          (m) => m.kind === 'event' && m.meta.sla === kind && m.meta.metric === metric,
        ).length;
      const started = await eventually(async () => (await conv()).sla, 'the SLA clocks');
      expect(started.policyId).toBe(policy.body.id);
      expect(started.firstResponseDueAt - (await conv()).createdAt).toBe(3600_000);

      expect((await admin('POST', '/api/v1/test/clock', { advanceMs: 31 * MIN })).status).toBe(200);
      await eventually(async () => (await slaEvents('warning', 'first_response')) === 1, 'the first-response warning');

      // A crash: the process is killed without a chance to clean up, and started again on the same data.
      await procs[0]!.kill();
      const restarted = new ServerProcess({ ...(database ? { databaseUrl: database.url } : { dataDir }), env, port: procs[0]!.port });
      await restarted.start();
      procs[0] = restarted;
      admin = await client(procs[procs.length - 1]!);

      await admin('POST', '/api/v1/test/clock', { advanceMs: 30 * MIN });
      await eventually(async () => (await conv()).sla.breached.includes('first_response'), 'the first-response breach');
      // A later fact (the resolution warning, due at 2 h) proves every earlier timer had its chance to fire again.
      await admin('POST', '/api/v1/test/clock', { advanceMs: 60 * MIN });
      await eventually(async () => (await slaEvents('warning', 'resolution')) === 1, 'the resolution warning');
      expect(await slaEvents('warning', 'first_response')).toBe(1);
      expect(await slaEvents('breached', 'first_response')).toBe(1);
      const c = await conv();
      expect(c.sla.breached).toEqual(['first_response']);
      expect(c.sla.warned).toEqual(expect.arrayContaining(['first_response', 'resolution']));
    }, 120_000);
  });
}

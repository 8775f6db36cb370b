/**
 * The ops bus batches (issue 16): the jobs of one claim run in ONE transaction, each
 * (event, listener) in its own savepoint. A listener that fails rolls back only its own writes and
 * is retried alone, the other events of the batch commit; two buses on one database (two
 * processes) still deliver each event once per listener, in order within a bus; the tenant's
 * seq is announced after the commit. On SQLite and PostgreSQL.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger, type OpsEnvelope } from '@goutong/core';
import { OpsBus } from '../src/ops/bus.js';
import { pendingTimer } from '../src/domain/opsJobs.js';
import { startTestServer, type Dialect } from './support/inProcess.js';
import { api, loginToken } from './support/agentClient.js';

for (const dialect of ['sqlite', 'postgres'] as Dialect[]) {
  describe(`ops bus batches (${dialect})`, () => {
    let s: Awaited<ReturnType<typeof startTestServer>>;
    const clockFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'goutong-clock-')), 'offset');
    let admin: ReturnType<typeof api>;
    let inboxId: string;

    beforeAll(async () => {
      s = await startTestServer(dialect, { GOUTONG_TEST_CLOCK: clockFile, GOUTONG_OPS_INTERVAL_MS: '60000' });
      await s.ops.drain(); // the demo seed's events
      // The server's own bus stops: the events below wait for the test's buses.
      await s.ops.stop();
      admin = api(s.url, await loginToken(s.url, 'admin@demo.goutong'));
      inboxId = (await admin('GET', '/api/v1/inboxes')).body.items[0].id;
    });
    afterAll(async () => s?.stopAll());

    it('runs a claim in one transaction; a failing listener rolls back alone and is retried alone', async () => {
      const convIds: string[] = [];
      for (let i = 0; i < 6; i++) {
        const r = await admin('POST', `/api/v1/inboxes/${inboxId}/inbound`, { externalId: `batch-${dialect}-${i}`, from: { identifier: `+86139000000${String(i).padStart(2, '0')}` }, text: `batch ${i}` });
        expect(r.status).toBeLessThan(300);
        convIds.push(r.body.conversationId ?? r.body.conversation?.id);
      }
      const failing = convIds[2]!;
      let failOnce = true;
      const seen: Array<{ bus: string; listener: string; env: OpsEnvelope }> = [];
      const announced: number[] = [];
      const off = s.workspace.committed.on((c) => void announced.push(c.seq));
      const mk = (name: string) => {
        const bus = new OpsBus(s.workspace, { now: s.clock.now, intervalMs: 60_000, logger: silentLogger, batch: 50 });
        bus.listen('first', async (env, ctx) => {
          seen.push({ bus: name, listener: 'first', env });
          await ctx.nextSeq();
        });
        bus.listen('second', async (env, ctx) => {
          // A write, then (once, for one conversation's message) a failure: the write must roll back with it.
          await ctx.scheduleTimer({ name: 'test.batch', subjectId: `${env.event.conversationId}:${env.event.type}`, dueAt: ctx.now + 3_600_000 });
          if (env.event.conversationId === failing && env.event.type === 'message_received' && failOnce) {
            failOnce = false;
            throw new Error('second fails once');
          }
          seen.push({ bus: name, listener: 'second', env });
        });
        return bus;
      };
      const a = mk('a');
      const b = mk('b');
      await Promise.all([a.drain(), b.drain()]);

      // The failed unit's timer was rolled back; its neighbours' timers were committed.
      expect(await pendingTimer(s.db, 'test.batch', `${failing}:message_received`)).toBeNull();
      for (const c of convIds.filter((x) => x !== failing)) {
        expect(await pendingTimer(s.db, 'test.batch', `${c}:message_received`)).not.toBeNull();
      }
      // Fewer transactions than (event, listener) units: the claim ran as a batch.
      const units = seen.length + 1;
      expect(a.stats.transactions + b.stats.transactions).toBeLessThan(units);
      expect(a.stats.fallbacks + b.stats.fallbacks).toBe(0);

      // The retry waits for its backoff.
      s.clock.advance(10_000);
      await Promise.all([a.drain(), b.drain()]);
      off();

      for (const c of convIds) {
        for (const listener of ['first', 'second']) {
          const mine = seen.filter((x) => x.listener === listener && x.env.event.conversationId === c);
          // Once each across both buses.
          expect(mine.map((x) => x.env.event.type).sort()).toEqual(['conversation_created', 'message_received']);
          // In the order they happened within a bus (two processes split a claim between them).
          for (const bus of ['a', 'b']) {
            const types = mine.filter((x) => x.bus === bus).map((x) => x.env.event.type);
            if (types.length === 2) expect(types).toEqual(['conversation_created', 'message_received']);
          }
        }
      }
      // The failed event's 'first' ran once, before the failure: the retry ran 'second' only.
      expect(await pendingTimer(s.db, 'test.batch', `${failing}:message_received`)).not.toBeNull();
      // The seqs the listeners allocated were announced after their commits, up to the tenant's current seq.
      const tenantId = seen[0]!.env.tenantId;
      expect(Math.max(...announced)).toBe(await s.workspace.currentSeq(tenantId));
      expect(Number((await s.db.one<{ n: number }>("SELECT COUNT(*) AS n FROM ops_jobs WHERE kind = 'event'"))!.n)).toBe(0);
    });
  });
}

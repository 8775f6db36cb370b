/**
 * The ops bus: events of committed facts reach every listener once, in order, with the actor and
 * the cause; a failing listener is retried alone; timers fire once when due (test clock), never
 * when cancelled or replaced; two buses on one database (two processes) deliver each event once.
 * On SQLite and PostgreSQL.
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
  describe(`ops bus (${dialect})`, () => {
    let s: Awaited<ReturnType<typeof startTestServer>>;
    const clockFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'goutong-clock-')), 'offset');
    const seen: Array<{ listener: string; env: OpsEnvelope }> = [];
    let failOnce = true;
    let admin: ReturnType<typeof api>;
    let inboxId: string;

    beforeAll(async () => {
      s = await startTestServer(dialect, { GOUTONG_TEST_CLOCK: clockFile, GOUTONG_OPS_INTERVAL_MS: '60000' });
      await s.ops.drain(); // the demo seed's events
      s.ops.listen('first', async (env) => void seen.push({ listener: 'first', env }));
      s.ops.listen('flaky', async (env, ctx) => {
        if (env.event.type === 'message_received' && failOnce) {
          failOnce = false;
          throw new Error('flaky listener fails once');
        }
        seen.push({ listener: 'flaky', env });
        if (env.event.type === 'conversation_created') {
          await ctx.scheduleTimer({ name: 'test.remind', subjectId: env.event.conversationId, dueAt: ctx.now + 60_000, payload: { n: 1 } });
        }
      });
      admin = api(s.url, await loginToken(s.url, 'admin@demo.goutong'));
      inboxId = (await admin('GET', '/api/v1/inboxes')).body.items[0].id;
    });
    afterAll(async () => s?.stopAll());

    it('delivers the events of an inbound message once to each listener, in order, retrying only the one that failed', async () => {
      seen.length = 0;
      const r = await admin('POST', `/api/v1/inboxes/${inboxId}/inbound`, { externalId: `bus-${dialect}-1`, from: { identifier: '+8613800000001', name: 'Bus' }, text: 'hello bus' });
      expect(r.status).toBeLessThan(300);
      // A second bus on the same database (another process) races this one.
      const other = new OpsBus(s.workspace, { now: s.clock.now, intervalMs: 60_000, logger: silentLogger });
      other.listen('first', async (env) => void seen.push({ listener: 'first', env }));
      other.listen('flaky', async (env) => void seen.push({ listener: 'flaky', env }));
      await Promise.all([s.ops.drain(), other.drain()]);
      // The flaky listener's retry waits for its backoff: move the clock and drain again.
      s.clock.advance(10_000);
      await Promise.all([s.ops.drain(), other.drain()]);
      const convId = r.body.conversationId ?? r.body.conversation?.id;
      const of = (listener: string) => seen.filter((x) => x.listener === listener && x.env.event.conversationId === convId).map((x) => x.env.event.type);
      expect(of('first')).toEqual(['conversation_created', 'message_received']);
      expect(of('flaky').sort()).toEqual(['conversation_created', 'message_received']);
      expect(seen.every((x) => x.env.actorId === null && x.env.cause === null)).toBe(true);
    });

    it('names the agent whose command made the event', async () => {
      seen.length = 0;
      const conv = (await admin('GET', '/api/v1/conversations')).body.items[0];
      const me = (await admin('GET', '/api/v1/me')).body.agent;
      await admin('PATCH', `/api/v1/conversations/${conv.id}`, { priority: conv.priority === 'urgent' ? 'low' : 'urgent' });
      await s.ops.drain();
      const e = seen.find((x) => x.listener === 'first' && x.env.event.type === 'priority_changed');
      expect(e?.env.actorId).toBe(me.id);
      expect(e?.env.event).toMatchObject({ conversationId: conv.id, to: conv.priority === 'urgent' ? 'low' : 'urgent' });
    });

    it('fires a timer once when due, and never a cancelled or replaced one', async () => {
      const fired: string[] = [];
      s.ops.onTimer('test.remind', async (t) => void fired.push(`${t.subjectId}:${String(t.payload['n'])}`));
      const r = await admin('POST', `/api/v1/inboxes/${inboxId}/inbound`, { externalId: `bus-${dialect}-2`, from: { identifier: '+8613800000002' }, text: 'timer please' });
      const convId = r.body.conversationId ?? r.body.conversation?.id;
      await s.ops.drain();
      expect(await pendingTimer(s.db, 'test.remind', convId)).toMatchObject({ name: 'test.remind', subjectId: convId });
      await s.ops.drain();
      expect(fired.filter((f) => f.startsWith(convId))).toEqual([]); // not yet due
      s.clock.advance(61_000);
      const other = new OpsBus(s.workspace, { now: s.clock.now, intervalMs: 60_000, logger: silentLogger });
      other.onTimer('test.remind', async (t) => void fired.push(`${t.subjectId}:${String(t.payload['n'])}`));
      await Promise.all([s.ops.drain(), other.drain()]);
      expect(fired.filter((f) => f.startsWith(convId))).toEqual([`${convId}:1`]);
      expect(await pendingTimer(s.db, 'test.remind', convId)).toBeNull();
      // Replace, then cancel: only the replacement would fire, and the cancelled one never does.
      await s.db.tx(async (q) => {
        const { scheduleTimer, cancelTimer } = await import('../src/domain/opsJobs.js');
        await scheduleTimer(q, { tenantId: r.body.tenantId ?? 'x', name: 'test.remind', subjectId: 'a', dueAt: s.clock.now() + 1000, payload: { n: 1 } }, () => s.workspace.ids.next(), s.clock.now());
        await scheduleTimer(q, { tenantId: r.body.tenantId ?? 'x', name: 'test.remind', subjectId: 'a', dueAt: s.clock.now() + 1000, payload: { n: 2 } }, () => s.workspace.ids.next(), s.clock.now());
        await scheduleTimer(q, { tenantId: r.body.tenantId ?? 'x', name: 'test.remind', subjectId: 'b', dueAt: s.clock.now() + 1000, payload: { n: 3 } }, () => s.workspace.ids.next(), s.clock.now());
        await cancelTimer(q, 'test.remind', 'b');
      });
      s.clock.advance(2000);
      await s.ops.drain();
      expect(fired.filter((f) => f.startsWith('a:') || f.startsWith('b:'))).toEqual(['a:2']);
    });
  });
}

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { ServerProcess } from '../support/serverProcess.js';
import { api, connectAgent, eventually, loginToken } from '../support/agentClient.js';
import { createTestDatabase } from '../support/pg.js';

const DAY = 24 * 3600_000;

/**
 * Retention on two real server processes sharing PostgreSQL: both run the purge on a short
 * interval; every message past the policy is purged once (the purge counts and audit rows add up to
 * exactly the messages there were), the others stay; a device evicts its local copies on the
 * policy announced in its pull.
 */
describe('retention purge on PostgreSQL with two processes', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let sql: pg.Client;
  let a: ServerProcess;
  let b: ServerProcess;
  const env = { GOUTONG_DEMO: '1', GOUTONG_SECRET: 'retention-two-processes-secret-0123456789abcdef', GOUTONG_RETENTION_INTERVAL_MS: '1000' };

  beforeAll(async () => {
    database = await createTestDatabase('gtretention');
    sql = new pg.Client({ connectionString: database.url });
    await sql.connect();
    a = new ServerProcess({ databaseUrl: database.url, env });
    await a.start();
    b = new ServerProcess({ databaseUrl: database.url, env });
    await b.start();
  }, 90_000);
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await sql?.end();
    await database?.drop();
  });

  it('purges each old message exactly once, keeps the rest, and the device evicts its copies', async () => {
    const now = Date.now();
    // Age the demo's messages: sms ones 10 days (past a 7-day sms policy), the others 40 days
    // for half of them (past the 30-day default) and 10 days for the rest (kept).
    const msgs = (await sql.query<{ id: string; channel: string }>('SELECT m.id, i.channel FROM messages m JOIN inboxes i ON i.id = m.inbox_id ORDER BY m.id')).rows;
    expect(msgs.length).toBeGreaterThan(4);
    let expectPurged = 0;
    const kept: string[] = [];
    for (const [i, m] of msgs.entries()) {
      const age = m.channel === 'sms' ? 10 * DAY : i % 2 === 0 ? 40 * DAY : 10 * DAY;
      await sql.query('UPDATE messages SET created_at = $1 WHERE id = $2', [now - age, m.id]);
      if (m.channel === 'sms' || age === 40 * DAY) expectPurged++;
      else kept.push(m.id);
    }
    expect(expectPurged).toBeGreaterThan(0);
    expect(kept.length).toBeGreaterThan(0);

    // A device holds the old messages before any policy exists.
    // On the process the policy is set through: without a broker, pokes stay in their process.
    const device = await connectAgent(b.url, 'admin@demo.goutong', 'goutong-demo', 'laptop');
    try {
      const localOld = async () => [...(device.store as unknown as { data: { messages: Map<string, { createdAt: number }> } }).data.messages.values()].filter((m) => m.createdAt < now - 30 * DAY).length;
      await eventually(async () => (await localOld()) > 0, 'the device holds old messages');

      const admin = api(b.url, await loginToken(b.url, 'admin@demo.goutong'));
      expect((await admin('PUT', '/api/v1/settings/retention', { days: 0 })).status).toBe(400);
      const put = await admin('PUT', '/api/v1/settings/retention', { days: 30, channels: { sms: 7 } });
      expect(put.status).toBe(200);
      expect(put.body).toEqual({ days: 30, channels: { sms: 7 } });

      // Both processes purge on their timers; the lease and SKIP LOCKED make each message go once.
      await eventually(async () => {
        const left = await sql.query('SELECT COUNT(*)::int AS n FROM messages WHERE id = ANY($1)', [msgs.map((m) => m.id)]);
        return left.rows[0].n === kept.length;
      }, 'the old messages are purged', 30_000);
      // Let several more passes of both processes run: nothing more goes, nothing is counted twice.
      await new Promise((r) => setTimeout(r, 2500));
      const remaining = (await sql.query<{ id: string }>('SELECT id FROM messages WHERE id = ANY($1)', [msgs.map((m) => m.id)])).rows.map((r) => r.id).sort();
      expect(remaining).toEqual([...kept].sort());
      const audit = (await sql.query<{ details: string }>("SELECT details FROM audit_log WHERE action = 'retention.purge'")).rows.map((r) => JSON.parse(r.details) as { messages: number; by: string });
      expect(audit.reduce((n, d) => n + d.messages, 0)).toBe(expectPurged);
      const runs = (await sql.query<{ purged: number }>('SELECT purged::int AS purged FROM retention_runs')).rows;
      expect(runs.reduce((n, r) => n + r.purged, 0)).toBe(expectPurged);

      // The device heard the policy in its pull and evicted its local copies past it.
      await eventually(async () => (await localOld()) === 0, 'the device evicted old messages');
      const pull = await admin('POST', '/api/v1/sync/pull', { checkpoint: 0 });
      expect(pull.body.retention).toEqual({ days: 30, channels: { sms: 7 } });
    } finally {
      await device.client.stop();
    }
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { ServerProcess } from './support/serverProcess.js';
import { api, eventually, loginToken } from './support/agentClient.js';
import { createTestDatabase } from './support/pg.js';
import { FakeTwilio } from './channels/fakes/fakeTwilio.js';

/**
 * Two real server processes on one PostgreSQL database share the relay queue; Twilio (a fake that
 * counts the create requests it gets) is the provider. Every reply goes out once; the process that
 * holds a job is SIGKILLed mid-send and the other process takes the job over when the lease runs
 * out, reconciling against Twilio's message list instead of sending again.
 */
describe('relay on PostgreSQL across two server processes', () => {
  const twilio = new FakeTwilio();
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let sql: pg.Client;
  let a: ServerProcess;
  let b: ServerProcess;
  let conversationId: string;

  // One secret for both processes (tokens and sealed inbox secrets cross them); loopback egress to the fake.
  const env = { GOUTONG_DEMO: '1', GOUTONG_RELAY_LEASE_MS: '3000', GOUTONG_SECRET: 'relay-two-processes-secret-0123456789abcdef', GOUTONG_EGRESS_ALLOW: '127.0.0.0/8,::1' };
  const creates = (text: string) => twilio.sent.filter((s) => s.body === text).length;
  /** The child's pid: lease owners are named `${pid}-…`. */
  const pidOf = (s: ServerProcess) => (s as unknown as { child: { pid: number } | null }).child?.pid;

  beforeAll(async () => {
    await twilio.start();
    database = await createTestDatabase('gtrelay2p');
    sql = new pg.Client({ connectionString: database.url });
    await sql.connect();
    // One after the other: the first seeds the demo workspace, the second finds it.
    a = new ServerProcess({ databaseUrl: database.url, env });
    await a.start();
    b = new ServerProcess({ databaseUrl: database.url, env });
    await b.start();
    const admin = api(a.url, await loginToken(a.url, 'admin@demo.goutong'));
    const created = await admin('POST', '/api/v1/inboxes', {
      name: 'Twilio (two processes)', channel: 'sms', provider: 'twilio',
      config: { accountSid: twilio.accountSid, from: '+15005550006', webhookBaseUrl: a.url, apiBaseUrl: twilio.baseUrl },
      secrets: { authToken: twilio.authToken },
    });
    expect(created.status).toBe(201);
    expect((await twilio.inbound(`${a.url}/webhooks/twilio/${created.body.id}/inbound`, { from: '+8613900002222', to: '+15005550006', body: '你好' }).send()).status).toBe(200);
    conversationId = (await admin('GET', `/api/v1/conversations?inboxId=${created.body.id}`)).body.items[0].id;
  }, 90_000);

  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    a?.cleanup();
    b?.cleanup();
    await sql?.end();
    await database?.drop();
    await twilio.stop();
  });

  it('replies queued on either process are each sent exactly once', async () => {
    const clients = [api(a.url, await loginToken(a.url, 'admin@demo.goutong')), api(b.url, await loginToken(b.url, 'admin@demo.goutong'))];
    const texts: string[] = [];
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) {
      const text = `exactly once ${i}`;
      const r = await clients[i % 2]!('POST', `/api/v1/conversations/${conversationId}/messages`, { text }, { 'idempotency-key': `once-${i}` });
      expect(r.status).toBe(201);
      texts.push(text);
      ids.push(r.body.id);
    }
    await eventually(async () => {
      const r = await sql.query<{ state: string }>('SELECT state FROM relay_jobs WHERE message_id = ANY($1)', [ids]);
      return r.rows.length === ids.length && r.rows.every((j) => j.state === 'done');
    }, 'every job done', 30_000);
    for (const t of texts) expect(creates(t), t).toBe(1);
    const statuses = await sql.query<{ status: string }>('SELECT status FROM messages WHERE id = ANY($1)', [ids]);
    expect(statuses.rows.map((r) => r.status)).toEqual(ids.map(() => 'accepted'));
  });

  it('the process holding a job is killed mid-send; the other takes over after the lease and reconciles instead of sending again', async () => {
    twilio.acceptWithoutAnswer = 1;
    const text = 'sent while its process dies';
    const admin = api(a.url, await loginToken(a.url, 'admin@demo.goutong'));
    const reply = await admin('POST', `/api/v1/conversations/${conversationId}/messages`, { text }, { 'idempotency-key': 'kill-two-processes' });
    expect(reply.status).toBe(201);
    await eventually(() => creates(text) === 1, 'Twilio received the request');
    const held = (await sql.query<{ lease_owner: string; state: string }>('SELECT lease_owner, state FROM relay_jobs WHERE message_id = $1', [reply.body.id])).rows[0]!;
    expect(held.state).toBe('sending');
    const holder = [a, b].find((s) => held.lease_owner.startsWith(`${pidOf(s)}-`))!;
    const other = holder === a ? b : a;
    expect(holder).toBeTruthy();
    await holder.kill();

    await eventually(async () => {
      const r = await sql.query<{ state: string; attempts: number }>('SELECT state, attempts FROM relay_jobs WHERE message_id = $1', [reply.body.id]);
      return r.rows[0]?.state === 'done';
    }, 'the other process finished the job', 30_000);
    const job = (await sql.query<{ state: string; attempts: number; lease_owner: string | null }>('SELECT state, attempts, lease_owner FROM relay_jobs WHERE message_id = $1', [reply.body.id])).rows[0]!;
    expect(job).toEqual({ state: 'done', attempts: 2, lease_owner: null });
    const message = (await sql.query<{ status: string; provider_message_id: string; meta: string }>('SELECT status, provider_message_id, meta FROM messages WHERE id = $1', [reply.body.id])).rows[0]!;
    expect(message.status).toBe('accepted');
    expect(message.provider_message_id).toBe(twilio.sent.find((s) => s.body === text)!.sid);
    expect(JSON.parse(message.meta)).toMatchObject({ reconciled: true });
    // Twilio got ONE create request for it: the survivor read the list and found it.
    expect(creates(text)).toBe(1);
    expect(twilio.listed).toBeGreaterThanOrEqual(1);
    // The survivor still serves.
    expect((await fetch(`${other.url}/healthz`)).status).toBe(200);
  }, 90_000);
});

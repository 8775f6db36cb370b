import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import Database from 'better-sqlite3';
import { ServerProcess } from '../support/serverProcess.js';
import { api, eventually, loginToken } from '../support/agentClient.js';
import { FakeTwilio } from './fakes/fakeTwilio.js';

/**
 * The server process is SIGKILLed while a relay job is claimed and the provider has the request:
 * after a restart the job completes. Twilio has no idempotency key on Messages.create, so the relay
 * reconciles before sending again; this test takes the worst place (Twilio accepted the message,
 * the answer never came back) and states what Twilio saw.
 */
describe('relay: the server is killed between claiming and finishing a job', () => {
  const twilio = new FakeTwilio();
  let server: ServerProcess;

  beforeAll(async () => {
    await twilio.start();
    // GOUTONG_RELAY_LEASE_MS shortens the lease where the server reads it; otherwise the default (60 s) runs out.
    server = new ServerProcess({ env: { GOUTONG_DEMO: '1', GOUTONG_RELAY_LEASE_MS: '3000' } });
    await server.start();
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
    server?.cleanup();
    await twilio.stop();
  });

  it('after a restart the job completes without sending twice: the relay finds the first attempt in Twilio\'s message list', async () => {
    const admin = api(server.url, await loginToken(server.url, 'admin@demo.goutong'));
    const created = await admin('POST', '/api/v1/inboxes', {
      name: 'Twilio (kill test)',
      channel: 'sms',
      provider: 'twilio',
      config: { accountSid: twilio.accountSid, from: '+15005550006', webhookBaseUrl: server.url, apiBaseUrl: twilio.baseUrl },
      secrets: { authToken: twilio.authToken },
    });
    expect(created.status).toBe(201);
    const inboxId: string = created.body.id;
    expect((await twilio.inbound(`${server.url}/webhooks/twilio/${inboxId}/inbound`, { from: '+8613900001111', to: '+15005550006', body: '在吗？' }).send()).status).toBe(200);
    const conv = (await admin('GET', `/api/v1/conversations?inboxId=${inboxId}`)).body.items[0];
    expect(conv).toBeTruthy();

    // Twilio takes the message but its answer never arrives; the job stays claimed ("sending").
    twilio.acceptWithoutAnswer = 1;
    const text = 'Your replacement ships tomorrow.';
    const reply = await admin('POST', `/api/v1/conversations/${conv.id}/messages`, { text }, { 'idempotency-key': 'kill-test-1' });
    expect(reply.status).toBe(201);
    await eventually(() => twilio.sent.some((s) => s.body === text), 'Twilio received the request');
    const status = async () => (await admin('GET', `/api/v1/conversations/${conv.id}/messages`)).body.items.find((m: { id: string }) => m.id === reply.body.id)?.status;
    expect(await status()).toBe('sending');

    // The process dies with the job claimed.
    await server.kill();
    await server.start();

    // The lease runs out and another attempt completes the job.
    const admin2 = api(server.url, await loginToken(server.url, 'admin@demo.goutong'));
    await eventually(async () => {
      const items = (await admin2('GET', `/api/v1/conversations/${conv.id}/messages`)).body.items;
      return items.find((m: { id: string; status: string }) => m.id === reply.body.id && m.status === 'accepted');
    }, 'accepted after restart', 90_000);
    // A later reply goes out through the same relay: once Twilio has it, the relay is done with the first.
    const marker = await admin2('POST', `/api/v1/conversations/${conv.id}/messages`, { text: 'marker' }, { 'idempotency-key': 'kill-test-marker' });
    expect(marker.status).toBe(201);
    await eventually(() => twilio.sent.some((s) => s.body === 'marker'), 'the marker reached Twilio', 30_000);

    // What Twilio saw: ONE create request for this message (accepted, its answer lost with the
    // process), then, after the restart, a read of its message list: the relay found the message
    // there and recorded it instead of sending it again. The customer gets the SMS once.
    const creates = twilio.log.filter((l) => l.method === 'POST' && l.url.endsWith('/Messages.json'));
    expect(creates).toHaveLength(2); // the reply once, then the marker
    expect(twilio.listed).toBeGreaterThanOrEqual(1);
    expect(twilio.sent.filter((s) => s.body === text)).toHaveLength(1);
    const sids = twilio.sent.filter((s) => s.body === text).map((s) => s.sid);

    await server.stop();
    const db = new Database(path.join(server.dataDir, 'goutong.sqlite'), { readonly: true });
    try {
      const job = db.prepare('SELECT state, attempts FROM relay_jobs WHERE message_id = ?').get(reply.body.id) as { state: string; attempts: number };
      expect(job).toEqual({ state: 'done', attempts: 2 });
      const msg = db.prepare('SELECT status, provider_message_id FROM messages WHERE id = ?').get(reply.body.id) as { status: string; provider_message_id: string };
      // The message records the sid of the one message Twilio has.
      expect(msg).toEqual({ status: 'accepted', provider_message_id: sids[0] });
    } finally {
      db.close();
    }
    await server.start();
  }, 150_000);
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServerProcess } from '../support/serverProcess.js';
import { createTestDatabase } from '../support/pg.js';
import { api, eventually, loginToken } from '../support/agentClient.js';
import { Device } from '../support/device.js';
import { readRows } from '../support/dbRows.js';
import { FakeWebhook } from '../channels/fakes/fakeWebhook.js';

const ENV = { GOUTONG_DEMO: '1', GOUTONG_RELAY_LEASE_MS: '2000', GOUTONG_EGRESS_ALLOW: '127.0.0.0/8,::1' };

/**
 * The worst moment for a crash: the server committed a command batch and dies before its answer is
 * written (the GOUTONG_FAULT=kill-after-commit test hook makes the window exact). The device never
 * got an answer, so its outbox sends the batch again to the restarted server: the reply is applied
 * once, and the provider (the api channel's webhook, a counting fake) receives it once.
 */
describe.each([['sqlite'], ['postgres']] as const)('SIGKILL after a command batch commits and before it answers, on %s', (dialect) => {
  const hook = new FakeWebhook();
  let first: ServerProcess;
  let second: ServerProcess | null = null;
  let databaseUrl: string | undefined;
  let dropDb: (() => Promise<void>) | null = null;

  beforeAll(async () => {
    await hook.start();
    if (dialect === 'postgres') {
      const db = await createTestDatabase('gtcrash');
      databaseUrl = db.url;
      dropDb = db.drop;
    }
    first = new ServerProcess({ ...(databaseUrl ? { databaseUrl } : {}), env: { ...ENV, GOUTONG_FAULT: 'kill-after-commit' } });
    await first.start();
  });

  afterAll(async () => {
    await second?.stop();
    await first?.stop();
    first?.cleanup();
    await dropDb?.();
    await hook.stop();
  });

  it('the retry applies once and the provider sees exactly one send', async () => {
    const target = { dataDir: first.dataDir, databaseUrl };
    const admin = api(first.url, await loginToken(first.url, 'admin@demo.goutong'));
    const inbox = (await admin('GET', '/api/v1/inboxes')).body.items.find((i: { name: string }) => i.name === 'Demo API');
    expect((await admin('PATCH', `/api/v1/inboxes/${inbox.id}`, { config: { webhookUrl: hook.url } })).status).toBe(200);
    const inbound = await admin('POST', `/api/v1/inboxes/${inbox.id}/inbound`, { externalId: `crash-${dialect}`, from: { identifier: '+8613800001234', name: '刘洋' }, text: '我的快递到哪了？' });
    expect(inbound.status).toBe(201);
    const convId: string = inbound.body.conversationId;

    const dev = await new Device(first.url, 'zhang.san@demo.goutong', 'desktop').open();
    try {
      await eventually(() => dev.client.connectivity.value.status === 'online', 'device online');
      await eventually(() => dev.client.conversation(convId), 'conversation on the device');

      // The device's reply is the first command batch: the server commits it and kills itself.
      const text = 'Your parcel is at the depot and goes out today.';
      const replyId = await dev.client.dispatch({ type: 'send_reply', conversationId: convId, text });
      expect(await first.waitForExit()).toBe('SIGKILL');
      // It was committed, and its answer never reached the device, which still holds the command.
      expect(await readRows(target, 'SELECT id FROM commands WHERE id = ?', [replyId])).toHaveLength(1);
      expect(dev.batches.filter((b) => b.ids.includes(replyId))).toEqual([]);
      expect(dev.client.connectivity.value.pending).toBe(1);

      // The same database, the same address, no fault this time.
      second = new ServerProcess({ dataDir: first.dataDir, port: first.port, ...(databaseUrl ? { databaseUrl } : {}), env: ENV });
      await second.start();
      await eventually(() => dev.client.connectivity.value.status === 'online' && dev.client.connectivity.value.pending === 0, 'the outbox drains after the restart', 30_000);

      // The retry was recognised as the committed command, not applied again.
      const retried = dev.batches.filter((b) => b.ids.includes(replyId));
      expect(retried.length).toBeGreaterThanOrEqual(1);
      expect(retried.flatMap((b) => b.results ?? []).filter((r) => r.id === replyId).map((r) => r.outcome)).toEqual(retried.map(() => 'duplicate'));
      const admin2 = api(second.url, await loginToken(second.url, 'admin@demo.goutong'));
      const items = async () => (await admin2('GET', `/api/v1/conversations/${convId}/messages?limit=200`)).body.items as { id: string; status: string }[];
      expect((await items()).filter((m) => m.id === replyId)).toHaveLength(1);
      expect(await readRows(target, 'SELECT id FROM messages WHERE id = ?', [replyId])).toHaveLength(1);
      await eventually(async () => (await items()).find((m) => m.id === replyId)?.status === 'accepted', 'the reply is accepted by the provider', 30_000);

      // "Sent once" is counted at the provider, after a later marker reply went out through the same relay.
      const marker = await dev.client.dispatch({ type: 'send_reply', conversationId: convId, text: 'marker' });
      await eventually(() => hook.sendsOf(marker) === 1, 'the marker reached the provider', 30_000);
      await eventually(async () => (await items()).find((m) => m.id === marker)?.status === 'accepted', 'the marker is accepted', 30_000);
      expect(hook.sendsOf(replyId)).toBe(1);
      expect(hook.sent.find((s) => s.messageId === replyId)).toMatchObject({ text, idempotencyKey: expect.any(String) });
      expect(await readRows(target, 'SELECT message_id FROM relay_jobs WHERE message_id = ?', [replyId])).toHaveLength(1);
    } finally {
      await dev.close();
    }
  });
});

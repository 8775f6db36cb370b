import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServerProcess } from '../support/serverProcess.js';
import { createTestDatabase } from '../support/pg.js';
import { api, connectAgent, eventually, loginToken } from '../support/agentClient.js';

/**
 * The whole loop over real sockets against a real server process, on SQLite and on PostgreSQL:
 * inbound → both agents; A offline replies twice and resolves while the server is SIGKILLed and
 * restarted; A comes back: each reply is stored exactly once, B sees them; a command A may not
 * issue is rejected and shown as failed on A.
 */
describe.each([['sqlite'], ['postgres']] as const)('end to end on %s', (dialect) => {
  let server: ServerProcess;
  let dropDb: (() => Promise<void>) | null = null;

  beforeAll(async () => {
    let databaseUrl: string | undefined;
    if (dialect === 'postgres') {
      const db = await createTestDatabase('gte2e');
      databaseUrl = db.url;
      dropDb = db.drop;
    }
    server = new ServerProcess({ ...(databaseUrl ? { databaseUrl } : {}), env: { GOUTONG_DEMO: '1' } });
    await server.start();
  });

  afterAll(async () => {
    await server?.stop();
    server?.cleanup();
    await dropDb?.();
  });

  it('delivers, survives a crash while an agent is offline, and sends nothing twice', async () => {
    const adminToken = await loginToken(server.url, 'admin@demo.goutong');
    const admin = api(server.url, adminToken);
    const inbox = (await admin('GET', '/api/v1/inboxes')).body.items.find((i: { name: string }) => i.name === 'Demo API');
    expect(inbox).toBeTruthy();

    const A = await connectAgent(server.url, 'zhang.san@demo.goutong', 'goutong-demo', 'desktop');
    const B = await connectAgent(server.url, 'alice@demo.goutong', 'goutong-demo', 'desktop');
    try {
      await eventually(() => A.client.connectivity.value.status === 'online', 'A online');
      await eventually(() => B.client.connectivity.value.status === 'online', 'B online');

      // 1. An inbound message reaches both agents.
      const inbound = await admin('POST', `/api/v1/inboxes/${inbox.id}/inbound`, {
        externalId: `e2e-${dialect}-1`,
        from: { identifier: '+8613811112222', name: '孙丽' },
        text: '你好，我想改一下收货地址。',
      });
      expect(inbound.status).toBe(201);
      const convId: string = inbound.body.conversationId;
      await eventually(() => A.client.conversation(convId), 'conversation on A');
      await eventually(() => B.client.conversation(convId), 'conversation on B');
      const again = await admin('POST', `/api/v1/inboxes/${inbox.id}/inbound`, {
        externalId: `e2e-${dialect}-1`,
        from: { identifier: '+8613811112222', name: '孙丽' },
        text: '你好，我想改一下收货地址。',
      });
      expect(again.status).toBe(200);
      expect(again.body.duplicate).toBe(true);

      // 2. A goes offline, replies twice and resolves: three commands wait on A's device.
      A.net.set(false);
      await eventually(() => A.client.connectivity.value.status === 'offline', 'A offline');
      const r1 = await A.client.dispatch({ type: 'send_reply', conversationId: convId, text: '好的，请把新地址发给我。' });
      const r2 = await A.client.dispatch({ type: 'send_reply', conversationId: convId, text: 'Address updated — anything else?' });
      await A.client.dispatch({ type: 'set_status', conversationId: convId, status: 'resolved' });
      expect(A.client.connectivity.value.pending).toBe(3);
      // Local-first: A already sees its replies (queued) and the resolved status.
      expect((await A.client.conversation(convId))?.status).toBe('resolved');
      const local = await A.client.messages(convId);
      expect(local.filter((m) => m.id === r1 || m.id === r2).map((m) => m.status)).toEqual(['queued', 'queued']);

      // 3. Meanwhile the server dies without warning and comes back.
      await server.kill();
      await server.start();
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);

      // 4. A comes back: the outbox drains; B sees both replies and the status.
      A.net.set(true);
      await eventually(() => A.client.connectivity.value.pending === 0 && A.client.connectivity.value.status === 'online', 'A drained', 30_000);
      await eventually(async () => (await B.client.conversation(convId))?.status === 'resolved', 'B sees resolved', 30_000);
      await eventually(async () => {
        const ms = await B.client.messages(convId);
        return ms.some((m) => m.id === r1) && ms.some((m) => m.id === r2);
      }, 'B sees both replies', 30_000);

      // Exactly once on the server, whatever retries happened.
      const adminAfter = api(server.url, await loginToken(server.url, 'admin@demo.goutong'));
      const page = await adminAfter('GET', `/api/v1/conversations/${convId}/messages?limit=200`);
      const outgoing = page.body.items.filter((m: { kind: string; direction: string }) => m.direction === 'out' && m.kind === 'text');
      expect(outgoing.map((m: { id: string }) => m.id).sort()).toEqual([r1, r2].sort());
      // The device time says when it was written (offline), the server time when it arrived.
      for (const m of outgoing) expect(m.serverTime).toBeGreaterThanOrEqual(m.deviceTime);

      // Replaying A's command batch (a lost acknowledgement) changes nothing.
      const replay = await api(server.url, await loginToken(server.url, 'zhang.san@demo.goutong'))('POST', '/api/v1/commands', {
        commands: [{ type: 'send_reply', id: r1, deviceTime: Date.now(), conversationId: convId, text: '好的，请把新地址发给我。' }],
      });
      expect(replay.body.results[0].outcome).toBe('duplicate');
      const page2 = await adminAfter('GET', `/api/v1/conversations/${convId}/messages?limit=200`);
      expect(page2.body.items.filter((m: { id: string }) => m.id === r1)).toHaveLength(1);

      // The relay hands each reply to the api channel once: both end accepted.
      await eventually(async () => {
        const p = await adminAfter('GET', `/api/v1/conversations/${convId}/messages?limit=200`);
        return p.body.items.filter((m: { id: string; status: string }) => (m.id === r1 || m.id === r2) && m.status === 'accepted').length === 2;
      }, 'replies accepted by the channel');

      // 5. A command A may not issue (agents assign only to themselves) fails visibly on A.
      const badId = await A.client.dispatch({ type: 'assign', conversationId: convId, assigneeId: B.agent.id });
      const failed = await eventually(() => A.client.outboxEntries().find((e) => e.id === badId && e.state === 'failed'), 'rejection on A');
      expect(failed.error?.code).toBe('forbidden');
      expect(failed.error?.message).toMatch(/only assign conversations to themselves/);
      expect(A.client.connectivity.value.failed).toBe(1);
      expect((await B.client.conversation(convId))?.assigneeId).not.toBe(B.agent.id);
      await A.client.discard(badId);
      expect(A.client.connectivity.value.failed).toBe(0);
    } finally {
      await A.client.stop();
      await B.client.stop();
    }
  });
});

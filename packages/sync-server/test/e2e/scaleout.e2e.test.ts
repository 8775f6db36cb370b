import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServerProcess } from '../support/serverProcess.js';
import { createTestDatabase } from '../support/pg.js';
import { api, connectAgent, eventually, loginToken } from '../support/agentClient.js';
import { FakeWebhook } from '../channels/fakes/fakeWebhook.js';

const REDIS_URL = process.env.GOUTONG_TEST_REDIS ?? 'redis://127.0.0.1:6379';

/**
 * Two server processes on one PostgreSQL, fanning out through the machine's Redis: agents on
 * different processes see each other's changes, drafts and presence, and the shared relay queue
 * sends each reply once: counted where it matters, at the provider (the api channel's webhook, a
 * counting fake), not in the database.
 */
describe('scale-out: two server processes, PostgreSQL and Redis', () => {
  let one: ServerProcess;
  let two: ServerProcess;
  let drop: () => Promise<void>;
  const hook = new FakeWebhook();

  beforeAll(async () => {
    await hook.start();
    const db = await createTestDatabase('gtscale');
    drop = db.drop;
    const env = { GOUTONG_DEMO: '1', REDIS_URL, GOUTONG_SECRET: 'scale-out-test-secret-0123456789abcdef', GOUTONG_EGRESS_ALLOW: '127.0.0.0/8,::1' };
    one = new ServerProcess({ databaseUrl: db.url, env });
    await one.start();
    two = new ServerProcess({ databaseUrl: db.url, env });
    await two.start();
  });
  afterAll(async () => {
    await one?.stop();
    await two?.stop();
    one?.cleanup();
    two?.cleanup();
    await drop?.();
    await hook.stop();
  });

  it('changes, drafts and presence cross processes; replies go out once', async () => {
    const adminTwo = api(two.url, await loginToken(two.url, 'admin@demo.goutong'));
    const inbox = (await adminTwo('GET', '/api/v1/inboxes')).body.items[0];
    // The inbox's replies go to the counting provider.
    expect((await adminTwo('PATCH', `/api/v1/inboxes/${inbox.id}`, { config: { webhookUrl: hook.url } })).status).toBe(200);
    const A = await connectAgent(one.url, 'zhang.san@demo.goutong', 'goutong-demo', 'desktop');
    const B = await connectAgent(two.url, 'alice@demo.goutong', 'goutong-demo', 'desktop');
    const A2 = await connectAgent(two.url, 'zhang.san@demo.goutong', 'goutong-demo', 'mobile');
    try {
      for (const c of [A, B, A2]) await eventually(() => c.client.connectivity.value.status === 'online', 'online');
      // Inbound through process two reaches A on process one (poke over Redis).
      const r = await adminTwo('POST', `/api/v1/inboxes/${inbox.id}/inbound`, { externalId: 'scale-1', from: { identifier: '+8613900001111', name: '周杰' }, text: '跨进程测试' });
      const convId = r.body.conversationId as string;
      await eventually(() => A.client.conversation(convId), 'A (process one) sees the inbound message');
      // A replies on process one; B on process two sees it.
      const replyId = await A.client.dispatch({ type: 'send_reply', conversationId: convId, text: '收到，马上处理' });
      await eventually(async () => (await B.client.messages(convId)).some((m) => m.id === replyId), 'B (process two) sees the reply');
      // Drafts and presence: A's desktop on one, A's phone on two, B watching on two.
      const desk = A.client.openConversationDoc(convId);
      const phone = A2.client.openConversationDoc(convId);
      const watch = B.client.openConversationDoc(convId);
      await desk.ready;
      desk.draft('reply').insert(0, '草稿：');
      desk.setTyping('reply');
      await eventually(() => phone.draft('reply').toString() === '草稿：', 'draft crosses processes');
      await eventually(() => watch.presence().some((p) => p.typing === 'reply' && p.device === 'desktop'), 'presence crosses processes');
      phone.draft('reply').insert(phone.draft('reply').length, '已发货');
      await eventually(() => desk.draft('reply').toString() === '草稿：已发货', 'and back');
      desk.release();
      phone.release();
      watch.release();
      // Both processes run relay workers on the shared queue; more replies through both processes.
      const more: string[] = [];
      for (let i = 0; i < 6; i++) more.push(await (i % 2 ? A2 : A).client.dispatch({ type: 'send_reply', conversationId: convId, text: `reply ${i}` }));
      const replies = [replyId, ...more];
      const messages = async () => (await adminTwo('GET', `/api/v1/conversations/${convId}/messages?limit=200`)).body.items as { id: string; status: string }[];
      await eventually(async () => (await messages()).filter((m) => replies.includes(m.id) && m.status === 'accepted').length === replies.length, 'all replies accepted', 30_000);
      // A later marker went out through the same queue: whatever was to be sent has been sent.
      const marker = await B.client.dispatch({ type: 'send_reply', conversationId: convId, text: 'marker' });
      await eventually(() => hook.sendsOf(marker) === 1, 'the marker reached the provider', 30_000);
      // Each reply reached the provider exactly once.
      expect(replies.map((id) => hook.sendsOf(id))).toEqual(replies.map(() => 1));
      expect(new Set(hook.sent.map((x) => x.idempotencyKey)).size).toBe(hook.sent.length);
      expect((await messages()).filter((m) => m.id === replyId)).toHaveLength(1);
    } finally {
      await A.client.stop();
      await B.client.stop();
      await A2.client.stop();
    }
  });
});

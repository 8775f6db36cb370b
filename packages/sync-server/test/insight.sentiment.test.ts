/**
 * [insight] Sentiment and summaries against the real server, SQLite and PostgreSQL: an inbound
 * message's sentiment is stored on the message and the conversation and reaches devices in pulls;
 * an automation rule on negative sentiment raises the priority; the summary endpoint answers an
 * extractive summary in scope, masked for an agent without the personal-data permission.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type Dialect } from './support/inProcess.js';
import { api, loginToken } from './support/agentClient.js';
import { FakeWebhook } from './channels/fakes/fakeWebhook.js';

let n = 0;
const uuid = () => `01950000-0000-7000-8000-${String(++n).padStart(12, '0')}`;

for (const dialect of ['sqlite', 'postgres'] as Dialect[]) {
  describe(`sentiment and summaries (${dialect})`, () => {
    let s: Awaited<ReturnType<typeof startTestServer>>;
    const hook = new FakeWebhook();
    let admin: ReturnType<typeof api>;
    let inboxId: string;
    const inbound = async (who: number, text: string): Promise<string> => {
      const r = await admin('POST', `/api/v1/inboxes/${inboxId}/inbound`, { externalId: `sent-${dialect}-${++n}`, from: { identifier: `+86139100000${who}`, name: `Customer ${who}` }, text });
      expect(r.status).toBeLessThan(300);
      return String(r.body.conversationId ?? r.body.conversation?.id);
    };

    beforeAll(async () => {
      await hook.start();
      s = await startTestServer(dialect);
      admin = api(s.url, await loginToken(s.url, 'admin@demo.goutong'));
      inboxId = (await admin('POST', '/api/v1/inboxes', { name: 'Sentiment API', channel: 'api', config: { webhookUrl: hook.url }, teamIds: [] })).body.id;
    }, 120_000);
    afterAll(async () => {
      await s?.close();
      await hook.stop();
    });

    it('stores the sentiment on the message and the conversation; pulls carry it', async () => {
      const id = await inbound(1, '我要投诉！快递还没收到，太差了');
      const conv = (await admin('GET', `/api/v1/conversations/${id}`)).body;
      expect(conv.sentiment).toBe('negative');
      const msgs = (await admin('GET', `/api/v1/conversations/${id}/messages`)).body.items;
      expect(msgs[0].meta.sentiment).toBe('negative');
      await inbound(1, '收到了，谢谢，很满意');
      expect((await admin('GET', `/api/v1/conversations/${id}`)).body.sentiment).toBe('positive');
      const pulled = (await admin('POST', '/api/v1/sync/pull', { checkpoint: 0, limit: 2000 })).body;
      const rows = JSON.stringify(pulled);
      expect(rows).toContain('"sentiment":"positive"');
    });

    it('an automation rule on negative sentiment raises the priority', async () => {
      const rule = await admin('POST', '/api/v1/automation-rules', {
        name: 'Upset customers first', event: 'message_received', enabled: true,
        conditions: { match: 'all', items: [{ field: 'inbox', in: [inboxId] }, { field: 'sentiment', in: ['negative'] }] },
        actions: [{ type: 'set_priority', priority: 'urgent' }],
      });
      expect(rule.status).toBe(201);
      const calm = await inbound(2, 'Could you send me the invoice?');
      const upset = await inbound(3, 'This is terrible, my order never arrived and nobody answers!!');
      await s.ops.drain();
      expect((await admin('GET', `/api/v1/conversations/${upset}`)).body.priority).toBe('urgent');
      expect((await admin('GET', `/api/v1/conversations/${calm}`)).body.priority).not.toBe('urgent');
      const bad = await admin('POST', '/api/v1/automation-rules', { name: 'x', event: 'message_received', conditions: { match: 'all', items: [{ field: 'sentiment', in: ['furious'] }] }, actions: [{ type: 'set_priority', priority: 'high' }] });
      expect(bad.status).toBe(400);
      await admin('DELETE', `/api/v1/automation-rules/${rule.body.id}`);
    });

    it('summarises a long conversation, in scope and masked for an agent', async () => {
      const id = await inbound(4, 'Hello, this is 13812345678: my washing machine WM-200 leaks water from the door since Monday.');
      const say = async (text: string) => {
        const r = await admin('POST', '/api/v1/commands', { commands: [{ id: uuid(), deviceTime: Date.now(), type: 'send_reply', conversationId: id, text }] });
        expect(r.body.results[0].outcome).toBe('applied');
      };
      await say('Sorry to hear that. Could you send a photo of the door seal?');
      await inbound(4, 'The seal looks torn at the bottom.');
      await say('The door seal is covered by the warranty.');
      await inbound(4, 'Great. When can the technician come?');
      await say('A technician will replace the seal on Friday between 9 and 12.');
      const sum = await admin('GET', `/api/v1/conversations/${id}/summary`);
      expect(sum.status).toBe(200);
      expect(sum.body.worthIt).toBe(true);
      expect(sum.body.points[0].text).toMatch(/leaks water/);
      expect(sum.body.points[0].text).toContain('13812345678'); // the admin sees personal data
      expect(JSON.stringify(sum.body.points)).toContain('Friday');
      // zhang.san (agent role; an inbox without teams is visible to every agent) gets the number masked.
      const agent = api(s.url, await loginToken(s.url, 'zhang.san@demo.goutong'));
      const masked = await agent('GET', `/api/v1/conversations/${id}/summary`);
      expect(masked.status).toBe(200);
      expect(masked.body.points[0].text).toMatch(/leaks water/);
      expect(JSON.stringify(masked.body)).not.toContain('13812345678');
      expect(JSON.stringify(masked.body)).toContain('138****5678');
      expect((await admin('GET', '/api/v1/conversations/01950000-0000-7000-8000-999999999999/summary')).status).toBe(404);
    });
  });
}

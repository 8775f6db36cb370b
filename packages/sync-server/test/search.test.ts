/**
 * Full-text search over all history and read state as a per-agent fact, against the real server on
 * SQLite (FTS5 trigram) and PostgreSQL (pg_trgm): a customer's first message, an email address, a
 * phone number in any format, the agent's own reply, Chinese of one and two characters, scope (an
 * agent of another team finds nothing), masking (an agent without pii.view cannot find a clear phone
 * number, and sees it masked), paging, bad input, the migration's backfill of existing rows, and two
 * devices of one agent sharing what they read.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SearchHit } from '@goutong/core';
import { startTestServer, type Dialect } from './support/inProcess.js';
import { api, connectAgent, eventually, loginToken } from './support/agentClient.js';
import { migrate } from '../src/db/migrations.js';

let n = 0;
const uuid = () => `01950000-0000-7000-8000-${String(++n).padStart(12, '0')}`;
const q = (s: string, extra = '') => `/api/v1/search?q=${encodeURIComponent(s)}${extra}`;
const hl = (h: SearchHit) => h.snippet.highlights.map((r) => h.snippet.text.slice(r.start, r.end));

for (const dialect of ['sqlite', 'postgres'] as Dialect[]) {
  describe(`search and read state (${dialect})`, () => {
    let s: Awaited<ReturnType<typeof startTestServer>>;
    let admin: ReturnType<typeof api>;
    let agent: ReturnType<typeof api>;
    let bob: ReturnType<typeof api>;
    let wang: string;
    let ann: string;
    let sales: string;
    let firstMessage: string;
    let replyId: string;

    const inbound = async (inbox: string, externalId: string, identifier: string, name: string, text: string) => {
      const r = await admin('POST', `/api/v1/inboxes/${inbox}/inbound`, { externalId, from: { identifier, name }, text });
      expect(r.status, JSON.stringify(r.body)).toBeLessThan(300);
      return (r.body.conversationId ?? r.body.conversation?.id) as string;
    };
    const search = async (who: ReturnType<typeof api>, text: string, extra = '') => {
      const r = await who('GET', q(text, extra));
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      return r.body as { items: SearchHit[]; nextCursor: string | null };
    };

    beforeAll(async () => {
      s = await startTestServer(dialect);
      admin = api(s.url, await loginToken(s.url, 'admin@demo.goutong'));
      agent = api(s.url, await loginToken(s.url, 'zhang.san@demo.goutong'));
      bob = api(s.url, await loginToken(s.url, 'bob@demo.goutong'));
      const teams = (await admin('GET', '/api/v1/teams')).body.items as Array<{ id: string; name: string }>;
      const team = (name: string) => teams.find((t) => t.name === name)!.id;
      const support = (await admin('POST', '/api/v1/inboxes', { name: 'Search support', channel: 'api', teamIds: [team('Support')] })).body.id as string;
      const salesInbox = (await admin('POST', '/api/v1/inboxes', { name: 'Search sales', channel: 'api', teamIds: [team('Sales')] })).body.id as string;
      wang = await inbound(support, `s-${dialect}-1`, '+8613912345678', '王芳', '我的快递还没有到，单号 SF123456');
      await inbound(support, `s-${dialect}-2`, '+8613912345678', '王芳', '请打 13812345678 联系我');
      ann = await inbound(support, `s-${dialect}-3`, 'ann.lee@example.com', 'Ann Lee', 'Please resend the INVOICE for March');
      sales = await inbound(salesInbox, `s-${dialect}-4`, 'lead@example.org', 'Big Lead', 'A secret invoice question for sales');
      firstMessage = (await admin('GET', `/api/v1/conversations/${wang}/messages`)).body.items.find((m: { text: string }) => m.text.startsWith('我的快递')).id;
      replyId = uuid();
      const reply = await agent('POST', '/api/v1/commands', { commands: [{ id: replyId, deviceTime: Date.now(), type: 'send_reply', conversationId: wang, text: '已经帮您催促快递公司了' }] });
      expect(reply.body.results[0].outcome).toBe('applied');
    });
    afterAll(async () => s?.stopAll());

    it("finds a customer's first message and the agent's own reply (Chinese, two characters)", async () => {
      const { items } = await search(admin, '快递');
      const ids = items.map((h) => h.messageId);
      expect(ids).toEqual(expect.arrayContaining([firstMessage, replyId]));
      expect(ids.indexOf(replyId)).toBeLessThan(ids.indexOf(firstMessage)); // newest first
      const reply = items.find((h) => h.messageId === replyId)!;
      expect(reply).toMatchObject({ conversationId: wang, field: 'message', authorType: 'agent', direction: 'out', contactName: '王芳' });
      expect(hl(reply)).toEqual(['快递']);
      expect((await search(agent, '催促')).items.map((h) => h.messageId)).toEqual([replyId]);
      expect((await search(admin, 'SF123456')).items.map((h) => h.messageId)).toEqual([firstMessage]);
    });

    it('finds one Chinese character, an English word in any case, an email address and a phone number in any format', async () => {
      // (the demo workspace has a 王芳 of its own)
      expect((await search(admin, '芳')).items).toEqual(expect.arrayContaining([expect.objectContaining({ conversationId: wang, messageId: null, field: 'contact' })]));
      const invoice = (await search(admin, 'invoice')).items;
      expect(invoice.map((h) => h.conversationId).sort()).toEqual([ann, sales].sort());
      expect(hl(invoice.find((h) => h.conversationId === ann)!)).toEqual(['INVOICE']);
      expect((await search(admin, 'ann.lee@example.com')).items).toEqual([expect.objectContaining({ conversationId: ann, field: 'contact' })]);
      const phone = (await search(admin, '139 1234 5678')).items;
      expect(phone).toEqual([expect.objectContaining({ conversationId: wang, field: 'contact' })]);
      expect(hl(phone[0]!)).toEqual(['13912345678']); // the digits, wherever the separators were
      expect((await search(admin, 'zzzz no such thing')).items).toEqual([]);
    });

    it('stays inside the caller\'s scope', async () => {
      expect((await search(agent, 'invoice')).items.map((h) => h.conversationId)).toEqual([ann]);
      expect((await search(bob, '快递')).items).toEqual([]);
      expect((await search(bob, 'invoice')).items.map((h) => h.conversationId)).toEqual([sales]);
    });

    it('masks for a role without pii.view: a clear phone number or address finds nothing, a part of it shows masked', async () => {
      expect((await search(admin, '13812345678')).items.map((h) => h.conversationId)).toEqual([wang]);
      expect((await search(agent, '13812345678')).items).toEqual([]);
      expect((await search(agent, '+8613912345678')).items).toEqual([]);
      expect((await search(agent, 'ann.lee@example.com')).items).toEqual([]);
      const part = (await search(agent, '5678')).items;
      expect(part.length).toBeGreaterThan(0);
      const texts = JSON.stringify(part);
      expect(texts).not.toContain('13812345678');
      expect(texts).not.toContain('13912345678');
      expect(part.some((h) => h.snippet.text.includes('138****5678'))).toBe(true);
      const mail = (await search(agent, 'example.com')).items.find((h) => h.conversationId === ann)!;
      expect(mail.snippet.text).toBe('a***@example.com');
    });

    it('pages with a cursor and answers bad input with 400', async () => {
      const all = (await search(admin, 'e', '&limit=100')).items;
      expect(all.length).toBeGreaterThan(3);
      const paged: SearchHit[] = [];
      let cursor: string | null = null;
      do {
        const page: { items: SearchHit[]; nextCursor: string | null } = await search(admin, 'e', `&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        expect(page.items.length).toBeLessThanOrEqual(2);
        paged.push(...page.items);
        cursor = page.nextCursor;
      } while (cursor);
      expect(paged.map((h) => h.messageId ?? h.conversationId)).toEqual(all.map((h) => h.messageId ?? h.conversationId));
      for (const bad of ['/api/v1/search', q('   '), q('x', '&limit=0'), q('x', '&limit=1000'), q('x', '&cursor=garbage')]) {
        const r = await admin('GET', bad);
        expect(r.status, bad).toBe(400);
        expect(r.body.error.code).toBe('bad_request');
      }
      expect((await fetch(`${s.url}${q('x')}`)).status).toBe(401);
    });

    it('follows the facts: a renamed contact is found by the new name only', async () => {
      const contactId = (await admin('GET', `/api/v1/conversations/${ann}`)).body.contactId;
      const r = await admin('POST', '/api/v1/commands', { commands: [{ id: uuid(), deviceTime: Date.now(), type: 'update_contact', contactId, name: '安妮 Annie' }] });
      expect(r.body.results[0].outcome).toBe('applied');
      expect((await search(admin, '安妮')).items).toEqual([expect.objectContaining({ conversationId: ann, field: 'contact' })]);
      expect((await search(admin, 'Ann Lee')).items).toEqual([]);
    });

    it('backfills existing history when the index is created (the migration)', async () => {
      const before = (await search(admin, 'e', '&limit=100')).items.map((h) => h.messageId ?? h.conversationId);
      await s.db.exec(dialect === 'pg' || dialect === 'postgres' ? 'DROP TABLE search_docs; DROP TABLE read_marks' : 'DROP TABLE search_fts; DROP TABLE search_docs; DROP TABLE read_marks');
      await s.db.run('DELETE FROM schema_migrations WHERE id = 340');
      await migrate(s.db);
      expect((await search(admin, 'e', '&limit=100')).items.map((h) => h.messageId ?? h.conversationId)).toEqual(before);
      expect((await search(agent, '催促')).items.map((h) => h.messageId)).toEqual([replyId]);
    });

    it('read state: opening a conversation on the phone marks it read on the desktop of the same agent only', async () => {
      const phone = await connectAgent(s.url, 'zhang.san@demo.goutong', 'goutong-demo', 'mobile');
      const desktop = await connectAgent(s.url, 'zhang.san@demo.goutong', 'goutong-demo', 'desktop');
      const colleague = await connectAgent(s.url, 'alice@demo.goutong', 'goutong-demo', 'desktop');
      try {
        const conv = await eventually(() => phone.client.conversation(ann), 'the conversation on the phone');
        await eventually(() => desktop.client.conversation(ann), 'the conversation on the desktop');
        await eventually(() => colleague.client.conversation(ann), "the conversation on the colleague's desktop");
        expect(desktop.client.reads.isUnread(conv)).toBe(true);
        await phone.client.reads.markRead(conv);
        await eventually(() => !desktop.client.reads.isUnread(conv), 'the desktop to see it read');
        expect(desktop.client.reads.readUpTo(ann)).toBe(conv.lastMessageAt);
        // The colleague's devices never receive another agent's marks.
        await colleague.client.pullNow();
        expect(colleague.client.reads.isUnread(conv)).toBe(true);
        const marks = await s.db.all('SELECT agent_id FROM read_marks WHERE conversation_id = ?', [ann]);
        expect(marks).toHaveLength(1);
        // A mark on a conversation outside the agent's scope is refused like an unknown one.
        const out = await agent('POST', '/api/v1/commands', { commands: [{ id: uuid(), deviceTime: Date.now(), type: 'mark_read', conversationId: sales, upTo: Date.now() }] });
        expect(out.body.results[0]).toMatchObject({ outcome: 'rejected', error: { code: 'not_found' } });
        // A new customer message makes it unread again on every device.
        await inbound((await admin('GET', `/api/v1/conversations/${ann}`)).body.inboxId, `s-${dialect}-5`, 'ann.lee@example.com', 'Ann Lee', 'one more thing');
        await eventually(async () => desktop.client.reads.isUnread((await desktop.client.conversation(ann))!), 'unread again after a new message');
      } finally {
        for (const d of [phone, desktop, colleague]) await d.client.stop();
      }
    });
  });
}

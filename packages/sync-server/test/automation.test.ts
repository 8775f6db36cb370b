/**
 * Issue 10, automation part, on a real server (SQLite and PostgreSQL): templates, automation rules
 * (keyword → label/priority/team with the rule as author; a looping pair stops; unknown teams → 400),
 * auto-replies on every channel (email out of hours once per window, none to auto-submitted mail;
 * an SMS acknowledgement in Chinese), CSAT (an SMS "5" is stored against the surveyed conversation
 * of the right contact and opens nothing), ticket numbers and `[#n]` email threading, list search.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatOpening, localTime, nextOpening, silentLogger, Uuidv7Generator, type Calendar, type Inbox } from '@goutong/core';
import { receiveMail } from '../src/channels/email/provider.js';
import type { ProviderDeps } from '../src/channels/provider.js';
import { echoProvider, type EchoLog } from './channels/echo/index.js';
import { startChannelServer, type ChannelServer, type Dialect } from './channels/support.js';
import { eventually } from './support/agentClient.js';

const mail = (o: { from: string; to: string; subject: string; text: string; id: string; headers?: string }) =>
  Buffer.from(
    [`From: Customer <${o.from}>`, `To: ${o.to}`, `Subject: ${o.subject}`, `Message-ID: <${o.id}@customer.test>`, `Date: ${new Date().toUTCString()}`, ...(o.headers ? [o.headers] : []),
      'MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8', '', o.text, ''].join('\r\n'),
  );

for (const dialect of ['sqlite', 'postgres'] as Dialect[]) {
  describe(`automation, auto-replies, CSAT and tickets (${dialect})`, () => {
    let s: ChannelServer;
    const log: EchoLog = { sent: [], inbound: [], vetoed: [], statuses: [], started: 0, stopped: 0 };
    const token = crypto.randomBytes(16).toString('hex');
    let smsInbox: string;
    let mailInbox: Inbox;
    let deps: ProviderDeps;
    const clockFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'goutong-clock-')), 'offset');
    const sms = (id: string, from: string, text: string) =>
      fetch(`${s.url}/webhooks/echo/${smsInbox}/inbound?token=${token}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id, from, text }) })
        .then(async (r) => (await r.json()) as { conversationId: string; messageId: string });
    const drain = () => s.server.ops.drain();

    beforeAll(async () => {
      s = await startChannelServer({ dialect, providers: [echoProvider(log)], env: { GOUTONG_TEST_CLOCK: clockFile, GOUTONG_OPS_INTERVAL_MS: '60000' } });
      smsInbox = await s.createInbox({ name: 'Echo SMS', channel: 'sms', provider: 'echo', config: { sender: 'ACME' }, secrets: { token } });
      const mailId = await s.createInbox({
        name: 'Support mail', channel: 'email', provider: 'email',
        config: { address: 'support@acme.test', imap: { host: '127.0.0.1', port: 1, secure: false, user: 'x' }, smtp: { host: '127.0.0.1', port: 1 } },
        secrets: { imapPassword: 'x', smtpPassword: 'x' },
      });
      mailInbox = (await s.server.workspace.inbox(s.tenant.tenantId, mailId))!;
      deps = {
        workspace: s.server.workspace, logger: silentLogger, attachments: s.server.attachments, inboxSettings: (id) => s.server.inboxes.settings(id),
        ingest: (inbox, input) => s.server.workspace.ingestInbound(inbox, input), requireAgent: (async () => undefined) as never, authenticate: (async () => { throw new Error('unused'); }) as never,
      };
    }, 60_000);
    afterAll(async () => s?.close());

    it('templates: unknown variables are a 400; a template used by an inbox cannot be deleted (409)', async () => {
      const bad = await s.admin('POST', '/api/v1/templates', { name: 'Bad', body: { en: 'Hi {{contact.name}} {{order.total}}' } });
      expect(bad.status).toBe(400);
      expect(bad.body.error.message).toMatch(/order\.total/);
      const ok = await s.admin('POST', '/api/v1/templates', { name: 'Ack', body: { en: 'Thanks, ticket #{{ticket.number}}', 'zh-CN': '已收到，工单号 #{{ticket.number}}' } });
      expect(ok.status).toBe(201);
      expect((await s.admin('PATCH', `/api/v1/inboxes/${smsInbox}`, { autoReply: { acknowledge: { templateId: 'nope' } } })).status).toBe(400);
      expect((await s.admin('PATCH', `/api/v1/inboxes/${smsInbox}`, { autoReply: { acknowledge: { templateId: ok.body.id } } })).status).toBe(200);
      expect((await s.admin('DELETE', `/api/v1/templates/${ok.body.id}`)).status).toBe(409);
    });

    it('an SMS acknowledgement goes out in zh-CN for a Chinese message, with the ticket number; once per conversation', async () => {
      const before = log.sent.length;
      const r = await sms(`ack-${dialect}-1`, '+8613900000001', '你好，我的订单还没到');
      await drain();
      const conv = await s.conversation(r.conversationId);
      expect(conv?.ticketNumber).toBeGreaterThan(0);
      await eventually(() => log.sent.length > before, 'acknowledgement sent');
      expect(log.sent.slice(before).map((x) => x.text)).toEqual([`已收到，工单号 #${conv!.ticketNumber}`]);
      await sms(`ack-${dialect}-2`, '+8613900000001', '还在吗');
      await drain();
      await new Promise((r2) => setTimeout(r2, 300));
      expect(log.sent.slice(before).filter((x) => x.to === '+8613900000001')).toHaveLength(1);
    });

    it('an email out of hours gets the out-of-hours reply once (naming the next opening, [#ticket] subject); auto-submitted mail gets none', async () => {
      // The calendar (the SLA area's business_hours table): open only on the day after tomorrow, so closed now.
      const now = s.server.clock.now();
      const wd = localTime(now, 'Asia/Shanghai').weekday;
      const cal: Calendar = { timeZone: 'Asia/Shanghai', weekly: [{ day: (wd + 2) % 7, open: '09:00', close: '17:00' }], holidays: [] };
      await s.server.db.exec(`CREATE TABLE IF NOT EXISTS business_hours (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, name TEXT NOT NULL, time_zone TEXT NOT NULL,
        weekly TEXT NOT NULL, holidays TEXT NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)`);
      await s.server.db.run('INSERT INTO business_hours (id, tenant_id, name, time_zone, weekly, holidays, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)', [
        `bh-${dialect}`, s.tenant.tenantId, 'Shanghai office', cal.timeZone, JSON.stringify(cal.weekly), JSON.stringify(cal.holidays), now, now,
      ]);
      const patched = await s.admin('PATCH', `/api/v1/inboxes/${mailInbox.id}`, {
        businessHoursId: `bh-${dialect}`,
        autoReply: { outOfHours: { text: { en: 'We are closed. We open again {{business.nextOpening}}.', 'zh-CN': '我们已下班，{{business.nextOpening}} 上班。' } } },
      });
      expect(patched.status).toBe(200);
      mailInbox = (await s.server.workspace.inbox(s.tenant.tenantId, mailInbox.id))!;
      const first = await receiveMail(deps, mailInbox, mail({ from: 'ann@customer.test', to: 'support@acme.test', subject: 'Invoice question', text: 'Where is my invoice?', id: `m1-${dialect}` }));
      expect(first.kind).toBe('stored');
      const convId = first.kind === 'stored' ? first.conversationId : '';
      await drain();
      const msgs = await s.messages(convId);
      const auto = msgs.filter((m) => m.authorType === 'system');
      expect(auto).toHaveLength(1);
      const conv = await s.conversation(convId);
      expect(auto[0]!.text).toBe(`We are closed. We open again ${formatOpening(nextOpening(cal, now)!, 'Asia/Shanghai')}.`);
      expect(auto[0]!.subject).toBe(`Re: [#${conv!.ticketNumber}] Invoice question`);
      expect(auto[0]!.meta).toMatchObject({ autoReply: true, autoReplyKind: 'out_of_hours', language: 'en' });
      // A second mail in the window: threaded by its [#ticket] subject into the same conversation, no second reply.
      const second = await receiveMail(deps, mailInbox, mail({ from: 'ann@customer.test', to: 'support@acme.test', subject: `Re: [#${conv!.ticketNumber}] something else`, text: 'Any news?', id: `m2-${dialect}` }));
      expect(second.kind === 'stored' && second.conversationId).toBe(convId);
      expect(second.kind === 'stored' && second.threadedBy).toBe('ticket');
      await drain();
      expect((await s.messages(convId)).filter((m) => m.authorType === 'system')).toHaveLength(1);
      // Another sender cannot write into Ann's ticket by naming its number.
      const spoof = await receiveMail(deps, mailInbox, mail({ from: 'eve@evil.test', to: 'support@acme.test', subject: `[#${conv!.ticketNumber}] hi`, text: 'x', id: `m3-${dialect}` }));
      expect(spoof.kind === 'stored' && spoof.conversationId).not.toBe(convId);
      await drain();
      // Auto-submitted mail (an out-of-office) gets nothing.
      const ooo = await receiveMail(deps, mailInbox, mail({ from: 'bob@customer.test', to: 'support@acme.test', subject: 'Out of office', text: 'I am away', id: `m4-${dialect}`, headers: 'Auto-Submitted: auto-replied' }));
      expect(ooo.kind).toBe('stored');
      await drain();
      expect((await s.messages(ooo.kind === 'stored' ? ooo.conversationId : '')).filter((m) => m.authorType === 'system')).toHaveLength(0);
      // The list finds the ticket by number.
      const found = await s.admin('GET', `/api/v1/conversations?q=%23${conv!.ticketNumber}`);
      expect(found.body.items.map((c: { id: string }) => c.id)).toEqual([convId]);
    });

    it('voice: the voicemail greeting speaks the out-of-hours text in the caller\'s language (voicemail token required)', async () => {
      const created = await s.admin('POST', '/api/v1/inboxes', {
        name: 'Hotline', channel: 'voice', provider: 'sip', config: { wsUrl: 'ws://127.0.0.1:1', domain: 'lab.test' }, secrets: {}, teamIds: [s.supportTeam],
      });
      expect(created.status).toBe(201);
      const vm = created.body.generatedSecrets.voicemailToken as string;
      await s.admin('PATCH', `/api/v1/inboxes/${created.body.id}`, {
        businessHoursId: `bh-${dialect}`, autoReply: { outOfHours: { text: { en: 'We are closed until {{business.nextOpening}}.', 'zh-CN': '现在是非工作时间，{{business.nextOpening}} 上班。' } } },
      });
      const url = `${s.url}/api/v1/inboxes/${created.body.id}/voicemail-greeting?from=${encodeURIComponent('+8613900000099')}`;
      expect((await fetch(url)).status).toBe(401);
      const r = await fetch(url, { headers: { authorization: `Bearer ${vm}` } });
      const body = (await r.json()) as { kind: string; language: string; text: string };
      expect(body).toMatchObject({ kind: 'out_of_hours', language: 'zh-CN' });
      expect(body.text).toMatch(/^现在是非工作时间，\d{4}-\d{2}-\d{2} 09:00 \(Asia\/Shanghai\) 上班。$/);
    });

    it('rules referring to unknown teams, agents or templates are a 400', async () => {
      const r = await s.admin('POST', '/api/v1/automation-rules', { name: 'x', event: 'conversation_created', actions: [{ type: 'assign_team', teamId: 'deleted-team' }] });
      expect(r.status).toBe(400);
      expect(r.body.error.message).toMatch(/unknown team deleted-team/);
      expect((await s.admin('POST', '/api/v1/automation-rules', { name: 'x', event: 'nope', actions: [{ type: 'resolve' }] })).status).toBe(400);
      expect((await s.admin('POST', '/api/v1/automation-rules', { name: 'x', event: 'message_received', actions: [{ type: 'send_template', templateId: 'gone' }] })).status).toBe(400);
    });

    it('keyword 退款 → label refund, priority high, team; the rule is the author', async () => {
      const rule = await s.admin('POST', '/api/v1/automation-rules', {
        name: 'Refunds', event: 'message_received',
        conditions: { match: 'all', items: [{ field: 'text', containsAny: ['退款', 'refund'] }, { field: 'channel', in: ['sms'] }] },
        actions: [{ type: 'add_label', label: 'refund' }, { type: 'set_priority', priority: 'high' }, { type: 'assign_team', teamId: s.supportTeam }],
      });
      expect(rule.status).toBe(201);
      const r = await sms(`kw-${dialect}-1`, '+8613900000002', '我要ＲＥＦＵＮＤ，不，我要退款');
      await drain();
      const conv = await s.conversation(r.conversationId);
      expect(conv).toMatchObject({ labels: ['refund'], priority: 'high', teamId: s.supportTeam });
      const events = (await s.messages(r.conversationId)).filter((m) => m.kind === 'event');
      expect(events.map((e) => e.text)).toContain('Rule Refunds set priority to high');
      expect(events.every((e) => e.meta['ruleId'] === rule.body.id && e.authorType === 'system')).toBe(true);
      await s.admin('PATCH', `/api/v1/automation-rules/${rule.body.id}`, { enabled: false });
    });

    it('a pair of rules that would loop stops (each rule runs once for the root event)', async () => {
      const up = await s.admin('POST', '/api/v1/automation-rules', {
        name: 'Up', event: 'priority_changed', conditions: { match: 'all', items: [{ field: 'priority', in: ['low'] }] }, actions: [{ type: 'set_priority', priority: 'urgent' }],
      });
      const down = await s.admin('POST', '/api/v1/automation-rules', {
        name: 'Down', event: 'priority_changed', conditions: { match: 'all', items: [{ field: 'priority', in: ['urgent'] }] }, actions: [{ type: 'set_priority', priority: 'low' }],
      });
      const r = await sms(`loop-${dialect}-1`, '+8613900000003', 'hello');
      await drain();
      expect((await s.admin('PATCH', `/api/v1/conversations/${r.conversationId}`, { priority: 'low' })).status).toBe(200);
      await drain();
      const events = (await s.messages(r.conversationId)).filter((m) => m.kind === 'event' && m.meta['action'] === 'automation');
      expect(events.map((e) => e.meta['ruleName'])).toEqual(['Up', 'Down']);
      expect((await s.conversation(r.conversationId))?.priority).toBe('low');
      for (const x of [up, down]) await s.admin('DELETE', `/api/v1/automation-rules/${x.body.id}`);
    });

    it('a webhook action posts signed JSON through a durable job (retried after a failure)', async () => {
      const got: { body: string; sig: string }[] = [];
      let fail = true;
      const receiver = http.createServer((req, res) => {
        let body = '';
        req.on('data', (c: Buffer) => (body += c.toString()));
        req.on('end', () => {
          if (fail) {
            fail = false;
            res.writeHead(503).end();
            return;
          }
          got.push({ body, sig: String(req.headers['x-goutong-signature'] ?? '') });
          res.writeHead(204).end();
        });
      });
      await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
      const port = (receiver.address() as { port: number }).port;
      const rule = await s.admin('POST', '/api/v1/automation-rules', {
        name: 'Notify', event: 'conversation_created', conditions: { match: 'all', items: [{ field: 'text', containsAny: ['webhook-please'] }] },
        actions: [{ type: 'webhook', url: `http://127.0.0.1:${port}/hook`, secret: 'hook-secret-123' }],
      });
      expect(rule.status).toBe(201);
      expect(rule.body.actions[0].secret).toBe('********');
      const r = await sms(`hook-${dialect}-1`, '+8613900000031', 'webhook-please');
      await drain();
      s.server.clock.advance(5_000); // the retry's backoff
      await eventually(() => got.length === 1, 'webhook delivered after one failure', 20_000);
      const [t, v1] = got[0]!.sig.split(',').map((x) => x.split('=')[1]!);
      expect(v1).toBe(crypto.createHmac('sha256', 'hook-secret-123').update(`${t}.${got[0]!.body}`).digest('hex'));
      expect(JSON.parse(got[0]!.body)).toMatchObject({ event: 'conversation_created', ruleId: rule.body.id, conversation: { id: r.conversationId } });
      await s.admin('DELETE', `/api/v1/automation-rules/${rule.body.id}`);
      receiver.close();
    });

    it('a CSAT SMS reply "5" is stored against the right conversation (two contacts open) and reopens nothing', async () => {
      expect((await s.admin('PATCH', `/api/v1/inboxes/${smsInbox}`, { csat: { enabled: true } })).status).toBe(200);
      const a = await sms(`csat-${dialect}-a1`, '+8613900000011', 'Hi, my parcel is late');
      const b = await sms(`csat-${dialect}-b1`, '+8613900000012', 'Hello, question');
      await drain();
      const before = log.sent.length;
      expect((await s.admin('PATCH', `/api/v1/conversations/${a.conversationId}`, { status: 'resolved' })).status).toBe(200);
      await drain();
      await eventually(() => log.sent.slice(before).some((x) => x.to === '+8613900000011' && /1.*5/.test(x.text)), 'survey sent to A');
      const convsBefore = (await s.conversations(smsInbox)).length;
      await sms(`csat-${dialect}-a2`, '+8613900000011', '5 very good');
      await sms(`csat-${dialect}-b2`, '+8613900000012', '5');
      await drain();
      const ca = await s.conversation(a.conversationId);
      expect(ca).toMatchObject({ status: 'resolved', csat: { rating: 5, comment: 'very good' } });
      expect((await s.conversation(b.conversationId))?.csat ?? null).toBeNull();
      expect((await s.conversations(smsInbox)).length).toBe(convsBefore);
      const answers = await s.admin('GET', '/api/v1/csat');
      expect(answers.body.items.filter((x: { conversationId: string }) => x.conversationId === a.conversationId)).toHaveLength(1);
      // The CSAT dashboard counts the survey sent and its answer, with the comment.
      const report = await s.admin('GET', `/api/v1/reports/csat?from=${s.server.clock.now() - 30 * 86_400_000}&to=${s.server.clock.now() + 86_400_000}&inboxId=${smsInbox}`);
      expect(report.status).toBe(200);
      expect(report.body).toMatchObject({ sent: 1, responses: 1, responseRate: 1, average: 5, satisfied: 1, distribution: [0, 0, 0, 0, 1] });
      expect(report.body.comments).toEqual([expect.objectContaining({ conversationId: a.conversationId, rating: 5, comment: 'very good' })]);
      // Resolving again sends no second survey.
      await s.admin('PATCH', `/api/v1/conversations/${a.conversationId}`, { status: 'open' });
      await s.admin('PATCH', `/api/v1/conversations/${a.conversationId}`, { status: 'resolved' });
      await drain();
      expect(log.sent.slice(before).filter((x) => x.to === '+8613900000011' && /1.*5/.test(x.text))).toHaveLength(1);
    });

    it('merge keeps every message (same customer only); link shows both ways; both are commands', async () => {
      const gen = new Uuidv7Generator(() => Date.now(), (n) => crypto.randomBytes(n));
      const cmd = async (c: Record<string, unknown>) => (await s.admin('POST', '/api/v1/commands', { commands: [{ id: gen.next(), deviceTime: Date.now(), ...c }] })).body.results[0];
      const a1 = await sms(`merge-${dialect}-1`, '+8613900000021', 'first');
      // Closed is final (a resolved one would reopen within the reopen window): the next message opens a new conversation.
      await s.admin('PATCH', `/api/v1/conversations/${a1.conversationId}`, { status: 'closed' });
      const a2 = await sms(`merge-${dialect}-2`, '+8613900000021', 'second, a new conversation');
      await sms(`merge-${dialect}-3`, '+8613900000021', 'third');
      const other = await sms(`merge-${dialect}-4`, '+8613900000022', 'someone else');
      await drain();
      expect(a2.conversationId).not.toBe(a1.conversationId);
      const before1 = (await s.messages(a1.conversationId)).map((m) => m.id);
      const before2 = (await s.messages(a2.conversationId)).map((m) => m.id);
      const refused = await cmd({ type: 'merge_conversation', conversationId: other.conversationId, targetId: a2.conversationId });
      expect(refused).toMatchObject({ outcome: 'rejected', error: { code: 'bad_request' } });
      await s.admin('PATCH', `/api/v1/conversations/${a1.conversationId}`, { status: 'open' });
      const merged = await cmd({ type: 'merge_conversation', conversationId: a2.conversationId, targetId: a1.conversationId });
      expect(merged.outcome).not.toBe('rejected');
      const target = await s.messages(a1.conversationId);
      for (const id of [...before1, ...before2]) expect(target.map((m) => m.id)).toContain(id);
      const source = await s.conversation(a2.conversationId);
      expect(source).toMatchObject({ status: 'closed', mergedIntoId: a1.conversationId });
      expect((await s.messages(a2.conversationId)).map((m) => m.text)).toEqual([`Merged into #${(await s.conversation(a1.conversationId))!.ticketNumber}`]);
      expect((await cmd({ type: 'merge_conversation', conversationId: a2.conversationId, targetId: a1.conversationId })).outcome).toBe('rejected');
      const linked = await cmd({ type: 'link_conversation', conversationId: a1.conversationId, relatedId: other.conversationId });
      expect(linked.outcome).not.toBe('rejected');
      expect((await s.conversation(a1.conversationId))?.relatedIds).toContain(other.conversationId);
      expect((await s.conversation(other.conversationId))?.relatedIds).toEqual([a1.conversationId]);
    });

    it('the email survey is a link to a public page that takes 1-5 stars and a comment once', async () => {
      await s.admin('PATCH', `/api/v1/inboxes/${mailInbox.id}`, { csat: { enabled: true, baseUrl: s.url } });
      const m = await receiveMail(deps, mailInbox, mail({ from: 'carl@customer.test', to: 'support@acme.test', subject: 'Thanks', text: 'all good', id: `m5-${dialect}` }));
      const convId = m.kind === 'stored' ? m.conversationId : '';
      await drain();
      await s.admin('PATCH', `/api/v1/conversations/${convId}`, { status: 'resolved' });
      await drain();
      const survey = (await s.messages(convId)).find((x) => x.meta['csatSurvey'] === true);
      const link = /https?:\/\/\S+\/csat\/[A-Za-z0-9_-]+/.exec(survey?.text ?? '')?.[0];
      expect(link).toBeTruthy();
      const page = await fetch(`${link}?lang=zh-CN`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('请为本次服务评分');
      const post = await fetch(link!, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'rating=4&comment=%E5%BE%88%E5%A5%BD&lang=en' });
      expect(await post.text()).toContain('Thank you');
      expect((await s.conversation(convId))?.csat).toEqual({ rating: 4, comment: '很好' });
      const again = await fetch(link!, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify({ rating: 1 }) });
      expect(again.status).toBe(409);
      expect((await fetch(link!, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ rating: 9 }) })).status).toBe(400);
    });
  });
}

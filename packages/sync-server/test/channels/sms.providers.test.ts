import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeTwilio } from './fakes/fakeTwilio.js';
import { FakeAliyun } from './fakes/fakeAliyun.js';
import { eventually, startChannelServer, type ChannelServer } from './support.js';

/**
 * Twilio and Aliyun against fakes that speak their documented wire protocols and check signatures,
 * on SQLite and on PostgreSQL.
 */
describe.each([['sqlite'], ['postgres']] as const)('SMS providers on %s', (dialect) => {
  let s: ChannelServer;
  const twilio = new FakeTwilio();
  const aliyun = new FakeAliyun();

  beforeAll(async () => {
    await twilio.start();
    await aliyun.start();
    s = await startChannelServer({ dialect });
  });
  afterAll(async () => {
    await s?.close();
    await twilio.stop();
    await aliyun.stop();
  });

  describe('Twilio', () => {
    let inboxId: string;
    let inboundUrl: string;
    const customer = '+8613800138000';

    beforeAll(async () => {
      inboxId = await s.createInbox({
        name: 'Twilio SMS',
        channel: 'sms',
        provider: 'twilio',
        config: { accountSid: twilio.accountSid, from: '+15005550006', webhookBaseUrl: s.url, apiBaseUrl: twilio.baseUrl, pricePerSegment: 0.0079, currency: 'USD' },
        secrets: { authToken: twilio.authToken },
      });
      inboundUrl = `${s.url}/webhooks/twilio/${inboxId}/inbound`;
    });

    it('keeps the auth token secret in the API', async () => {
      const r = await s.admin('GET', `/api/v1/inboxes/${inboxId}`);
      expect(r.status).toBe(200);
      expect(JSON.stringify(r.body)).not.toContain(twilio.authToken);
      expect(r.body.secretsSet).toEqual(['authToken']);
    });

    it('stores a signed inbound message once; a replay or a redelivery creates nothing new', async () => {
      const m = twilio.inbound(inboundUrl, { from: customer, to: '+15005550006', body: '你好，我的订单还没到' }, { idempotencyToken: 'tok-1' });
      const res = await m.send();
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/xml');
      expect(await res.text()).toContain('<Response>');
      const convs = await s.conversations(inboxId);
      expect(convs).toHaveLength(1);
      const msgs = await s.messages(convs[0]!.id);
      expect(msgs).toHaveLength(1);
      expect(msgs[0]).toMatchObject({ direction: 'in', text: '你好，我的订单还没到', meta: { messageSid: m.sid, segments: 1, encoding: 'UCS-2' } });

      // Same delivery again (same idempotency token), and a Twilio retry with a new token: nothing new.
      expect((await m.send()).status).toBe(200);
      expect((await twilio.webhook(inboundUrl, m.params, { idempotencyToken: 'tok-2' })).status).toBe(200);
      expect(await s.count('SELECT COUNT(*) AS n FROM messages WHERE inbox_id = ?', [inboxId])).toBe(1);
    });

    it('refuses a webhook with a wrong signature with 403 and stores nothing', async () => {
      const before = await s.count('SELECT COUNT(*) AS n FROM messages');
      const contactsBefore = await s.count('SELECT COUNT(*) AS n FROM contacts');
      const forged = twilio.inbound(inboundUrl, { from: '+15551112222', to: '+15005550006', body: 'forged' }, { signWith: 'not-the-token' });
      expect((await forged.send()).status).toBe(403);
      // A signature for another URL (the status endpoint) does not pass either.
      const res = await twilio.webhook(inboundUrl, forged.params, { signature: 'AAAAAAAAAAAAAAAAAAAAAAAAAAA=' });
      expect(res.status).toBe(403);
      const unknownInbox = await twilio.webhook(`${s.url}/webhooks/twilio/nope/inbound`, forged.params);
      expect(unknownInbox.status).toBe(403);
      expect(await s.count('SELECT COUNT(*) AS n FROM messages')).toBe(before);
      expect(await s.count('SELECT COUNT(*) AS n FROM contacts')).toBe(contactsBefore);
    });

    it('sends a reply (form, basic auth), records its cost by segment, and takes signed status callbacks', async () => {
      const conv = (await s.conversations(inboxId))[0]!;
      const text = `Your parcel left the depot today. ${'Tracking details follow. '.repeat(7)}`.trim(); // > 160 GSM-7 septets
      expect(text.length).toBeGreaterThan(160);
      const r = await s.reply(conv.id, text);
      expect(r.status).toBe(201);
      const sent = await eventually(async () => {
        const m = await s.message(r.body.id);
        return m?.status === 'accepted' ? m : null;
      }, 'reply accepted');
      expect(twilio.sent.filter((x) => x.body === text)).toHaveLength(1);
      const t = twilio.sent.find((x) => x.body === text)!;
      expect(t).toMatchObject({ to: customer, from: '+15005550006' });
      expect(t.statusCallback).toBe(`${s.url}/webhooks/twilio/${inboxId}/status?m=${r.body.id}`);
      expect(sent.meta.cost).toEqual({ amount: 0.0158, currency: 'USD', units: 2 });
      expect((await s.server.db.one<{ p: string }>('SELECT provider_message_id AS p FROM messages WHERE id = ?', [r.body.id]))!.p).toBe(t.sid);

      expect((await twilio.status(t.sid, 'sent')).status).toBe(204);
      expect((await s.message(r.body.id))!.status).toBe('accepted');
      const delivered = await twilio.status(t.sid, 'delivered', { idempotencyToken: 'status-1' });
      expect(delivered.status).toBe(204);
      expect((await s.message(r.body.id))!.status).toBe('delivered');
      // Replayed callback: nothing changes.
      const seq = (await s.message(r.body.id))!.seq;
      expect((await twilio.status(t.sid, 'delivered', { idempotencyToken: 'status-1' })).status).toBe(204);
      expect((await s.message(r.body.id))!.seq).toBe(seq);
      // A forged "undelivered" is refused.
      const forged = await twilio.webhook(t.statusCallback!, [['MessageSid', t.sid], ['MessageStatus', 'undelivered']], { signWith: 'x' });
      expect(forged.status).toBe(403);
      expect((await s.message(r.body.id))!.status).toBe('delivered');
    });

    it('an undelivered status marks the reply failed with the error code', async () => {
      const conv = (await s.conversations(inboxId))[0]!;
      const r = await s.reply(conv.id, '我们会尽快处理。');
      await eventually(async () => (await s.message(r.body.id))?.status === 'accepted', 'accepted');
      const t = twilio.sent.find((x) => x.body === '我们会尽快处理。')!;
      expect((await s.message(r.body.id))!.meta.cost).toEqual({ amount: 0.0079, currency: 'USD', units: 1 });
      await twilio.status(t.sid, 'undelivered', { errorCode: '30006' });
      const m = (await s.message(r.body.id))!;
      expect(m.status).toBe('failed');
      expect(m.statusReason).toContain('30006');
    });

    it('a number Twilio refuses fails the reply for good with Twilio\'s reason', async () => {
      const m = twilio.inbound(inboundUrl, { from: 'SHORTCODE-X', to: '+15005550006', body: 'hi' });
      expect((await m.send()).status).toBe(200);
      const conv = (await s.conversations(inboxId)).find((c) => c.contactName === 'SHORTCODE-X')!;
      const r = await s.reply(conv.id, 'hello');
      const failed = await eventually(async () => {
        const x = await s.message(r.body.id);
        return x?.status === 'failed' ? x : null;
      }, 'failed');
      expect(failed.statusReason).toContain('21211');
    });

    it('STOP records the opt-out; replies are refused with a clear reason, even one queued before it; START opts back in', async () => {
      const conv = (await s.conversations(inboxId)).find((c) => c.contactName === customer)!;
      // A reply waits while Twilio is unreachable…
      await twilio.down();
      const queued = await s.reply(conv.id, 'Any update on your side?');
      expect(queued.status).toBe(201);
      await eventually(async () => (await s.message(queued.body.id))?.statusReason?.startsWith('retrying') ?? false, 'a failed attempt');
      // …and the customer texts STOP meanwhile.
      expect((await twilio.inbound(inboundUrl, { from: customer, to: '+15005550006', body: 'STOP' }).send()).status).toBe(200);
      const contact = (await s.contact(conv.contactId))!;
      expect(contact.attributes).toMatchObject({ optedOut: 'true', optedOutKeyword: 'STOP', optedOutChannel: 'sms' });
      await twilio.up();
      const refused = await eventually(async () => {
        const x = await s.message(queued.body.id);
        return x?.status === 'failed' ? x : null;
      }, 'queued reply refused', 20_000);
      expect(refused.statusReason).toMatch(/opted out.*STOP/);
      expect(twilio.sent.some((x) => x.body === 'Any update on your side?')).toBe(false);
      // A new reply is refused at once by the API.
      const r = await s.reply(conv.id, 'hello again');
      expect(r.status).toBe(403);
      expect(r.body.error.message).toContain('opted out');
      // START opts back in.
      expect((await twilio.inbound(inboundUrl, { from: customer, to: '+15005550006', body: 'START' }).send()).status).toBe(200);
      expect((await s.contact(conv.contactId))!.attributes.optedOut).toBeUndefined();
      const ok = await s.reply(conv.id, 'Welcome back');
      expect(ok.status).toBe(201);
      await eventually(async () => (await s.message(ok.body.id))?.status === 'accepted', 'accepted after START');
    });

    it('fault: Twilio down (connection refused, then 503) — replies wait and go out once it is back, each exactly once', async () => {
      const conv = (await s.conversations(inboxId)).find((c) => c.contactName === customer)!;
      await twilio.down();
      const texts = ['Reply one while down', 'Reply two while down'];
      const ids: string[] = [];
      for (const t of texts) ids.push((await s.reply(conv.id, t)).body.id);
      for (const id of ids) await eventually(async () => (await s.message(id))?.statusReason?.includes('provider unreachable') ?? false, 'connection refused seen');
      for (const id of ids) expect((await s.message(id))!.status).toBe('queued');
      twilio.failNext = 1;
      await twilio.up();
      for (const id of ids) await eventually(async () => (await s.message(id))?.status === 'accepted', 'accepted once back', 30_000);
      for (const t of texts) expect(twilio.sent.filter((x) => x.body === t)).toHaveLength(1);
      expect(twilio.log.some((l) => l.outcome === 'failed')).toBe(true);
      const jobs = await s.server.db.all<{ state: string; attempts: number }>(`SELECT state, attempts FROM relay_jobs WHERE message_id IN (?, ?)`, ids);
      expect(jobs.map((j) => j.state)).toEqual(['done', 'done']);
      for (const j of jobs) expect(Number(j.attempts)).toBeGreaterThanOrEqual(2);
    }, 60_000);
  });

  describe('Aliyun', () => {
    let inboxId: string;
    const pushToken = crypto.randomBytes(16).toString('hex');
    const phone = '13900139000';
    const upUrl = () => `${s.url}/webhooks/aliyun/${inboxId}/smsup?token=${pushToken}`;
    const reportUrl = () => `${s.url}/webhooks/aliyun/${inboxId}/smsreport?token=${pushToken}`;

    beforeAll(async () => {
      inboxId = await s.createInbox({
        name: '阿里云短信',
        channel: 'sms',
        provider: 'aliyun',
        config: { accessKeyId: aliyun.accessKeyId, signName: '沟通', templateCode: 'SMS_71390007', templateParam: 'content', endpoint: aliyun.baseUrl, pricePerSegment: 0.045 },
        secrets: { accessKeySecret: aliyun.accessKeySecret, pushToken },
      });
    });

    it('stores pushed inbound messages (SmsUp), answers {"code":0}, and drops a repeated push', async () => {
      const res = await aliyun.pushUp(upUrl(), [{ phone, content: '请问发票什么时候开？', sequenceId: 777 }]);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ code: 0 });
      const again = await aliyun.pushUp(upUrl(), [{ phone, content: '请问发票什么时候开？', sequenceId: 777 }]);
      expect((await again.json()).code).toBe(0);
      const convs = await s.conversations(inboxId);
      expect(convs).toHaveLength(1);
      const msgs = await s.messages(convs[0]!.id);
      expect(msgs.map((m) => m.text)).toEqual(['请问发票什么时候开？']);
    });

    it('refuses a push without the right token and stores nothing', async () => {
      const before = await s.count('SELECT COUNT(*) AS n FROM messages WHERE inbox_id = ?', [inboxId]);
      const bad = await aliyun.pushUp(`${s.url}/webhooks/aliyun/${inboxId}/smsup?token=wrong`, [{ phone: '13700000000', content: 'x' }]);
      expect(bad.status).toBe(403);
      const none = await aliyun.pushUp(`${s.url}/webhooks/aliyun/${inboxId}/smsup`, [{ phone: '13700000000', content: 'x' }]);
      expect(none.status).toBe(403);
      expect(await s.count('SELECT COUNT(*) AS n FROM messages WHERE inbox_id = ?', [inboxId])).toBe(before);
    });

    it('sends a templated reply signed with v1, records cost, and receipts (SmsReport) mark it delivered or failed', async () => {
      const conv = (await s.conversations(inboxId))[0]!;
      const text = '您好，发票已开具，请查收邮件。';
      const r = await s.reply(conv.id, text);
      const m = await eventually(async () => {
        const x = await s.message(r.body.id);
        return x?.status === 'accepted' ? x : null;
      }, 'accepted');
      const sent = aliyun.sent.find((x) => x.outId === r.body.id)!;
      expect(sent).toMatchObject({ phoneNumbers: phone, signName: '沟通', templateCode: 'SMS_71390007', templateParam: { content: text } });
      expect(m.meta.cost).toEqual({ amount: 0.045, currency: 'CNY', units: 1 });
      const rep = await aliyun.pushReport(reportUrl(), [{ bizId: sent.bizId, success: true }]);
      expect(await rep.json()).toMatchObject({ code: 0 });
      expect((await s.message(r.body.id))!.status).toBe('delivered');
      const seq = (await s.message(r.body.id))!.seq;
      await aliyun.pushReport(reportUrl(), [{ bizId: sent.bizId, success: true }]);
      expect((await s.message(r.body.id))!.seq).toBe(seq);

      const long = '很抱歉给您带来不便。'.repeat(8); // 80 characters + 【沟通】 = 84 > 70: two billed segments
      const r2 = await s.reply(conv.id, long);
      const m2 = await eventually(async () => {
        const x = await s.message(r2.body.id);
        return x?.status === 'accepted' ? x : null;
      }, 'accepted');
      expect(m2.meta.cost).toEqual({ amount: 0.09, currency: 'CNY', units: 2 });
      const sent2 = aliyun.sent.find((x) => x.outId === r2.body.id)!;
      await aliyun.pushReport(reportUrl(), [{ bizId: sent2.bizId, success: false, errCode: 'MK:0012', errMsg: '空号' }]);
      const failed = (await s.message(r2.body.id))!;
      expect(failed.status).toBe('failed');
      expect(failed.statusReason).toContain('MK:0012');
    });

    it('a lost answer: before trying again the relay finds the first attempt in QuerySendDetails and sends nothing twice', async () => {
      const conv = (await s.conversations(inboxId))[0]!;
      aliyun.acceptWithoutAnswer = 1;
      const queriedBefore = aliyun.queried;
      const text = '您的退款已到账。';
      const r = await s.reply(conv.id, text);
      // The first attempt reached Aliyun, whose answer was lost: the job waits for its retry; make it due.
      await eventually(() => aliyun.sent.some((x) => x.outId === r.body.id), 'the first attempt reached Aliyun');
      const due = setInterval(() => void s.server.db.run("UPDATE relay_jobs SET next_attempt_at = 0 WHERE state = 'queued'").then(() => s.server.relay.kick()), 100);
      try {
        await eventually(async () => (await s.message(r.body.id))?.status === 'accepted', 'accepted after reconciling', 20_000);
      } finally {
        clearInterval(due);
      }
      expect(aliyun.sent.filter((x) => x.outId === r.body.id)).toHaveLength(1);
      expect(aliyun.queried).toBeGreaterThan(queriedBefore);
      expect((await s.message(r.body.id))!.meta).toMatchObject({ reconciled: true });
    });

    it('a wrong AccessKeySecret is refused by Aliyun (SignatureDoesNotMatch) and fails the reply with that reason', async () => {
      const patched = await s.admin('PATCH', `/api/v1/inboxes/${inboxId}`, { secrets: { accessKeySecret: 'wrong-secret' } });
      expect(patched.status).toBe(200);
      const conv = (await s.conversations(inboxId))[0]!;
      const r = await s.reply(conv.id, '测试');
      const failed = await eventually(async () => {
        const x = await s.message(r.body.id);
        return x?.status === 'failed' ? x : null;
      }, 'failed');
      expect(failed.statusReason).toContain('SignatureDoesNotMatch');
      expect(aliyun.refused.some((x) => x.code === 'SignatureDoesNotMatch')).toBe(true);
      await s.admin('PATCH', `/api/v1/inboxes/${inboxId}`, { secrets: { accessKeySecret: aliyun.accessKeySecret } });
    });

    it('退订 opts the number out', async () => {
      await aliyun.pushUp(upUrl(), [{ phone, content: '退订' }]);
      const conv = (await s.conversations(inboxId))[0]!;
      expect((await s.contact(conv.contactId))!.attributes).toMatchObject({ optedOut: 'true', optedOutKeyword: '退订' });
      const r = await s.reply(conv.id, '好的');
      expect(r.status).toBe(403);
    });
  });
});

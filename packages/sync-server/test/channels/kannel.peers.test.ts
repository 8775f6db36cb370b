import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { missingPeers, startKannel, type Kannel } from '../peers/peers.js';
import { eventually, startChannelServer, type ChannelServer } from './support.js';

/**
 * SMS through a real Kannel (bearerbox + smsbox) with fakesmsc as the SMSC: inbound from the phone
 * becomes a conversation; the reply reaches fakesmsc; the delivery report marks it delivered;
 * Chinese text survives both ways.
 */
const missing = missingPeers(['bearerbox', 'smsbox', 'fakesmsc']);

describe('SMS with Kannel and fakesmsc', () => {
  let kannel: Kannel;
  let s: ChannelServer;
  let inboxId: string;
  const token = crypto.randomBytes(16).toString('hex');
  const phone = '+8613800138000';

  beforeAll(async () => {
    if (missing) throw new Error(missing);
    s = await startChannelServer();
    inboxId = await s.createInbox({
      name: 'Kannel SMS',
      channel: 'sms',
      provider: 'kannel',
      config: { sendsmsUrl: 'http://127.0.0.1:9/cgi-bin/sendsms', username: 'lab', from: '12345', webhookBaseUrl: s.url, pricePerSegment: 0.05, currency: 'CNY' },
      secrets: { password: 'labpw', webhookToken: token },
    });
    kannel = await startKannel(`${s.url}/webhooks/kannel/${inboxId}/inbound?token=${token}&from=%p&to=%P&text=%a&coding=%c&charset=%C&id=%I&ts=%t&smsc=%i`);
    const r = await s.admin('PATCH', `/api/v1/inboxes/${inboxId}`, { config: { sendsmsUrl: kannel.sendsmsUrl } });
    expect(r.status).toBe(200);
  }, 90_000);

  afterAll(async () => {
    await kannel?.stop();
    await s?.close();
  });

  let convId: string;

  it('an SMS from the phone becomes a conversation, Chinese intact', async () => {
    kannel.mo(phone, '12345', '你好，我要退货，订单号 4471。');
    const conv = await eventually(async () => (await s.conversations(inboxId))[0] ?? null, 'conversation from Kannel', 20_000).catch((e: unknown) => {
      throw new Error(`${String(e)}\n${kannel.log()}`);
    });
    convId = conv.id;
    const [m] = await s.messages(convId);
    expect(m).toMatchObject({ direction: 'in', text: '你好，我要退货，订单号 4471。', meta: { provider: 'kannel', smsc: 'FAKE', segments: 1, encoding: 'UCS-2' } });
    expect(conv.contactName).toBe(phone);
  });

  it('the reply reaches fakesmsc (UCS-2, Chinese intact) and the delivery report marks it delivered', async () => {
    const text = '好的，请把退货地址发给您。Thanks!';
    const r = await s.reply(convId, text);
    expect(r.status).toBe(201);
    const got = await eventually(() => kannel.received().find((x) => x.text === text) ?? null, 'fakesmsc got the reply', 20_000).catch((e: unknown) => {
      throw new Error(`${String(e)}\n${kannel.log()}`);
    });
    expect(got).toMatchObject({ from: '12345', to: phone, type: 'ucs-2' });
    const delivered = await eventually(async () => {
      const m = await s.message(r.body.id);
      return m?.status === 'delivered' ? m : null;
    }, 'DLR delivered', 20_000);
    expect(delivered.meta.cost).toEqual({ amount: 0.05, currency: 'CNY', units: 1 });
    expect(String(delivered.meta.providerStatus)).toMatch(/^dlr 1/);
  });

  it('a plain GSM reply goes as text; a long one counts its segments', async () => {
    const text = `Your return is registered. ${'Please keep the parcel sealed. '.repeat(6)}`.trim();
    const r = await s.reply(convId, text);
    const got = await eventually(() => kannel.received().find((x) => x.text === text) ?? null, 'fakesmsc got the GSM reply', 20_000);
    // Kannel sent it as two concatenated GSM-7 SMS, as counted.
    expect(got).toMatchObject({ type: 'data', parts: 2 });
    const m = await eventually(async () => {
      const x = await s.message(r.body.id);
      return x?.status === 'delivered' ? x : null;
    }, 'delivered', 20_000);
    expect(m.meta.cost).toEqual({ amount: 0.1, currency: 'CNY', units: 2 });
  });

  it('a callback without the token is refused and stores nothing', async () => {
    const before = await s.count('SELECT COUNT(*) AS n FROM messages WHERE inbox_id = ?', [inboxId]);
    const res = await fetch(`${s.url}/webhooks/kannel/${inboxId}/inbound?token=wrong&from=%2B15550001&text=forged`);
    expect(res.status).toBe(403);
    const dlr = await fetch(`${s.url}/webhooks/kannel/${inboxId}/dlr?m=x&type=2`);
    expect(dlr.status).toBe(403);
    expect(await s.count('SELECT COUNT(*) AS n FROM messages WHERE inbox_id = ?', [inboxId])).toBe(before);
  });

  it('退订 from the phone opts the number out', async () => {
    kannel.mo(phone, '12345', '退订');
    const conv = (await s.conversations(inboxId))[0]!;
    await eventually(async () => (await s.contact(conv.contactId))?.attributes.optedOut === 'true', 'opted out', 20_000);
    const r = await s.reply(convId, '还在吗？');
    expect(r.status).toBe(403);
  });
});

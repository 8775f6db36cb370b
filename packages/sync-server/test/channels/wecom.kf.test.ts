import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { createTenant } from '../../src/seed.js';
import { toContact, toConversation, toMessage } from '../../src/domain/rows.js';
import { wecomKfProvider, kfMsgId } from '../../src/channels/wecom-kf/index.js';
import { createTestDatabase } from '../support/pg.js';
import { api, eventually, loginToken } from '../support/agentClient.js';
import { FakeWechat } from './fakes/fakeWechat.js';
import { uuid7 } from './wechatSupport.js';

/**
 * WeChat Customer Service (微信客服) through WeCom against a protocol fake: encrypted callbacks,
 * sync_msg paged with a cursor kept in the database across a server restart, send_msg with our
 * msgid, session states; on SQLite and PostgreSQL.
 */
describe.each([['sqlite'], ['postgres']] as const)('WeChat Customer Service (wechat/wecom-kf) on %s', (dialect) => {
  const wx = new FakeWechat();
  const PASSWORD = 'kf-test-password';
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'goutong-kf-'));
  let databaseUrl: string | undefined;
  let dropDb: (() => Promise<void>) | null = null;
  let server: RunningServer;
  let admin: ReturnType<typeof api>;
  let token: string;
  let inboxId: string;
  let email: string;
  let teamId: string;
  let skew = 0;
  const now = () => Date.now() + skew;
  wx.now = now;
  const CUSTOMER = 'wmCUSTOMER_zhang_0001';

  async function bootOne(): Promise<RunningServer> {
    const config = loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      GOUTONG_DATA_DIR: dataDir,
      GOUTONG_DEMO: '0',
      GOUTONG_LOG: process.env.GOUTONG_TEST_LOG ?? 'silent',
      GOUTONG_RELAY_INTERVAL_MS: '100',
      GOUTONG_EGRESS_ALLOW: '127.0.0.0/8,::1',
      ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    });
    return startServer({ config, providers: [wecomKfProvider({ now, leaseMs: 5000 })] });
  }
  async function boot(): Promise<void> {
    server = await bootOne();
  }
  async function login(): Promise<void> {
    token = await loginToken(server.url, email, PASSWORD);
    admin = api(server.url, token);
    if (inboxId) wx.kfCallbackUrl = `${server.url}/webhooks/wecom-kf/${inboxId}`;
  }
  const db = () => server.db;
  const count = async (sql: string, params: (string | number)[] = []) => Number((await db().one<{ n: number }>(sql, params))?.n ?? 0);
  const inboundCount = () => count("SELECT COUNT(*) AS n FROM messages WHERE inbox_id = ? AND direction = 'in'", [inboxId]);
  const byExternal = async (id: string) => {
    const r = await db().one('SELECT * FROM messages WHERE inbox_id = ? AND external_id = ?', [inboxId, id]);
    return r ? toMessage(r) : null;
  };
  const message = async (id: string) => {
    const r = await db().one('SELECT * FROM messages WHERE id = ?', [id]);
    return r ? toMessage(r) : null;
  };
  const conversationOf = async (user: string) => {
    const r = await db().one(
      "SELECT c.* FROM conversations c JOIN contact_identities ci ON ci.contact_id = c.contact_id WHERE c.inbox_id = ? AND ci.channel = 'wechat' AND ci.identifier = ?",
      [inboxId, user],
    );
    return r ? toConversation(r) : null;
  };
  /** The cursor the fake hands out once everything in its log was pulled. */
  const endCursor = () => Buffer.from(`C${wx.kfLog.filter((e) => e.open_kfid === wx.openKfId).length}`).toString('base64url');
  const storedCursor = async () => (await db().one<{ next_cursor: string | null }>('SELECT next_cursor FROM wecom_kf_cursors WHERE inbox_id = ?', [inboxId]))?.next_cursor ?? null;
  const reply = (conversationId: string, text: string) => admin('POST', `/api/v1/conversations/${conversationId}/messages`, { text }, { 'idempotency-key': crypto.randomUUID() });

  beforeAll(async () => {
    await wx.start();
    if (dialect === 'postgres') {
      const d = await createTestDatabase('gtkf');
      databaseUrl = d.url;
      dropDb = d.drop;
    }
    await boot();
    const slug = `kf${crypto.randomBytes(4).toString('hex')}`;
    email = `admin@${slug}.test`;
    const tenant = await createTenant(server.workspace, { slug, name: 'KF tests', teams: ['Support'], agents: [{ email, name: 'Admin', role: 'admin', teams: ['Support'], password: PASSWORD }] });
    teamId = tenant.teamIds.Support!;
    await login();
    const r = await admin('POST', '/api/v1/inboxes', {
      name: '微信客服',
      channel: 'wechat',
      provider: 'wecom-kf',
      teamIds: [teamId],
      config: { corpId: wx.corpId, openKfId: wx.openKfId, apiBaseUrl: wx.baseUrl },
      secrets: { secret: wx.kfSecret, token: wx.kfToken, encodingAesKey: wx.kfAesKey },
    });
    expect(r.status).toBe(201);
    inboxId = r.body.id;
    wx.kfCallbackUrl = `${server.url}/webhooks/wecom-kf/${inboxId}`;
  });
  afterAll(async () => {
    await server?.close();
    await dropDb?.();
    await wx.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('callback URL verification answers the decrypted echostr; a wrong token is refused; the URL is shown to the admin', async () => {
    const ok = await wx.kfVerifyUrl();
    expect(ok).toMatchObject({ status: 200, body: ok.echo });
    expect((await wx.kfVerifyUrl({ token: 'wrongToken' })).status).toBe(403);
    const inbox = await admin('GET', `/api/v1/inboxes/${inboxId}`);
    expect(inbox.body.urls).toEqual([expect.objectContaining({ key: 'callback', url: `/webhooks/wecom-kf/${inboxId}` })]);
    expect(JSON.stringify(inbox.body)).not.toContain(wx.kfSecret);
  });

  it('a callback pulls with sync_msg (callback token, open_kfid); text and image are stored once; bad signatures pull nothing', async () => {
    wx.customers.set(CUSTOMER, '张三');
    const hi = await wx.customerSends(CUSTOMER, { msgtype: 'text', text: { content: '你好，发票开错了' } });
    expect(hi.callback).toMatchObject({ status: 200, body: 'success' });
    const m = await eventually(() => byExternal(hi.msgid), 'text pulled');
    expect(m).toMatchObject({ direction: 'in', kind: 'text', text: '你好，发票开错了', meta: { provider: 'wecom-kf', msgid: hi.msgid, openKfId: wx.openKfId, origin: 3 } });
    const call = wx.syncCalls.at(-1)!;
    expect(call).toMatchObject({ cursor: '', open_kfid: wx.openKfId, limit: 1000 });
    expect(call.token).toMatch(/^ENC/);
    const conv = (await conversationOf(CUSTOMER))!;
    expect(conv.contactName).toBe('张三'); // kf/customer/batchget
    const contact = toContact((await db().one('SELECT * FROM contacts WHERE id = ?', [conv.contactId]))!);
    expect(contact.identities).toEqual([{ channel: 'wechat', identifier: CUSTOMER }]);

    const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47]), crypto.randomBytes(4000)]);
    const mediaId = wx.putMedia(png, 'image/png', 'invoice.png');
    const img = await wx.customerSends(CUSTOMER, { msgtype: 'image', image: { media_id: mediaId } });
    const im = await eventually(() => byExternal(img.msgid), 'image pulled');
    expect(im.attachments[0]).toMatchObject({ name: 'invoice.png', mime: 'image/png', size: png.length });
    expect((await server.attachments.bytes(im.tenantId, im.attachments[0]!.id))!.equals(png)).toBe(true);

    // A forged callback (wrong token) is refused and pulls nothing.
    const calls = wx.syncCalls.length;
    const forged = await wx.kfNotify({ token: 'attackerTok' });
    expect(forged.status).toBe(403);
    const tampered = await fetch(wx.kfCallbackUrl!.replace(/\?.*$/, '') + '?msg_signature=' + '0'.repeat(40) + '&timestamp=1&nonce=2', { method: 'POST', headers: { 'content-type': 'text/xml' }, body: '<xml><Encrypt><![CDATA[AAAA]]></Encrypt></xml>' });
    expect(tampered.status).toBe(403);
    expect(wx.syncCalls.length).toBe(calls);
    // The same messages offered again (cursor lost): stored once, by msgid.
    const before = await inboundCount();
    await db().run('UPDATE wecom_kf_cursors SET next_cursor = NULL WHERE inbox_id = ?', [inboxId]);
    await wx.kfNotify();
    await eventually(async () => ((await storedCursor()) === endCursor() ? true : null), 'everything pulled again');
    expect(await inboundCount()).toBe(before);
  });

  it('sync_msg pages with has_more/next_cursor; the cursor is durable across a server restart', async () => {
    wx.kfPageSize = 2;
    const before = await inboundCount();
    const sent: string[] = [];
    for (let i = 1; i <= 5; i++) sent.push((await wx.customerSends(`wmPAGER_${i}`, { msgtype: 'text', text: { content: `第${i}条` } }, { callback: false })).msgid);
    const callsBefore = wx.syncCalls.length;
    await wx.kfNotify();
    await eventually(async () => ((await inboundCount()) === before + 5 ? true : null), 'five pulled over pages');
    await eventually(async () => (wx.syncCalls.length >= callsBefore + 3 ? true : null), 'three pages');
    const pages = wx.syncCalls.slice(callsBefore);
    expect(pages.length).toBe(3); // 2 + 2 + 1
    // Each page continues from the previous page's next_cursor.
    expect(new Set(pages.map((p) => p.cursor)).size).toBe(3);
    // The last page's cursor is saved after its messages: wait for it before stopping.
    const cursor = await eventually(async () => ((await storedCursor()) === endCursor() ? endCursor() : null), 'last cursor stored');

    // Restart: a new server process on the same database; messages arrive while it is down.
    await server.close();
    const later = [(await wx.customerSends('wmPAGER_6', { msgtype: 'text', text: { content: '重启期间' } }, { callback: false })).msgid];
    await boot();
    await login();
    const callsAfter = wx.syncCalls.length;
    await wx.kfNotify();
    await eventually(() => byExternal(later[0]!), 'message sent during the restart pulled');
    expect(wx.syncCalls[callsAfter]!.cursor).toBe(cursor); // continued from the stored cursor, not from the start
    expect(await inboundCount()).toBe(before + 6);
    for (const id of [...sent, ...later]) expect(await count('SELECT COUNT(*) AS n FROM messages WHERE inbox_id = ? AND external_id = ?', [inboxId, id])).toBe(1);
    wx.kfPageSize = 1000;
  });

  // On PostgreSQL the callbacks reach two server processes; on SQLite (one process by design) they race in one.
  it('callbacks arriving at once (two server processes on PostgreSQL): every message stored once, one pull at a time', async () => {
    const second = dialect === 'postgres' ? await bootOne() : server;
    try {
      wx.kfPageSize = 3;
      const before = await inboundCount();
      const ids: string[] = [];
      for (let i = 0; i < 10; i++) ids.push((await wx.customerSends(`wmMULTI_${i % 3}`, { msgtype: 'text', text: { content: `并发 ${i}` } }, { callback: false })).msgid);
      const callsBefore = wx.syncCalls.length;
      const results = await Promise.all([
        wx.kfNotify(),
        wx.kfNotify({ url: `${second.url}/webhooks/wecom-kf/${inboxId}` }),
        wx.kfNotify(),
        wx.kfNotify({ url: `${second.url}/webhooks/wecom-kf/${inboxId}` }),
      ]);
      expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200]);
      await eventually(async () => ((await inboundCount()) === before + 10 ? true : null), 'ten stored');
      await eventually(async () => ((await storedCursor()) === endCursor() ? true : null), 'cursor at the end');
      for (const id of ids) expect(await count('SELECT COUNT(*) AS n FROM messages WHERE inbox_id = ? AND external_id = ?', [inboxId, id])).toBe(1);
      // Pulls never overlapped: each page was asked for once, in order (a later pull starts at the end).
      const cursors = wx.syncCalls.slice(callsBefore).map((c) => c.cursor);
      const firstPass = cursors.slice(0, 4);
      expect(new Set(firstPass).size).toBe(4); // 3 + 3 + 3 + 1 pages from where we were
      expect(cursors.slice(4).every((c) => c === endCursor())).toBe(true);
    } finally {
      wx.kfPageSize = 1000;
      if (second !== server) await second.close();
    }
  });

  it('an answer takes the untreated session (service_state 0 → 1) and goes out with send_msg and our msgid', async () => {
    const conv = (await conversationOf(CUSTOMER))!;
    const r = await reply(conv.id, '您好，已为您重开发票。');
    expect(r.status).toBe(201);
    const sent = await eventually(async () => {
      const m = await message(r.body.id);
      return m?.status === 'accepted' ? m : null;
    }, 'reply accepted');
    const out = wx.kfSent.filter((x) => x.touser === CUSTOMER);
    expect(out).toHaveLength(1);
    expect(out[0]!.body).toMatchObject({ touser: CUSTOMER, open_kfid: wx.openKfId, msgtype: 'text', text: { content: '您好，已为您重开发票。' } });
    expect(out[0]!.msgid).toBe(kfMsgId(r.body.id, 0));
    expect((await db().one<{ provider_message_id: string }>('SELECT provider_message_id FROM messages WHERE id = ?', [sent.id]))!.provider_message_id).toBe(out[0]!.msgid);
    expect(wx.stateTrans).toContainEqual({ external_userid: CUSTOMER, service_state: 1 });
    // An image answer: uploaded with media/upload, then send_msg msgtype image.
    const jpg = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), crypto.randomBytes(3000)]);
    const up = await fetch(`${server.url}/api/v1/attachments?name=${encodeURIComponent('新发票.jpg')}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'image/jpeg' }, body: jpg });
    expect(up.status).toBe(201);
    const id = uuid7();
    const cmd = await admin('POST', '/api/v1/commands', { commands: [{ type: 'send_reply', id, deviceTime: Date.now(), conversationId: conv.id, text: '', attachments: [await up.json()] }] });
    expect(cmd.body.results.map((x: { outcome: string }) => x.outcome)).toEqual(['applied']);
    await eventually(async () => ((await message(id))?.status === 'accepted' ? true : null), 'image answer accepted');
    const imgOut = wx.kfSent.filter((x) => x.touser === CUSTOMER && x.msgtype === 'image');
    expect(imgOut).toHaveLength(1);
    const uploaded = wx.uploads.at(-1)!;
    expect(uploaded.bytes.equals(jpg)).toBe(true);
    expect(imgOut[0]!.body).toMatchObject({ open_kfid: wx.openKfId, msgid: kfMsgId(id, 0), image: { media_id: uploaded.mediaId } });
    // Our own message comes back through sync_msg (origin 5): not stored as inbound.
    const before = await inboundCount();
    expect(await storedCursor()).not.toBe(endCursor()); // our message is in the log, not pulled yet
    await wx.kfNotify();
    await eventually(async () => ((await storedCursor()) === endCursor() ? true : null), 'pulled');
    expect(await inboundCount()).toBe(before);
  });

  it('a session a human servicer holds in WeCom is not answered from here: failed with the reason', async () => {
    const HELD = 'wmHELD_by_servicer';
    const m = await wx.customerSends(HELD, { msgtype: 'text', text: { content: '人工客服' } });
    await eventually(() => byExternal(m.msgid), 'pulled');
    wx.sessionStates.set(HELD, { state: 3, servicer: 'LiSi' });
    const conv = (await conversationOf(HELD))!;
    const r = await reply(conv.id, '您好');
    const failed = await eventually(async () => {
      const x = await message(r.body.id);
      return x?.status === 'failed' ? x : null;
    }, 'reply failed');
    expect(failed.statusReason).toContain('with a human servicer');
    expect(failed.statusReason).toContain('LiSi');
    expect(wx.kfSent.filter((x) => x.touser === HELD)).toHaveLength(0);
  });

  it('entering the session is a conversation event; it does not open the reply window', async () => {
    const NEWBIE = 'wmNEWBIE_from_menu';
    await wx.kfEvent({ event_type: 'enter_session', external_userid: NEWBIE, scene: 'menu' });
    const conv = await eventually(() => conversationOf(NEWBIE), 'enter_session stored');
    expect(conv.waitingSince).toBeNull();
    const msgs = (await db().all('SELECT * FROM messages WHERE conversation_id = ?', [conv.id])).map(toMessage);
    expect(msgs.map((m) => [m.kind, m.meta.event, m.meta.scene])).toEqual([['event', 'enter_session', 'menu']]);
    const r = await reply(conv.id, '欢迎');
    const failed = await eventually(async () => {
      const x = await message(r.body.id);
      return x?.status === 'failed' ? x : null;
    }, 'answer before the customer wrote failed');
    expect(failed.statusReason).toContain('has not written');
    expect(wx.kfSent.filter((x) => x.touser === NEWBIE)).toHaveLength(0);
  });

  it('outside the 48-hour window, or after 5 answers, nothing is sent and the reason says why', async () => {
    const conv = (await conversationOf(CUSTOMER))!;
    const sentBefore = wx.kfSent.length;
    skew = 49 * 3_600_000;
    try {
      const r = await reply(conv.id, '晚了的回复');
      const failed = await eventually(async () => {
        const x = await message(r.body.id);
        return x?.status === 'failed' ? x : null;
      }, 'late reply failed');
      expect(failed.statusReason).toContain('48-hour reply window closed');
      expect(wx.kfSent.length).toBe(sentBefore);
    } finally {
      skew = 0;
    }
    // Quota: two answers (text, image) went out already; three more are fine, the sixth is refused.
    for (let i = 0; i < 3; i++) {
      const r = await reply(conv.id, `补充说明 ${i + 1}`);
      await eventually(async () => ((await message(r.body.id))?.status === 'accepted' ? true : null), `answer ${i + 3} accepted`);
    }
    const sixth = await reply(conv.id, '第六条');
    const f = await eventually(async () => {
      const x = await message(sixth.body.id);
      return x?.status === 'failed' ? x : null;
    }, 'sixth refused');
    expect(f.statusReason).toContain('5 messages were already sent');
    expect(wx.kfSent.filter((x) => x.touser === CUSTOMER)).toHaveLength(5);
    // The customer writes again: a new allowance.
    const again = await wx.customerSends(CUSTOMER, { msgtype: 'text', text: { content: '好的，谢谢' } });
    await eventually(() => byExternal(again.msgid), 'pulled');
    const r = await reply(conv.id, '不客气');
    await eventually(async () => ((await message(r.body.id))?.status === 'accepted' ? true : null), 'answer after the customer wrote again');
  });
});

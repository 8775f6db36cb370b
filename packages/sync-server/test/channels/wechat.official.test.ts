import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeWechat, fakeXml } from './fakes/fakeWechat.js';
import { eventually, startChannelServer, type ChannelServer } from './support.js';
import { wechatOfficialProvider } from '../../src/channels/wechat/index.js';
import { uuid7 } from './wechatSupport.js';

/**
 * The WeChat Official Account (公众号) channel against a fake of WeChat's servers that signs and
 * encrypts its callbacks as documented and checks access tokens, on SQLite and on PostgreSQL.
 */
describe.each([['sqlite'], ['postgres']] as const)('WeChat Official Account (wechat/official) on %s', (dialect) => {
  let s: ChannelServer;
  const wx = new FakeWechat();
  let inboxId: string;
  /** Moves the provider's clock (the 48-hour window); the fake's clock follows. */
  let skew = 0;
  const now = () => Date.now() + skew;
  wx.now = now;
  const USER = 'oUSER_ann_0123456789abcdef';

  const inbound = async (externalId: string) => {
    const r = await s.server.db.one<{ id: string }>('SELECT id FROM messages WHERE inbox_id = ? AND external_id = ?', [inboxId, externalId]);
    return r ? s.message(r.id) : null;
  };
  const countIn = () => s.count("SELECT COUNT(*) AS n FROM messages WHERE inbox_id = ? AND direction = 'in'", [inboxId]);

  beforeAll(async () => {
    await wx.start();
    s = await startChannelServer({ dialect, providers: [wechatOfficialProvider({ now })] });
    inboxId = await s.createInbox({
      name: '公众号 客服',
      channel: 'wechat',
      provider: 'official',
      config: { appId: wx.appId, encryptMode: 'safe', apiBaseUrl: wx.baseUrl },
      secrets: { appSecret: wx.appSecret, token: wx.token, encodingAesKey: wx.encodingAesKey },
    });
    wx.serverUrl = `${s.url}/webhooks/wechat/${inboxId}`;
  });
  afterAll(async () => {
    await s?.close();
    await wx.stop();
  });

  it('shows the server URL to the admin, keeps the secrets, validates the config', async () => {
    const r = await s.admin('GET', `/api/v1/inboxes/${inboxId}`);
    expect(r.status).toBe(200);
    expect(r.body.urls).toEqual([expect.objectContaining({ key: 'server', method: 'POST', url: `/webhooks/wechat/${inboxId}` })]);
    expect(JSON.stringify(r.body)).not.toContain(wx.appSecret);
    expect(JSON.stringify(r.body)).not.toContain(wx.encodingAesKey);
    const bad = await s.admin('POST', '/api/v1/inboxes', { name: 'x', channel: 'wechat', provider: 'official', config: { appId: 'nope' }, secrets: { appSecret: 'x', token: 'abc' }, teamIds: [s.supportTeam] });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('appId');
    const doc = await s.admin('GET', '/api/v1/openapi.json');
    expect(JSON.stringify(doc.body)).toContain('/webhooks/wechat/{inboxId}');
    // The admin forms are generated from these schemas: titles in English and Chinese.
    const cfg = doc.body.components.schemas['Provider.wechat/official.config'];
    expect(cfg.properties.appId).toMatchObject({ title: 'AppID', 'x-i18n': { 'zh-CN': { title: '开发者ID (AppID)' } } });
    const sec = doc.body.components.schemas['Provider.wechat/official.secrets'];
    expect(Object.keys(sec.properties).sort()).toEqual(['appSecret', 'encodingAesKey', 'token']);
    expect(sec.properties.encodingAesKey['x-i18n']['zh-CN'].title).toBe('消息加解密密钥 (EncodingAESKey)');
    const kf = doc.body.components.schemas['Provider.wechat/wecom-kf.config'];
    expect(kf.properties.openKfId['x-i18n']['zh-CN'].title).toBe('客服账号ID (open_kfid)');
  });

  it('URL verification: echoes echostr for the right signature, 403 for a wrong token', async () => {
    const ok = await wx.verifyUrl();
    expect(ok.status).toBe(200);
    expect(ok.body).toBe(ok.echostr);
    const bad = await wx.verifyUrl({ token: 'wrongtoken' });
    expect(bad.status).toBe(403);
    expect(bad.body).not.toContain(bad.echostr);
  });

  it('an encrypted text message is stored once; a replayed callback is stored once', async () => {
    const r = await wx.userSends(USER, { MsgType: 'text', Content: '你好，我的订单 #42 到哪了？' });
    expect(r.status).toBe(200);
    expect(r.body).toBe('success');
    expect(r.xml).toContain('<Encrypt>');
    expect(r.xml).not.toContain('订单');
    const m = (await inbound(r.msgId))!;
    expect(m).toMatchObject({ direction: 'in', kind: 'text', text: '你好，我的订单 #42 到哪了？', meta: { provider: 'wechat-official', openid: USER, msgId: r.msgId } });
    const conv = (await s.conversation(m.conversationId))!;
    expect(conv).toMatchObject({ channel: 'wechat', inboxId, status: 'open' });
    expect((await s.contact(conv.contactId))!.identities).toEqual([{ channel: 'wechat', identifier: USER }]);
    // WeChat retries the same request (no answer within 5 s): stored once, answered success.
    const before = await countIn();
    for (let i = 0; i < 3; i++) {
      const again = await wx.post(r.query, r.requestBody);
      expect(again).toMatchObject({ status: 200, body: 'success' });
    }
    expect(await countIn()).toBe(before);
    // The same MsgId in a freshly signed request: still once.
    await wx.userSends(USER, { MsgType: 'text', Content: '你好，我的订单 #42 到哪了？' }, { msgId: r.msgId });
    expect(await countIn()).toBe(before);
  });

  it('refuses a bad signature, a bad msg_signature, a foreign AppID, plaintext in safe mode and malformed XML', async () => {
    const before = await countIn();
    const xml = fakeXml({ ToUserName: wx.ghId, FromUserName: USER, CreateTime: Math.floor(now() / 1000), MsgType: 'text', Content: 'forged', MsgId: '999001' });
    const signed = wx.signedCallback(xml);
    // signature computed with another token
    const forged = wx.signedCallback(xml, { token: 'attackerToken' });
    expect((await wx.post(forged.query, forged.body)).status).toBe(403);
    // good signature, tampered ciphertext (msg_signature no longer matches)
    const tampered = signed.body.replace(/<Encrypt><!\[CDATA\[(.)/, (_m, c: string) => `<Encrypt><![CDATA[${c === 'A' ? 'B' : 'A'}`);
    expect((await wx.post(signed.query, tampered)).status).toBe(403);
    // missing signature entirely
    expect((await wx.post(signed.query.replace(/signature=[0-9a-f]+&?/, ''), signed.body)).status).toBe(403);
    // plaintext with a valid signature while the inbox is in safe mode
    wx.mode = 'plaintext';
    const plain = wx.signedCallback(xml);
    wx.mode = 'safe';
    const pr = await wx.post(plain.query, plain.body);
    expect(pr.status).toBe(403);
    expect(pr.body).toContain('safe mode');
    // Encrypted for another AppID with the right key and signatures
    const realAppId = wx.appId;
    wx.appId = 'wx0000000000000000';
    const foreign = wx.signedCallback(xml);
    wx.appId = realAppId;
    expect((await wx.post(foreign.query, foreign.body)).status).toBe(403);
    // Malformed XML (correctly signed: the signature does not cover a plaintext body)
    const junk = await fetch(`${wx.serverUrl}?${signed.query}`, { method: 'POST', headers: { 'content-type': 'text/xml' }, body: '<xml><Encrypt>unterminated' });
    expect(junk.status).toBe(400);
    expect(await junk.json()).toMatchObject({ error: 'bad_request' });
    // A correctly signed request from an hour ago (a replay): refused.
    const old = wx.signedCallback(xml, { timestamp: String(Math.floor(now() / 1000) - 3600) });
    const oldRes = await wx.post(old.query, old.body);
    expect(oldRes.status).toBe(403);
    expect(oldRes.body).toContain('timestamp');
    // An unknown inbox
    expect((await fetch(`${s.url}/webhooks/wechat/nope?${signed.query}`, { method: 'POST', headers: { 'content-type': 'text/xml' }, body: signed.body })).status).toBe(404);
    expect(await countIn()).toBe(before);
  });

  it('image and voice come in with their media downloaded through media/get (the token fetched once and cached)', async () => {
    const jpg = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), crypto.randomBytes(30_000)]);
    const mediaId = wx.putMedia(jpg, 'image/jpeg', 'MEDIA_photo.jpg');
    const img = await wx.userSends(USER, { MsgType: 'image', PicUrl: 'http://mmbiz.qpic.cn/x', MediaId: mediaId });
    expect(img.status).toBe(200);
    const im = (await inbound(img.msgId))!;
    expect(im.attachments).toHaveLength(1);
    expect(im.attachments[0]).toMatchObject({ name: 'MEDIA_photo.jpg', mime: 'image/jpeg', size: jpg.length, sha256: crypto.createHash('sha256').update(jpg).digest('hex') });
    expect((await s.server.attachments.bytes(s.tenant.tenantId, im.attachments[0]!.id))!.equals(jpg)).toBe(true);

    const amr = Buffer.concat([Buffer.from('#!AMR\n'), crypto.randomBytes(2000)]);
    const voiceId = wx.putMedia(amr, 'audio/amr', 'MEDIA_voice.amr');
    const v = await wx.userSends(USER, { MsgType: 'voice', MediaId: voiceId, Format: 'amr', Recognition: '我想退货' });
    const vm = (await inbound(v.msgId))!;
    expect(vm).toMatchObject({ kind: 'voice', text: '我想退货', meta: { format: 'amr', recognition: '我想退货' } });
    expect(vm.attachments[0]).toMatchObject({ mime: 'audio/amr', size: amr.length });
    expect(wx.mediaGets).toEqual([mediaId, voiceId]);
    expect(wx.tokenRequests.filter((a) => a === wx.appId)).toHaveLength(1);

    // Media WeChat no longer has: the message is kept with the reason.
    const gone = await wx.userSends(USER, { MsgType: 'image', MediaId: 'MEDIA_expired' });
    const gm = (await inbound(gone.msgId))!;
    expect(gm.attachments).toEqual([]);
    expect(gm.meta).toMatchObject({ mediaId: 'MEDIA_expired', mediaError: expect.stringContaining('40007') });
  });

  it('subscribe and unsubscribe are conversation events (stored once, not waiting customers)', async () => {
    const FAN = 'oFAN_bob_0123456789abcdef';
    const sub = await wx.userSends(FAN, { MsgType: 'event', Event: 'subscribe', EventKey: 'qrscene_spring' });
    expect(sub.status).toBe(200);
    const ev = (await s.server.db.all<{ id: string }>("SELECT id FROM messages WHERE inbox_id = ? AND kind = 'event'", [inboxId])).map((r) => r.id);
    expect(ev).toHaveLength(1);
    const m = (await s.message(ev[0]!))!;
    expect(m).toMatchObject({ kind: 'event', direction: 'in', meta: { event: 'subscribe', qrScene: 'spring', openid: FAN } });
    const conv = (await s.conversation(m.conversationId))!;
    expect(conv.waitingSince).toBeNull();
    await wx.post(sub.query, sub.requestBody); // a retry
    expect(await s.count("SELECT COUNT(*) AS n FROM messages WHERE inbox_id = ? AND kind = 'event'", [inboxId])).toBe(1);
    await wx.userSends(FAN, { MsgType: 'event', Event: 'unsubscribe' });
    const events = await s.messages(conv.id);
    expect(events.map((e) => e.meta.event)).toEqual(['subscribe', 'unsubscribe']);
    // An unfollowed user cannot be answered: refused before anything is sent.
    const sentBefore = wx.customSent.length;
    const r = await s.reply(conv.id, 'hello?');
    expect(r.status).toBe(201);
    const failed = await eventually(async () => {
      const x = await s.message(r.body.id);
      return x?.status === 'failed' ? x : null;
    }, 'reply to an unfollowed user failed');
    expect(failed.statusReason).toContain('unfollowed');
    expect(wx.customSent.length).toBe(sentBefore);
  });

  it('an answer inside the 48-hour window goes out as customer-service text and image (uploaded first); a revoked token is renewed once', async () => {
    const conv = (await s.conversations(inboxId)).find((c) => c.contactName === USER)!;
    const r = await s.reply(conv.id, '您好，包裹明天送达。');
    expect(r.status).toBe(201);
    await eventually(async () => ((await s.message(r.body.id))?.status === 'accepted' ? true : null), 'reply accepted');
    const text = wx.customSent.filter((x) => x.touser === USER && x.msgtype === 'text');
    expect(text).toHaveLength(1);
    expect(text[0]!.body).toEqual({ touser: USER, msgtype: 'text', text: { content: '您好，包裹明天送达。' } });

    // Someone else fetched a new token: ours is invalid (40001); the provider renews it once and sends.
    wx.revokeTokens(wx.appId);
    const tokensBefore = wx.tokenRequests.length;
    const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), crypto.randomBytes(5000)]);
    const up = await fetch(`${s.url}/api/v1/attachments?name=${encodeURIComponent('面单.png')}`, { method: 'POST', headers: { authorization: `Bearer ${s.token}`, 'content-type': 'image/png' }, body: png });
    expect(up.status).toBe(201);
    const att = await up.json();
    const id = uuid7();
    const r2 = await s.admin('POST', '/api/v1/commands', { commands: [{ type: 'send_reply', id, deviceTime: Date.now(), conversationId: conv.id, text: '这是您的面单', attachments: [att] }] });
    expect(r2.body.results.map((x: { outcome: string }) => x.outcome)).toEqual(['applied']);
    await eventually(async () => ((await s.message(id))?.status === 'accepted' ? true : null), 'image reply accepted');
    expect(wx.tokenRequests.length).toBe(tokensBefore + 1);
    const upl = wx.uploads.at(-1)!;
    expect(upl).toMatchObject({ field: 'media', name: '面单.png', mime: 'image/png' });
    expect(upl.bytes.equals(png)).toBe(true);
    const img = wx.customSent.filter((x) => x.touser === USER && x.msgtype === 'image');
    expect(img.at(-1)!.body).toEqual({ touser: USER, msgtype: 'image', image: { media_id: upl.mediaId } });
    // The token expired at WeChat before our cache thought so (42001): renewed once, sent once.
    wx.expireTokens(wx.appId);
    const r3 = await s.reply(conv.id, '还有其他问题吗？');
    await eventually(async () => ((await s.message(r3.body.id))?.status === 'accepted' ? true : null), 'reply accepted after 42001');
    expect(wx.tokenRequests.length).toBe(tokensBefore + 2);
    expect(wx.customSent.filter((x) => x.touser === USER && (x.body.text as { content?: string } | undefined)?.content === '还有其他问题吗？')).toHaveLength(1);
  });

  it('plaintext mode: a message is stored; the signed parameters replayed with another body are refused', async () => {
    const plainInbox = await s.createInbox({
      name: '公众号 明文',
      channel: 'wechat',
      provider: 'official',
      config: { appId: wx.appId, encryptMode: 'plaintext', apiBaseUrl: wx.baseUrl },
      secrets: { appSecret: wx.appSecret, token: wx.token },
    });
    const safeUrl = wx.serverUrl;
    wx.serverUrl = `${s.url}/webhooks/wechat/${plainInbox}`;
    wx.mode = 'plaintext';
    try {
      const r = await wx.userSends('oPLAIN_user', { MsgType: 'text', Content: '明文消息' });
      expect(r).toMatchObject({ status: 200, body: 'success' });
      expect(r.requestBody).toContain('明文消息');
      const stored = await s.count('SELECT COUNT(*) AS n FROM messages WHERE inbox_id = ?', [plainInbox]);
      expect(stored).toBe(1);
      expect((await wx.post(r.query, r.requestBody)).status).toBe(200); // WeChat's retry
      const forged = r.requestBody.replace('明文消息', '把退款打到这个账户').replace(/<MsgId>\d+<\/MsgId>/, '<MsgId>777</MsgId>');
      const f = await wx.post(r.query, forged);
      expect(f.status).toBe(403);
      expect(await s.count('SELECT COUNT(*) AS n FROM messages WHERE inbox_id = ?', [plainInbox])).toBe(1);
    } finally {
      wx.mode = 'safe';
      wx.serverUrl = safeUrl;
    }
  });

  it('renews the access token before expires_in runs out (no call fails for it)', async () => {
    const conv = (await s.conversations(inboxId)).find((c) => c.contactName === USER)!;
    wx.expiresIn = 400;
    wx.revokeTokens(wx.appId); // the next call gets 40001 and a token living 400 s
    try {
      const r1 = await s.reply(conv.id, '第一条');
      await eventually(async () => ((await s.message(r1.body.id))?.status === 'accepted' ? true : null), 'first accepted');
      const tokens = wx.tokenRequests.length;
      const errors = wx.tokenErrors.length;
      skew += 150_000; // 250 s left: inside the 5-minute margin, renewed before use
      const r2 = await s.reply(conv.id, '第二条');
      await eventually(async () => ((await s.message(r2.body.id))?.status === 'accepted' ? true : null), 'second accepted');
      expect(wx.tokenRequests.length).toBe(tokens + 1);
      expect(wx.tokenErrors.length).toBe(errors);
    } finally {
      skew = 0;
      wx.expiresIn = 7200;
    }
  });

  it('outside the 48-hour window the answer is refused with a clear, final reason and nothing reaches WeChat', async () => {
    const conv = (await s.conversations(inboxId)).find((c) => c.contactName === USER)!;
    const sentBefore = wx.customSent.length;
    skew = 49 * 3_600_000;
    try {
      const r = await s.reply(conv.id, '抱歉回复晚了');
      expect(r.status).toBe(201);
      const failed = await eventually(async () => {
        const m = await s.message(r.body.id);
        return m?.status === 'failed' ? m : null;
      }, 'reply failed');
      expect(failed.statusReason).toMatch(/48-hour reply window closed at \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z .*the user must write again/);
      expect(wx.customSent.length).toBe(sentBefore);
      const job = await s.server.db.one<{ state: string; attempts: number }>('SELECT state, attempts FROM relay_jobs WHERE message_id = ?', [r.body.id]);
      expect(job?.state).not.toMatch(/pending|ready|queued/);
      // The user writes again: the window reopens and the next answer goes out.
      await wx.userSends(USER, { MsgType: 'text', Content: '还在吗？' });
      const r2 = await s.reply(conv.id, '在的，请讲。');
      await eventually(async () => ((await s.message(r2.body.id))?.status === 'accepted' ? true : null), 'reply accepted after the user wrote');
      expect(wx.customSent.length).toBe(sentBefore + 1);
    } finally {
      skew = 0;
    }
  });
});

import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeWildfire, fakeWildfireSign } from './fakes/fakeWildfire.js';
import { eventually, startChannelServer, type ChannelServer } from './support.js';

/**
 * The WildfireChat (野火IM) channel against a fake im-server that speaks the documented Server API
 * and Robot API (checks signatures, answers {code,msg,result}, hands out ids above 2^53) and posts
 * callbacks as the real one does (once, unsigned), on SQLite and on PostgreSQL.
 */
describe.each([['sqlite'], ['postgres']] as const)('WildfireChat (im/wildfire) on %s', (dialect) => {
  let s: ChannelServer;
  const wf = new FakeWildfire();
  const ROBOT = 'cs_robot';
  let inboxId: string;
  let token: string;
  let callbackUrl: string;

  const createInbox = async (name: string, config: Record<string, unknown>, secrets: Record<string, string>) => {
    const r = await s.admin('POST', '/api/v1/inboxes', { name, channel: 'im', provider: 'wildfire', config, secrets, teamIds: [s.supportTeam] });
    if (r.status !== 201) throw new Error(`create inbox: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body as { id: string; generatedSecrets?: Record<string, string>; secretsSet: string[] };
  };
  const msgCount = (inbox: string) => s.count('SELECT COUNT(*) AS n FROM messages WHERE inbox_id = ?', [inbox]);
  const inboundByExternalId = async (inbox: string, externalId: string) => {
    const r = await s.server.db.one<{ id: string }>('SELECT id FROM messages WHERE inbox_id = ? AND external_id = ?', [inbox, externalId]);
    return r ? s.message(r.id) : null;
  };
  const text = (t: string) => ({ type: 1, searchableContent: t, persistFlag: 3 });

  beforeAll(async () => {
    await wf.start();
    s = await startChannelServer({ dialect });
    wf.addRobot(ROBOT);
    wf.addUser('u_alice', '爱丽丝');
    wf.addUser('u_bob', 'Bob');
    const created = await createInbox('野火 客服', { serverApiBaseUrl: wf.baseUrl, robotId: ROBOT }, { adminSecret: wf.adminSecret });
    inboxId = created.id;
    token = created.generatedSecrets!.callbackToken!;
    callbackUrl = `${s.url}/webhooks/wildfire/${inboxId}/${token}`;
    // The robot's callback and the server's message.forward.url both point at us (the echo case needs the forward).
    wf.robots.get(ROBOT)!.callback = callbackUrl;
    wf.forwardUrl = callbackUrl;
  });
  afterAll(async () => {
    await s?.close();
    await wf.stop();
  });

  it('generates the callback token when absent, shows it once, and never returns the secrets', async () => {
    expect(token).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const r = await s.admin('GET', `/api/v1/inboxes/${inboxId}`);
    expect(r.status).toBe(200);
    expect(r.body.secretsSet).toEqual(['adminSecret', 'callbackToken']);
    expect(JSON.stringify(r.body)).not.toContain(token);
    expect(JSON.stringify(r.body)).not.toContain(wf.adminSecret);
    // A wrong configuration is refused with the reason.
    const bad = await s.admin('POST', '/api/v1/inboxes', { name: 'x', channel: 'im', provider: 'wildfire', config: { serverApiBaseUrl: wf.baseUrl }, secrets: { adminSecret: 'x' } });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('robotId');
  });

  it('inbound text and image become one conversation; the image is stored as an attachment with the same bytes; the 64-bit id is exact', async () => {
    const hello = await wf.userSends('u_alice', { type: 0, target: ROBOT }, text('你好，我的订单还没到'));
    expect(hello.messageId).toBe(9007199254740993n);
    expect(hello.body).toContain('"messageId":9007199254740993,'); // a bare long, as Gson writes it
    // Delivered once to the robot callback and once by the global forward: both answered 200, stored once.
    expect(hello.posts.map((p) => [p.kind, p.status])).toEqual([['robot', 200], ['forward', 200]]);
    const convs = await s.conversations(inboxId);
    expect(convs).toHaveLength(1);
    expect(convs[0]!.contactName).toBe('爱丽丝'); // from /admin/user/get_info
    const m1 = (await inboundByExternalId(inboxId, '9007199254740993'))!;
    expect(m1).toMatchObject({ direction: 'in', kind: 'text', text: '你好，我的订单还没到', conversationId: convs[0]!.id });
    expect(m1.meta).toMatchObject({ provider: 'wildfire', messageId: '9007199254740993', sender: 'u_alice', conv: { type: 0, target: ROBOT, line: 0 } });
    expect(await inboundByExternalId(inboxId, '9007199254740992')).toBeNull();
    const contact = (await s.contact(convs[0]!.contactId))!;
    expect(contact.identities).toEqual([{ channel: 'im', identifier: 'u_alice' }]);

    const bytes = crypto.randomBytes(40_000);
    const url = wf.putMedia('订单截图.jpg', bytes, 'image/jpeg');
    const img = await wf.userSends('u_alice', { target: ROBOT }, { type: 3, mediaType: 1, searchableContent: '[图片]', remoteMediaUrl: url, base64edData: crypto.randomBytes(64).toString('base64') });
    expect(img.posts.every((p) => p.status === 200)).toBe(true);
    expect(await s.conversations(inboxId)).toHaveLength(1);
    const m2 = (await inboundByExternalId(inboxId, img.messageId.toString()))!;
    expect(m2.conversationId).toBe(convs[0]!.id);
    expect(m2.attachments).toHaveLength(1);
    expect(m2.attachments[0]).toMatchObject({ name: '订单截图.jpg', mime: 'image/jpeg', size: bytes.length, sha256: crypto.createHash('sha256').update(bytes).digest('hex') });
    const stored = await s.server.attachments.bytes(s.tenant.tenantId, m2.attachments[0]!.id);
    expect(stored!.equals(bytes)).toBe(true);
    // Hole: the media's attachment row is bound to its message (written in the inbound's transaction).
    expect(await s.count('SELECT COUNT(*) AS n FROM attachments WHERE id = ? AND message_id = ?', [m2.attachments[0]!.id, m2.id])).toBe(1);
  });

  it('voice, file and location payloads become messages (media fetched, location as text + meta)', async () => {
    const amr = Buffer.concat([Buffer.from('#!AMR\n'), crypto.randomBytes(3000)]);
    const voice = await wf.userSends('u_alice', { target: ROBOT }, { type: 2, mediaType: 2, searchableContent: '[声音]', content: '{"duration":7}', remoteMediaUrl: wf.putMedia('voice.amr', amr, 'application/octet-stream') });
    const v = (await inboundByExternalId(inboxId, voice.messageId.toString()))!;
    expect(v).toMatchObject({ kind: 'voice', meta: { payloadType: 2, duration: 7 } });
    expect(v.attachments[0]).toMatchObject({ name: 'voice.amr', mime: 'audio/amr', size: amr.length });

    const pdf = crypto.randomBytes(5000);
    const file = await wf.userSends('u_alice', { target: ROBOT }, { type: 5, mediaType: 4, searchableContent: '发票.pdf', content: String(pdf.length), remoteMediaUrl: wf.putMedia('x-4-1721008897-zJfgQC6AoZ3f.pdf', pdf, 'application/pdf') });
    const f = (await inboundByExternalId(inboxId, file.messageId.toString()))!;
    expect(f).toMatchObject({ kind: 'text', text: '发票.pdf', meta: { payloadType: 5, size: pdf.length } });
    expect(f.attachments[0]).toMatchObject({ name: '发票.pdf', mime: 'application/pdf', size: pdf.length });
    expect((await s.server.attachments.bytes(s.tenant.tenantId, f.attachments[0]!.id))!.equals(pdf)).toBe(true);

    const loc = await wf.userSends('u_alice', { target: ROBOT }, { type: 4, searchableContent: '中国北京市海淀区阜成路北二街131号', content: '{"lat":39.926537312885166,"long":116.32154022158235}', base64edData: crypto.randomBytes(32).toString('base64') });
    const l = (await inboundByExternalId(inboxId, loc.messageId.toString()))!;
    expect(l.text).toBe('中国北京市海淀区阜成路北二街131号 (39.926537312885166, 116.32154022158235)');
    expect(l.meta.location).toEqual({ lat: 39.926537312885166, long: 116.32154022158235, title: '中国北京市海淀区阜成路北二街131号' });
    expect(l.attachments).toEqual([]);

    // A media file the IM server cannot serve: the message is kept, with the link and the reason.
    const gone = await wf.userSends('u_alice', { target: ROBOT }, { type: 3, mediaType: 1, remoteMediaUrl: `${wf.baseUrl}/fs/nope/missing.jpg` });
    const g = (await inboundByExternalId(inboxId, gone.messageId.toString()))!;
    expect(g.attachments).toEqual([]);
    expect(g.meta).toMatchObject({ remoteMediaUrl: `${wf.baseUrl}/fs/nope/missing.jpg`, mediaError: expect.stringContaining('404') });

    // Typing and recall notifications are not messages.
    const before = await msgCount(inboxId);
    await wf.userSends('u_alice', { target: ROBOT }, { type: 91, persistFlag: 4 });
    await wf.userSends('u_alice', { target: ROBOT }, { type: 80, content: 'u_alice', persistFlag: 1 });
    expect(await msgCount(inboxId)).toBe(before);
  });

  it('the agent\'s reply reaches the fake signed, as the robot, targeting the sender; the forwarded echo creates nothing; the 64-bit uid round-trips', async () => {
    const conv = (await s.conversations(inboxId))[0]!;
    const countBefore = await msgCount(inboxId);
    const postsBefore = wf.posts.length;
    const r = await s.reply(conv.id, '您好，已为您查询，包裹明天送达。');
    expect(r.status).toBe(201);
    const sent = await eventually(async () => {
      const m = await s.message(r.body.id);
      return m?.status === 'accepted' ? m : null;
    }, 'reply accepted');
    const out = wf.sent.filter((x) => x.payload.searchableContent === '您好，已为您查询，包裹明天送达。');
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ via: 'admin', sender: ROBOT, conv: { type: 0, target: 'u_alice', line: 0 }, payload: { type: 1, persistFlag: 3 } });
    // The fake verified it; check the headers against the documented formula here too.
    const h = out[0]!.headers;
    expect(h.sign).toBe(fakeWildfireSign(h.nonce, wf.adminSecret, h.timestamp));
    expect(Math.abs(Number(h.timestamp) - Date.now())).toBeLessThan(60_000);
    // The provider's id is > 2^53 and stored exactly.
    expect(out[0]!.messageUid).toBeGreaterThan(2n ** 53n);
    const pid = (await s.server.db.one<{ p: string }>('SELECT provider_message_id AS p FROM messages WHERE id = ?', [sent.id]))!.p;
    expect(pid).toBe(out[0]!.messageUid.toString());

    // The IM server forwarded our own message back (message.no_forward_admin_message=false): ignored.
    const echo = wf.posts.slice(postsBefore).filter((p) => p.kind === 'forward');
    expect(echo).toHaveLength(1);
    expect(echo[0]!.status).toBe(200);
    expect(echo[0]!.body).toContain(`"messageId":${out[0]!.messageUid.toString()},`);
    // A copy of it under another sender (the robot id changed since) is recognised by its id.
    expect((await wf.repost(callbackUrl, echo[0]!.body.replace(`"sender":"${ROBOT}"`, '"sender":"u_alice"'))).status).toBe(200);
    expect(await msgCount(inboxId)).toBe(countBefore + 1); // only the reply itself
    expect(await s.conversations(inboxId)).toHaveLength(1);
  });

  it('a duplicate callback creates nothing new', async () => {
    const m = await wf.userSends('u_bob', { target: ROBOT }, text('还在吗？'));
    const before = await msgCount(inboxId);
    expect((await wf.repost(callbackUrl, m.body)).status).toBe(200);
    expect((await wf.repost(callbackUrl, m.body)).status).toBe(200);
    expect(await msgCount(inboxId)).toBe(before);
    expect(await s.count('SELECT COUNT(*) AS n FROM messages WHERE inbox_id = ? AND external_id = ?', [inboxId, m.messageId.toString()])).toBe(1);

    // The robot callback and the forward racing each other with a new message (and its image).
    const img = wf.putMedia('race.png', crypto.randomBytes(2000), 'image/png');
    const body = FakeWildfire.outputMessage({ messageId: wf.uid(), sender: 'u_bob', conv: { type: 0, target: ROBOT, line: 0 }, payload: { type: 3, mediaType: 1, remoteMediaUrl: img }, timestamp: Date.now() });
    const both = await Promise.all([wf.repost(callbackUrl, body), wf.repost(callbackUrl, body), wf.repost(callbackUrl, body)]);
    expect(both.map((p) => p.status)).toEqual([200, 200, 200]);
    expect(await msgCount(inboxId)).toBe(before + 1);
  });

  it('a callback with a wrong token (or for no such inbox) is 404 and stores nothing; malformed bodies are 400', async () => {
    const before = await s.count('SELECT COUNT(*) AS n FROM messages');
    const contacts = await s.count('SELECT COUNT(*) AS n FROM contacts');
    const body = FakeWildfire.outputMessage({ messageId: wf.uid(), sender: 'u_mallory', conv: { type: 0, target: ROBOT, line: 0 }, payload: text('forged'), timestamp: Date.now() });
    const wrong = await wf.repost(`${s.url}/webhooks/wildfire/${inboxId}/${'x'.repeat(token.length)}`, body);
    expect(wrong.status).toBe(404);
    expect((await wf.repost(`${s.url}/webhooks/wildfire/${inboxId}/${token.slice(0, -1)}`, body)).status).toBe(404);
    expect((await wf.repost(`${s.url}/webhooks/wildfire/nope/${token}`, body)).status).toBe(404);
    expect((await wf.repost(`${s.url}/webhooks/wildfire/${inboxId}`, body)).status).toBe(404);
    expect(await s.count('SELECT COUNT(*) AS n FROM messages')).toBe(before);
    expect(await s.count('SELECT COUNT(*) AS n FROM contacts')).toBe(contacts);
    expect((await wf.repost(callbackUrl, '{"messageId": 12, "sender": 5}')).status).toBe(400);
    expect((await wf.repost(callbackUrl, '{not json')).status).toBe(400);
    expect(await s.count('SELECT COUNT(*) AS n FROM messages')).toBe(before);
  });

  it('messages not addressed to the robot (chats between other users, groups when off) are ignored', async () => {
    const before = await msgCount(inboxId);
    await wf.userSends('u_alice', { type: 0, target: 'u_bob' }, text('private chat the forward sees'));
    wf.groupMembers.set('g_vip', new Set([ROBOT, 'u_alice']));
    await wf.userSends('u_alice', { type: 1, target: 'g_vip' }, text('group message'));
    expect(await msgCount(inboxId)).toBe(before);
  });

  it('a wrong admin secret surfaces as a failed message with the provider\'s code and reason (HTTP 200 and HTTP 401 answers)', async () => {
    const other = await createInbox('wrong secret', { serverApiBaseUrl: wf.baseUrl, robotId: ROBOT }, { adminSecret: 'not-the-secret' });
    const url = `${s.url}/webhooks/wildfire/${other.id}/${other.generatedSecrets!.callbackToken}`;
    const m = await wf.repost(url, FakeWildfire.outputMessage({ messageId: wf.uid(), sender: 'u_carol', conv: { type: 0, target: ROBOT, line: 0 }, payload: text('hi'), timestamp: Date.now() }));
    expect(m.status).toBe(200);
    const conv = (await s.conversations(other.id))[0]!;
    expect(conv.contactName).toBe('u_carol'); // get_info refused (244): the id stands in

    for (const status of [200, 401] as const) {
      wf.authFailureStatus = status;
      const refusedBefore = wf.refused.length;
      const r = await s.reply(conv.id, `reply ${status}`);
      const failed = await eventually(async () => {
        const x = await s.message(r.body.id);
        return x?.status === 'failed' ? x : null;
      }, 'failed');
      expect(failed.statusReason).toBe(`WildfireChat error 244: auth failure${status === 401 ? ' (HTTP 401)' : ''}`);
      expect(failed.meta.errorCode).toBe('wildfire_244');
      expect(wf.refused.slice(refusedBefore).map((x) => [x.path, x.code])).toEqual([['/admin/message/send', 244]]);
    }
    wf.authFailureStatus = 200;
  });

  it('transient failures (HTTP 503, rate limit 250) are retried until accepted; a permanent code fails at once', async () => {
    const conv = (await s.conversations(inboxId)).find((c) => c.contactName === 'Bob')!;
    wf.failNext = 1;
    wf.failCodes.push(250);
    const r = await s.reply(conv.id, 'after a hiccup');
    const m = await eventually(async () => {
      const x = await s.message(r.body.id);
      return x?.status === 'accepted' ? x : null;
    }, 'accepted after retries', 30_000);
    expect(wf.sent.filter((x) => x.payload.searchableContent === 'after a hiccup')).toHaveLength(1);
    expect(m.statusReason).toBeNull();
    expect(await s.count("SELECT attempts AS n FROM relay_jobs WHERE message_id = ?", [m.id])).toBe(3);

    wf.failCodes.push(9);
    const r2 = await s.reply(conv.id, 'not in group');
    const f = await eventually(async () => {
      const x = await s.message(r2.body.id);
      return x?.status === 'failed' ? x : null;
    }, 'failed');
    expect(f.statusReason).toBe('WildfireChat error 9: not in group');
  });

  it('replies through the Robot API (rid header, robot secret); group messages when accepted reply to the group', async () => {
    const created = await createInbox(
      'robot api',
      { serverApiBaseUrl: wf.baseUrl, robotApiBaseUrl: wf.baseUrl, robotId: 'cs_robot2', sendVia: 'robot', acceptGroupMessages: true },
      { adminSecret: wf.adminSecret, robotSecret: 'placeholder' },
    );
    const secret = wf.addRobot('cs_robot2', { callback: `${s.url}/webhooks/wildfire/${created.id}/${created.generatedSecrets!.callbackToken}` });
    expect((await s.admin('PATCH', `/api/v1/inboxes/${created.id}`, { secrets: { robotSecret: secret } })).status).toBe(200);
    // PATCHing secrets keeps the generated token.
    const settings = (await s.server.inboxes.settings(created.id))!;
    expect(settings.secrets.callbackToken).toBe(created.generatedSecrets!.callbackToken);

    wf.groupMembers.set('g_shop', new Set(['cs_robot2', 'u_alice', 'u_bob']));
    const g = await wf.userSends('u_bob', { type: 1, target: 'g_shop' }, text('群里问一下：发货了吗？'));
    expect(g.posts.find((p) => p.kind === 'robot')!.status).toBe(200);
    const conv = (await s.conversations(created.id))[0]!;
    const contact = (await s.contact(conv.contactId))!;
    expect(contact.identities).toEqual([{ channel: 'im', identifier: 'group:g_shop' }]);
    expect((await inboundByExternalId(created.id, g.messageId.toString()))!.meta).toMatchObject({ sender: 'u_bob', conv: { type: 1, target: 'g_shop' } });

    const r = await s.reply(conv.id, '已发货');
    await eventually(async () => (await s.message(r.body.id))?.status === 'accepted', 'accepted');
    const out = wf.sent.find((x) => x.payload.searchableContent === '已发货')!;
    expect(out).toMatchObject({ via: 'robot', sender: 'cs_robot2', conv: { type: 1, target: 'g_shop', line: 0 } });
    expect(out.headers.rid).toBe('cs_robot2');
    expect(out.headers.sign).toBe(fakeWildfireSign(out.headers.nonce, secret, out.headers.timestamp));
  });

  it('source restriction: only the allowed addresses may post (403 from 127.0.0.1 when only 10.0.0.0/8 is allowed)', async () => {
    const created = await createInbox('restricted', { serverApiBaseUrl: wf.baseUrl, robotId: ROBOT, allowedSourceCidrs: ['10.0.0.0/8', 'fd00::/8'] }, { adminSecret: wf.adminSecret, callbackToken: 'restricted-inbox-token-0123456789' });
    expect(created.generatedSecrets).toBeUndefined(); // given, not generated
    const url = `${s.url}/webhooks/wildfire/${created.id}/restricted-inbox-token-0123456789`;
    const body = FakeWildfire.outputMessage({ messageId: wf.uid(), sender: 'u_dave', conv: { type: 0, target: ROBOT, line: 0 }, payload: text('from outside'), timestamp: Date.now() });
    expect((await wf.repost(url, body)).status).toBe(403);
    expect(await msgCount(created.id)).toBe(0);
    expect((await s.admin('PATCH', `/api/v1/inboxes/${created.id}`, { config: { allowedSourceCidrs: ['10.0.0.0/8', '127.0.0.0/8'] } })).status).toBe(200);
    expect((await wf.repost(url, body)).status).toBe(200);
    expect(await msgCount(created.id)).toBe(1);
    const bad = await s.admin('PATCH', `/api/v1/inboxes/${created.id}`, { config: { allowedSourceCidrs: ['10.0.0.0/33'] } });
    expect(bad.status).toBe(400);
  });
});

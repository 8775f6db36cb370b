// The phone channel's server side: a `voice` inbox (provider `sip`), SIP credentials for the
// signed-in agent, calls logged by number (contact and conversation found or created), the call
// recording attached by id, per-minute cost, and voicemail uploaded by the SIP side.
import crypto from 'node:crypto';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Uuidv7Generator } from '@goutong/core';
import { createTenant } from '../../src/seed.js';
import { ephemeralCredentials } from '../../src/channels/voice/index.js';
import { api, loginToken } from '../support/agentClient.js';
import { PASSWORD, startChannelServer, type ChannelServer } from './support.js';

const ids = new Uuidv7Generator(Date.now, (n) => crypto.randomBytes(n));
/**
 * GET without keep-alive: a connection that carried a streamed download is not closed as idle when
 * the server stops (it would wait for the client's keep-alive to lapse), so downloads use their own.
 */
function download(url: string, token: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    http.get(url, { agent: false, headers: { authorization: `Bearer ${token}` } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
    }).on('error', reject);
  });
}
/** The status, with the body read (an unread body keeps the connection busy and the server from closing). */
const statusOf = async (r: Response | Promise<Response>) => {
  const res = await r;
  await res.arrayBuffer();
  return res.status;
};

describe.each([['sqlite'], ['postgres']] as const)('voice inbox (voice/sip) on %s', (dialect) => {
  let s: ChannelServer;
  let inboxId: string;
  let voicemailToken: string;
  let ann: ReturnType<typeof api>;
  let sam: ReturnType<typeof api>;
  let slug: string;

  beforeAll(async () => {
    s = await startChannelServer({ dialect });
    slug = `v${crypto.randomBytes(4).toString('hex')}`;
    const t = await createTenant(s.server.workspace, {
      slug,
      name: 'Voice',
      teams: ['Support', 'Sales'],
      agents: [
        { email: `admin@${slug}.test`, name: 'Admin', role: 'admin', teams: ['Support'], password: PASSWORD },
        { email: `ann@${slug}.test`, name: 'Ann 安', role: 'agent', teams: ['Support'], password: PASSWORD },
        { email: `sam@${slug}.test`, name: 'Sam', role: 'agent', teams: ['Sales'], password: PASSWORD },
      ],
    });
    const admin = api(s.url, await loginToken(s.url, `admin@${slug}.test`, PASSWORD));
    ann = api(s.url, await loginToken(s.url, `ann@${slug}.test`, PASSWORD));
    sam = api(s.url, await loginToken(s.url, `sam@${slug}.test`, PASSWORD));

    const bad = await admin('POST', '/api/v1/inboxes', { name: 'Bad', channel: 'voice', provider: 'sip', config: { wsUrl: 'http://x', domain: 'lab.test' }, teamIds: [t.teamIds.Support] });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/wsUrl/);
    const created = await admin('POST', '/api/v1/inboxes', {
      name: 'Hotline 热线',
      channel: 'voice',
      provider: 'sip',
      config: { wsUrl: 'ws://127.0.0.1:18088', domain: 'lab.test', pricePerMinute: 0.12, currency: 'CNY', recordCalls: true, agents: { [`ann@${slug}.test`]: '1001', [t.agents[`sam@${slug}.test`]!.id]: '1002' } },
      secrets: { 'password:1001': 'ann-sip-pw' },
      teamIds: [t.teamIds.Support],
    });
    expect(created.status).toBe(201);
    inboxId = created.body.id;
    voicemailToken = created.body.generatedSecrets.voicemailToken;
    expect(voicemailToken).toMatch(/^[A-Za-z0-9_-]{16,}$/);
    expect(created.body.secretsSet).toEqual(['password:1001', 'voicemailToken']);
    const wrongSecret = await admin('PATCH', `/api/v1/inboxes/${inboxId}`, { secrets: { apiKey: 'x' } });
    expect(wrongSecret.status).toBe(400);
  });

  afterAll(async () => {
    await s?.close();
  });

  it('gives the signed-in agent their SIP registration on the voice inboxes they may use', async () => {
    const r = await ann('GET', '/api/v1/voice/credentials');
    expect(r.status).toBe(200);
    expect(r.body.items).toEqual([
      expect.objectContaining({
        inboxId, inboxName: 'Hotline 热线', wsUrl: 'ws://127.0.0.1:18088', domain: 'lab.test', uri: 'sip:1001@lab.test', user: '1001',
        authorizationUser: '1001', password: 'ann-sip-pw', displayName: 'Ann 安', expiresAt: null, recordCalls: true, pricePerMinute: 0.12, currency: 'CNY',
      }),
    ]);
    // Sam has a SIP user there but his team (Sales) has no access to the inbox.
    expect((await sam('GET', '/api/v1/voice/credentials')).body.items).toEqual([]);
    expect((await ann('GET', `/api/v1/voice/credentials?inboxId=nope`)).body.items).toEqual([]);
    expect(await statusOf(fetch(`${s.url}/api/v1/voice/credentials`))).toBe(401);
    // Documented, with the provider's schemas (the settings screens build their forms from them).
    const doc = (await (await fetch(`${s.url}/api/v1/openapi.json`)).json()) as { paths: Record<string, unknown>; components: { schemas: Record<string, { properties?: Record<string, unknown> }> } };
    expect(doc.paths['/api/v1/voice/credentials']).toBeTruthy();
    expect(doc.paths['/api/v1/inboxes/{id}/voicemail']).toBeTruthy();
    expect(Object.keys(doc.components.schemas['Provider.voice/sip.config']!.properties!)).toEqual(expect.arrayContaining(['wsUrl', 'domain', 'pricePerMinute', 'recordCalls', 'agents', 'auth']));
    expect(Object.keys(doc.components.schemas['Provider.voice/sip.secrets']!.properties!)).toEqual(['voicemailToken', 'ephemeralSecret']);
  });

  it('hands out ephemeral credentials (Kamailio auth_ephemeral) when configured so', async () => {
    const admin = api(s.url, await loginToken(s.url, `admin@${slug}.test`, PASSWORD));
    expect((await admin('PATCH', `/api/v1/inboxes/${inboxId}`, { config: { auth: 'ephemeral', credentialTtlSeconds: 3600 }, secrets: { ephemeralSecret: 'kamailio-shared' } })).status).toBe(200);
    try {
      const [c] = (await ann('GET', '/api/v1/voice/credentials')).body.items;
      const [expiry, user] = String(c.authorizationUser).split(':');
      expect(user).toBe('1001');
      expect(Number(expiry) * 1000).toBe(c.expiresAt);
      expect(c.expiresAt).toBeGreaterThan(Date.now() + 3500_000);
      expect(c.password).toBe(crypto.createHmac('sha1', 'kamailio-shared').update(c.authorizationUser).digest('base64'));
      expect(ephemeralCredentials('kamailio-shared', '1001', 60, 0)).toEqual({ username: '60:1001', password: crypto.createHmac('sha1', 'kamailio-shared').update('60:1001').digest('base64'), expiresAt: 60_000 });
    } finally {
      await admin('PATCH', `/api/v1/inboxes/${inboxId}`, { config: { auth: 'static' } });
    }
  });

  it('logs calls by number: a missed call starts a waiting conversation, the call back joins it, with cost; exactly once', async () => {
    const phone = '+8613800138000';
    const missed = { id: ids.next(), deviceTime: Date.now(), type: 'log_call', inboxId, phone, contactName: 'Caller 来电', direction: 'in', from: phone, to: '1001', startedAt: Date.now() - 20_000, endedAt: Date.now() - 10_000, outcome: 'missed' };
    const r1 = await ann('POST', '/api/v1/commands', { commands: [missed, missed] });
    expect(r1.status).toBe(200);
    expect(r1.body.results.map((x: { outcome: string }) => x.outcome)).toEqual(['applied', 'duplicate']);
    const [conv] = await s.conversations(inboxId);
    expect(conv).toMatchObject({ channel: 'voice', contactName: 'Caller 来电', status: 'open', waitingSince: missed.startedAt, messageCount: 1, lastMessagePreview: 'Inbound call · missed' });
    expect((await s.contact(conv!.contactId))?.identities).toEqual([{ channel: 'voice', identifier: phone }]);
    expect(await s.message(missed.id)).toMatchObject({ kind: 'call', direction: 'in', conversationId: conv!.id, meta: { call: { outcome: 'missed', durationSeconds: 0 }, cost: { amount: 0, units: 0, currency: 'CNY' } } });

    // The call back, recorded: the recording is uploaded first and referenced by id.
    const upload = await fetch(`${s.url}/api/v1/attachments?name=call.webm`, { method: 'POST', headers: { authorization: `Bearer ${await loginToken(s.url, `ann@${slug}.test`, PASSWORD)}`, 'content-type': 'audio/webm' }, body: Buffer.from('fake webm bytes') });
    expect(upload.status).toBe(201);
    const rec = (await upload.json()) as { id: string };
    const now = Date.now();
    const back = { id: ids.next(), deviceTime: now, type: 'log_call', inboxId, phone, direction: 'out', from: '1001', to: phone, startedAt: now - 130_000, answeredAt: now - 125_000, endedAt: now, outcome: 'answered', attachments: [{ id: rec.id, name: 'forged.exe', mime: 'application/x-forged', size: 1 }] };
    const r2 = await ann('POST', '/api/v1/commands', { commands: [back] });
    expect(r2.body.results[0].outcome).toBe('applied');
    const convs = await s.conversations(inboxId);
    expect(convs).toHaveLength(1);
    expect(convs[0]).toMatchObject({ messageCount: 2, waitingSince: null, lastMessagePreview: 'Outbound call · 2:05', lastMessageDirection: 'out' });
    const m = await s.message(back.id);
    // 125 s of talk: 3 started minutes at 0.12.
    expect(m).toMatchObject({ meta: { call: { durationSeconds: 125, outcome: 'answered' }, cost: { amount: 0.36, currency: 'CNY', units: 3 } } });
    expect(m?.attachments).toEqual([expect.objectContaining({ id: rec.id, name: 'call.webm', mime: 'audio/webm', size: 15 })]);
    // The recording downloads for whoever sees the conversation.
    const dl = await download(`${s.url}/api/v1/attachments/${rec.id}`, await loginToken(s.url, `ann@${slug}.test`, PASSWORD));
    expect(dl.status).toBe(200);
    expect(dl.body.toString()).toBe('fake webm bytes');
    // A recording cannot be moved to another call.
    const steal = { ...back, id: ids.next(), attachments: [{ id: rec.id, name: 'x', mime: 'audio/webm', size: 1 }] };
    expect((await ann('POST', '/api/v1/commands', { commands: [steal] })).body.results[0]).toMatchObject({ outcome: 'rejected', error: { code: 'conflict' } });

    // Not allowed: an inbox outside the agent's scope, a non-voice inbox, both ways of placing the call.
    const other = { ...missed, id: ids.next() };
    expect((await sam('POST', '/api/v1/commands', { commands: [other] })).body.results[0]).toMatchObject({ outcome: 'rejected', error: { code: 'not_found' } });
    const both = { ...missed, id: ids.next(), conversationId: conv!.id };
    expect((await ann('POST', '/api/v1/commands', { commands: [both] })).body.results[0]).toMatchObject({ outcome: 'rejected', error: { code: 'bad_request' } });
    // And a call logged on the conversation itself.
    const onConv = { id: ids.next(), deviceTime: Date.now(), type: 'log_call', conversationId: conv!.id, direction: 'in', from: phone, to: '1001', startedAt: Date.now() - 5000, answeredAt: Date.now() - 4000, endedAt: Date.now(), outcome: 'transferred', transferTarget: '1002' };
    expect((await ann('POST', '/api/v1/commands', { commands: [onConv] })).body.results[0].outcome).toBe('applied');
    expect((await s.message(onConv.id))?.meta).toMatchObject({ call: { outcome: 'transferred', transferTarget: '1002' } });
  });

  it('takes voicemail from the SIP side as a voice message with the recording; a repeated call id is a duplicate', async () => {
    const url = `${s.url}/api/v1/inboxes/${inboxId}/voicemail?from=%2B8613900139000&name=Li%20Lei&callId=abc-123%40pbx&durationSeconds=32&to=1001`;
    const wav = Buffer.concat([Buffer.from('RIFF'), crypto.randomBytes(64)]);
    const post = (token: string, type = 'audio/wav', body: Buffer = wav) => fetch(url, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': type }, body });
    expect(await statusOf(post('wrong-token-wrong-token'))).toBe(401);
    expect(await statusOf(post(voicemailToken, 'application/json', Buffer.from('{}')))).toBe(400);
    const r = await post(voicemailToken);
    expect(r.status).toBe(201);
    const body = (await r.json()) as { conversationId: string; messageId: string; attachment: { id: string } };
    const m = await s.message(body.messageId);
    expect(m).toMatchObject({ kind: 'voice', direction: 'in', text: 'Voicemail · 0:32', meta: { voicemail: { callId: 'abc-123@pbx', durationSeconds: 32, to: '1001' } } });
    expect(m?.attachments).toEqual([expect.objectContaining({ id: body.attachment.id, mime: 'audio/wav', size: wav.length })]);
    expect(await s.conversation(body.conversationId)).toMatchObject({ contactName: 'Li Lei', channel: 'voice', waitingSince: expect.any(Number) });
    const again = await post(voicemailToken);
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ duplicate: true, messageId: body.messageId });
    expect(await s.count('SELECT COUNT(*) AS n FROM messages WHERE kind = ? AND inbox_id = ?', ['voice', inboxId])).toBe(1);
    // One attachment row, bound to the voicemail message (written in the inbound's transaction).
    expect(await s.count('SELECT COUNT(*) AS n FROM attachments WHERE id = ? AND message_id = ?', [body.attachment.id, body.messageId])).toBe(1);
    // The recording downloads for an agent of the inbox.
    const dl = await download(`${s.url}/api/v1/attachments/${body.attachment.id}`, await loginToken(s.url, `ann@${slug}.test`, PASSWORD));
    expect(dl.body.equals(wav)).toBe(true);
  });
});

// Issue 13: masked click-to-call from the mobile app's dialer through a privacy number (AXB). The
// server binds the agent's phone A and the customer's number B to a virtual number X with the voice
// inbox's provider (Aliyun 号码隐私保护 BindAxb, against FakeAliyunPns, a fake that checks the v1 RPC
// signature); the app dials X and never holds B. The binding expires, can be released early, and
// every step is audited. Without a provider the answer says why. On both databases.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, loginToken } from '../support/agentClient.js';
import { startTestServer } from '../support/inProcess.js';
import { FakeAliyunPns } from '../channels/fakes/fakeAliyunPns.js';
import { cstExpiration, dyplsNumber } from '../../src/channels/voice/privacyNumber.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;
const PHONE = '13812345678';
const AGENT_PHONE = '+86 139-0000-1111';
const SIP_TOKEN = 'sip-server-token-0123456789';

describe('privacy-number helpers', () => {
  it('formats numbers and the expiration as Dyplsapi takes them', () => {
    expect(dyplsNumber('+86 139-0000-1111')).toBe('13900001111');
    expect(dyplsNumber('8613900001111')).toBe('13900001111');
    expect(dyplsNumber('010-62345678')).toBe('01062345678');
    expect(cstExpiration(Date.UTC(2026, 11, 3, 20, 0, 5))).toBe('2026-12-04 04:00:05');
  });
});

describe.each([['sqlite'], ['postgres']] as const)('privacy-number calls on %s', (dialect) => {
  let s: Server;
  let fake: FakeAliyunPns;
  let admin: ReturnType<typeof api>;
  let zhang: ReturnType<typeof api>;
  let inboxId: string;
  let conversationId: string;

  beforeAll(async () => {
    fake = new FakeAliyunPns();
    await fake.start();
    s = await startTestServer(dialect);
    admin = api(s.url, await loginToken(s.url, 'admin@demo.goutong'));
    zhang = api(s.url, await loginToken(s.url, 'zhang.san@demo.goutong'));
    const created = await admin('POST', '/api/v1/inboxes', {
      name: 'Hotline',
      channel: 'voice',
      provider: 'sip',
      config: { wsUrl: 'ws://127.0.0.1:1/ws', domain: 'pbx.test', auth: 'none', agents: {} },
      secrets: { voicemailToken: SIP_TOKEN },
      teamIds: [],
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    inboxId = created.body.inbox?.id ?? created.body.id;
    const vm = await fetch(`${s.url}/api/v1/inboxes/${inboxId}/voicemail?from=${PHONE}&callId=vm-pn-${dialect}&durationSeconds=3`, {
      method: 'POST',
      headers: { authorization: `Bearer ${SIP_TOKEN}`, 'content-type': 'audio/wav' },
      body: Buffer.from('RIFF....WAVEfmt '),
    });
    expect(vm.status).toBe(201);
    conversationId = ((await vm.json()) as { conversationId: string }).conversationId;
  });
  afterAll(async () => {
    await s?.stopAll();
    await fake?.stop();
  });

  it('without a privacy-number provider the answer says why (409 no_privacy_number); nothing is bound', async () => {
    const r = await zhang('POST', '/api/v1/voice/privacy-bindings', { conversationId, agentPhone: AGENT_PHONE });
    expect(r.status).toBe(409);
    expect(r.body.error).toMatchObject({ code: 'conflict', details: { reason: 'no_privacy_number' } });
    expect(fake.bindings).toHaveLength(0);
  });

  it('binds A and B to X: the app gets X and the masked number, the provider connects A to B until the binding expires; audited; reused while live', async () => {
    const patched = await admin('PATCH', `/api/v1/inboxes/${inboxId}`, {
      config: { privacyNumber: { provider: 'aliyun', poolKey: fake.poolKey, endpoint: fake.baseUrl, bindingSeconds: 300 } },
      secrets: { aliyunAccessKeyId: fake.accessKeyId, aliyunAccessKeySecret: fake.accessKeySecret },
    });
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);

    expect((await zhang('POST', '/api/v1/voice/privacy-bindings', { conversationId, agentPhone: 'call me' })).status).toBe(400);
    expect((await zhang('POST', '/api/v1/voice/privacy-bindings', { conversationId: '01939a4e-0000-7000-8000-00000000dead', agentPhone: AGENT_PHONE })).status).toBe(404);

    const r = await zhang('POST', '/api/v1/voice/privacy-bindings', { conversationId, agentPhone: AGENT_PHONE });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(JSON.stringify(r.body)).not.toContain(PHONE);
    expect(r.body).toMatchObject({ display: '138****5678', inboxId, virtualNumber: expect.stringMatching(/^171000\d{5}$/) });

    // The provider got A and B (mainland form), an expiration 300 s ahead (in China time, to the second).
    expect(fake.bindings).toHaveLength(1);
    const b = fake.bindings[0]!;
    expect(b).toMatchObject({ a: '13900001111', b: PHONE, x: r.body.virtualNumber, poolKey: fake.poolKey, outId: r.body.id, unboundAt: null });
    expect(b.expiresAt).toBe(Math.floor(r.body.expiresAt / 1000) * 1000);
    // The agent's phone calling X reaches the customer; anyone else reaches nobody; after expiry, nobody.
    expect(fake.connect(r.body.virtualNumber, '13900001111')).toBe(PHONE);
    expect(fake.connect(r.body.virtualNumber, '13700000000')).toBeNull();
    expect(fake.connect(r.body.virtualNumber, '13900001111', b.expiresAt + 1)).toBeNull();

    // A second tap while the binding lives: the same X, no second binding.
    const again = await zhang('POST', '/api/v1/voice/privacy-bindings', { conversationId, agentPhone: '13900001111' });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ id: r.body.id, virtualNumber: r.body.virtualNumber });
    expect(fake.bindings).toHaveLength(1);

    // Audited; the table keeps neither the customer's number nor the agent's phone.
    const me = (await zhang('GET', '/api/v1/me')).body.agent;
    const audit = (await admin('GET', `/api/v1/audit-events?actorId=${me.id}&action=call.*&limit=50`)).body.items as { action: string; details: Record<string, unknown> }[];
    const binds = audit.filter((e) => e.action === 'call.bind');
    expect(binds.map((e) => e.details.reused).sort()).toEqual([false, true]);
    expect(binds.every((e) => e.details.conversationId === conversationId && e.details.virtualNumber === r.body.virtualNumber)).toBe(true);
    const rows = JSON.stringify(await s.workspace.db.all('SELECT * FROM privacy_bindings'));
    expect(rows).toContain(r.body.virtualNumber);
    expect(rows).not.toContain(PHONE);
    expect(rows).not.toContain('13900001111');
    expect(JSON.stringify(audit)).not.toContain(PHONE);

    // A supervisor sees the number in clear.
    const own = await admin('POST', '/api/v1/voice/privacy-bindings', { conversationId, agentPhone: '13600002222' });
    expect(own.status).toBe(201);
    expect(own.body.display).toBe(PHONE);
  });

  it('the agent releases the binding early (UnbindSubscription): X reaches nobody; only their own, once; audited', async () => {
    const r = await zhang('POST', '/api/v1/voice/privacy-bindings', { conversationId, agentPhone: AGENT_PHONE });
    expect(r.status).toBe(200);
    const other = api(s.url, await loginToken(s.url, 'alice@demo.goutong'));
    expect((await other('POST', `/api/v1/voice/privacy-bindings/${r.body.id}/release`)).status).toBe(404);
    const rel = await zhang('POST', `/api/v1/voice/privacy-bindings/${r.body.id}/release`);
    expect(rel.status, JSON.stringify(rel.body)).toBe(200);
    expect(fake.bindings.find((b) => b.subsId && b.x === r.body.virtualNumber && b.a === '13900001111')!.unboundAt).not.toBeNull();
    expect(fake.connect(r.body.virtualNumber, '13900001111')).toBeNull();
    expect((await zhang('POST', `/api/v1/voice/privacy-bindings/${r.body.id}/release`)).status).toBe(409);
    const me = (await zhang('GET', '/api/v1/me')).body.agent;
    const audit = (await admin('GET', `/api/v1/audit-events?actorId=${me.id}&action=call.unbind`)).body.items as { details: Record<string, unknown> }[];
    expect(audit).toHaveLength(1);
    expect(audit[0]!.details).toMatchObject({ bindingId: r.body.id, expired: false });
    // After the release a new tap makes a new binding.
    const next = await zhang('POST', '/api/v1/voice/privacy-bindings', { conversationId, agentPhone: AGENT_PHONE });
    expect(next.status).toBe(201);
    expect(next.body.id).not.toBe(r.body.id);
  });

  it('a provider that refuses (wrong key) is a 503 with its code, and nothing is recorded', async () => {
    await admin('PATCH', `/api/v1/inboxes/${inboxId}`, { secrets: { aliyunAccessKeySecret: 'not-the-secret' } });
    const before = (await s.workspace.db.all('SELECT id FROM privacy_bindings')).length;
    const r = await zhang('POST', '/api/v1/voice/privacy-bindings', { conversationId, agentPhone: '13500003333' });
    expect(r.status).toBe(503);
    expect(r.body.error.details).toMatchObject({ reason: 'provider', providerCode: 'SignatureDoesNotMatch' });
    expect(fake.refused).toContain('SignatureDoesNotMatch');
    expect((await s.workspace.db.all('SELECT id FROM privacy_bindings')).length).toBe(before);
    await admin('PATCH', `/api/v1/inboxes/${inboxId}`, { secrets: { aliyunAccessKeySecret: fake.accessKeySecret } });
  });
});

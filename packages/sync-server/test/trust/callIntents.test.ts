// Issue 13: click-to-call of a masked number. The agent's device never receives the clear number:
// it dials an opaque one-time SIP target the SIP server resolves with the server; the caller-ID of
// masked contacts is shown masked (core callerIdFor). On both databases.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callerIdFor, callIntentToken, phoneOf, BUILTIN_ROLES } from '@goutong/core';
import { api, loginToken } from '../support/agentClient.js';
import { startTestServer } from '../support/inProcess.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;
const PHONE = '13812345678';
const SIP_TOKEN = 'sip-server-token-0123456789';

describe.each([['sqlite'], ['postgres']] as const)('call intents on %s', (dialect) => {
  let s: Server;
  let admin: ReturnType<typeof api>;
  let zhang: ReturnType<typeof api>;
  let voiceInbox: string;
  let conversationId: string;
  const resolve = (inbox: string, target: string, token = SIP_TOKEN) =>
    fetch(`${s.url}/api/v1/inboxes/${inbox}/call-intents/resolve`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ target }) });

  beforeAll(async () => {
    s = await startTestServer(dialect);
    admin = api(s.url, await loginToken(s.url, 'admin@demo.goutong'));
    zhang = api(s.url, await loginToken(s.url, 'zhang.san@demo.goutong'));
    const created = await admin('POST', '/api/v1/inboxes', {
      name: 'Hotline',
      channel: 'voice',
      provider: 'sip',
      config: { wsUrl: 'ws://127.0.0.1:1/ws', domain: 'pbx.test', auth: 'none', agents: { 'zhang.san@demo.goutong': '1001', 'admin@demo.goutong': '1000' } },
      secrets: { voicemailToken: SIP_TOKEN },
      teamIds: [],
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    voiceInbox = created.body.inbox?.id ?? created.body.id;
    // A customer leaves a voicemail: a contact with a voice identity and a conversation in the inbox.
    const vm = await fetch(`${s.url}/api/v1/inboxes/${voiceInbox}/voicemail?from=${PHONE}&callId=vm-${dialect}&durationSeconds=3`, {
      method: 'POST',
      headers: { authorization: `Bearer ${SIP_TOKEN}`, 'content-type': 'audio/wav' },
      body: Buffer.from('RIFF....WAVEfmt '),
    });
    expect(vm.status).toBe(201);
    conversationId = ((await vm.json()) as { conversationId: string }).conversationId;
  });
  afterAll(async () => s?.stopAll());

  it('an agent without pii.view calls through an intent; only the SIP server learns the number, once', async () => {
    // The device has the contact masked: nothing it could dial.
    const conv = (await zhang('GET', `/api/v1/conversations/${conversationId}`)).body;
    const contact = (await zhang('GET', `/api/v1/contacts/${conv.contactId ?? conv.conversation?.contactId}`)).body;
    expect(JSON.stringify(contact)).not.toContain(PHONE);
    expect(phoneOf(contact)).toContain('*');

    const intent = await zhang('POST', '/api/v1/voice/call-intents', { conversationId });
    expect(intent.status, JSON.stringify(intent.body)).toBe(201);
    expect(JSON.stringify(intent.body)).not.toContain(PHONE);
    expect(intent.body.display).toBe('138****5678');
    expect(intent.body.dialTarget).toMatch(/^gtcall-[0-9a-f]{40}$/);
    expect(intent.body.inboxId).toBe(voiceInbox);
    expect(callIntentToken(`sip:${intent.body.dialTarget}@pbx.test`)).toBe(intent.body.dialTarget.slice(7));

    // The agent's own token, a wrong SIP token, another inbox: refused.
    const zhangToken = await loginToken(s.url, 'zhang.san@demo.goutong');
    expect((await resolve(voiceInbox, intent.body.dialTarget, zhangToken)).status).toBe(401);
    const demoInbox = (await admin('GET', '/api/v1/inboxes')).body.items.find((i: { name: string }) => i.name === 'Demo API').id;
    expect((await resolve(demoInbox, intent.body.dialTarget)).status).toBe(404);
    expect((await resolve(voiceInbox, 'gtcall-00000000000000000000000000000000000000ff')).status).toBe(404);
    expect((await resolve(voiceInbox, '13812345678')).status).toBe(400);

    // The SIP server resolves the INVITE's target: the real number, the agent's line, the conversation.
    const r = await resolve(voiceInbox, `sip:${intent.body.dialTarget}@pbx.test`);
    expect(r.status).toBe(200);
    const body = (await r.json()) as { number: string; dial: string; sipUser: string; conversationId: string };
    expect(body.dial.replace(/^\+?86/, '')).toBe(PHONE);
    expect(body.sipUser).toBe('1001');
    expect(body.conversationId).toBe(conversationId);
    // Once only.
    expect((await resolve(voiceInbox, intent.body.dialTarget)).status).toBe(409);

    // Audited: the intent by the agent, the dial on the agent's behalf.
    const audit = (await admin('GET', '/api/v1/audit-events?action=call.*&limit=50')).body.items as { action: string; actorId: string; details: Record<string, unknown> }[];
    const me = (await zhang('GET', '/api/v1/me')).body.agent;
    expect(audit.filter((e) => e.actorId === me.id).map((e) => e.action).sort()).toEqual(['call.dial', 'call.intent']);
    // The intent row holds no personal data (only where the number is).
    expect(JSON.stringify(await s.workspace.db.all('SELECT * FROM call_intents'))).not.toContain('5678');
  });

  it('a supervisor sees the number; an agent without a line, or a conversation out of reach, gets no intent', async () => {
    const own = await admin('POST', '/api/v1/voice/call-intents', { conversationId });
    expect(own.status).toBe(201);
    expect(own.body.display.replace(/\D/g, '')).toContain(PHONE);
    const alice = api(s.url, await loginToken(s.url, 'alice@demo.goutong'));
    expect((await alice('POST', '/api/v1/voice/call-intents', { conversationId })).status).toBe(409);
    expect((await zhang('POST', '/api/v1/voice/call-intents', { conversationId: '01939a4e-0000-7000-8000-00000000dead' })).status).toBe(404);
    expect((await zhang('POST', '/api/v1/voice/call-intents', { conversationId, identity: 7 })).status).toBe(400);
    expect((await zhang('POST', '/api/v1/voice/call-intents', { conversationId, number: PHONE })).status).toBe(400);
  });
});

describe('caller-ID of masked contacts (core callerIdFor)', () => {
  const agent = { role: 'agent' as const, teamIds: [] };
  const supervisor = { role: 'supervisor' as const, teamIds: [] };
  it('masks the number for a role without pii.view, keeps it for one with it', () => {
    expect(BUILTIN_ROLES.agent.actions).not.toContain('pii.view');
    expect(callerIdFor(agent, PHONE)).toBe('138****5678');
    expect(callerIdFor(agent, '+8613812345678')).not.toContain('12345');
    expect(callerIdFor(agent, '02087654321')).not.toContain('8765');
    expect(callerIdFor(agent, '1001')).toBe('1001'); // a colleague's extension
    expect(callerIdFor(supervisor, PHONE)).toBe(PHONE);
  });
});

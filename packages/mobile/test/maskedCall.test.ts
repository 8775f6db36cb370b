// [trust] Issue 13, masked click-to-call on the phone: the app's own code (app/maskedCall.ts over
// app/uniServerApi.ts with fetch) against the real server (built, as a child process) whose phone
// inbox has a privacy-number provider, FakeAliyunPns (a fake of Aliyun Dyplsapi that checks the
// RPC v1 signature). The app gets a virtual number X, which the fake connects to the customer only
// from the agent's phone; before the provider is set up the app gets the reason, not a number.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServerProcess } from '../../sync-server/test/support/serverProcess';
import { api, loginToken } from '../../sync-server/test/support/agentClient';
import { FakeAliyunPns } from '../../sync-server/test/channels/fakes/fakeAliyunPns';
import { createServerApi, fetchSender } from '../src/app/uniServerApi';
import { MaskedCallError, needsPrivacyNumber, privacyNumberFor } from '../src/app/maskedCall';

const PHONE = '13812345678';
const SIP_TOKEN = 'sip-server-token-mobile-0123';

describe('masked click-to-call from the phone (real server, fake privacy-number provider)', () => {
  let server: ServerProcess;
  const fake = new FakeAliyunPns();
  beforeAll(async () => {
    server = new ServerProcess();
    await Promise.all([server.start(), fake.start()]);
  });
  afterAll(async () => {
    await server?.stop();
    await fake.stop();
  });

  it('the app never dials the mask: it gets X for its own phone, or the reason it cannot call', { timeout: 60_000 }, async () => {
    const admin = api(server.url, await loginToken(server.url, 'admin@demo.goutong'));
    const created = await admin('POST', '/api/v1/inboxes', {
      name: 'Field line 外勤电话',
      channel: 'voice',
      provider: 'sip',
      config: { wsUrl: 'ws://127.0.0.1:1/ws', domain: 'pbx.test', auth: 'none' },
      secrets: { voicemailToken: SIP_TOKEN },
      teamIds: [],
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const inboxId: string = created.body.inbox?.id ?? created.body.id;
    const vm = await fetch(`${server.url}/api/v1/inboxes/${inboxId}/voicemail?from=${PHONE}&callId=vm-mobile&durationSeconds=3`, {
      method: 'POST',
      headers: { authorization: `Bearer ${SIP_TOKEN}`, 'content-type': 'audio/wav' },
      body: Buffer.from('RIFF....WAVEfmt '),
    });
    expect(vm.status).toBe(201);
    const conversationId = ((await vm.json()) as { conversationId: string }).conversationId;

    // zhang.san's app: the contact's number is masked on the device.
    const token = await loginToken(server.url, 'zhang.san@demo.goutong');
    const appApi = createServerApi({ baseUrl: server.url, token: async () => token, send: fetchSender, bytes: async () => null, download: async () => null });
    const conv = (await appApi.getJson(`/api/v1/conversations/${conversationId}`)) as { contactId: string };
    const contact = (await appApi.getJson(`/api/v1/contacts/${conv.contactId}`)) as { identities: { identifier: string }[] };
    const shown = contact.identities[0]!.identifier;
    expect(shown).not.toContain(PHONE);
    expect(needsPrivacyNumber(shown)).toBe(true);

    // No provider yet: the app learns why (the page shows contact.masked.noPrivacyNumber).
    const refused = await privacyNumberFor(appApi, { conversationId, identity: 0, myNumber: '13900001111' }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(MaskedCallError);
    expect((refused as MaskedCallError).problem).toBe('noPrivacyNumber');

    const patched = await admin('PATCH', `/api/v1/inboxes/${inboxId}`, {
      config: { privacyNumber: { provider: 'aliyun', poolKey: fake.poolKey, endpoint: fake.baseUrl, bindingSeconds: 120 } },
      secrets: { aliyunAccessKeyId: fake.accessKeyId, aliyunAccessKeySecret: fake.accessKeySecret },
    });
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);
    const b = await privacyNumberFor(appApi, { conversationId, identity: 0, myNumber: '+86 139 0000 1111' });
    expect(b.display).toBe('138****5678');
    expect(fake.pool).toContain(b.virtualNumber);
    expect(JSON.stringify(b)).not.toContain(PHONE);
    // The provider connects the agent's phone, through X, to the customer, until the binding expires.
    expect(fake.connect(b.virtualNumber, '13900001111')).toBe(PHONE);
    expect(fake.connect(b.virtualNumber, '13900001111', b.expiresAt + 1_000)).toBeNull();
  });
});

/**
 * Customer 360 against the real server (SQLite and PostgreSQL): a customer who writes through the
 * api channel and then calls is two contacts until an agent merges them (suggested by the shared
 * number); the merge moves identities and conversations and keeps every message; the undo restores
 * both; the timeline shows every conversation, call and note across channels; search finds
 * names, identities and attributes; scope holds (an agent of another team sees nothing).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type Dialect } from './support/inProcess.js';
import { api, loginToken } from './support/agentClient.js';

let n = 0;
const uuid = () => `01950000-0000-7000-8000-${String(++n).padStart(12, '0')}`;
const PHONE = '+8613512345678';

for (const dialect of ['sqlite', 'postgres'] as Dialect[]) {
  describe(`customer 360 (${dialect})`, () => {
    let s: Awaited<ReturnType<typeof startTestServer>>;
    let admin: ReturnType<typeof api>;
    let apiInbox: string;
    let chatContact: string;
    let callContact: string;
    let chatConv: string;
    let callConv: string;

    beforeAll(async () => {
      s = await startTestServer(dialect);
      admin = api(s.url, await loginToken(s.url, 'admin@demo.goutong'));
      const teams = (await admin('GET', '/api/v1/teams')).body.items as Array<{ id: string; name: string }>;
      const support = teams.find((t) => t.name === 'Support')!.id;
      apiInbox = (await admin('POST', '/api/v1/inboxes', { name: 'Web API', channel: 'api', teamIds: [support] })).body.id;
      const voice = await admin('POST', '/api/v1/inboxes', { name: 'Hotline', channel: 'voice', provider: 'sip', config: { wsUrl: 'ws://127.0.0.1:18088', domain: 'lab.test' }, teamIds: [support] });
      expect(voice.status).toBe(201);
      const r = await admin('POST', `/api/v1/inboxes/${apiInbox}/inbound`, { externalId: `c360-${dialect}-1`, from: { identifier: PHONE, name: '周杰 Zhou Jie' }, text: '我的订单还没到' });
      chatConv = r.body.conversationId ?? r.body.conversation?.id;
      chatContact = (await admin('GET', `/api/v1/conversations/${chatConv}`)).body.contactId;
      await admin('POST', '/api/v1/commands', { commands: [{ id: uuid(), deviceTime: Date.now(), type: 'add_note', conversationId: chatConv, text: 'customer is a VIP' }] });
      await admin('POST', '/api/v1/commands', { commands: [{ id: uuid(), deviceTime: Date.now(), type: 'update_contact', contactId: chatContact, attributes: { tier: 'vip' } }] });
      const call = await admin('POST', '/api/v1/commands', { commands: [{ id: uuid(), deviceTime: Date.now(), type: 'log_call', inboxId: voice.body.id, phone: PHONE, direction: 'in', from: PHONE, to: '1000', startedAt: Date.now() - 60_000, answeredAt: Date.now() - 55_000, endedAt: Date.now(), outcome: 'answered' }] });
      expect(call.body.results[0].outcome).toBe('applied');
      const convs = (await admin('GET', '/api/v1/conversations?limit=200')).body.items as Array<{ id: string; channel: string; contactId: string }>;
      const voiceConv = convs.find((c) => c.channel === 'voice')!;
      callConv = voiceConv.id;
      callContact = voiceConv.contactId;
    });
    afterAll(async () => s?.stopAll());

    it('is two strangers at first, found by name, number and attribute', async () => {
      expect(callContact).not.toBe(chatContact);
      const byName = (await admin('GET', `/api/v1/contacts?q=${encodeURIComponent('zhou')}`)).body.items;
      expect(byName.map((c: { id: string }) => c.id)).toContain(chatContact);
      const byNumber = (await admin('GET', `/api/v1/contacts?q=${encodeURIComponent('13512345678')}`)).body.items.map((c: { id: string }) => c.id);
      expect(byNumber.sort()).toEqual([chatContact, callContact].sort());
      expect((await admin('GET', '/api/v1/contacts?q=vip')).body.items.map((c: { id: string }) => c.id)).toContain(chatContact);
      expect((await admin('GET', '/api/v1/contacts?q=%25')).body.items).toEqual([]); // LIKE wildcards are literal
    });

    it('suggests the merge, merges (identities, attributes, conversations move; every message stays) and undoes it', async () => {
      const before = await admin('GET', `/api/v1/conversations/${chatConv}/messages`);
      const sug = (await admin('GET', `/api/v1/contacts/${chatContact}/merge-suggestions`)).body.items;
      expect(sug).toEqual([expect.objectContaining({ contact: expect.objectContaining({ id: callContact }), reason: PHONE })]);
      const merged = await admin('POST', `/api/v1/contacts/${chatContact}/merge`, { otherId: callContact });
      expect(merged.status).toBe(200);
      expect(merged.body.contact.identities).toEqual(expect.arrayContaining([{ channel: 'api', identifier: PHONE }, { channel: 'voice', identifier: PHONE }]));
      expect((await admin('GET', `/api/v1/conversations/${callConv}`)).body.contactId).toBe(chatContact);
      const timeline = (await admin('GET', `/api/v1/contacts/${chatContact}/timeline`)).body.items as Array<{ channel: string; message: { kind: string } }>;
      expect(timeline.map((i) => `${i.channel}:${i.message.kind}`).sort()).toEqual(['api:note', 'api:text', 'voice:call']);
      // The merged-away contact is no longer listed; merging twice is refused.
      expect((await admin('GET', `/api/v1/contacts?q=13512345678`)).body.items.map((c: { id: string }) => c.id)).toEqual([chatContact]);
      expect((await admin('POST', `/api/v1/contacts/${chatContact}/merge`, { otherId: callContact })).status).toBe(409);
      expect((await admin('POST', `/api/v1/contacts/${chatContact}/merge`, { otherId: chatContact })).status).toBe(400);
      // A later call from that number lands with the merged customer.
      const again = await admin('POST', '/api/v1/commands', { commands: [{ id: uuid(), deviceTime: Date.now(), type: 'log_call', conversationId: callConv, direction: 'out', from: '1000', to: PHONE, startedAt: Date.now() - 1000, endedAt: Date.now(), outcome: 'missed' }] });
      expect(again.body.results[0].outcome).toBe('applied');
      // Undo.
      const mergeId = merged.body.mergeId;
      expect((await admin('GET', `/api/v1/contacts/${chatContact}/merges`)).body.items[0]).toMatchObject({ id: mergeId, sourceId: callContact, undoneAt: null });
      const undone = await admin('POST', `/api/v1/contacts/${chatContact}/unmerge`, { mergeId });
      expect(undone.status).toBe(200);
      expect(undone.body.contact.identities).toEqual([{ channel: 'api', identifier: PHONE }]);
      expect(undone.body.contact.attributes).toEqual({ tier: 'vip' });
      expect((await admin('GET', `/api/v1/conversations/${callConv}`)).body.contactId).toBe(callContact);
      expect((await admin('GET', `/api/v1/contacts/${callContact}`)).body.identities).toEqual([{ channel: 'voice', identifier: PHONE }]);
      expect((await admin('POST', `/api/v1/contacts/${chatContact}/unmerge`, { mergeId })).status).toBe(409);
      const after = await admin('GET', `/api/v1/conversations/${chatConv}/messages`);
      expect(after.body.items.map((m: { id: string }) => m.id)).toEqual(before.body.items.map((m: { id: string }) => m.id));
      const calls = (await admin('GET', `/api/v1/conversations/${callConv}/messages`)).body.items.filter((m: { kind: string }) => m.kind === 'call');
      expect(calls).toHaveLength(2);
      // Devices converge: the pulled contacts carry the restored identities.
      const pulled = (await admin('POST', '/api/v1/sync/pull', { checkpoint: 0 })).body;
      expect(pulled.contacts.find((c: { id: string }) => c.id === callContact).identities).toEqual([{ channel: 'voice', identifier: PHONE }]);
    });

    it('keeps scope: an agent of another team neither finds nor merges the customer', async () => {
      const bob = api(s.url, await loginToken(s.url, 'bob@demo.goutong'));
      expect((await bob('GET', '/api/v1/contacts?q=13512345678')).body.items).toEqual([]);
      expect((await bob('GET', `/api/v1/contacts/${chatContact}/timeline`)).status).toBe(404);
      expect((await bob('POST', `/api/v1/contacts/${chatContact}/merge`, { otherId: callContact })).status).toBe(404);
      expect((await admin('POST', `/api/v1/contacts/${chatContact}/merge`, { nope: 1 })).status).toBe(400);
    });
  });
}

// The rule holes of issue 9, each closed by core's decision layer and proved on the real server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInbox } from '../src/seed.js';
import { api, loginToken } from './support/agentClient.js';
import { startTestServer } from './support/inProcess.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;

let n = 0;
/** A fresh UUIDv7 command id. */
const cid = () => `01939a4e-0000-7000-8000-${(0xbee000000000 + ++n).toString(16)}`;

describe.each([['sqlite'], ['postgres']] as const)('rule holes closed on %s', (dialect) => {
  let s: Server;
  let admin: ReturnType<typeof api>;
  let alice: ReturnType<typeof api>;
  let bob: ReturnType<typeof api>;
  let aliceToken: string;
  let tenantId: string;
  /** A conversation of the Support inbox (alice's team; bob is in Sales). */
  let convId: string;
  let contactId: string;

  const command = async (who: ReturnType<typeof api>, c: Record<string, unknown>) =>
    (await who('POST', '/api/v1/commands', { commands: [{ id: cid(), deviceTime: Date.now(), ...c }] })).body.results[0];

  beforeAll(async () => {
    s = await startTestServer(dialect);
    admin = api(s.url, await loginToken(s.url, 'admin@demo.goutong'));
    aliceToken = await loginToken(s.url, 'alice@demo.goutong');
    alice = api(s.url, aliceToken);
    bob = api(s.url, await loginToken(s.url, 'bob@demo.goutong'));
    tenantId = (await admin('GET', '/api/v1/me')).body.agent.tenantId;
    const conv = (await alice('GET', '/api/v1/conversations?limit=1')).body.items[0];
    convId = conv.id;
    contactId = conv.contactId;
  });
  afterAll(async () => s?.stopAll());

  it('update_contact checks team scope: an agent of Sales cannot update a contact only in Support conversations (404)', async () => {
    expect((await bob('GET', `/api/v1/contacts/${contactId}`)).status).toBe(404);
    const before = (await admin('GET', `/api/v1/contacts/${contactId}`)).body;
    const r = await command(bob, { type: 'update_contact', contactId, name: 'Renamed by Sales', attributes: { tier: 'none' } });
    expect(r).toMatchObject({ outcome: 'rejected', error: { code: 'not_found', message: `contact ${contactId} not found` } });
    expect((await admin('GET', `/api/v1/contacts/${contactId}`)).body).toEqual(before);
    // Support may.
    expect(await command(alice, { type: 'update_contact', contactId, attributes: { tier: 'gold' } })).toMatchObject({ outcome: 'applied' });
  });

  it('opt-out is a server-written fact no agent command can clear; only START or an audited admin opt-in does', async () => {
    // The customer's STOP (the SMS channel records it through the Workspace).
    await s.workspace.recordOptOut(contactId, { optedOut: true, keyword: 'STOP', channel: 'sms' });
    for (const attributes of [{ optedOut: '' }, { optedOut: 'false' }, { optedOutAt: '' }]) {
      expect(await command(alice, { type: 'update_contact', contactId, attributes })).toMatchObject({ outcome: 'rejected', error: { code: 'forbidden' } });
    }
    expect(await command(admin, { type: 'update_contact', contactId, attributes: { optedOut: '' } })).toMatchObject({ outcome: 'rejected', error: { code: 'forbidden' } });
    expect((await admin('GET', `/api/v1/contacts/${contactId}`)).body.attributes).toMatchObject({ optedOut: 'true', optedOutKeyword: 'STOP' });
    expect(await command(alice, { type: 'send_reply', conversationId: convId, text: 'are you there?' })).toMatchObject({ outcome: 'rejected', error: { code: 'forbidden' } });

    // Agents and supervisors cannot opt a contact in; an admin can, and the audit row comes with it.
    expect((await alice('POST', `/api/v1/contacts/${contactId}/opt-in`, {})).status).toBe(403);
    const supervisor = api(s.url, await loginToken(s.url, 'li.wei@demo.goutong'));
    expect((await supervisor('POST', `/api/v1/contacts/${contactId}/opt-in`, {})).status).toBe(403);
    expect((await admin('POST', '/api/v1/contacts/nope/opt-in', {})).status).toBe(404);
    const opted = await admin('POST', `/api/v1/contacts/${contactId}/opt-in`, { reason: 'customer called to opt in again' });
    expect(opted.status).toBe(200);
    expect(opted.body.attributes.optedOut).toBeUndefined();
    const audit = await s.workspace.db.all<{ action: string; details: string; agent_id: string }>("SELECT * FROM audit_log WHERE action = 'contact.opt_in' AND target = ?", [contactId]);
    expect(audit).toHaveLength(1);
    expect(JSON.parse(audit[0]!.details)).toMatchObject({ previous: { keyword: 'STOP', channel: 'sms' }, reason: 'customer called to opt in again' });
    // A second opt-in changes nothing and audits nothing.
    expect((await admin('POST', `/api/v1/contacts/${contactId}/opt-in`, {})).status).toBe(200);
    expect(await s.workspace.db.all("SELECT * FROM audit_log WHERE action = 'contact.opt_in' AND target = ?", [contactId])).toHaveLength(1);
    expect(await command(alice, { type: 'send_reply', conversationId: convId, text: 'welcome back' })).toMatchObject({ outcome: 'applied' });
  });

  it('an inbox created without teams is visible to every agent', async () => {
    const id = await createInbox(s.workspace, s.secret, { tenantId, name: 'Website', channel: 'api', teamIds: [] });
    const inbox = (await s.workspace.inbox(tenantId, id))!;
    const res = await s.workspace.ingestInbound(inbox, { externalId: 'web-1', from: { identifier: 'visitor-1', name: 'Visitor' }, text: 'anyone?' });
    for (const who of [alice, bob]) {
      expect((await who('GET', '/api/v1/inboxes')).body.items.map((i: { id: string }) => i.id)).toContain(id);
      expect((await who('GET', `/api/v1/conversations/${res.conversation.id}`)).status).toBe(200);
      const pulled = await who('POST', '/api/v1/sync/pull', { checkpoint: 0, limit: 2000 });
      expect(pulled.body.conversations.map((c: { id: string }) => c.id)).toContain(res.conversation.id);
    }
    expect(await command(bob, { type: 'set_priority', conversationId: res.conversation.id, priority: 'high' })).toMatchObject({ outcome: 'applied' });
    expect(await command(bob, { type: 'assign', conversationId: res.conversation.id, assigneeId: (await bob('GET', '/api/v1/me')).body.agent.id })).toMatchObject({ outcome: 'applied' });
  });

  it('every attachment referenced by send_reply is bound to its message; one bound elsewhere or of another tenant is refused', async () => {
    const upload = async (name: string) => {
      const r = await fetch(`${s.url}/api/v1/attachments?name=${name}`, { method: 'POST', headers: { authorization: `Bearer ${aliceToken}`, 'content-type': 'text/plain' }, body: Buffer.from(`bytes of ${name} ${dialect}`) });
      expect(r.status).toBe(201);
      return (await r.json()) as { id: string; name: string; mime: string; size: number };
    };
    const a = await upload('a.txt');
    const first = cid();
    const r1 = await alice('POST', '/api/v1/commands', { commands: [{ type: 'send_reply', id: first, deviceTime: Date.now(), conversationId: convId, text: 'see a', attachments: [a] }] });
    expect(r1.body.results[0]).toMatchObject({ outcome: 'applied' });
    expect(await s.workspace.db.one('SELECT message_id FROM attachments WHERE id = ?', [a.id])).toEqual({ message_id: first });
    // The same upload on another message is refused.
    expect(await command(alice, { type: 'send_reply', conversationId: convId, text: 'again', attachments: [a] })).toMatchObject({ outcome: 'rejected', error: { code: 'conflict' } });
    // An upload of another tenant does not exist here.
    await s.workspace.db.run('INSERT INTO attachments (id, tenant_id, sha256, name, mime, size, message_id, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, NULL, NULL, ?)', [
      `foreign-${dialect}`, 'another-tenant', 'f'.repeat(64), 'x.txt', 'text/plain', 1, Date.now(),
    ]);
    expect(await command(alice, { type: 'send_reply', conversationId: convId, text: 'foreign', attachments: [{ id: `foreign-${dialect}`, name: 'x.txt', mime: 'text/plain', size: 1 }] })).toMatchObject({
      outcome: 'rejected',
      error: { code: 'bad_request' },
    });
    expect(await s.workspace.db.one('SELECT message_id FROM attachments WHERE id = ?', [`foreign-${dialect}`])).toEqual({ message_id: null });
  });
});

describe('delivery status as a decision, inside the caller\'s transaction', () => {
  let s: Server;
  afterAll(async () => s?.stopAll());

  it('recordMessageStatus commits or rolls back with the caller; statuses only move forward; a repeated receipt writes no fact', async () => {
    s = await startTestServer('sqlite');
    const alice = api(s.url, await loginToken(s.url, 'alice@demo.goutong'));
    const conv = (await alice('GET', '/api/v1/conversations?limit=1')).body.items[0];
    const id = cid();
    // A note: a message no relay job touches, so only this test writes its statuses.
    expect((await alice('POST', '/api/v1/commands', { commands: [{ type: 'add_note', id, deviceTime: Date.now(), conversationId: conv.id, text: 'status me' }] })).body.results[0]).toMatchObject({ outcome: 'applied' });
    const ws = s.workspace;
    const statusOf = async () => (await ws.db.one<{ status: string; seq: number }>('SELECT status, seq FROM messages WHERE id = ?', [id]))!;
    const before = await statusOf();
    // Rolled back with the caller's transaction: no fact.
    await expect(ws.db.tx(async (q) => {
      expect(await ws.recordMessageStatus(q, id, 'delivered', { providerMessageId: 'p-1' })).toMatchObject({ status: 'delivered' });
      throw new Error('the job finish failed');
    })).rejects.toThrow('the job finish failed');
    expect(await statusOf()).toEqual(before);
    // Committed with it.
    const written = await ws.db.tx((q) => ws.recordMessageStatus(q, id, 'delivered', { providerMessageId: 'p-1' }));
    expect(written).toMatchObject({ status: 'delivered', seq: expect.any(Number) });
    expect(await statusOf()).toEqual({ status: 'delivered', seq: written!.seq });
    // Backwards and repeated reports change nothing (no new seq).
    expect(await ws.setMessageStatus(id, 'accepted')).toBeNull();
    expect(await ws.setMessageStatus(id, 'delivered', { providerMessageId: 'p-1' })).toBeNull();
    expect(await statusOf()).toEqual({ status: 'delivered', seq: written!.seq });
  });
});

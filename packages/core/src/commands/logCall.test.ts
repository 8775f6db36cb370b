import { afterEach, describe, expect, it } from 'vitest';
import { Command, conversationOf, laneOf, pendingMessageOf } from './commands.js';
import { TestWorld, seedContactCenter } from '../testing/harness.js';

const ID = '01890a5d-ac96-774b-bcce-b302099a8057';
const call = { id: ID, deviceTime: 1_000, type: 'log_call', direction: 'in', from: '+8613800138000', to: 'alice', startedAt: 1_000, endedAt: 9_000, outcome: 'missed' } as const;

describe('log_call by number', () => {
  it('takes either a conversation or an inbox with a phone number, not both, not neither', () => {
    expect(Command.safeParse({ ...call, conversationId: 'c1' }).success).toBe(true);
    expect(Command.safeParse({ ...call, inboxId: 'voice', phone: '+8613800138000' }).success).toBe(true);
    expect(Command.safeParse(call).success).toBe(false);
    expect(Command.safeParse({ ...call, inboxId: 'voice' }).success).toBe(false);
    expect(Command.safeParse({ ...call, conversationId: 'c1', inboxId: 'voice', phone: '+86' }).success).toBe(false);
    expect(Command.safeParse({ ...call, conversationId: 'c1', attachments: [{ id: 'a1', name: 'call.webm', mime: 'audio/webm', size: 10 }] }).success).toBe(true);
  });

  it('runs in a lane of its own number and shows no pending message (no conversation on the device yet)', () => {
    const byNumber = Command.parse({ ...call, inboxId: 'voice', phone: '+8613800138000' });
    expect(laneOf(byNumber)).toBe('call:voice:+8613800138000');
    expect(conversationOf(byNumber)).toBeNull();
    expect(pendingMessageOf(byNumber, { id: 'alice', tenantId: 't' })).toBeNull();
    const onConv = Command.parse({ ...call, conversationId: 'c1', attachments: [{ id: 'a1', name: 'call.webm', mime: 'audio/webm', size: 10 }] });
    expect(laneOf(onConv)).toBe('conversation:c1');
    expect(pendingMessageOf(onConv, { id: 'alice', tenantId: 't' })).toMatchObject({ kind: 'call', conversationId: 'c1', attachments: [{ id: 'a1' }] });
  });
});

describe('log_call by number on the reference server, through a client', () => {
  let world: TestWorld | null = null;
  afterEach(async () => {
    await world?.dispose();
    world = null;
  });

  it('creates the contact and a waiting conversation for a missed call, and joins it on the next call; exactly once', async () => {
    world = new TestWorld({ seed: 3 });
    seedContactCenter(world, 0);
    world.server.addInbox(world.tenantId, { id: 'voice', name: 'Hotline', channel: 'voice', provider: 'sip', teamIds: ['support'] });
    const alice = await world.addClient('alice');
    await world.settle();

    const missed = await alice.client.dispatch({ type: 'log_call', inboxId: 'voice', phone: '+8613800138000', contactName: 'Customer', direction: 'in', from: '+8613800138000', to: 'alice', startedAt: 1_000, endedAt: 5_000, outcome: 'missed' });
    await world.settle();
    const conv = world.server.conversations(world.tenantId).find((c) => c.inboxId === 'voice')!;
    expect(conv).toMatchObject({ channel: 'voice', contactName: 'Customer', status: 'open', waitingSince: 1_000, messageCount: 1, lastMessagePreview: 'Inbound call · missed' });
    expect(world.server.contact(conv.contactId)?.identities).toEqual([{ channel: 'voice', identifier: '+8613800138000' }]);
    expect(world.server.message(missed)).toMatchObject({ conversationId: conv.id, kind: 'call', meta: { call: { outcome: 'missed' } } });
    // The client has the new conversation and its call message.
    expect(await alice.client.conversation(conv.id)).toMatchObject({ waitingSince: 1_000 });
    expect((await alice.client.messages(conv.id)).map((m) => m.id)).toEqual([missed]);

    // The call back lands on the same conversation and answers the customer.
    await alice.client.dispatch({ type: 'log_call', inboxId: 'voice', phone: '+8613800138000', direction: 'out', from: 'alice', to: '+8613800138000', startedAt: 10_000, answeredAt: 12_000, endedAt: 70_000, outcome: 'answered' });
    await world.settle();
    const convs = world.server.conversations(world.tenantId).filter((c) => c.inboxId === 'voice');
    expect(convs).toHaveLength(1);
    expect(convs[0]).toMatchObject({ messageCount: 2, waitingSince: null, lastMessagePreview: 'Outbound call · 0:58' });

    // Bob (sales) cannot log calls on the support hotline.
    const bob = await world.addClient('bob');
    await world.settle();
    await bob.client.dispatch({ type: 'log_call', inboxId: 'voice', phone: '+8613800138001', direction: 'in', from: '+8613800138001', to: 'bob', startedAt: 1, endedAt: 2, outcome: 'missed' });
    await world.settle();
    expect(bob.client.outboxEntries()).toMatchObject([{ state: 'failed', error: { code: 'not_found' } }]);
    // Not a voice inbox.
    const erin = await world.addClient('erin');
    await world.settle();
    await erin.client.dispatch({ type: 'log_call', inboxId: 'mail', phone: '+8613800138001', direction: 'in', from: '+8613800138001', to: 'erin', startedAt: 1, endedAt: 2, outcome: 'missed' });
    await world.settle();
    expect(erin.client.outboxEntries()).toMatchObject([{ state: 'failed', error: { code: 'bad_request' } }]);
  });
});

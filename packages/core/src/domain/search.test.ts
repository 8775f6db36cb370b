import { afterEach, describe, expect, it } from 'vitest';
import { MemoryStore } from '../testing/memoryStore.js';
import { makeContact, makeConversation, makeFactBatch, makeMessage } from '../testing/fixtures.js';
import { TestWorld, seedContactCenter } from '../testing/harness.js';
import { conversationsOfHits, findMatches, mergeSearchHits, searchIndexText, searchLocal, searchSnippet, snippetParts, type SearchHit } from './search.js';
import { isUnreadAt } from '../client/views/readState.js';

describe('search matching and snippets', () => {
  it('matches Chinese of any length, English regardless of case and width, and phones by their digits', () => {
    expect(findMatches('您好，我的订单还没到', '订单')).toEqual([{ start: 5, end: 7 }]);
    expect(findMatches('您好，我的订单还没到', '单')).toEqual([{ start: 6, end: 7 }]);
    expect(findMatches('Where is my ORDER?', 'order')).toEqual([{ start: 12, end: 17 }]);
    expect(findMatches('ＡＢＣ full width', 'abc')).toEqual([{ start: 0, end: 3 }]);
    expect(findMatches('call me on +86 138-1234-5678 please', '13812345678')).toEqual([{ start: 15, end: 28 }]);
    expect(findMatches('nothing here', 'order')).toEqual([]);
    expect(findMatches('anything', '   ')).toEqual([]);
  });

  it('cuts a snippet around the first match with every visible match highlighted', () => {
    const text = `${'x'.repeat(200)} the refund for order 42 and another refund ${'y'.repeat(200)}`;
    const s = searchSnippet(text, 'refund')!;
    expect(s.text.startsWith('…')).toBe(true);
    expect(s.text.endsWith('…')).toBe(true);
    expect(s.highlights.length).toBe(2);
    for (const h of s.highlights) expect(s.text.slice(h.start, h.end)).toBe('refund');
    expect(snippetParts(s).filter((p) => p.hit).map((p) => p.text)).toEqual(['refund', 'refund']);
    expect(searchSnippet('no match', 'refund')).toBeNull();
  });

  it('indexes phone numbers once more as digits', () => {
    expect(searchIndexText('Call 138 1234 5678')).toContain('13812345678');
    expect(searchIndexText('Hello WORLD')).toBe('hello world');
  });

  it('merges device and server hits by message, newest first', () => {
    const hit = (messageId: string | null, createdAt: number): SearchHit => ({
      conversationId: 'c1', messageId, field: 'message', snippet: { text: 'x', highlights: [] }, createdAt, contactName: 'A', channel: 'email',
      status: 'open', subject: null, ticketNumber: null, direction: 'in', authorType: 'contact', messageKind: 'text',
    });
    const merged = mergeSearchHits([hit('m1', 5), hit('m2', 9)], [hit('m1', 5), hit('m3', 7), hit(null, 1)]);
    expect(merged.map((h) => h.messageId)).toEqual(['m2', 'm3', 'm1', null]);
    expect(conversationsOfHits(merged)).toBe(1);
  });
});

describe('device search (searchLocal)', () => {
  async function seeded(): Promise<MemoryStore> {
    const store = new MemoryStore();
    const wang = makeContact({ id: 'ct-wang', name: '王芳', identities: [{ channel: 'sms', identifier: '+8613912345678' }] });
    const ann = makeContact({ id: 'ct-ann', name: 'Ann Lee', identities: [{ channel: 'email', identifier: 'ann.lee@example.com' }] });
    const c1 = makeConversation({ id: 'c1', contactId: 'ct-wang', contactName: '王芳', channel: 'sms', lastMessagePreview: '好的，谢谢', lastMessageAt: 3000, ticketNumber: 17 });
    const c2 = makeConversation({ id: 'c2', contactId: 'ct-ann', contactName: 'Ann Lee', subject: 'Invoice question', lastMessagePreview: 'Thanks!', lastMessageAt: 2000 });
    const c3 = makeConversation({ id: 'c3', contactId: 'ct-x', contactName: 'Old customer', lastMessagePreview: 'the parcel arrived broken', lastMessageAt: 500 });
    await store.applyFacts(
      makeFactBatch({
        conversations: [c1, c2, c3],
        contacts: [wang, ann],
        messages: [
          makeMessage({ id: 'm1', conversationId: 'c1', text: '我的快递还没有到，单号是 SF123', createdAt: 1000 }),
          makeMessage({ id: 'm2', conversationId: 'c1', direction: 'out', authorType: 'agent', authorId: 'alice', text: '已经帮您催促快递了', createdAt: 2000 }),
          makeMessage({ id: 'm3', conversationId: 'c1', text: '好的，谢谢', createdAt: 3000 }),
          makeMessage({ id: 'm4', conversationId: 'c2', kind: 'email', text: 'Please resend the invoice for March', subject: 'Invoice question', createdAt: 1500 }),
          makeMessage({ id: 'm5', conversationId: 'c2', kind: 'note', direction: 'out', authorType: 'agent', text: 'Customer is VIP, refund approved', createdAt: 1800 }),
        ],
      }),
      1,
      'scope',
    );
    return store;
  }

  it("finds a customer's first message, the agent's own reply and a note (Chinese and English)", async () => {
    const store = await seeded();
    expect((await searchLocal(store, '快递')).map((h) => h.messageId)).toEqual(['m2', 'm1']);
    const reply = (await searchLocal(store, '催促'))[0]!;
    expect(reply).toMatchObject({ messageId: 'm2', conversationId: 'c1', authorType: 'agent', field: 'message' });
    expect(reply.snippet.text.slice(reply.snippet.highlights[0]!.start, reply.snippet.highlights[0]!.end)).toBe('催促');
    expect((await searchLocal(store, 'REFUND')).map((h) => h.messageId)).toEqual(['m5']);
    expect((await searchLocal(store, 'sf123')).map((h) => h.messageId)).toEqual(['m1']);
  });

  it('finds contacts by email address, phone number (any format) and name; conversations by ticket and subject', async () => {
    const store = await seeded();
    expect(await searchLocal(store, 'ann.lee@example.com')).toMatchObject([{ conversationId: 'c2', messageId: null, field: 'contact' }]);
    expect(await searchLocal(store, '139 1234 5678')).toMatchObject([{ conversationId: 'c1', field: 'contact' }]);
    expect(await searchLocal(store, '王')).toMatchObject([{ conversationId: 'c1', field: 'contact' }]);
    expect(await searchLocal(store, '#17')).toMatchObject([{ conversationId: 'c1', field: 'ticket' }]);
    const invoice = await searchLocal(store, 'invoice');
    expect(invoice.map((h) => [h.conversationId, h.messageId])).toEqual([['c2', null], ['c2', 'm4']]);
    expect(conversationsOfHits(invoice)).toBe(1);
  });

  it('falls back to the preview for a conversation whose messages are not cached, and finds nothing for nonsense', async () => {
    const store = await seeded();
    expect(await searchLocal(store, 'parcel')).toMatchObject([{ conversationId: 'c3', messageId: null, field: 'message' }]);
    expect(await searchLocal(store, 'zzzz-nothing')).toEqual([]);
    expect(await searchLocal(store, '  ')).toEqual([]);
  });

  it('works through the generic port path (a store without findMessages/findContacts)', async () => {
    const store = await seeded();
    const plain = Object.assign(Object.create(Object.getPrototypeOf(store) as object) as MemoryStore, store);
    Object.defineProperty(plain, 'findMessages', { value: undefined });
    Object.defineProperty(plain, 'findContacts', { value: undefined });
    expect((await searchLocal(plain, '快递')).map((h) => h.messageId)).toEqual(['m2', 'm1']);
    expect(await searchLocal(plain, 'ann.lee@')).toMatchObject([{ conversationId: 'c2', field: 'contact' }]);
  });
});

describe('read state is a per-agent fact', () => {
  let world: TestWorld | null = null;
  afterEach(async () => {
    await world?.dispose();
    world = null;
  });

  it('a conversation opened on one device of an agent is read on their other device, and not for a colleague', async () => {
    world = new TestWorld({ seed: 3 });
    const { conversationIds } = seedContactCenter(world, 3);
    const chat = conversationIds[2]!; // the chat inbox: support and sales
    const phone = await world.addClient('alice', { clientId: 'alice-phone' });
    const desktop = await world.addClient('alice', { clientId: 'alice-desktop' });
    const erin = await world.addClient('erin', { clientId: 'erin-desktop' });
    await world.settle();
    const conv = (await phone.client.conversation(chat))!;
    expect(phone.client.reads.isUnread(conv)).toBe(true);
    expect(desktop.client.reads.isUnread(conv)).toBe(true);

    const changed: string[][] = [];
    desktop.client.reads.onChange((ids) => changed.push(ids));
    await phone.client.reads.markRead(conv);
    expect(phone.client.reads.isUnread(conv)).toBe(false);
    await world.settle();
    expect(desktop.client.reads.isUnread(conv)).toBe(false);
    expect(changed).toContainEqual([chat]);
    expect(erin.client.reads.isUnread(conv)).toBe(true);

    // A new customer message makes it unread again everywhere.
    world.server.inbound({ inboxId: 'chat', from: 'wf-user-2', name: 'Customer 2', text: 'one more thing', providerMessageId: 'more-1' });
    await world.settle();
    expect(desktop.client.reads.isUnread((await desktop.client.conversation(chat))!)).toBe(true);

    // The marks survive a restart (stored on the device).
    await desktop.restart();
    await world.settle();
    expect(desktop.client.reads.readUpTo(chat)).toBe(conv.lastMessageAt);
  });

  it('a mark made offline waits in the outbox without counting as pending work, and reaches the other device once online', async () => {
    world = new TestWorld({ seed: 4 });
    const { conversationIds } = seedContactCenter(world, 3);
    const chat = conversationIds[2]!;
    const phone = await world.addClient('alice', { clientId: 'alice-phone' });
    const desktop = await world.addClient('alice', { clientId: 'alice-desktop' });
    await world.settle();
    world.net.goOffline('alice-phone');
    await phone.client.reads.markRead((await phone.client.conversation(chat))!);
    expect(phone.client.connectivity.value.pending).toBe(0);
    expect(phone.client.outboxEntries()).toEqual([]);
    expect(phone.client.outbox.list().map((e) => e.command.type)).toEqual(['mark_read']);
    await world.settle();
    expect(desktop.client.reads.isUnread((await desktop.client.conversation(chat))!)).toBe(true);
    world.net.goOnline('alice-phone');
    await world.settle();
    expect(desktop.client.reads.isUnread((await desktop.client.conversation(chat))!)).toBe(false);
    expect(phone.client.outbox.list()).toEqual([]);
  });

  it('is unread only when the customer spoke after the mark', () => {
    expect(isUnreadAt({ lastMessageDirection: 'in', lastMessageAt: 10 }, 5)).toBe(true);
    expect(isUnreadAt({ lastMessageDirection: 'in', lastMessageAt: 10 }, 10)).toBe(false);
    expect(isUnreadAt({ lastMessageDirection: 'out', lastMessageAt: 10 }, 0)).toBe(false);
  });
});

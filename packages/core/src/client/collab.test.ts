import { afterEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { conversationDocName } from '../protocol/wire.js';
import { silentLogger } from '../ports/platform.js';
import { MemoryStore } from '../testing/memoryStore.js';
import { TestWorld, seedContactCenter } from '../testing/harness.js';
import { Collab } from './collab.js';

let worlds: TestWorld[] = [];
afterEach(async () => {
  for (const w of worlds) await w.dispose();
  worlds = [];
});

function makeWorld(seed = 11) {
  const world = new TestWorld({ seed });
  worlds.push(world);
  const { conversationIds } = seedContactCenter(world, 3);
  // conversation 2 is on the chat inbox, which both teams (alice and erin) may access
  return { world, net: world.net, server: world.server, conv: conversationIds[2]! };
}

describe('Collab over the sync socket', () => {
  it('brings a draft typed offline on one device to the agent\'s other device after reconnecting', async () => {
    const { world, net, server, conv } = makeWorld();
    const laptop = await world.addClient('alice', { clientId: 'laptop', device: 'desktop' });
    const phone = await world.addClient('alice', { clientId: 'phone', device: 'mobile' });
    await world.settle();
    const onPhone = phone.client.openConversationDoc(conv);
    await onPhone.ready;

    net.goOffline('laptop');
    await world.tick(100);
    const onLaptop = laptop.client.openConversationDoc(conv);
    await onLaptop.ready;
    onLaptop.draft('reply').insert(0, 'Dear customer, ');
    onLaptop.draft('reply').insert(15, 'your refund is on its way.');
    onLaptop.draft('note').insert(0, 'refund approved by Carol');
    await world.tick(5_000);
    expect(onPhone.draft('reply').toString()).toBe('');

    net.goOnline('laptop');
    await world.settle();
    expect(onPhone.draft('reply').toString()).toBe('Dear customer, your refund is on its way.');
    expect(onPhone.draft('note').toString()).toBe('refund approved by Carol');
    expect(server.doc(world.tenantId, conversationDocName(conv))!.getText('reply:alice').toString()).toBe('Dear customer, your refund is on its way.');

    // Both edit at once; both converge.
    onPhone.draft('reply').insert(0, '[phone] ');
    onLaptop.draft('reply').insert(onLaptop.draft('reply').length, ' [laptop]');
    await world.settle();
    expect(onLaptop.draft('reply').toString()).toBe(onPhone.draft('reply').toString());
    expect(onPhone.draft('reply').toString()).toBe('[phone] Dear customer, your refund is on its way. [laptop]');
  });

  it('keeps one draft per agent: another agent\'s draft is separate', async () => {
    const { world, conv } = makeWorld();
    const alice = await world.addClient('alice');
    const erin = await world.addClient('erin');
    await world.settle();
    const a = alice.client.openConversationDoc(conv);
    const e = erin.client.openConversationDoc(conv);
    await world.settle();
    a.draft('reply').insert(0, 'from alice');
    e.draft('reply').insert(0, 'from erin');
    await world.settle();
    expect(a.draft('reply').toString()).toBe('from alice');
    expect(e.draft('reply').toString()).toBe('from erin');
    expect(e.doc.getText('reply:alice').toString()).toBe('from alice');
  });

  it('shows another agent\'s typing marker and departure', async () => {
    const { world, conv } = makeWorld();
    const alice = await world.addClient('alice', { device: 'desktop' });
    const erin = await world.addClient('erin', { device: 'mobile' });
    await world.settle();
    const a = alice.client.openConversationDoc(conv);
    const e = erin.client.openConversationDoc(conv);
    await world.settle();
    expect(e.presence()).toEqual([expect.objectContaining({ agentId: 'alice', name: 'Alice', typing: null, device: 'desktop' })]);
    expect(a.presence()).toEqual([expect.objectContaining({ agentId: 'erin', name: 'Erin', typing: null, device: 'mobile' })]);

    const seen: Array<string | null> = [];
    e.onPresence((p) => seen.push(p.find((x) => x.agentId === 'alice')?.typing ?? null));
    a.setTyping('reply');
    await world.settle();
    expect(e.presence()[0]).toMatchObject({ agentId: 'alice', typing: 'reply' });
    expect(seen).toContain('reply');
    a.setTyping(null);
    await world.settle();
    expect(e.presence()[0]).toMatchObject({ agentId: 'alice', typing: null });

    a.release();
    await world.settle();
    expect(e.presence()).toEqual([]);
  });

  it('shows presence again after a device reconnects', async () => {
    const { world, net, conv } = makeWorld();
    const alice = await world.addClient('alice', { clientId: 'a1' });
    const erin = await world.addClient('erin', { clientId: 'e1' });
    await world.settle();
    const a = alice.client.openConversationDoc(conv);
    const e = erin.client.openConversationDoc(conv);
    await world.settle();
    expect(e.presence().map((p) => p.agentId)).toEqual(['alice']);

    net.partition('a1');
    await world.tick(200);
    // The server dropped alice's connection and told erin she left; alice no longer sees erin.
    expect(e.presence()).toEqual([]);
    expect(a.presence()).toEqual([]);
    net.heal('a1');
    await world.settle();
    expect(alice.client.connectivity.value.status).toBe('online');
    expect(e.presence().map((p) => p.agentId)).toEqual(['alice']);
    expect(a.presence().map((p) => p.agentId)).toEqual(['erin']);
  });

  it('persists every update locally and reloads the draft without the network', async () => {
    const { world, net, conv } = makeWorld();
    const tc = await world.addClient('alice', { clientId: 'a1' });
    await world.settle();
    net.goOffline('a1');
    await world.tick(100);
    const h = tc.client.openConversationDoc(conv);
    await h.ready;
    for (const ch of 'Hello') h.draft('reply').insert(h.draft('reply').length, ch);
    await world.tick(10);
    const name = conversationDocName(conv);
    expect((await tc.store.yjsLoad(name)).length).toBe(5);
    h.release();

    await tc.restart();
    const again = tc.client.openConversationDoc(conv);
    await again.ready;
    expect(again.draft('reply').toString()).toBe('Hello');
  });

  it('compacts a document with many stored updates when it is loaded', async () => {
    const store = new MemoryStore();
    const collab = new Collab({ store, logger: silentLogger, agent: { id: 'alice', name: 'Alice' }, device: 'desktop' });
    const h = collab.open('c1');
    await h.ready;
    for (let i = 0; i < 100; i++) h.draft('note').insert(i, String(i % 10));
    await new Promise((r) => setImmediate(r));
    const name = conversationDocName('c1');
    expect((await store.yjsLoad(name)).length).toBe(100);
    h.release();

    const reopened = new Collab({ store, logger: silentLogger, agent: { id: 'alice', name: 'Alice' }, device: 'desktop' });
    const h2 = reopened.open('c1');
    await h2.ready;
    expect(h2.draft('note').toString()).toBe('0123456789'.repeat(10));
    expect((await store.yjsLoad(name)).length).toBe(1);
    h2.release();
    const third = new Collab({ store, logger: silentLogger, agent: { id: 'alice', name: 'Alice' }, device: 'desktop' });
    const h3 = third.open('c1');
    await h3.ready;
    expect(h3.draft('note').toString()).toBe('0123456789'.repeat(10));
    h3.release();
  });

  it('shares one document between handles and closes it with the last release', async () => {
    const store = new MemoryStore();
    const sent: Array<string | Uint8Array> = [];
    const collab = new Collab({ store, logger: silentLogger, agent: { id: 'alice', name: 'Alice' }, device: 'web' });
    collab.connected((d) => sent.push(d));
    const h1 = collab.open('c1');
    const h2 = collab.open('c1');
    expect(h1.doc).toBe(h2.doc);
    await h1.ready;
    await new Promise((r) => setImmediate(r));
    expect(sent.filter((d) => typeof d === 'string')).toEqual([JSON.stringify({ t: 'sub', doc: 'conv:c1' })]);
    h1.release();
    h1.release(); // idempotent
    expect(collab.openDocuments()).toEqual(['conv:c1']);
    h2.release();
    expect(collab.openDocuments()).toEqual([]);
    expect(sent.filter((d) => typeof d === 'string').pop()).toBe(JSON.stringify({ t: 'unsub', doc: 'conv:c1' }));
    expect(h2.doc.isDestroyed).toBe(true);
    // A frame for a document that is not open is ignored.
    const other = new Y.Doc();
    expect(() => collab.handleFrame({ doc: 'conv:zzz', kind: 0, payload: Y.encodeStateVector(other) })).not.toThrow();
  });
});

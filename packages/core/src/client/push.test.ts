// [push] Facts pushed over the socket (protocol 1.1): applied on the stored checkpoint, old news
// ignored, a gap answered with a pull; 1.0 clients keep getting pokes; a slow socket drops to
// poke-and-pull mode and ends where a fast one does.
import { afterEach, describe, expect, it } from 'vitest';
import { decidePush, decidePushFlow, PUSH_FLOW } from '../protocol/wire.js';
import { TestWorld, seedContactCenter, type TestClient, type TestWorldOptions } from '../testing/harness.js';

let worlds: TestWorld[] = [];
afterEach(async () => {
  for (const w of worlds) await w.dispose();
  worlds = [];
});

function makeWorld(o: TestWorldOptions = {}) {
  const world = new TestWorld({ seed: 7, ...o });
  worlds.push(world);
  const { conversationIds } = seedContactCenter(world, 4);
  return { world, server: world.server, net: world.net, conversationIds };
}

const byId = <T extends { id: string }>(m: Map<string, T>) => [...m.values()].sort((a, b) => (a.id < b.id ? -1 : 1));

/** The device holds exactly the server's facts of its scope, at the server's checkpoint. */
async function expectConverged(world: TestWorld, tc: TestClient): Promise<void> {
  const snap = world.server.scopeSnapshot(tc.agentId);
  expect(await tc.store.getCheckpoint()).toEqual({ checkpoint: world.server.seq(world.tenantId), scope: snap.scope });
  expect(byId(tc.data.conversations)).toEqual(snap.conversations);
  expect(byId(tc.data.contacts)).toEqual(snap.contacts);
  expect(byId(tc.data.agents)).toEqual(snap.agents);
  for (const m of tc.data.messages.values()) expect(m).toEqual(world.server.message(m.id));
}

/** A burst of activity: customers write, agents reply and change things. */
async function activity(world: TestWorld, actor: TestClient, conversationIds: string[], rounds = 6): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    world.server.inbound({ inboxId: 'mail', from: `customer${i % 3}@example.com`, text: `question ${i}` });
    await actor.client.dispatch({ type: 'send_reply', conversationId: conversationIds[i % 2]!, text: `answer ${i}` });
    await actor.client.dispatch({ type: 'set_priority', conversationId: conversationIds[i % 2]!, priority: i % 2 ? 'high' : 'low' });
    await world.tick(5 + (i % 3) * 20);
  }
  await world.settle();
}

describe('pushed facts', () => {
  it('the device rule: apply on the checkpoint, ignore old news, pull on a gap or another scope', () => {
    expect(decidePush({ from: 4, to: 5, scope: 's' }, { checkpoint: 4, scope: 's' })).toBe('apply');
    expect(decidePush({ from: 3, to: 4, scope: 's' }, { checkpoint: 4, scope: 's' })).toBe('stale');
    expect(decidePush({ from: 5, to: 6, scope: 's' }, { checkpoint: 4, scope: 's' })).toBe('gap');
    expect(decidePush({ from: 3, to: 6, scope: 's' }, { checkpoint: 4, scope: 's' })).toBe('gap');
    expect(decidePush({ from: 4, to: 5, scope: 'other' }, { checkpoint: 4, scope: 's' })).toBe('gap');
    // A device that never pulled starts with a pull.
    expect(decidePush({ from: 0, to: 1, scope: 's' }, { checkpoint: 0, scope: null })).toBe('gap');
  });

  it('the server rule: poke mode past the high-water mark, pushes again once drained and caught up', () => {
    const over = PUSH_FLOW.highWater + 1;
    const poke = decidePushFlow({ mode: 'push' }, { buffered: over, acked: 0, seq: 9 });
    expect(poke).toEqual({ mode: 'poke', since: 9 });
    expect(decidePushFlow(poke, { buffered: 0, acked: 8, seq: 12 })).toEqual(poke); // not caught up
    expect(decidePushFlow(poke, { buffered: PUSH_FLOW.lowWater, acked: 12, seq: 12 })).toEqual(poke); // still queued
    expect(decidePushFlow(poke, { buffered: 0, acked: 9, seq: 12 })).toEqual({ mode: 'push' });
    expect(decidePushFlow({ mode: 'push' }, { buffered: PUSH_FLOW.highWater, acked: 0, seq: 3 })).toEqual({ mode: 'push' });
  });

  it('applies pushed facts without a request and confirms the outbox with them', async () => {
    const { world, net, conversationIds } = makeWorld();
    const alice = await world.addClient('alice');
    const erin = await world.addClient('erin');
    await world.settle();
    const requests = net.stats.requests;
    world.server.inbound({ inboxId: 'mail', from: 'customer0@example.com', text: 'Where is my parcel?' });
    await world.settle();
    expect(net.stats.requests).toBe(requests);
    expect(net.stats.pushes).toBeGreaterThanOrEqual(2);
    await activity(world, erin, conversationIds);
    for (const tc of [alice, erin]) await expectConverged(world, tc);
    expect(erin.client.connectivity.value).toMatchObject({ status: 'online', pending: 0 });
  });

  it('ignores duplicated pushes and pulls after reordered ones, converging either way', async () => {
    const { world, net, conversationIds } = makeWorld({ faults: { duplicatePush: 0.5, reorderPush: 0.4, minDelay: 1, maxDelay: 60 } });
    const alice = await world.addClient('alice');
    const erin = await world.addClient('erin');
    const dave = await world.addClient('dave');
    await world.settle();
    await activity(world, erin, conversationIds, 12);
    expect(net.stats.pushesDuplicated).toBeGreaterThan(0);
    expect(net.stats.pushesReordered).toBeGreaterThan(0);
    for (const tc of [alice, erin, dave]) await expectConverged(world, tc);
  });

  it('a socket cut mid-stream (a lost push) reconnects and catches up by pull', async () => {
    const { world, net, conversationIds } = makeWorld({ faults: { dropPush: 0.3 } });
    const alice = await world.addClient('alice');
    const erin = await world.addClient('erin');
    await world.settle();
    await activity(world, erin, conversationIds, 10);
    expect(net.stats.pushesDropped).toBeGreaterThan(0);
    for (const tc of [alice, erin]) await expectConverged(world, tc);
    expect(alice.client.connectivity.value.status).toBe('online');
  });

  it('a 1.0 client that never asks for pushes gets pokes and pulls', async () => {
    const { world, net, conversationIds } = makeWorld();
    const old = await world.addClient('alice', { clientId: 'old', pokesOnly: true });
    const erin = await world.addClient('erin');
    await world.settle();
    const requests = net.stats.requests;
    world.server.inbound({ inboxId: 'mail', from: 'customer1@example.com', text: 'Hello?' });
    await world.settle();
    expect(net.stats.requests).toBe(requests + 1); // the old client's pull
    await activity(world, erin, conversationIds);
    await expectConverged(world, old);
  });

  it('a device behind a slow socket drops to poke-and-pull and ends in the same state as a fast one', async () => {
    const { world, net, conversationIds } = makeWorld({ pushFlow: { highWater: 2_000, lowWater: 500 } });
    const fast = await world.addClient('alice', { clientId: 'fast' });
    const slow = await world.addClient('alice', { clientId: 'slow' });
    const erin = await world.addClient('erin');
    await world.settle();
    net.setSlow('slow', 40);
    const before = net.stats.requests;
    await activity(world, erin, conversationIds, 12);
    // The slow socket fell behind: the server poked it instead of queueing more, it pulled, and it stayed connected.
    expect(world.server.stats.pushPokes ?? 0).toBeGreaterThan(0);
    expect(net.stats.requests).toBeGreaterThan(before);
    expect(world.logger.records.some((r) => r.source.startsWith('slow') && r.msg === 'sync: socket closed')).toBe(false);
    for (const tc of [fast, slow, erin]) await expectConverged(world, tc);
    expect(byId(slow.data.conversations)).toEqual(byId(fast.data.conversations));
    expect(byId(slow.data.messages)).toEqual(byId(fast.data.messages));
    expect(await slow.store.getCheckpoint()).toEqual(await fast.store.getCheckpoint());
  });
});

import { describe, expect, it } from 'vitest';
import { silentLogger } from '../ports/platform.js';
import { TransportError, type Transport } from '../ports/transport.js';
import type { PullRequest, PullResponse } from '../protocol/wire.js';
import { MemoryStore } from '../testing/memoryStore.js';
import { ReferenceServer } from '../testing/referenceServer.js';
import { FakeClock } from '../testing/fakeClock.js';
import { Replicator, type FactsChanged } from './replicator.js';

/** A transport straight into the reference server (no network), recording pull requests. */
function direct(server: ReferenceServer, agentId: string) {
  const requests: PullRequest[] = [];
  let gate: Promise<void> | null = null;
  let failNext: Error | null = null;
  const t: Transport & { requests: PullRequest[]; hold(): () => void; failOnce(e: Error): void } = {
    requests,
    async pull(req) {
      requests.push({ ...req });
      if (failNext) {
        const e = failNext;
        failNext = null;
        throw e;
      }
      if (gate) await gate;
      return JSON.parse(JSON.stringify(server.pull(agentId, req))) as PullResponse;
    },
    push: () => Promise.reject(new Error('not used')),
    messages: () => Promise.reject(new Error('not used')),
    openSocket: () => {
      throw new Error('not used');
    },
    hold() {
      let release!: () => void;
      gate = new Promise<void>((r) => (release = r));
      return () => {
        gate = null;
        release();
      };
    },
    failOnce(e) {
      failNext = e;
    },
  };
  return t;
}

function world() {
  const clock = new FakeClock();
  const server = new ReferenceServer({ now: () => clock.now() });
  server.createTenant({ id: 'acme' });
  server.addTeam('acme', { id: 'support' });
  server.addTeam('acme', { id: 'sales' });
  server.addAgent('acme', { id: 'alice', role: 'agent', teamIds: ['support'] });
  server.addInbox('acme', { id: 'mail', channel: 'email', teamIds: ['support'] });
  server.addInbox('acme', { id: 'sms', channel: 'sms', teamIds: ['sales'] });
  return { clock, server };
}

describe('Replicator', () => {
  it('iterates checkpoints while the server has more, storing every page with its checkpoint', async () => {
    const { server } = world();
    for (let i = 0; i < 7; i++) server.inbound({ inboxId: 'mail', from: `c${i}@x.org`, text: `hi ${i}` });
    const store = new MemoryStore();
    const transport = direct(server, 'alice');
    const changes: FactsChanged[] = [];
    const r = new Replicator({ store, transport, logger: silentLogger, batchSize: 4 });
    r.changed.on((c) => changes.push(c));
    const cp = await r.pull();
    expect(cp).toBe(server.seq('acme'));
    expect(await store.getCheckpoint()).toEqual({ checkpoint: cp, scope: server.scopeOfAgent('alice') });
    // Each inbound commit is three rows (contact, conversation, message): pages of 4 rows are
    // stretched to the end of their last commit, so no commit is ever split.
    expect(transport.requests.length).toBeGreaterThan(3);
    const cps = transport.requests.map((q) => q.checkpoint);
    expect([...cps].sort((a, b) => a - b)).toEqual(cps);
    expect(store.data.conversations.size).toBe(7);
    expect(store.data.messages.size).toBe(7);
    expect(store.data.contacts.size).toBe(7);
    expect(store.data.inboxes.size).toBe(1); // sms is not alice's
    expect(store.data.agents.size).toBe(1);
    expect(store.data.teams.size).toBe(2);
    expect(changes.some((c) => c.directory)).toBe(true);
    expect(changes.flatMap((c) => c.conversationIds).sort()).toEqual([...store.data.conversations.keys()].sort());
    expect(changes.every((c) => !c.reset)).toBe(true);

    // Nothing new: one request, no change event.
    const before = transport.requests.length;
    const n = changes.length;
    expect(await r.pull()).toBe(cp);
    expect(transport.requests.length).toBe(before + 1);
    expect(changes.length).toBe(n);
  });

  it('sends its scope and resets when the server says the scope changed', async () => {
    const { server } = world();
    server.inbound({ inboxId: 'mail', from: 'a@x.org', text: 'support question' });
    server.inbound({ inboxId: 'sms', from: '+8613800000000', text: 'sales question' });
    const store = new MemoryStore();
    const transport = direct(server, 'alice');
    const changes: FactsChanged[] = [];
    const r = new Replicator({ store, transport, logger: silentLogger });
    r.changed.on((c) => changes.push(c));
    await r.pull();
    const convs = () => [...store.data.conversations.values()].map((c) => c.inboxId).sort();
    expect(convs()).toEqual(['mail']);
    const firstScope = (await store.getCheckpoint()).scope;

    // Alice moves from support to sales: a different set of inboxes, a different scope.
    server.updateAgent('alice', { teamIds: ['sales'] });
    await r.pull();
    const last = transport.requests[transport.requests.length - 1]!;
    expect(last.scope).toBe(firstScope);
    expect(changes[changes.length - 1]!.reset).toBe(true);
    expect(convs()).toEqual(['sms']);
    expect([...store.data.messages.values()].map((m) => m.text)).toEqual(['sales question']);
    expect([...store.data.inboxes.keys()]).toEqual(['sms']);
    expect((await store.getCheckpoint()).scope).toBe(server.scopeOfAgent('alice'));
    expect((await store.getCheckpoint()).scope).not.toBe(firstScope);
  });

  it('keeps only the messages of its working set, but every summary', async () => {
    const { server } = world();
    const a = server.inbound({ inboxId: 'mail', from: 'a@x.org', text: 'keep me' });
    const b = server.inbound({ inboxId: 'mail', from: 'b@x.org', text: 'not me' });
    const store = new MemoryStore();
    const seen: string[] = [];
    const r = new Replicator({
      store,
      transport: direct(server, 'alice'),
      logger: silentLogger,
      keepMessage: async (m, batch) => {
        seen.push(m.id);
        expect(batch.conversations.map((c) => c.id)).toContain(m.conversationId);
        return m.conversationId === a.conversation.id;
      },
    });
    const cp = await r.pull();
    expect(seen.sort()).toEqual([a.message.id, b.message.id].sort());
    expect([...store.data.messages.keys()]).toEqual([a.message.id]);
    expect([...store.data.conversations.keys()].sort()).toEqual([a.conversation.id, b.conversation.id].sort());
    expect((await store.getCheckpoint()).checkpoint).toBe(cp);
  });

  it('runs one pull at a time and pulls once more when asked during a pull', async () => {
    const { server } = world();
    server.inbound({ inboxId: 'mail', from: 'a@x.org', text: 'one' });
    const store = new MemoryStore();
    const transport = direct(server, 'alice');
    const r = new Replicator({ store, transport, logger: silentLogger });
    const release = transport.hold();
    const p1 = r.pull();
    await Promise.resolve();
    // A poke arrives while the pull is in flight, after a new commit.
    server.inbound({ inboxId: 'mail', from: 'b@x.org', text: 'two' });
    const p2 = r.pull();
    const p3 = r.pull();
    expect(transport.requests).toHaveLength(1);
    release();
    const [c1, c2, c3] = await Promise.all([p1, p2, p3]);
    expect(c1).toBe(server.seq('acme'));
    expect(c2).toBe(c1);
    expect(c3).toBe(c1);
    expect(transport.requests).toHaveLength(2);
    expect([...store.data.messages.values()].map((m) => m.text).sort()).toEqual(['one', 'two']);
  });

  it('rejects a failed pull and lets the next one start afresh', async () => {
    const { server } = world();
    server.inbound({ inboxId: 'mail', from: 'a@x.org', text: 'one' });
    const store = new MemoryStore();
    const transport = direct(server, 'alice');
    const r = new Replicator({ store, transport, logger: silentLogger });
    transport.failOnce(new TransportError('network', 'offline'));
    await expect(r.pull()).rejects.toBeInstanceOf(TransportError);
    expect((await store.getCheckpoint()).checkpoint).toBe(0);
    expect(await r.pull()).toBe(server.seq('acme'));
    expect(store.data.messages.size).toBe(1);
  });

  it('never rolls a row back when an older version arrives again', async () => {
    const { server } = world();
    const a = server.inbound({ inboxId: 'mail', from: 'a@x.org', text: 'one' });
    const store = new MemoryStore();
    const r = new Replicator({ store, transport: direct(server, 'alice'), logger: silentLogger });
    await r.pull();
    const old = store.data.conversations.get(a.conversation.id)!;
    server.inbound({ inboxId: 'mail', from: 'a@x.org', text: 'two' });
    await r.pull();
    // A stale page (say, a retried response) must not undo the newer row.
    await store.applyFacts({ conversations: [old], messages: [], contacts: [], inboxes: [], agents: [], teams: [] }, server.seq('acme'), server.scopeOfAgent('alice'));
    expect(store.data.conversations.get(a.conversation.id)!.lastMessagePreview).toBe('two');
    expect(store.data.conversations.get(a.conversation.id)!.messageCount).toBe(2);
  });
});

// Tests of the test kit the client tests stand on: FakeClock, ReferenceServer (the oracle of the
// property tests, mirrored by packages/sync-server) and TestNetwork.
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import * as syncProtocol from 'y-protocols/sync';
import * as encoding from 'lib0/encoding';
import * as decoding from 'lib0/decoding';
import type { Command } from '../commands/commands.js';
import { TransportError } from '../ports/transport.js';
import type { CommandOutcome } from '../protocol/wire.js';
import { decodeFrame, encodeFrame, FRAME_SYNC } from '../protocol/yframe.js';
import { Uuidv7Generator } from '../util/uuidv7.js';
import { FakeClock } from '../testing/fakeClock.js';
import { ReferenceServer, ReferenceServerError, type ConnectionSink } from '../testing/referenceServer.js';
import { mulberry32, seededBytes } from '../testing/testNetwork.js';
import { TestWorld, seedContactCenter } from '../testing/harness.js';

describe('FakeClock', () => {
  it('runs timers in due order, ties in the order they were set', () => {
    const clock = new FakeClock({ start: 1000 });
    const out: string[] = [];
    clock.setTimeout(() => out.push('b@20'), 20);
    clock.setTimeout(() => out.push('a@10'), 10);
    clock.setTimeout(() => out.push('c@20'), 20);
    const h = clock.setTimeout(() => out.push('never'), 15);
    clock.clearTimeout(h);
    clock.advance(19);
    expect(out).toEqual(['a@10']);
    expect(clock.now()).toBe(1019);
    clock.advance(1);
    expect(out).toEqual(['a@10', 'b@20', 'c@20']);
    // A timer set by a timer runs in the same advance when due.
    clock.setTimeout(() => clock.setTimeout(() => out.push('nested'), 5), 5);
    clock.advance(10);
    expect(out.at(-1)).toBe('nested');
    clock.setTimeout(() => out.push('late'), 1_000_000);
    clock.runAll();
    expect(out.at(-1)).toBe('late');
    expect(clock.now()).toBe(1000 + 30 + 1_000_000);
    expect(clock.pending).toBe(0);
  });

  it('flushes promise callbacks between timers in tick()', async () => {
    const clock = new FakeClock();
    const out: string[] = [];
    const wait = (ms: number) => new Promise<void>((r) => clock.setTimeout(r, ms));
    void (async () => {
      await wait(10);
      out.push('first');
      await Promise.resolve();
      await wait(10); // only exists after the first timer's continuation ran
      out.push('second');
    })();
    await clock.tick(20);
    expect(out).toEqual(['first', 'second']);
  });

  it('reports a timer loop instead of hanging', async () => {
    const clock = new FakeClock();
    const loop = () => void clock.setTimeout(loop, 0);
    loop();
    expect(() => clock.advance(1, 1000)).toThrow(/timer loop/);
    await expect(clock.tick(1, 1000)).rejects.toThrow(/timer loop/);
    expect(await clock.runUntilIdle({ maxTimers: 100 })).toBe(false);
  });
});

function serverWorld() {
  const clock = new FakeClock();
  const server = new ReferenceServer({ now: () => clock.now() });
  server.createTenant({ id: 'acme' });
  server.addTeam('acme', { id: 'support' });
  server.addTeam('acme', { id: 'sales' });
  server.addAgent('acme', { id: 'alice', role: 'agent', teamIds: ['support'] });
  server.addAgent('acme', { id: 'bob', role: 'agent', teamIds: ['sales'] });
  server.addAgent('acme', { id: 'carol', role: 'supervisor' });
  server.addInbox('acme', { id: 'mail', channel: 'email', teamIds: ['support'] });
  server.addInbox('acme', { id: 'sms', channel: 'sms', teamIds: ['sales'] });
  const mail = server.inbound({ inboxId: 'mail', from: 'a@x.org', name: 'Ann', text: 'help' }).conversation.id;
  const sms = server.inbound({ inboxId: 'sms', from: '+8613800000001', text: 'hi' }).conversation.id;
  const ids = new Uuidv7Generator(() => clock.now(), seededBytes(mulberry32(3)));
  const cmd = <T extends Command['type']>(type: T, rest: Record<string, unknown>): Command => ({ id: ids.next(), deviceTime: clock.now(), type, ...rest }) as Command;
  const one = (agentId: string, c: Command): CommandOutcome => server.push(agentId, [c]).results[0]!;
  return { clock, server, mail, sms, cmd, one };
}

describe('ReferenceServer', () => {
  it('applies, deduplicates by id, and re-evaluates rejections', () => {
    const { server, mail, cmd, one } = serverWorld();
    const reply = cmd('send_reply', { conversationId: mail, text: 'hello Ann' });
    const first = one('alice', reply);
    expect(first).toMatchObject({ outcome: 'applied' });
    const seq = server.seq('acme');
    expect(one('alice', reply)).toEqual({ id: reply.id, outcome: 'duplicate', seq: (first as { seq: number }).seq });
    expect(server.seq('acme')).toBe(seq);
    expect(server.messagesOf(mail).filter((m) => m.id === reply.id)).toHaveLength(1);
    expect(server.message(reply.id)).toMatchObject({ status: 'queued', direction: 'out', authorId: 'alice', deviceTime: reply.deviceTime });

    // Rejections are not remembered: the same command is evaluated again on retry.
    server.updateAgent('alice', { teamIds: [] });
    const label = cmd('add_label', { conversationId: mail, label: 'vip' });
    expect(one('alice', label)).toMatchObject({ outcome: 'rejected', error: { code: 'not_found' } });
    server.updateAgent('alice', { teamIds: ['support'] });
    expect(one('alice', label)).toMatchObject({ outcome: 'applied' });
    expect(server.conversation(mail)!.labels).toEqual(['vip']);
  });

  it('validates commands with the core schema', () => {
    const { server, mail, cmd } = serverWorld();
    const bad = { ...cmd('send_reply', { conversationId: mail, text: '  ' }) };
    const r = server.push('alice', [bad, { id: 'nope', type: 'send_reply' }]).results;
    expect(r.map((x) => x.outcome)).toEqual(['rejected', 'rejected']);
    expect(r[0]).toMatchObject({ error: { code: 'bad_request' } });
    expect(() => server.push('alice', [])).toThrow(ReferenceServerError);
    expect(() => server.push('nobody', [bad])).toThrow(expect.objectContaining({ status: 401 }));
  });

  it('lets agents assign only themselves, managers anyone who can access the inbox', () => {
    const { server, mail, cmd, one } = serverWorld();
    const assign = (who: string, assigneeId: string | null, extra: object = {}) => one(who, cmd('assign', { conversationId: mail, assigneeId, ...extra }));
    expect(assign('alice', 'bob')).toMatchObject({ outcome: 'rejected', error: { code: 'forbidden' } });
    expect(assign('alice', 'alice')).toMatchObject({ outcome: 'applied' });
    expect(assign('alice', null)).toMatchObject({ outcome: 'applied' });
    expect(assign('carol', 'bob')).toMatchObject({ outcome: 'rejected', error: { code: 'forbidden', message: expect.stringContaining('has no access to this inbox') } });
    expect(assign('carol', 'carol')).toMatchObject({ outcome: 'applied' });
    // An agent may not unassign somebody else, nor move the conversation to another team.
    expect(assign('alice', null)).toMatchObject({ outcome: 'rejected', error: { code: 'forbidden' } });
    expect(assign('alice', 'alice', { teamId: 'sales' })).toMatchObject({ outcome: 'rejected' });
    expect(assign('carol', 'alice', { teamId: 'sales' })).toMatchObject({ outcome: 'applied' });
    // An unknown assignee is not_found, like on the real server.
    expect(assign('carol', 'ghost')).toMatchObject({ outcome: 'rejected', error: { code: 'not_found' } });
    expect(server.conversation(mail)).toMatchObject({ assigneeId: 'alice', teamId: 'sales' });
    // Conversations outside the agent's scope do not exist for them.
    expect(one('bob', cmd('set_priority', { conversationId: mail, priority: 'high' }))).toMatchObject({ error: { code: 'not_found' } });
  });

  it('updates summaries like the client overlay does', () => {
    const { clock, server, mail, cmd, one } = serverWorld();
    clock.advance(1000);
    one('alice', cmd('send_reply', { conversationId: mail, text: 'on it' }));
    expect(server.conversation(mail)).toMatchObject({ lastMessagePreview: 'on it', lastMessageDirection: 'out', waitingSince: null, messageCount: 2, assigneeId: 'alice', updatedAt: clock.now() });
    clock.advance(1000);
    one('alice', cmd('add_note', { conversationId: mail, text: 'internal' }));
    expect(server.conversation(mail)).toMatchObject({ lastMessagePreview: 'on it', messageCount: 2, updatedAt: clock.now() });
    one('alice', cmd('set_status', { conversationId: mail, status: 'snoozed', snoozedUntil: clock.now() + 5000 }));
    expect(server.conversation(mail)).toMatchObject({ status: 'snoozed', snoozedUntil: clock.now() + 5000 });
    one('carol', cmd('set_status', { conversationId: mail, status: 'closed' }));
    expect(one('alice', cmd('send_reply', { conversationId: mail, text: 'late' }))).toMatchObject({ error: { code: 'conflict' } });
    const contactId = server.conversation(mail)!.contactId;
    one('alice', cmd('update_contact', { contactId, name: 'Ann Lee', attributes: { tier: 'gold' } }));
    expect(server.contact(contactId)).toMatchObject({ name: 'Ann Lee', attributes: { tier: 'gold' } });
    expect(server.conversation(mail)!.contactName).toBe('Ann Lee');
    one('alice', cmd('update_contact', { contactId, attributes: { tier: '' } }));
    expect(server.contact(contactId)!.attributes).toEqual({});
    expect(one('bob', cmd('update_contact', { contactId, name: 'x' }))).toMatchObject({ error: { code: 'not_found' } });
  });

  it('dedupes inbound messages, wakes snoozed conversations, starts new ones after resolving unless the channel threads and reopens', () => {
    const { server, mail, cmd, one, clock } = serverWorld();
    const a = server.inbound({ inboxId: 'mail', from: 'a@x.org', text: 'again', providerMessageId: 'p1' });
    expect(a.conversation.id).toBe(mail);
    expect(server.inbound({ inboxId: 'mail', from: 'a@x.org', text: 'again', providerMessageId: 'p1' }).duplicate).toBe(true);
    expect(server.messagesOf(mail)).toHaveLength(2);
    one('alice', cmd('set_status', { conversationId: mail, status: 'snoozed', snoozedUntil: clock.now() + 60_000 }));
    server.inbound({ inboxId: 'mail', from: 'a@x.org', text: 'hello?' });
    expect(server.conversation(mail)).toMatchObject({ status: 'open', snoozedUntil: null });
    one('alice', cmd('set_status', { conversationId: mail, status: 'resolved' }));
    server.inbound({ inboxId: 'mail', from: 'a@x.org', text: 'still broken', conversationId: mail, reopen: true });
    expect(server.conversation(mail)).toMatchObject({ status: 'open', waitingSince: expect.any(Number) });
    expect(server.wasInactive(mail)).toBe(true);
    one('alice', cmd('set_status', { conversationId: mail, status: 'resolved' }));
    const next = server.inbound({ inboxId: 'mail', from: 'a@x.org', text: 'new topic' });
    expect(next.conversation.id).not.toBe(mail);
    expect(next.conversation.contactId).toBe(server.conversation(mail)!.contactId);
  });

  it('pulls in seq order within the scope, never splitting a commit, and resets on a new scope', () => {
    const { server } = serverWorld();
    const all = server.pull('alice', { checkpoint: 0, limit: 2000 });
    expect(all.hasMore).toBe(false);
    expect(all.checkpoint).toBe(server.seq('acme'));
    expect(all.conversations.map((c) => c.inboxId)).toEqual(['mail']);
    expect(all.inboxes.map((i) => i.id)).toEqual(['mail']);
    expect(all.agents).toHaveLength(3);
    const carol = server.pull('carol', { checkpoint: 0, limit: 2000 });
    expect(carol.conversations).toHaveLength(2);
    expect(carol.contacts).toHaveLength(2);

    // Pages of 1 row still hold whole commits (an inbound commit is 3 rows).
    let cp = 0;
    let pages = 0;
    const seen: number[] = [];
    for (;;) {
      const r = server.pull('alice', { checkpoint: cp, limit: 1, scope: all.scope });
      pages++;
      const seqs = [...r.conversations, ...r.messages, ...r.contacts, ...r.inboxes, ...r.agents, ...r.teams].map((x) => x.seq);
      expect(new Set(seqs).size).toBeLessThanOrEqual(1);
      seen.push(...seqs);
      expect(r.checkpoint).toBeGreaterThan(cp - 1);
      cp = r.checkpoint;
      if (!r.hasMore) break;
    }
    expect(pages).toBeGreaterThan(3);
    expect(seen.length).toBe(all.conversations.length + all.messages.length + all.contacts.length + all.inboxes.length + all.agents.length + all.teams.length);

    // Same scope: incremental. Different scope: reset and everything from 0.
    expect(server.pull('alice', { checkpoint: cp, limit: 10, scope: all.scope })).toMatchObject({ reset: false, conversations: [] });
    server.updateAgent('alice', { teamIds: ['sales'] });
    const moved = server.pull('alice', { checkpoint: cp, limit: 2000, scope: all.scope });
    expect(moved.reset).toBe(true);
    expect(moved.conversations.map((c) => c.inboxId)).toEqual(['sms']);
    // A checkpoint from the future (another database) resets too.
    expect(server.pull('alice', { checkpoint: 10_000, limit: 10 }).reset).toBe(true);
  });

  it('pages messages newest first with a cursor', () => {
    const { clock, server, mail } = serverWorld();
    for (let i = 0; i < 4; i++) {
      clock.advance(10);
      server.inbound({ inboxId: 'mail', from: 'a@x.org', text: `m${i}` });
    }
    const p1 = server.messages('alice', mail, null, 2);
    expect(p1.items.map((m) => m.text)).toEqual(['m3', 'm2']);
    const p2 = server.messages('alice', mail, p1.nextCursor, 2);
    expect(p2.items.map((m) => m.text)).toEqual(['m1', 'm0']);
    const p3 = server.messages('alice', mail, p2.nextCursor, 2);
    expect(p3).toEqual({ items: [expect.objectContaining({ text: 'help' })], nextCursor: null });
    expect(() => server.messages('bob', mail, null, 2)).toThrow(expect.objectContaining({ status: 404 }));
  });

  it('sends ready and pokes on the socket and relays Yjs documents', () => {
    const { server, mail, sms } = serverWorld();
    const frames = (): { texts: string[]; bins: Uint8Array[]; sink: ConnectionSink } => {
      const texts: string[] = [];
      const bins: Uint8Array[] = [];
      return { texts, bins, sink: { text: (t) => texts.push(t), binary: (b) => bins.push(b), close: () => texts.push('closed') } };
    };
    const a = frames();
    const b = frames();
    const ca = server.connect('alice', a.sink);
    const cb = server.connect('carol', b.sink);
    expect(JSON.parse(a.texts[0]!)).toEqual({ t: 'ready', agentId: 'alice', tenantId: 'acme', seq: server.seq('acme') });
    server.inbound({ inboxId: 'sms', from: '+8613800000001', text: 'poke me' });
    expect(JSON.parse(a.texts.at(-1)!)).toEqual({ t: 'poke', seq: server.seq('acme') });

    // Alice may not open a document of a conversation she cannot see.
    ca.receive(JSON.stringify({ t: 'sub', doc: `conv:${sms}` }));
    expect(JSON.parse(a.texts.at(-1)!)).toMatchObject({ t: 'error', code: 'not_found' });

    const doc = `conv:${mail}`;
    ca.receive(JSON.stringify({ t: 'sub', doc }));
    cb.receive(JSON.stringify({ t: 'sub', doc }));
    expect(decodeFrame(b.bins.at(-1)!).doc).toBe(doc); // server's sync step 1
    const ydoc = new Y.Doc();
    ydoc.getText('reply:alice').insert(0, 'draft');
    const enc = encoding.createEncoder();
    syncProtocol.writeUpdate(enc, Y.encodeStateAsUpdate(ydoc));
    const nb = b.bins.length;
    ca.receive(encodeFrame(doc, FRAME_SYNC, encoding.toUint8Array(enc)));
    expect(server.doc('acme', doc)!.getText('reply:alice').toString()).toBe('draft');
    expect(b.bins.length).toBe(nb + 1);
    const relayed = new Y.Doc();
    syncProtocol.readSyncMessage(decoding.createDecoder(decodeFrame(b.bins.at(-1)!).payload), encoding.createEncoder(), relayed, null);
    expect(relayed.getText('reply:alice').toString()).toBe('draft');

    ca.receive('{"t":"nonsense"}');
    expect(a.texts.at(-1)).toBe('closed');
    expect(server.connectionCount('acme')).toBe(1);
    cb.close();
    expect(server.connectionCount('acme')).toBe(0);
    server.close();
  });
});

describe('TestNetwork', () => {
  function netWorld(seed: number, faults = {}) {
    const world = new TestWorld({ seed, faults });
    seedContactCenter(world, 1);
    return world;
  }

  it('is deterministic for a seed', async () => {
    const trace = async (seed: number) => {
      const world = netWorld(seed, { dropRequest: 0.3, dropResponse: 0.3, minDelay: 1, maxDelay: 100 });
      const t = world.net.transport('x', 'alice');
      const out: string[] = [];
      for (let i = 0; i < 20; i++) {
        t.pull({ checkpoint: 0, limit: 10 }).then(
          (r) => out.push(`ok:${r.checkpoint}@${world.clock.now()}`),
          (e: TransportError) => out.push(`${e.message}@${world.clock.now()}`),
        );
      }
      await world.settle();
      await world.dispose();
      return out;
    };
    const a = await trace(42);
    expect(await trace(42)).toEqual(a);
    expect(await trace(43)).not.toEqual(a);
    expect(a.some((x) => x.includes('before the response'))).toBe(true);
    expect(a.some((x) => x.includes('cannot reach'))).toBe(true);
    expect(a.some((x) => x.startsWith('ok'))).toBe(true);
  });

  it('lets the server apply a push whose response it then loses', async () => {
    const world = netWorld(1, { dropResponse: 1 });
    const t = world.net.transport('x', 'alice');
    const conv = world.server.conversations(world.tenantId)[0]!.id;
    const ids = new Uuidv7Generator(() => world.clock.now(), seededBytes(mulberry32(1)));
    const c: Command = { id: ids.next(), deviceTime: world.clock.now(), type: 'add_label', conversationId: conv, label: 'x' };
    const res = world.run(t.push([c]));
    await expect(res).rejects.toMatchObject({ kind: 'network', retryable: true });
    expect(world.server.applied(c.id)).not.toBeNull();
    await world.dispose();
  });

  it('cuts sockets on partition (1006), fails new ones until healed, and keeps frames in order', async () => {
    const world = netWorld(2, { minDelay: 1, maxDelay: 50 });
    const t = world.net.transport('x', 'alice');
    const events: string[] = [];
    t.openSocket({ onOpen: () => events.push('open'), onText: (s) => events.push((JSON.parse(s) as { t: string; seq?: number }).t + ((JSON.parse(s) as { seq?: number }).seq ?? '')), onBinary: () => {}, onClose: (code) => events.push(`close:${code}`) });
    await world.settle();
    for (let i = 0; i < 5; i++) world.server.inbound({ inboxId: 'chat', from: 'wf', text: `${i}` });
    await world.settle();
    const pokes = events.filter((e) => e.startsWith('poke')).map((e) => Number(e.slice(4)));
    expect(pokes).toHaveLength(5);
    expect([...pokes].sort((x, y) => x - y)).toEqual(pokes);
    world.net.partition('x');
    await world.settle();
    expect(events.at(-1)).toBe('close:1006');
    const again: string[] = [];
    t.openSocket({ onOpen: () => again.push('open'), onText: () => {}, onBinary: () => {}, onClose: (code) => again.push(`close:${code}`) });
    await world.settle();
    expect(again).toEqual(['close:1006']);
    await expect(world.run(t.pull({ checkpoint: 0, limit: 10 }))).rejects.toBeInstanceOf(TransportError);
    world.net.heal('x');
    await expect(world.run(t.pull({ checkpoint: 0, limit: 500 }))).resolves.toMatchObject({ hasMore: false });
    await world.dispose();
  });
});


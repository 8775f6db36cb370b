import { afterEach, describe, expect, it } from 'vitest';
import type { ConnectivityState } from './client.js';
import { TestWorld, seedContactCenter, type TestClient } from '../testing/harness.js';

let worlds: TestWorld[] = [];
afterEach(async () => {
  for (const w of worlds) await w.dispose();
  worlds = [];
});

function makeWorld(seed = 1, conversations = 3, maxPullRows?: number) {
  const world = new TestWorld({ seed, ...(maxPullRows !== undefined ? { maxPullRows } : {}) });
  worlds.push(world);
  const { conversationIds } = seedContactCenter(world, conversations);
  return { world, server: world.server, net: world.net, conversationIds };
}

function track(tc: TestClient): Array<Pick<ConnectivityState, 'status' | 'pending' | 'failed' | 'sessionExpired'>> {
  const log: Array<Pick<ConnectivityState, 'status' | 'pending' | 'failed' | 'sessionExpired'>> = [];
  const push = (s: ConnectivityState) => {
    const v = { status: s.status, pending: s.pending, failed: s.failed, sessionExpired: s.sessionExpired };
    const last = log[log.length - 1];
    if (!last || JSON.stringify(last) !== JSON.stringify(v)) log.push(v);
  };
  push(tc.client.connectivity.value);
  tc.client.connectivity.subscribe(push);
  return log;
}

describe('GoutongClient connectivity', () => {
  it('goes offline → connecting → syncing → online, counting pending and failed commands', async () => {
    const { world, net, server, conversationIds } = makeWorld();
    const mail = conversationIds[0]!; // support inbox
    const tc = await world.addClient('alice', { clientId: 'alice-desktop', start: false });
    const log = track(tc);
    net.goOffline('alice-desktop');
    await tc.client.start();
    await world.tick(5_000);
    expect(tc.client.connectivity.value.status).toBe('offline');

    await tc.client.dispatch({ type: 'send_reply', conversationId: mail, text: 'On it!' });
    await tc.client.dispatch({ type: 'add_note', conversationId: mail, text: 'customer is VIP' });
    expect(tc.client.connectivity.value).toMatchObject({ status: 'offline', pending: 2, failed: 0 });

    net.goOnline('alice-desktop');
    await world.settle();
    expect(tc.client.connectivity.value).toMatchObject({ status: 'online', pending: 0, failed: 0, sessionExpired: false });
    expect(tc.client.connectivity.value.lastSyncedAt).not.toBeNull();
    const statuses = log.map((s) => s.status);
    expect(statuses.slice(0, 2)).toEqual(['offline', 'offline']);
    const firstConnecting = statuses.indexOf('connecting');
    expect(statuses.slice(firstConnecting)).toEqual(expect.arrayContaining(['connecting', 'syncing', 'online']));
    expect(statuses.indexOf('syncing')).toBeGreaterThan(firstConnecting);
    expect(statuses.lastIndexOf('online')).toBeGreaterThan(statuses.indexOf('syncing'));
    expect(log.find((s) => s.status === 'offline' && s.pending === 2)).toBeDefined();

    // A rejection is counted as failed.
    const carol = await world.addClient('carol');
    await world.settle();
    await carol.client.dispatch({ type: 'set_status', conversationId: mail, status: 'closed' });
    await world.settle();
    await tc.client.dispatch({ type: 'send_reply', conversationId: mail, text: 'one more thing' });
    await world.settle();
    expect(tc.client.connectivity.value).toMatchObject({ status: 'online', pending: 0, failed: 1 });
    // The close is a timeline event; the rejected reply left no message.
    expect(server.messagesOf(mail).map((m) => m.text)).toEqual(['Hello, this is customer 0', 'On it!', 'customer is VIP', 'status → closed']);
  });

  it('receives facts over the socket, without polling', async () => {
    const { world, server, net, conversationIds } = makeWorld();
    const tc = await world.addClient('alice');
    await world.settle();
    const requests = net.stats.requests;
    await world.tick(60_000);
    expect(net.stats.requests).toBe(requests); // idle: no polling

    server.inbound({ inboxId: 'mail', from: 'customer0@example.com', text: 'Any news?' });
    await world.settle();
    // [push] The facts came in a pushed frame: no pull (src/client/push.test.ts covers gaps and pokes).
    expect(net.stats.requests).toBe(requests);
    const msgs = await tc.client.messages(conversationIds[0]!);
    expect(msgs[0]!.text).toBe('Any news?');
    expect((await tc.client.conversation(conversationIds[0]!))!.lastMessagePreview).toBe('Any news?');
  });

  it('follows the network monitor: disconnects when offline, does not retry until online', async () => {
    const { world, net, server, conversationIds } = makeWorld();
    const tc = await world.addClient('alice', { clientId: 'a1' });
    await world.settle();
    expect(tc.client.connectivity.value.status).toBe('online');
    expect(net.openSockets('a1')).toBe(1);

    tc.monitor.set(false);
    expect(tc.client.connectivity.value.status).toBe('offline');
    expect(net.openSockets('a1')).toBe(0);
    const opened = net.stats.socketsOpened;
    await world.tick(120_000);
    expect(net.stats.socketsOpened).toBe(opened);

    await tc.client.dispatch({ type: 'set_priority', conversationId: conversationIds[0]!, priority: 'urgent' });
    await world.tick(10_000);
    expect(server.conversation(conversationIds[0]!)!.priority).toBe('normal');

    tc.monitor.set(true);
    expect(tc.client.connectivity.value.status).toBe('connecting');
    await world.settle();
    expect(tc.client.connectivity.value.status).toBe('online');
    expect(server.conversation(conversationIds[0]!)!.priority).toBe('urgent');
    expect(tc.client.outboxEntries()).toEqual([]);
  });

  it('reconnects with backoff after a silent partition and drains the outbox', async () => {
    const { world, net, server, conversationIds } = makeWorld();
    const tc = await world.addClient('alice', { clientId: 'a1' });
    await world.settle();
    net.partition('a1');
    await world.tick(100);
    expect(tc.client.connectivity.value.status).toBe('offline');
    const opened = net.stats.socketsOpened;
    await tc.client.dispatch({ type: 'add_label', conversationId: conversationIds[0]!, label: 'billing' });
    await world.tick(60_000);
    const attempts = net.stats.socketsOpened - opened;
    // Backoff 0.5 s doubling to 15 s: about 8 attempts in a minute, not hundreds.
    expect(attempts).toBeGreaterThan(3);
    expect(attempts).toBeLessThan(15);
    expect(server.conversation(conversationIds[0]!)!.labels).toEqual([]);

    net.heal('a1');
    await world.settle();
    expect(tc.client.connectivity.value.status).toBe('online');
    expect(server.conversation(conversationIds[0]!)!.labels).toEqual(['billing']);
    expect(tc.client.outboxEntries()).toEqual([]);
  });

  it('retries failed pulls with one backoff timer, not one per caller', async () => {
    const { world, net, server } = makeWorld(9);
    const tc = await world.addClient('alice', { clientId: 'a1' });
    await world.settle();
    // The socket stays up but every pull response is lost.
    net.setFaults({ dropResponse: 1 });
    const pulls = () => server.stats.pulls;
    let before = pulls();
    for (let i = 0; i < 30; i++) {
      server.inbound({ inboxId: 'mail', from: 'customer0@example.com', text: `ping ${i}` });
      await world.tick(2000);
    }
    // 30 pokes: about one pull each, plus a few retries (it was ~290 with a retry per caller).
    expect(pulls() - before).toBeLessThan(60);
    before = pulls();
    await world.tick(300_000);
    // No pokes: retries back off exponentially to 30 s (1+2+4+8+16+30+30… s).
    expect(pulls() - before).toBeLessThan(16);
    expect(world.clock.pending).toBeLessThanOrEqual(2);
    net.setFaults({ dropResponse: 0 });
    await world.settle();
    expect(tc.client.connectivity.value.status).toBe('online');
    expect((await tc.client.messages(server.conversations(world.tenantId)[0]!.id))[0]!.text).toBe('ping 29');
  });

  it('stops and shows the session as expired on close code 4401', async () => {
    const { world, net } = makeWorld();
    const tc = await world.addClient('alice', { clientId: 'a1' });
    await world.settle();
    net.expireSession('a1');
    await world.settle();
    expect(tc.client.connectivity.value).toMatchObject({ status: 'offline', sessionExpired: true });
    const opened = net.stats.socketsOpened;
    await world.tick(120_000);
    tc.monitor.set(false);
    tc.monitor.set(true);
    await world.settle();
    expect(net.stats.socketsOpened).toBe(opened);
    expect(tc.client.connectivity.value.sessionExpired).toBe(true);
  });

  it('retries when the response is lost and the server applies the command once', async () => {
    const { world, net, server, conversationIds } = makeWorld();
    const tc = await world.addClient('alice');
    await world.settle();
    net.setFaults({ dropResponse: 1 });
    const id = await tc.client.dispatch({ type: 'send_reply', conversationId: conversationIds[0]!, text: 'exactly once' });
    await world.tick(20_000);
    expect(server.applied(id)).not.toBeNull();
    expect(tc.client.outboxEntries()[0]).toMatchObject({ id, state: 'pending' });
    expect(tc.client.outboxEntries()[0]!.attempts).toBeGreaterThan(1);
    net.setFaults({ dropResponse: 0 });
    await world.settle();
    expect(tc.client.outboxEntries()).toEqual([]);
    expect(server.messagesOf(conversationIds[0]!).filter((m) => m.text === 'exactly once')).toHaveLength(1);
    expect(server.log(world.tenantId).filter((r) => r.commandId === id)).toHaveLength(1);
    expect((await tc.client.messages(conversationIds[0]!)).filter((m) => m.id === id)).toHaveLength(1);
  });
});

describe('GoutongClient optimistic overlay', () => {
  it('shows pending intents in queries, the conversation and the contact until facts arrive', async () => {
    const { world, net, server, conversationIds } = makeWorld(2, 4);
    const [c0, , , c3] = conversationIds as [string, string, string, string]; // mail, sms, chat, mail
    const tc = await world.addClient('alice', { clientId: 'a1' });
    await world.settle();
    net.goOffline('a1');
    await world.tick(100);
    const q = (extra: object = {}) => tc.client.queryConversations({ sort: 'lastActivity', limit: 50, ...extra });
    expect((await q()).map((c) => c.id).sort()).toEqual([c0, conversationIds[2]!, c3].sort());

    await tc.client.dispatch({ type: 'set_status', conversationId: c0, status: 'resolved' });
    await tc.client.dispatch({ type: 'set_priority', conversationId: c3, priority: 'urgent' });
    await tc.client.dispatch({ type: 'add_label', conversationId: c3, label: 'vip' });
    await tc.client.dispatch({ type: 'assign', conversationId: c3, assigneeId: 'alice' });
    const contactId = (await tc.client.conversation(c3))!.contactId;
    await tc.client.dispatch({ type: 'update_contact', contactId, name: 'Zhang Wei', attributes: { tier: 'gold' } });

    expect((await q({ status: ['open'] })).map((c) => c.id)).not.toContain(c0);
    expect((await q({ status: ['resolved'] })).map((c) => c.id)).toEqual([c0]);
    expect((await q({ sort: 'priority' }))[0]!.id).toBe(c3);
    expect((await q({ label: 'vip' })).map((c) => c.id)).toEqual([c3]);
    expect((await q({ assigneeId: 'alice' })).map((c) => c.id)).toEqual([c3]);
    expect((await q({ assigneeId: null })).map((c) => c.id)).not.toContain(c3);
    expect(await tc.client.conversation(c0)).toMatchObject({ status: 'resolved' });
    expect(await tc.client.contact(contactId)).toMatchObject({ name: 'Zhang Wei', attributes: { tier: 'gold' } });
    // The window is applied after the overlay: offset/limit see overlaid rows.
    expect((await q({ sort: 'priority', limit: 1 })).map((c) => c.id)).toEqual([c3]);
    expect((await q({ sort: 'priority', limit: 1, offset: 1 })).map((c) => c.id)).not.toContain(c3);
    // The store itself still holds the facts.
    expect((await tc.store.getConversation(c0))!.status).toBe('open');
    expect((await tc.store.getContact(contactId))!.name).not.toBe('Zhang Wei');

    net.goOnline('a1');
    await world.settle();
    expect(tc.client.outboxEntries()).toEqual([]);
    expect(await tc.store.getConversation(c0)).toEqual(server.conversation(c0));
    expect(await tc.store.getConversation(c3)).toMatchObject({ priority: 'urgent', labels: ['vip'], assigneeId: 'alice', contactName: 'Zhang Wei' });
    expect(await tc.client.contact(contactId)).toEqual(server.contact(contactId));
  });

  it('counts conversations with the overlay, like the query', async () => {
    const { world, net, conversationIds } = makeWorld(2, 4);
    const [c0, , c2] = conversationIds as [string, string, string];
    const tc = await world.addClient('alice', { clientId: 'a1' });
    await world.settle();
    net.goOffline('a1');
    await world.tick(100);
    await tc.client.dispatch({ type: 'set_status', conversationId: c0, status: 'resolved' });
    await tc.client.dispatch({ type: 'assign', conversationId: c2, assigneeId: 'alice' });
    for (const f of [{ status: ['open' as const] }, { status: ['resolved' as const] }, { assigneeId: 'alice' }, { assigneeId: null }, {}]) {
      const rows = await tc.client.queryConversations({ ...f, sort: 'lastActivity', limit: 100 });
      expect(await tc.client.countConversations(f), JSON.stringify(f)).toBe(rows.length);
    }
    expect(await tc.client.countConversations({ status: ['open'] })).toBe(2);
  });

  it('merges pending, sending and failed replies into the timeline', async () => {
    const { world, net, conversationIds } = makeWorld();
    const c0 = conversationIds[0]!;
    const tc = await world.addClient('alice', { clientId: 'a1' });
    const carol = await world.addClient('carol');
    await world.settle();
    net.goOffline('a1');
    await world.tick(100);
    const replyId = await tc.client.dispatch({ type: 'send_reply', conversationId: c0, text: 'We are on it' });
    const noteId = await tc.client.dispatch({ type: 'add_note', conversationId: c0, text: 'check the invoice' });
    let timeline = await tc.client.messages(c0);
    expect(timeline.map((m) => [m.id, m.status, m.kind])).toEqual([
      [noteId, null, 'note'],
      [replyId, 'queued', 'text'],
      [timeline[2]!.id, null, 'email'],
    ]);
    expect(timeline[1]!.meta).toMatchObject({ pending: true });
    expect(timeline[1]!.deviceTime).toBe(timeline[1]!.createdAt);

    // While the request is in flight the reply shows as sending.
    net.goOnline('a1');
    let sawSending = false;
    for (let i = 0; i < 200 && !sawSending; i++) {
      await world.tick(1);
      sawSending = (await tc.client.messages(c0)).some((m) => m.id === replyId && m.status === 'sending');
    }
    expect(sawSending).toBe(true);
    await world.settle();
    timeline = await tc.client.messages(c0);
    const reply = timeline.find((m) => m.id === replyId)!;
    expect(reply.meta).toEqual({});
    expect(reply.serverTime).toBeGreaterThan(reply.deviceTime!);
    expect(timeline.filter((m) => m.id === replyId)).toHaveLength(1);

    // The supervisor closes it; a late reply from alice is rejected and shown as failed.
    await carol.client.dispatch({ type: 'set_status', conversationId: c0, status: 'closed' });
    await world.settle();
    const lateId = await tc.client.dispatch({ type: 'send_reply', conversationId: c0, text: 'sorry, one more thing' });
    await world.settle();
    const late = (await tc.client.messages(c0)).find((m) => m.id === lateId)!;
    expect(late).toMatchObject({ status: 'failed', statusReason: 'the conversation is closed; reopen it to reply', meta: { failed: true, error: { code: 'conflict' } } });
    expect(tc.client.connectivity.value.failed).toBe(1);
    await tc.client.discard(lateId);
    expect((await tc.client.messages(c0)).find((m) => m.id === lateId)).toBeUndefined();
    expect(tc.client.connectivity.value.failed).toBe(0);
  });

  it('keeps the overlay while an acknowledged command waits for its facts', async () => {
    const { world, conversationIds } = makeWorld();
    const c0 = conversationIds[0]!;
    const tc = await world.addClient('alice', { clientId: 'a1' });
    await world.settle();
    // Observe every outbox change: whenever an entry is acked, the overlay must still apply.
    const bad: string[] = [];
    tc.client.outbox.changed.on((entries) => {
      if (entries.some((e) => e.state === 'acked')) {
        void tc.client.conversation(c0).then((c) => {
          if (c?.status !== 'pending') bad.push(String(c?.status));
        });
      }
    });
    await tc.client.dispatch({ type: 'set_status', conversationId: c0, status: 'pending' });
    await world.settle();
    expect(bad).toEqual([]);
    expect((await tc.store.getConversation(c0))!.status).toBe('pending');
  });
});

describe('GoutongClient durability and working set', () => {
  it('keeps offline intents across an app restart and delivers them once', async () => {
    const { world, net, server, conversationIds } = makeWorld();
    const c0 = conversationIds[0]!;
    const tc = await world.addClient('alice', { clientId: 'a1' });
    await world.settle();
    net.goOffline('a1');
    await world.tick(100);
    const ids = [
      await tc.client.dispatch({ type: 'send_reply', conversationId: c0, text: 'first' }),
      await tc.client.dispatch({ type: 'send_reply', conversationId: c0, text: 'second' }),
    ];
    await tc.restart();
    expect(tc.client.outboxEntries().map((e) => e.id)).toEqual(ids);
    expect((await tc.client.messages(c0)).slice(0, 2).map((m) => m.text)).toEqual(['second', 'first']);
    net.goOnline('a1');
    await world.settle();
    expect(server.messagesOf(c0).map((m) => m.text)).toEqual(['Hello, this is customer 0', 'first', 'second']);
    expect(tc.client.outboxEntries()).toEqual([]);
  });

  it('keeps device order for intents dispatched while the client is still starting', async () => {
    const { world, net, server, conversationIds } = makeWorld();
    const c0 = conversationIds[0]!;
    const tc = await world.addClient('alice', { clientId: 'a1' });
    await world.settle();
    net.goOffline('a1');
    await world.tick(100);
    await tc.client.dispatch({ type: 'send_reply', conversationId: c0, text: 'one' });
    await tc.client.dispatch({ type: 'send_reply', conversationId: c0, text: 'two' });
    await tc.restart({ start: false });
    net.goOnline('a1');
    const starting = tc.client.start();
    await tc.client.dispatch({ type: 'send_reply', conversationId: c0, text: 'three' });
    await starting;
    await world.settle();
    expect(server.messagesOf(c0).map((m) => m.text).slice(1)).toEqual(['one', 'two', 'three']);
  });

  it('survives a crash while a push is in flight (the server may have applied it)', async () => {
    const { world, net, server, conversationIds } = makeWorld(5);
    const c0 = conversationIds[0]!;
    const tc = await world.addClient('alice', { clientId: 'a1' });
    await world.settle();
    net.setFaults({ minDelay: 50, maxDelay: 50 });
    const id = await tc.client.dispatch({ type: 'send_reply', conversationId: c0, text: 'mid-flight' });
    await world.tick(60); // the request reached the server, the response has not come back
    expect(server.applied(id)).not.toBeNull();
    await tc.restart();
    await world.settle();
    expect(tc.client.outboxEntries()).toEqual([]);
    expect(server.messagesOf(c0).filter((m) => m.id === id)).toHaveLength(1);
    expect(await tc.store.getMessage(id)).toEqual(server.message(id));
  });

  it('keeps messages of open and recently opened conversations, evicts the rest', async () => {
    const { world, server, conversationIds } = makeWorld(3, 6);
    const mailConvs = conversationIds.filter((id) => server.conversation(id)!.inboxId === 'mail'); // 0 and 3
    const [m0, m3] = mailConvs as [string, string];
    const carol = await world.addClient('carol');
    await world.settle();
    await carol.client.dispatch({ type: 'set_status', conversationId: m3, status: 'resolved' });
    await world.settle();
    const tc = await world.addClient('alice', { clientId: 'a1', recentForMs: 3_600_000 });
    await world.settle();
    const cached = async () => (await tc.store.conversationsWithMessages()).sort();
    expect(await cached()).toContain(m0);
    expect(await cached()).not.toContain(m3);

    // Opening the resolved conversation loads its history from the server by page.
    // (its inbound message and the "resolved" timeline event)
    const page = await world.run(tc.client.loadMessagesFromServer(m3, null, 2));
    expect(page.nextCursor).toBeNull();
    expect(await cached()).toContain(m3);
    // New messages of a recently opened conversation are kept even though it is resolved.
    await carol.client.dispatch({ type: 'add_note', conversationId: m3, text: 'follow-up' });
    await world.settle();
    expect((await tc.store.getMessages({ conversationId: m3, limit: 10 })).map((m) => m.text)).toContain('follow-up');

    expect(await tc.client.evict()).toBe(0);
    await world.tick(3_600_001);
    expect(await tc.client.evict()).toBe(1);
    expect(await cached()).not.toContain(m3);
    expect(await cached()).toContain(m0);
  });

  it('pages history from the server newest first', async () => {
    const { world, server, conversationIds } = makeWorld();
    const c0 = conversationIds[0]!;
    for (let i = 0; i < 7; i++) {
      await world.tick(1000);
      server.inbound({ inboxId: 'mail', from: 'customer0@example.com', text: `more ${i}` });
    }
    const tc = await world.addClient('alice', { clientId: 'a1' });
    await world.settle();
    await tc.store.evictMessages([c0]);
    let cursor: string | null = null;
    const pages: number[] = [];
    do {
      const before = (await tc.store.getMessages({ conversationId: c0, limit: 100 })).length;
      cursor = (await world.run(tc.client.loadMessagesFromServer(c0, cursor, 3))).nextCursor;
      pages.push((await tc.store.getMessages({ conversationId: c0, limit: 100 })).length - before);
    } while (cursor !== null);
    expect(pages).toEqual([3, 3, 2]);
    const local = await tc.client.messages(c0, { limit: 100 });
    expect(local.map((m) => m.text)).toEqual(server.messagesOf(c0).map((m) => m.text).reverse());
  });

  it('leaves no hole in a cached conversation that left and re-entered the working set', async () => {
    const { world, server, conversationIds } = makeWorld();
    const c0 = conversationIds[0]!;
    const tc = await world.addClient('alice', { clientId: 'a1' });
    const carol = await world.addClient('carol');
    await world.settle();
    expect(await tc.store.conversationsWithMessages()).toContain(c0);
    // Alice has never opened c0; a supervisor resolves it, writes a note, reopens it.
    await carol.client.dispatch({ type: 'set_status', conversationId: c0, status: 'resolved' });
    await world.settle();
    await carol.client.dispatch({ type: 'add_note', conversationId: c0, text: 'written while resolved' });
    await world.settle();
    await carol.client.dispatch({ type: 'set_status', conversationId: c0, status: 'open' });
    await world.settle();
    server.inbound({ inboxId: 'mail', from: 'customer0@example.com', text: 'hello again' });
    await world.settle();
    const local = (await tc.client.messages(c0, { limit: 100 })).map((m) => m.text).reverse();
    expect(local).toEqual(server.messagesOf(c0).map((m) => m.text));
  });

  it('keeps messages that arrive in an earlier page than their conversation\'s summary', async () => {
    // Pages of 2 rows: the summary of a conversation carries its latest seq, so after this label
    // change it comes pages after the conversation's first message.
    const { world, server, conversationIds } = makeWorld(4, 3, 2);
    const c0 = conversationIds[0]!;
    const carol = await world.addClient('carol');
    await world.settle();
    await carol.client.dispatch({ type: 'add_label', conversationId: c0, label: 'later' });
    await world.settle();
    const tc = await world.addClient('alice', { clientId: 'a1' });
    await world.settle();
    expect((await tc.store.getMessages({ conversationId: c0, limit: 10 })).map((m) => m.id)).toEqual(server.messagesOf(c0).map((m) => m.id));
    // evict() does not drop messages whose summary is still to come in the same pull.
    await tc.store.putMessages([{ ...server.messagesOf(c0)[0]!, id: 'orphan', conversationId: 'cv-unknown' }]);
    expect(await tc.client.evict()).toBe(0);
  });

  it('does not start a cache with an update of an old message', async () => {
    const { world, server, conversationIds } = makeWorld(6);
    const c0 = conversationIds[0]!;
    const tc = await world.addClient('alice', { clientId: 'a1' });
    const carol = await world.addClient('carol');
    await world.settle();
    const replyId = await carol.client.dispatch({ type: 'send_reply', conversationId: c0, text: 'first answer' });
    await world.settle();
    await carol.client.dispatch({ type: 'add_note', conversationId: c0, text: 'internal' });
    await carol.client.dispatch({ type: 'set_status', conversationId: c0, status: 'resolved' });
    await world.settle();
    expect(await tc.client.evict()).toBe(1); // resolved, never opened by alice
    // Alice is offline while the relay reports the old reply delivered and the customer writes again.
    world.net.goOffline('a1');
    await world.tick(100);
    server.setDeliveryStatus(replyId, 'delivered');
    await world.tick(1000);
    // (the mail channel threads the answer to the resolved conversation and reopens it)
    server.inbound({ inboxId: 'mail', from: 'customer0@example.com', text: 'it works now', conversationId: c0, reopen: true });
    world.net.goOnline('a1');
    await world.settle();
    // The cache starts with the new message: the old reply alone would hide the note in between.
    const cached = (await tc.store.getMessages({ conversationId: c0, limit: 10 })).map((m) => m.text);
    expect(cached).toEqual(['it works now']);
  });
});

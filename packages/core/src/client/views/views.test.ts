// The client view models, tested once here over the in-memory adapters (TestWorld: ReferenceServer,
// MemoryStore, FakeClock). The desktop and mobile stores are thin adapters over these.
import { afterEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import type { Message } from '../../domain/model.js';
import { createMemoryStoreData, MemoryStore } from '../../testing/memoryStore.js';
import { TestWorld, seedContactCenter, type TestClient } from '../../testing/harness.js';
import type { ClientChange } from '../client.js';
import { AssignmentWatcher } from './assignmentWatcher.js';
import { coalesceChanges, mergeChanges } from './changeStream.js';
import { ConversationView } from './conversationView.js';
import { deliveryOf, failureReasonOf, STUCK_AFTER_MS, summarizeCommand } from './delivery.js';
import { DeliveryTracker } from './deliveryTracker.js';
import { applyTextChange, DraftBinding } from './draftText.js';
import { InboxWindow } from './inboxWindow.js';
import { conversationNotices, mentions, type Notice } from './notificationPolicy.js';
import { NotificationWatcher } from './notifications.js';
import { isUnreadAt, LocalReadState } from './readState.js';
import { Emitter } from '../../util/observable.js';

let world: TestWorld | null = null;
afterEach(async () => {
  await world?.dispose();
  world = null;
});

function setup(conversations = 3) {
  world = new TestWorld({ seed: 7 });
  const { conversationIds } = seedContactCenter(world, conversations);
  return { w: world, ids: conversationIds };
}

const schedule = (w: TestWorld) => (fn: () => void) => void w.clock.setTimeout(fn, 0);

/** A supervisor's device acts (assign, note): the facts reach the other clients by poke and pull. */
async function act(w: TestWorld, who: TestClient, intent: Parameters<TestClient['client']['dispatch']>[0]): Promise<void> {
  await who.client.dispatch(intent);
  await w.settle();
}

describe('coalesced changes', () => {
  it('unites the ids of a burst and ors the flags (one rule for both apps)', () => {
    expect(mergeChanges({ conversationIds: ['a', 'b'], outbox: true }, { conversationIds: ['b', 'c'], messageConversationIds: ['x'], checkpoint: 4 })).toEqual({
      conversationIds: ['a', 'b', 'c'],
      messageConversationIds: ['x'],
      outbox: true,
      checkpoint: 4,
    });
  });

  it('calls once per burst with everything the burst said', () => {
    const src = new Emitter<ClientChange>();
    const queued: Array<() => void> = [];
    const got: ClientChange[] = [];
    const off = coalesceChanges(src, (c) => got.push(c), (fn) => queued.push(fn));
    src.emit({ conversationIds: ['a'] });
    src.emit({ conversationIds: ['b'] });
    src.emit({ reset: true });
    expect(queued).toHaveLength(1);
    queued.shift()!();
    expect(got).toEqual([{ conversationIds: ['a', 'b'], reset: true }]);
    src.emit({ outbox: true });
    off();
    queued.shift()!();
    expect(got).toHaveLength(1);
  });
});

describe('draft text binding', () => {
  it('replaces only the changed middle, so an edit made elsewhere around it is kept', () => {
    const a = new Y.Doc();
    const b = new Y.Doc();
    const ta = a.getText('reply');
    const tb = b.getText('reply');
    applyTextChange(ta, 'Hello world');
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a));
    // Device A fixes a word while device B adds a signature.
    applyTextChange(ta, 'Hello there world');
    applyTextChange(tb, 'Hello world\n-- Li');
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a));
    Y.applyUpdate(a, Y.encodeStateAsUpdate(b));
    expect(ta.toString()).toBe('Hello there world\n-- Li');
    expect(tb.toString()).toBe(ta.toString());
  });

  it('binds a composer: keeps what was typed before the draft loaded, hears remote edits, stops on dispose', () => {
    const doc = new Y.Doc();
    const text = doc.getText('reply');
    const binding = new DraftBinding(text, '你好');
    expect(text.toString()).toBe('你好');
    const heard: string[] = [];
    binding.onChange((v) => heard.push(v));
    text.insert(2, '，王芳');
    expect(heard.at(-1)).toBe('你好，王芳');
    binding.set('你好，王芳女士');
    expect(text.toString()).toBe('你好，王芳女士');
    binding.dispose();
    binding.set('gone');
    text.insert(0, 'x');
    expect(text.toString()).toBe('x你好，王芳女士');
    expect(heard.at(-1)).toBe('你好，王芳女士');
  });
});

describe('delivery', () => {
  const base: Message = {
    id: 'm1', tenantId: 't', conversationId: 'c1', direction: 'out', kind: 'text', authorType: 'agent', authorId: 'alice', text: 'hi', subject: null,
    attachments: [], status: 'queued', statusReason: null, deviceTime: 1_000, serverTime: 1_000, createdAt: 1_000, meta: {}, seq: 5,
  };

  it('maps our providers\' codes to reasons the UI can say', () => {
    expect(failureReasonOf('twilio_21610', 'Attempt to send to unsubscribed recipient')).toBe('unsubscribed');
    expect(failureReasonOf('twilio_21211', null)).toBe('invalid_recipient');
    expect(failureReasonOf('aliyun_isv.MOBILE_NUMBER_ILLEGAL', null)).toBe('invalid_recipient');
    expect(failureReasonOf('aliyun_isv.AMOUNT_NOT_ENOUGH', null)).toBe('provider_config');
    expect(failureReasonOf('wechat_45015', 'response out of time limit')).toBe('window_closed');
    expect(failureReasonOf('wechat_40001', null)).toBe('provider_auth');
    expect(failureReasonOf('wildfire_246', null)).toBe('blocked');
    expect(failureReasonOf('smtp_550', null)).toBe('invalid_recipient');
    expect(failureReasonOf('http_401', null)).toBe('provider_auth');
    expect(failureReasonOf('no_recipient', 'the contact has no phone number on this channel')).toBe('no_recipient');
    expect(failureReasonOf('window_closed', null)).toBe('window_closed');
    expect(failureReasonOf(null, 'gave up after 12 attempts: connect ECONNREFUSED')).toBe('provider_unreachable');
    expect(failureReasonOf(null, 'no provider sms/kannel')).toBe('provider_config');
    expect(failureReasonOf('twilio_99999', 'odd')).toBe('provider_rejected');
    expect(failureReasonOf(null, null)).toBe('unknown');
  });

  it('gives every outbound reply one typed state, stuck after the threshold or while the provider is unreachable', () => {
    const now = 1_000 + 1_000;
    expect(deliveryOf({ ...base, direction: 'in', authorType: 'contact' }, { now })).toBeNull();
    expect(deliveryOf({ ...base, kind: 'note', status: null }, { now })).toBeNull();
    expect(deliveryOf(base, { now })).toMatchObject({ state: 'queued', stage: 'server', stuck: false });
    expect(deliveryOf(base, { now: 1_000 + STUCK_AFTER_MS + 1 })).toMatchObject({ state: 'queued', stuck: true });
    expect(deliveryOf({ ...base, statusReason: 'retrying: connect ECONNREFUSED 127.0.0.1:13013' }, { now })).toMatchObject({ state: 'queued', stuck: true, reason: 'provider_unreachable' });
    expect(deliveryOf({ ...base, status: 'accepted' }, { now })).toMatchObject({ state: 'sent', retry: null });
    expect(deliveryOf({ ...base, status: 'delivered' }, { now })).toMatchObject({ state: 'delivered' });
    expect(deliveryOf({ ...base, status: 'failed', statusReason: 'Twilio: unsubscribed', meta: { errorCode: 'twilio_21610' } }, { now })).toEqual({
      state: 'failed', stage: 'server', stuck: false, reason: 'unsubscribed', detail: 'Twilio: unsubscribed', retry: 'resend',
    });
    expect(deliveryOf({ ...base, status: 'failed', statusReason: 'rejected', meta: { failed: true, error: { code: 'window_closed', message: 'the 24-hour window is closed' } } }, { now })).toMatchObject({
      state: 'failed', stage: 'device', reason: 'window_closed', retry: 'outbox',
    });
    expect(deliveryOf({ ...base, status: 'queued', meta: { upload: { state: 'failed', error: 'HTTP 413' } } }, { now })).toMatchObject({ state: 'failed', reason: 'upload_failed', retry: 'upload' });
  });

  it('summarises commands for people, not as command names', () => {
    expect(summarizeCommand({ id: 'x', deviceTime: 1, type: 'send_reply', conversationId: 'c', text: 'Your  parcel\nleft today' })).toEqual({ kind: 'reply', conversationId: 'c', detail: 'Your parcel left today' });
    expect(summarizeCommand({ id: 'x', deviceTime: 1, type: 'set_status', conversationId: 'c', status: 'resolved' })).toMatchObject({ kind: 'status', detail: 'resolved' });
  });
});

describe('read state', () => {
  it('keeps marks in the device store and says unread by the one rule', async () => {
    const store = new MemoryStore({ data: createMemoryStoreData() });
    const rs = new LocalReadState(store, 'test.lastRead');
    await rs.load();
    const c = { id: 'c1', lastMessageAt: 50, lastMessageDirection: 'in' as const };
    expect(rs.isUnread(c)).toBe(true);
    await rs.markRead(c);
    expect(rs.isUnread(c)).toBe(false);
    expect(rs.isUnread({ ...c, lastMessageAt: 60 })).toBe(true);
    expect(isUnreadAt({ ...c, lastMessageDirection: 'out', lastMessageAt: 60 }, 50)).toBe(false);
    const again = new LocalReadState(store, 'test.lastRead');
    await again.load();
    expect(again.lastReadAt('c1')).toBe(50);
  });
});

describe('mentions and the policy', () => {
  it('finds @name, @first name and @email local part, not a longer word', () => {
    const me = { name: 'Li Wei', email: 'li.wei@demo.goutong' };
    expect(mentions('please check @Li Wei', me)).toBe(true);
    expect(mentions('@li, look', me)).toBe(true);
    expect(mentions('cc @li.wei', me)).toBe(true);
    expect(mentions('@lisa will do it', me)).toBe(false);
    expect(mentions('@王芳 看一下', { name: '王芳', email: 'wf@x' })).toBe(true);
  });

  it('says nothing before the first sync or for history', () => {
    const me = { id: 'alice', name: 'Alice', email: 'alice@x', teamIds: ['support'] };
    const c = { id: 'c', seq: 10, assigneeId: 'alice', status: 'open', lastMessageDirection: 'in', lastMessageAt: 5, contactName: 'Wang', lastMessagePreview: 'hi', teamId: 'support' } as never;
    expect(conversationNotices(null, c, { me, baselineSeq: null, ownActions: new Set() })).toEqual([]);
    expect(conversationNotices(null, c, { me, baselineSeq: 10, ownActions: new Set() })).toEqual([]);
    expect(conversationNotices(null, c, { me, baselineSeq: 9, ownActions: new Set() })).toMatchObject([{ kind: 'assigned' }]);
    expect(conversationNotices(null, c, { me, baselineSeq: 9, ownActions: new Set(['c']) })).toEqual([]);
  });
});

describe('notification watcher', () => {
  it('a fresh sign-in notifies nothing for history; then a customer message, an assignment, a mention and a new queued conversation each notify once', async () => {
    const { w, ids } = setup(3);
    const carol = await w.addClient('carol');
    await w.settle();
    // History: conversation 0 (mail, support) assigned to alice with her own last reply.
    await act(w, carol, { type: 'assign', conversationId: ids[0]!, assigneeId: 'alice' });
    const alice = await w.addClient('alice', { start: false });
    const me = { id: 'alice', name: 'Alice', email: 'alice@example.com', teamIds: ['support'] };
    const store = alice.store;
    const readState = new LocalReadState(store, 'lastRead');
    await readState.load();
    const watcher = new AssignmentWatcher(alice.client, () => me, schedule(w));
    const notices: Notice[] = [];
    const nw = new NotificationWatcher({ client: alice.client, store, clock: w.clock, watcher, readState, me: () => me, deliver: (n) => void notices.push(n), schedule: schedule(w) });
    await watcher.start();
    await nw.start();
    await alice.client.start();
    await w.settle();
    await alice.client.dispatch({ type: 'send_reply', conversationId: ids[0]!, text: 'On it' });
    await w.settle();
    await watcher.idle();
    await nw.idle();
    expect(notices).toEqual([]);
    expect(nw.state.getSnapshot().baselineSeq).not.toBeNull();
    expect(watcher.state.getSnapshot().mine).toEqual([ids[0]]);

    // A new customer message in alice's conversation: one notice, and the badge counts it.
    w.server.inbound({ inboxId: 'mail', from: 'customer0@example.com', text: 'Any news?', conversationId: ids[0]! });
    await w.settle();
    await watcher.idle();
    await nw.idle();
    expect(notices.map((n) => n.kind)).toEqual(['customer_message']);
    expect(notices[0]).toMatchObject({ conversationId: ids[0], text: 'Any news?' });
    expect(nw.state.getSnapshot().badge).toBe(1);
    await readState.markRead((await alice.client.conversation(ids[0]!))!);
    expect(nw.state.getSnapshot().badge).toBe(0);

    // Carol assigns conversation 2 (chat) to alice and mentions her in a note.
    await act(w, carol, { type: 'assign', conversationId: ids[2]!, assigneeId: 'alice' });
    await act(w, carol, { type: 'add_note', conversationId: ids[2]!, text: '@Alice this one is urgent' });
    await watcher.idle();
    await nw.idle();
    expect(notices.map((n) => n.kind)).toEqual(['customer_message', 'assigned', 'mention']);

    // A new conversation enters the support queue.
    w.server.inbound({ inboxId: 'mail', from: 'new@example.com', name: 'Wang Fang', text: '你好' });
    await w.settle();
    await watcher.idle();
    await nw.idle();
    expect(notices.at(-1)).toMatchObject({ kind: 'new_conversation', contactName: 'Wang Fang' });

    // Her own reply and her own "assign to me" are not news.
    const n = notices.length;
    const queued = watcher.state.getSnapshot().queue[0]!;
    await alice.client.dispatch({ type: 'assign', conversationId: queued, assigneeId: 'alice' });
    await alice.client.dispatch({ type: 'send_reply', conversationId: queued, text: 'Hello Wang Fang' });
    await w.settle();
    await watcher.idle();
    await nw.idle();
    expect(notices).toHaveLength(n);
    nw.stop();
    watcher.stop();
  });
});

describe('delivery tracker', () => {
  it('counts a reply the provider refused until it is sent again, and counts what is stuck', async () => {
    const { w, ids } = setup(1);
    const alice = await w.addClient('alice');
    await w.settle();
    const tracker = new DeliveryTracker({ client: alice.client, store: alice.store, clock: w.clock, schedule: schedule(w) });
    await tracker.start([ids[0]!]);
    const id = await alice.client.dispatch({ type: 'send_reply', conversationId: ids[0]!, text: 'Your parcel left today' });
    await w.settle();
    w.server.setDeliveryStatus(id, 'failed', 'SMTP refused customer0@example.com');
    await w.settle();
    await tracker.idle();
    let s = tracker.state.getSnapshot();
    expect(s.failed).toBe(1);
    expect(s.conversationIds).toEqual([ids[0]]);
    expect(s.problems[0]).toMatchObject({ id, source: 'provider', summary: { kind: 'reply', detail: 'Your parcel left today' }, delivery: { state: 'failed', retry: 'resend' } });

    await tracker.retry(id);
    await w.settle();
    await tracker.idle();
    s = tracker.state.getSnapshot();
    expect(s.failed).toBe(0);
    const texts = w.server.messagesOf(ids[0]!).filter((m) => m.direction === 'out').map((m) => m.text);
    expect(texts).toEqual(['Your parcel left today', 'Your parcel left today']);

    // The provider does not answer: the relay keeps the reply queued with a retrying reason.
    const second = w.server.messagesOf(ids[0]!).filter((m) => m.direction === 'out').at(-1)!;
    w.server.setDeliveryStatus(second.id, 'queued', 'retrying: connect ECONNREFUSED');
    await w.settle();
    await tracker.idle();
    s = tracker.state.getSnapshot();
    expect(s).toMatchObject({ failed: 0, stuck: 1 });
    expect(s.problems[0]!.delivery).toMatchObject({ state: 'queued', stuck: true, reason: 'provider_unreachable' });
    tracker.stop();
  });
});

describe('inbox window', () => {
  it('keeps the selection on the conversation: when it leaves the list the highlight goes, and j moves to the row now in its place', async () => {
    const { w } = setup(5);
    const alice = await w.addClient('carol');
    await w.settle();
    const win = new InboxWindow({
      client: alice.client,
      clock: w.clock,
      spec: () => ({ base: { status: ['open', 'pending'] }, sort: 'lastActivity', counts: { all: {} } }),
      schedule: schedule(w),
      pageSize: 2,
    });
    await win.start();
    expect(win.getSnapshot()).toMatchObject({ total: 5, counts: { all: 5 } });
    const second = win.rowAt(1)!.id;
    const third = win.rowAt(2)?.id;
    win.select(second);
    expect(win.highlighted()).toBe(second);
    await alice.client.dispatch({ type: 'set_status', conversationId: second, status: 'resolved' });
    await w.settle();
    await win.reload();
    expect(win.getSnapshot()).toMatchObject({ total: 4, selectedId: second, selectedIndex: -1 });
    // Enter opens nothing stale: no row is highlighted.
    expect(win.highlighted()).toBeNull();
    const next = win.move(1);
    expect(next).toBe(third);
    expect(win.getSnapshot().selectedIndex).toBe(1);
    win.stop();
  });
});

describe('conversation view', () => {
  it('shows the device history first, then server pages, with a typed delivery per reply', async () => {
    const { w, ids } = setup(1);
    const bob = await w.addClient('erin');
    await w.settle();
    const view = new ConversationView({ client: bob.client, now: () => w.clock.now(), schedule: schedule(w), pageSize: 5 });
    await w.run(view.open(ids[0]!));
    expect(view.getSnapshot().messages.map((m) => m.text)).toEqual(['Hello, this is customer 0']);
    w.net.goOffline(bob.id);
    await bob.client.dispatch({ type: 'send_reply', conversationId: ids[0]!, text: 'Offline reply' });
    await w.clock.tick(1);
    await view.reload();
    let s = view.getSnapshot();
    const reply = s.messages.at(-1)!;
    expect(reply.text).toBe('Offline reply');
    expect(s.deliveries[reply.id]).toMatchObject({ stage: 'device', stuck: false });
    expect(['queued', 'sending']).toContain(s.deliveries[reply.id]!.state);
    await w.clock.tick(STUCK_AFTER_MS + 1);
    await view.reload();
    expect(view.getSnapshot().deliveries[reply.id]).toMatchObject({ stage: 'device', stuck: true });
    w.net.goOnline(bob.id);
    await w.settle();
    w.server.setDeliveryStatus(reply.id, 'accepted');
    await w.settle();
    await view.reload();
    s = view.getSnapshot();
    expect(s.deliveries[reply.id]).toMatchObject({ state: 'sent', stage: 'server' });
    view.close();
    expect(view.getSnapshot().id).toBeNull();
  });
});

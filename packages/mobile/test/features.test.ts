// Store tests of attachments (queued offline, uploaded when back), canned responses (cached for
// offline use, `/` picker), call logging (log_call) and local notifications of new assignments,
// on core's TestWorld (reference server, simulated network, fake clock).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createPinia, setActivePinia } from 'pinia';
import { Uuidv7Generator, type CannedResponse, type Macro } from '@goutong/core';
import { TestWorld, seedContactCenter } from '@goutong/core/testing';
import { setDevice, setServices } from '../src/app/services';
import { useSessionStore } from '../src/stores/session';
import { useInboxStore } from '../src/stores/inbox';
import { queuedFiles, useConversationStore } from '../src/stores/conversation';
import { useOutboxStore } from '../src/stores/outbox';
import { useUploadsStore } from '../src/stores/uploads';
import { CANNED_META_KEY, cannedTrigger, insertCanned, matchCanned, parseCannedList, useCannedStore } from '../src/stores/canned';
import { callIntent, formatDuration, parseDuration } from '../src/stores/contact';
import { noticesFor, useNoticesStore } from '../src/stores/notices';
import { useSettingsStore } from '../src/stores/settings';
import { MACROS_META_KEY, parseMacroList, useMacrosStore } from '../src/stores/macros';
import { createTestDevice, type TestDevice } from './testDevice';

const PHONE = 'erin-phone';
const macrotask = () => new Promise<void>((r) => setTimeout(r, 5));

let world: TestWorld;
let device: TestDevice;
let ids: string[];

async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    await world.settle();
    await macrotask();
    await useUploadsStore().idle();
  }
}

async function drive<T>(p: Promise<T>): Promise<T> {
  let done = false;
  const out = p.finally(() => {
    done = true;
  });
  for (let i = 0; i < 200 && !done; i++) {
    await world.settle();
    await macrotask();
  }
  return out;
}

async function signIn() {
  const session = useSessionStore();
  expect(await drive(session.login('https://goutong.example', 'erin@acme.test', 'secret'))).toBe(true);
  await settle();
  return session;
}

/** The app is killed and started again (a new Pinia, the same device and database). */
async function restartApp() {
  useInboxStore().unbind();
  useOutboxStore().unbind();
  useConversationStore().close();
  useUploadsStore().unbind();
  useNoticesStore().unbind();
  setServices(null);
  setActivePinia(createPinia());
  expect(await drive(useSessionStore().restore())).toBe(true);
  await settle();
}

const canned = (shortCode: string, title: string, body: string): CannedResponse => ({
  id: `cr-${shortCode}`, tenantId: 't', shortCode, title, body, createdAt: 1, updatedAt: 1,
});

beforeEach(async () => {
  world = new TestWorld({ seed: 11 });
  ({ conversationIds: ids } = seedContactCenter(world, 3));
  device = createTestDevice(world, PHONE);
  setDevice(device);
  setActivePinia(createPinia());
});

afterEach(async () => {
  useInboxStore().unbind();
  useOutboxStore().unbind();
  useConversationStore().close();
  useUploadsStore().unbind();
  useNoticesStore().unbind();
  setServices(null);
  await world.dispose();
});

describe('attachments from the camera or the gallery', () => {
  it('queues a reply with photos offline (shown waiting to upload), keeps it over a restart, uploads when back, then replies referencing the ids', async () => {
    await signIn();
    const id = ids[0]!;
    const conversation = useConversationStore();
    await drive(conversation.open(id));

    world.net.goOffline(PHONE);
    device.picked = [
      { path: 'tmp/meter.jpg', name: 'meter.jpg', mime: 'image/jpeg', size: 120_000 },
      { path: 'tmp/door.png', name: 'door.png', mime: 'image/png', size: 80_000 },
    ];
    await conversation.pickMedia('camera');
    expect(conversation.attachments.map((f) => f.name)).toEqual(['meter.jpg', 'door.png']);
    conversation.setText('Photos of the meter and the door');
    expect(await drive(conversation.send())).toBe(true);
    expect(conversation.attachments).toEqual([]);
    // Resolving waits behind the reply, so the server sees them in order.
    await drive(conversation.setStatus('resolved'));
    expect(conversation.conversation?.status).toBe('resolved');

    const pending = conversation.timeline.find((m) => m.text === 'Photos of the meter and the door')!;
    expect(conversation.deliveryOf(pending)?.stage).toBe('device');
    expect(queuedFiles(pending)?.map((f) => [f.name, f.uploaded])).toEqual([['meter.jpg', false], ['door.png', false]]);
    expect(useUploadsStore().count).toBe(2);
    expect(device.vault.size).toBe(2);

    // Killed and started again, still offline: the reply and its photos are still there.
    await restartApp();
    const again = useConversationStore();
    await drive(again.open(id));
    const still = again.timeline.find((m) => m.text === 'Photos of the meter and the door')!;
    expect(again.deliveryOf(still)?.stage).toBe('device');
    expect(again.conversation?.status).toBe('resolved');
    expect(device.rest.uploads).toEqual([]);

    // Back online: upload, then the reply referencing the uploaded ids, then the status.
    world.net.goOnline(PHONE);
    await settle();
    await settle();
    expect(device.rest.uploads.map((a) => a.name)).toEqual(['meter.jpg', 'door.png']);
    const replies = world.server.messagesOf(id).filter((m) => (m.kind === 'text' || m.kind === 'email') && m.direction === 'out');
    expect(replies).toHaveLength(1);
    expect(replies[0]!.attachments.map((a) => a.id)).toEqual(['att-1', 'att-2']);
    expect(world.server.conversation(id)!.status).toBe('resolved');
    // In the order the agent acted: the reply, then the status (read marks are bookkeeping, not actions).
    const order = world.server.log(world.tenantId).flatMap((r) => (r.commandId ? [world.server.applied(r.commandId)?.type] : [])).filter((t) => t !== 'mark_read');
    expect(order.slice(-2)).toEqual(['send_reply', 'set_status']);
    expect(useUploadsStore().count).toBe(0);
    expect(device.vault.size).toBe(0);
    await settle();
    expect(again.timeline.filter((m) => m.text === 'Photos of the meter and the door')).toHaveLength(1);
  });

  it('removes a picked photo from the device when it is taken out of the reply or the conversation is left', async () => {
    await signIn();
    const conversation = useConversationStore();
    await drive(conversation.open(ids[0]!));
    device.picked = [
      { path: 'tmp/a.jpg', name: 'a.jpg', mime: 'image/jpeg', size: 1 },
      { path: 'tmp/b.jpg', name: 'b.jpg', mime: 'image/jpeg', size: 1 },
    ];
    await conversation.pickMedia('album');
    await conversation.removeAttachment(conversation.attachments[0]!.ref);
    expect([...device.vault.values()].map((f) => f.name)).toEqual(['b.jpg']);
    conversation.close();
    await macrotask();
    expect(device.vault.size).toBe(0);
  });
});

describe('macros', () => {
  const macro: Macro = {
    id: 'macro-billing',
    tenantId: 't',
    name: 'Billing triage',
    actions: [
      { type: 'add_label', label: 'billing' },
      { type: 'set_priority', priority: 'high' },
      { type: 'add_note', text: 'Triaged by {{agent.name}}' },
    ],
    ownerId: null,
    createdAt: 1,
    updatedAt: 1,
  };

  it('caches the list for offline use and applies a macro as the normal commands (core macroIntents), offline too', async () => {
    device.rest.macros = [macro];
    await signIn();
    await settle();
    expect(useMacrosStore().items.map((m) => m.name)).toEqual(['Billing triage']);

    world.net.goOffline(PHONE);
    await restartApp();
    await settle();
    expect(useMacrosStore().items.map((m) => m.name)).toEqual(['Billing triage']);
    expect(await device.phone().store.getMeta(MACROS_META_KEY)).toBeTruthy();

    const id = ids[0]!;
    const conversation = (await device.phone().store.getConversation(id))!;
    expect(await useMacrosStore().apply(useMacrosStore().items[0]!, conversation, useSessionStore().agent!)).toBe(3);
    await settle();
    // Offline: queued on the device, not on the server yet.
    expect(world.server.conversation(id)!.labels).not.toContain('billing');

    world.net.goOnline(PHONE);
    await settle();
    const server = world.server.conversation(id)!;
    expect(server.labels).toContain('billing');
    expect(server.priority).toBe('high');
    expect(world.server.messagesOf(id).some((m) => m.kind === 'note' && /^Triaged by /.test(m.text))).toBe(true);
  });

  it('keeps only valid macros from the server answer', () => {
    expect(parseMacroList({ items: [macro, { ...macro, id: 'bad id!' }, { name: 'x' }] }).map((m) => m.id)).toEqual(['macro-billing']);
    expect(parseMacroList(null)).toEqual([]);
  });
});

describe('canned responses', () => {
  it('caches the list for offline use and fills a response in where the agent typed /code', async () => {
    device.rest.canned = [canned('hello', '问候 Greeting', '您好 {{contact.name}}，我是{{agent.name}}。'), canned('refund', 'Refund policy', 'Refunds take 3-5 days.')];
    await signIn();
    await settle();
    expect(device.rest.cannedFetches).toBe(1);
    expect(useCannedStore().items.map((c) => c.shortCode)).toEqual(['hello', 'refund']);

    // Offline and restarted: the list comes from the local store.
    world.net.goOffline(PHONE);
    await restartApp();
    await settle();
    expect(device.rest.cannedFetches).toBe(1);
    expect(useCannedStore().items.map((c) => c.shortCode)).toEqual(['hello', 'refund']);
    expect(await device.phone().store.getMeta(CANNED_META_KEY)).toBeTruthy();

    const conversation = useConversationStore();
    await drive(conversation.open(ids[0]!));
    conversation.setText('Hi! /he');
    expect(conversation.cannedQuery).toBe('he');
    expect(conversation.cannedMatches.map((c) => c.shortCode)).toEqual(['hello']);
    await conversation.applyCanned(conversation.cannedMatches[0]!);
    expect(conversation.text).toBe('Hi! 您好 Customer 0，我是Erin。');
    expect(conversation.cannedQuery).toBeNull();
  });

  it('refreshes a stale list when online, and keeps the cached one when the server fails', async () => {
    device.rest.canned = [canned('a', 'A', 'a')];
    await signIn();
    await settle();
    device.rest.canned = [canned('a', 'A', 'a'), canned('b', 'B', 'b')];
    world.clock.advance(11 * 60_000);
    await useCannedStore().load();
    expect(useCannedStore().items).toHaveLength(2);
    device.rest.canned = [];
    device.rest.failWith = new (await import('@goutong/core')).TransportError('http', 'HTTP 500', 500);
    await useCannedStore().load({ force: true });
    expect(useCannedStore().items).toHaveLength(2);
    expect(useCannedStore().error).toMatch(/500/);
  });

  it('opens the picker only on a slash that starts a word', () => {
    expect(cannedTrigger('/')).toBe('');
    expect(cannedTrigger('/ref')).toBe('ref');
    expect(cannedTrigger('ok /退款')).toBe('退款');
    expect(cannedTrigger('see https://x.io/a')).toBeNull();
    expect(cannedTrigger('on 1/2')).toBeNull();
    expect(cannedTrigger('/ref done')).toBeNull();
    expect(insertCanned('Hi /he', 'Hello!')).toBe('Hi Hello!');
    expect(insertCanned('/he', 'Hello!')).toBe('Hello!');
    expect(insertCanned('Hi', 'Hello!')).toBe('Hi Hello!');
    expect(parseCannedList({ items: [{ id: 'x', shortCode: 's', title: 't', body: 'b', extra: 1 }, { id: 1 }] })).toEqual([{ id: 'x', shortCode: 's', title: 't', body: 'b' }]);
    expect(parseCannedList(null)).toEqual([]);
    const list = parseCannedList({ items: [canned('wait', '请稍候', 'x'), canned('thanks', 'Thanks', 'y'), canned('hello', 'Greeting', 'z')] });
    expect(matchCanned(list, '').map((c) => c.shortCode)).toEqual(['hello', 'thanks', 'wait']);
    expect(matchCanned(list, '稍').map((c) => c.shortCode)).toEqual(['wait']);
  });
});

describe('call logging', () => {
  it('builds log_call from the dialer call and the outcome the agent enters', () => {
    const call = { phoneNumber: ' +8613800000001 ', startedAt: 1_000_000, returnedAt: 1_240_000 };
    expect(callIntent('c1', call, { outcome: 'answered', talkSeconds: 200, notes: '  ok ' }, 'Erin', 9_999_999)).toEqual({
      type: 'log_call', conversationId: 'c1', direction: 'out', from: 'Erin', to: '+8613800000001',
      startedAt: 1_000_000, answeredAt: 1_040_000, endedAt: 1_240_000, outcome: 'answered', notes: 'ok',
    });
    // No answer: no talk time; the end is when the form is saved when the app never noticed the return.
    expect(callIntent('c1', { ...call, returnedAt: null }, { outcome: 'missed', talkSeconds: 99 }, '', 1_030_000)).toMatchObject({
      from: 'mobile', answeredAt: null, endedAt: 1_030_000, outcome: 'missed',
    });
    // Talk time longer than the call is cut to the call.
    expect(callIntent('c1', call, { outcome: 'answered', talkSeconds: 9_999 }, 'Erin', 0)).toMatchObject({ answeredAt: 1_000_000 });
    expect([parseDuration('3'), parseDuration('2:30'), parseDuration('2.5'), parseDuration('2：05'), parseDuration(''), parseDuration('abc')]).toEqual([180, 150, 150, 125, 0, null]);
    expect(formatDuration(125)).toBe('2:05');
  });
});

describe('local notifications of new assignments', () => {
  const assignAs = (by: string, conversationId: string, to: string) => {
    const gen = new Uuidv7Generator(() => world.clock.now(), (n) => new Uint8Array(n).map((_, i) => (i * 31 + world.clock.now()) % 256));
    const r = world.server.push(by, [{ id: gen.next(), deviceTime: world.clock.now(), type: 'assign', conversationId, assigneeId: to }]);
    expect(r.results[0]).toMatchObject({ outcome: 'applied' });
  };

  it('learns silently on the first sync, then notifies once per conversation someone else assigns to me', async () => {
    useSettingsStore().init('en');
    // One conversation is already mine before this device ever signs in.
    assignAs('carol', ids[0]!, 'erin');
    await signIn();
    await settle();
    expect(device.notices).toEqual([]);

    assignAs('carol', ids[1]!, 'erin');
    await settle();
    expect(device.notices).toEqual([{ title: 'Assigned to you: Customer 1', body: 'Hello, this is customer 1', conversationId: ids[1] }]);
    await settle();
    expect(device.notices).toHaveLength(1);

    // Taking one myself is not news.
    const conversation = useConversationStore();
    await drive(conversation.open(ids[2]!));
    await drive(conversation.assignToMe());
    await settle();
    expect(device.notices).toHaveLength(1);
  });

  it('shows a banner in the app when the system cannot notify, and nothing when turned off', async () => {
    await signIn();
    await settle();
    device.systemNotifications = false;
    assignAs('carol', ids[1]!, 'erin');
    await settle();
    const notices = useNoticesStore();
    expect(notices.banner).toMatchObject({ conversationId: ids[1] });
    notices.dismissBanner();
    notices.setEnabled(false);
    assignAs('carol', ids[2]!, 'erin');
    await settle();
    expect(notices.banner).toBeNull();
    expect(device.settingsData.get('notifyAssigned')).toBe('off');
  });

  it('sums up many new assignments in one notice, in the app language', () => {
    const notices = [0, 1, 2, 3].map((i) => ({ kind: 'assigned' as const, conversationId: `c${i}`, key: `k${i}`, contactName: `客户${i}`, text: 'hi' }));
    expect(noticesFor(notices, 'zh-CN')).toEqual([{ title: '4 个会话已分配给您', body: '客户0, 客户1, 客户2, 客户3', conversationId: 'c0' }]);
    expect(noticesFor(notices.slice(0, 1), 'zh-CN')[0]!.title).toBe('新分配给您：客户0');
    expect(noticesFor([{ ...notices[0]!, kind: 'customer_message' }], 'zh-CN')[0]).toEqual({ title: '客户0 发来新消息', body: 'hi', conversationId: 'c0' });
    expect(noticesFor([...notices, { ...notices[0]!, kind: 'mention' }], 'en')[0]!.title).toBe('5 new notifications');
  });
});

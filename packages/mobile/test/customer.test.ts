// [contacts] The phone's customer 360 offline (the working set on the device: contacts of the synced
// conversations, their cached messages) and the summary's day and durations, on core's TestWorld.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createPinia, setActivePinia } from 'pinia';
import { todayIn } from '@goutong/core';
import { TestWorld, seedContactCenter } from '@goutong/core/testing';
import { setDevice, setServices, requireServices } from '../src/app/services';
import { useSessionStore } from '../src/stores/session';
import { useInboxStore } from '../src/stores/inbox';
import { useConversationStore } from '../src/stores/conversation';
import { useOutboxStore } from '../src/stores/outbox';
import { useUploadsStore } from '../src/stores/uploads';
import { useNoticesStore } from '../src/stores/notices';
import { shortDuration, useCustomerStore } from '../src/stores/customer';
import { createTestDevice } from './testDevice';

const PHONE = 'erin-phone';
const macrotask = () => new Promise<void>((r) => setTimeout(r, 5));
let world: TestWorld;
let ids: string[];

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

beforeEach(() => {
  world = new TestWorld({ seed: 12 });
  ({ conversationIds: ids } = seedContactCenter(world, 3));
  setDevice(createTestDevice(world, PHONE));
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

describe('contacts offline: the working set on the phone', () => {
  it('lists and searches the contacts of the synced conversations and shows the cached timeline', async () => {
    expect(await drive(useSessionStore().login('https://goutong.example', 'erin@acme.test', 'secret'))).toBe(true);
    for (let i = 0; i < 3; i++) await world.settle();
    const conversation = useConversationStore();
    await drive(conversation.open(ids[0]!));
    const conv = conversation.conversation!;
    const texts = conversation.timeline.map((m) => m.text).filter(Boolean);
    expect(texts.length).toBeGreaterThan(0);
    world.net.goOffline(PHONE);

    const customer = useCustomerStore();
    await drive(customer.search(''));
    expect(customer.listSource).toBe('device');
    const local = await requireServices().store.queryConversations({ sort: 'lastActivity', limit: 100 });
    expect(customer.contacts.map((c) => c.id).sort()).toEqual([...new Set(local.map((c) => c.contactId))].sort());
    const me = customer.contacts.find((c) => c.id === conv.contactId)!;
    await drive(customer.search(me.name.slice(0, 3)));
    expect(customer.contacts.map((c) => c.id)).toContain(me.id);
    await drive(customer.search('no such customer zzz'));
    expect(customer.contacts).toEqual([]);

    await drive(customer.open(me.id));
    expect(customer.contact?.id).toBe(me.id);
    expect(customer.timelineSource).toBe('device');
    expect(customer.conversations.map((c) => c.id)).toContain(conv.id);
    const shown = customer.timeline.filter((e) => e.conversationId === conv.id).map((e) => e.message.text);
    for (const text of texts) expect(shown).toContain(text);
    // Newest first.
    const times = customer.timeline.map((e) => e.message.createdAt);
    expect([...times].sort((a, b) => b - a)).toEqual(times);

    // The summary needs the server: offline it says so and shows no figures.
    await drive(customer.loadSummary(Date.now(), 'Asia/Shanghai'));
    expect(customer.error).not.toBeNull();
    expect(customer.overview).toBeNull();
  });
});

describe('the summary\'s day and durations', () => {
  it('counts today from local midnight in the time zone and writes durations in the app language', () => {
    const now = Date.UTC(2027, 0, 4, 1, 30); // 09:30 in Shanghai
    expect(todayIn(now, 'Asia/Shanghai')).toEqual({ from: Date.UTC(2027, 0, 3, 16), to: now + 1 });
    expect(todayIn(now, 'UTC').from).toBe(Date.UTC(2027, 0, 4));
    expect(shortDuration(42, false)).toBe('42 s');
    expect(shortDuration(300, true)).toBe('5 分钟');
    expect(shortDuration(3900, false)).toBe('1 h 05 min');
    expect(shortDuration(null, false)).toBe('—');
  });
});

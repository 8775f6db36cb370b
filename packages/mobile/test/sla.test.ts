// Mobile: "snooze until a chosen time" sends one set_status command with that time, shown
// optimistically and applied by the server; the SLA badge's state comes from core's slaStatus.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createPinia, setActivePinia } from 'pinia';
import { slaStatus } from '@goutong/core';
import { TestWorld, seedContactCenter } from '@goutong/core/testing';
import { setDevice, setServices } from '../src/app/services';
import { useSessionStore } from '../src/stores/session';
import { useConversationStore } from '../src/stores/conversation';
import { useOutboxStore } from '../src/stores/outbox';
import { createTestDevice, type TestDevice } from './testDevice';
import en from '../src/locale/en.json';
import zh from '../src/locale/zh-Hans.json';

const PHONE = 'erin-phone';
const macrotask = () => new Promise<void>((r) => setTimeout(r, 5));
let world: TestWorld;
let device: TestDevice;
let ids: string[];

async function settle(): Promise<void> {
  await world.settle();
  await macrotask();
  await world.settle();
  await macrotask();
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

beforeEach(async () => {
  world = new TestWorld({ seed: 11 });
  ({ conversationIds: ids } = seedContactCenter(world, 2));
  device = createTestDevice(world, PHONE);
  setDevice(device);
  setActivePinia(createPinia());
});
afterEach(async () => {
  useOutboxStore().unbind();
  useConversationStore().close();
  setServices(null);
  await world.dispose();
});

describe('snooze until a chosen time', () => {
  it('snoozes offline until the chosen instant; the server gets it once when back online', async () => {
    expect(await useSessionStore().login('https://goutong.example', 'erin@acme.test', 'secret')).toBe(true);
    await settle();
    const conversation = useConversationStore();
    const id = ids[0]!;
    await drive(conversation.open(id));
    const until = world.clock.now() + 3 * 86_400_000;
    world.net.goOffline(PHONE);
    await settle();
    await drive(conversation.snoozeUntil(until));
    expect(conversation.conversation).toMatchObject({ status: 'snoozed', snoozedUntil: until });
    world.net.goOnline(PHONE);
    await settle();
    expect(world.server.conversation(id)).toMatchObject({ status: 'snoozed', snoozedUntil: until });
    expect(useOutboxStore().entries).toEqual([]);
  });

  it('has every SLA and snooze text in both languages', () => {
    const keys = (o: Record<string, string>) => Object.keys(o).filter((k) => k.startsWith('sla.')).sort();
    expect(keys(zh)).toEqual(keys(en));
    expect(keys(en)).toEqual(expect.arrayContaining(['sla.snooze.button', 'sla.state.breached', 'sla.metric.first_response']));
    expect(slaStatus(null, 0)).toBeNull();
  });
});

// Mobile: "snooze until a chosen time" sends one set_status command with that time, shown
// optimistically and applied by the server; the SLA badge's state comes from core's slaStatus; the
// inbox's SLA notice lists the agent's conversations the server warned about and breached.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createPinia, setActivePinia } from 'pinia';
import { slaStatus } from '@goutong/core';
import { TestWorld, seedContactCenter } from '@goutong/core/testing';
import { setDevice, setServices } from '../src/app/services';
import { useSessionStore } from '../src/stores/session';
import { useConversationStore } from '../src/stores/conversation';
import { useOutboxStore } from '../src/stores/outbox';
import { useInboxStore } from '../src/stores/inbox';
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
  useInboxStore().unbind();
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

describe('the SLA notice', () => {
  it('names the agent\'s conversations that are due soon, then breached, as the server warns and breaches them', async () => {
    const s = world.server;
    const tenant = world.tenantId;
    // The reference server runs the SLA rules on its facts with timers on the fake clock, as the server's ops bus does.
    s.enableOps(tenant);
    s.addSlaPolicy(tenant, 'fast', { name: 'Fast', isDefault: true, targets: { normal: { firstResponseSeconds: 3600 } }, warning: { percent: 50 } });
    s.setInboxRouting('chat', { strategy: 'round_robin' });
    s.setAgentPresence('erin', true);
    expect(await useSessionStore().login('https://goutong.example', 'erin@acme.test', 'secret')).toBe(true);
    const inbox = useInboxStore();
    await drive(inbox.bind());
    const mine = s.inbound({ inboxId: 'chat', from: 'wf-sla-1', name: 'Wang SLA', text: '在吗？' }).conversation.id;
    const other = s.inbound({ inboxId: 'sms', from: '+8613899990000', text: 'hello' }).conversation.id;
    expect(s.conversation(mine)).toMatchObject({ assigneeId: 'erin' });
    // Time moves only as the test says (settle would run the clock to the SLA timers): a few seconds for the network.
    const brief = async () => {
      for (let i = 0; i < 30; i++) {
        await world.clock.tick(100);
        await macrotask();
      }
    };
    await brief();
    expect(inbox.sla).toEqual({ breached: [], warning: [] });

    await world.clock.tick(31 * 60_000); // the warning at half of the hour
    await brief();
    expect(s.conversation(mine)!.sla!.warned).toEqual(['first_response']);
    expect(inbox.sla).toEqual({ breached: [], warning: [mine] });

    await world.clock.tick(30 * 60_000); // past the due time
    await brief();
    expect(s.conversation(mine)!.sla!.breached).toEqual(['first_response']);
    expect(s.conversation(other)!.sla!.breached).toEqual(['first_response']);
    // Only the agent's own conversations: the unassigned SMS one is not in erin's notice.
    expect(inbox.sla).toEqual({ breached: [mine], warning: [] });
  });

  it('has every notice text in both languages', () => {
    const keys = (o: Record<string, string>) => Object.keys(o).filter((k) => k.startsWith('slaNotice.')).sort();
    expect(keys(zh)).toEqual(keys(en));
    expect(keys(en)).toEqual(expect.arrayContaining(['slaNotice.inbox.breached', 'slaNotice.inbox.warning', 'slaNotice.conversation.breached']));
  });
});

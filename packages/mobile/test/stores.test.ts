import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createPinia, setActivePinia } from 'pinia';
import { TestWorld, seedContactCenter } from '@goutong/core/testing';
import { setDevice, setServices } from '../src/app/services';
import { useSessionStore } from '../src/stores/session';
import { useInboxStore } from '../src/stores/inbox';
import { useConversationStore, applyTextChange } from '../src/stores/conversation';
import { useOutboxStore } from '../src/stores/outbox';
import { MY_NUMBER_KEY, useContactStore } from '../src/stores/contact';
import { useSettingsStore } from '../src/stores/settings';
import { createTestDevice, type TestDevice } from './testDevice';

const PHONE = 'erin-phone';
/** onClientChange batches on a real macrotask; the world runs on a fake clock. */
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

beforeEach(async () => {
  world = new TestWorld({ seed: 7 });
  ({ conversationIds: ids } = seedContactCenter(world, 3));
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

/** Runs the fake clock until a store action that waits on the (fake) network has finished. */
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
  expect(await session.login('https://goutong.example', 'erin@acme.test', 'secret')).toBe(true);
  await settle();
  return session;
}

describe('session store', () => {
  it('signs in, remembers the server and session, and restores them after a restart while offline', async () => {
    const session = useSessionStore();
    expect(await session.login('https://goutong.example', 'erin@acme.test', 'wrong')).toBe(false);
    expect(session.error).toMatch(/invalid/);
    expect(session.status).toBe('signedOut');
    await signIn();
    expect(session.status).toBe('signedIn');
    expect(session.agent?.id).toBe('erin');
    expect(session.connectivity.status).toBe('online');
    expect(device.settingsData.get('serverUrl')).toBe('https://goutong.example');

    // The app is killed; it starts again without network.
    world.net.goOffline(PHONE);
    setActivePinia(createPinia());
    setServices(null);
    const again = useSessionStore();
    expect(await again.restore()).toBe(true);
    expect(again.status).toBe('signedIn');
    expect(again.online).toBe(false);
    const inbox = useInboxStore();
    inbox.view = 'all';
    await inbox.bind();
    expect(inbox.rows).toHaveLength(3); // everything still readable offline

    await again.logout();
    expect(again.status).toBe('signedOut');
    expect(device.settingsData.has('session')).toBe(false);
    expect(device.settingsData.get('serverUrl')).toBe('https://goutong.example');
  });
});

describe('session store: deactivation and sign-out wipe the device', () => {
  it('a deactivated agent is signed out and the local data is erased', async () => {
    const session = await signIn();
    const store = (await import('../src/app/services')).currentServices()!.store;
    expect((await store.getCheckpoint()).checkpoint).toBeGreaterThan(0);
    world.server.updateAgent('erin', { active: false });
    await settle();
    await expect.poll(() => session.status).toBe('signedOut');
    expect(session.wiped).toBe(true);
    expect(await store.getCheckpoint()).toEqual({ checkpoint: 0, scope: null });
    expect(await store.queryConversations({ sort: 'lastActivity', limit: 10 })).toEqual([]);
    expect(device.settingsData.has('session')).toBe(false);
  });

  it('signing out erases the local data', async () => {
    const session = await signIn();
    const store = (await import('../src/app/services')).currentServices()!.store;
    expect(await store.queryConversations({ sort: 'lastActivity', limit: 10 })).not.toEqual([]);
    await session.logout();
    expect(await store.queryConversations({ sort: 'lastActivity', limit: 10 })).toEqual([]);
  });
});

describe('inbox store', () => {
  it('lists mine, the team queue and everything, with status, channel and priority filters and unread badges', async () => {
    await signIn();
    const inbox = useInboxStore();
    await inbox.bind();
    expect(inbox.view).toBe('mine');
    expect(inbox.rows).toEqual([]);
    expect(inbox.counts).toEqual({ mine: 0, team: 3 });
    await inbox.setView('team');
    expect(inbox.rows.map((c) => c.id).sort()).toEqual([...ids].sort());
    await inbox.setFilters({ channel: 'sms' });
    expect(inbox.rows.map((c) => c.channel)).toEqual(['sms']);
    await inbox.setFilters({ channel: null, priority: 'urgent' });
    expect(inbox.rows).toEqual([]);
    await inbox.setFilters({ priority: null, status: 'resolved' });
    expect(inbox.rows).toEqual([]);
    await inbox.setFilters({ status: 'open' });
    expect(inbox.unreadCount).toBe(3);
    await inbox.markRead(inbox.rows[0]!);
    expect(inbox.unreadCount).toBe(2);

    // A new inbound message arrives: the list updates by itself.
    world.server.inbound({ inboxId: 'mail', from: 'new@example.com', text: 'Hi there', name: 'New Customer' });
    await settle();
    expect(inbox.rows).toHaveLength(4);
    expect(inbox.rows[0]!.contactName).toBe('New Customer');
  });

  it('refreshes without clearing the list', async () => {
    await signIn();
    const inbox = useInboxStore();
    inbox.view = 'team';
    await inbox.bind();
    const before = inbox.rows.length;
    const refreshing = inbox.refresh();
    expect(inbox.rows).toHaveLength(before);
    expect(inbox.refreshing).toBe(true);
    await world.settle();
    await refreshing;
    expect(inbox.refreshing).toBe(false);
  });
});

describe('conversation, outbox and contact stores', () => {
  it('replies and resolves offline with visible pending state; online, the server gets each command once', async () => {
    await signIn();
    const conversation = useConversationStore();
    const outbox = useOutboxStore();
    outbox.bind();
    const id = ids[0]!;
    await drive(conversation.open(id));
    expect(conversation.timeline.map((m) => m.text)).toEqual(['Hello, this is customer 0']);

    world.net.goOffline(PHONE);
    await settle();
    conversation.setText('On my way to the site');
    expect(await drive(conversation.send())).toBe(true);
    await drive(conversation.setStatus('resolved'));
    await settle();
    expect(conversation.text).toBe('');
    expect(conversation.messages[0]!.text).toBe('On my way to the site');
    expect(conversation.deliveryOf(conversation.messages[0]!)).toMatchObject({ stage: 'device', stuck: false });
    expect(conversation.conversation?.status).toBe('resolved'); // optimistic
    expect(outbox.pending).toHaveLength(2);

    world.net.goOnline(PHONE);
    await settle();
    expect(outbox.entries).toEqual([]);
    expect(world.server.messagesOf(id).filter((m) => m.text === 'On my way to the site')).toHaveLength(1);
    expect(world.server.conversation(id)?.status).toBe('resolved');
    const reply = conversation.messages.find((m) => m.text === 'On my way to the site')!;
    expect(conversation.deliveryOf(reply)?.stage).toBe('server');
  });

  it('shows a rejected command as failed with its reason; retry and discard work', async () => {
    await signIn();
    const carol = await world.addClient('carol');
    await world.settle();
    const id = ids[0]!;
    await carol.client.dispatch({ type: 'set_status', conversationId: id, status: 'closed' });
    await world.settle();
    const conversation = useConversationStore();
    const outbox = useOutboxStore();
    outbox.bind();
    await drive(conversation.open(id));
    conversation.setText('too late');
    await drive(conversation.send());
    await settle();
    expect(outbox.failed).toHaveLength(1);
    expect(outbox.failed[0]!.error?.message).toBeTruthy();
    expect(conversation.stateOf(conversation.messages[0]!)).toBe('failed');
    await drive(outbox.discard(outbox.failed[0]!.id));
    await settle();
    expect(outbox.entries).toEqual([]);
  });

  it('pages history newest first and loads older pages', async () => {
    await signIn();
    const id = ids[0]!;
    for (let i = 1; i <= 70; i++) {
      world.server.inbound({ inboxId: 'mail', from: 'customer0@example.com', text: `message ${i}`, conversationId: id });
      await world.tick(1_000);
    }
    await settle();
    const conversation = useConversationStore();
    await drive(conversation.open(id));
    expect(conversation.messages).toHaveLength(30);
    expect(conversation.messages[0]!.text).toBe('message 70');
    expect(conversation.hasOlder).toBe(true);
    await drive(conversation.loadOlder());
    await drive(conversation.loadOlder());
    await drive(conversation.loadOlder());
    expect(conversation.messages).toHaveLength(71);
    expect(conversation.timeline[0]!.text).toBe('Hello, this is customer 0');
    expect(new Set(conversation.messages.map((m) => m.id)).size).toBe(71);
  });

  it('shares the reply draft with the agent’s desktop (Yjs)', async () => {
    await signIn();
    const id = ids[0]!;
    const conversation = useConversationStore();
    await drive(conversation.open(id));
    conversation.setText('Draft started on the phone');
    await settle();
    const desktop = await world.addClient('erin', { clientId: 'erin-desktop' });
    await world.settle();
    const handle = desktop.client.openConversationDoc(id);
    await handle.ready;
    await world.settle();
    expect(handle.draft('reply').toString()).toBe('Draft started on the phone');
    // The desktop finishes it; the phone sees it.
    applyTextChange(handle.draft('reply') as never, 'Draft started on the phone, finished on the desktop');
    await settle();
    expect(conversation.text).toBe('Draft started on the phone, finished on the desktop');
    handle.release();
  });

  it('calls a contact through the dialer and logs the call on the conversation as a log_call command', async () => {
    await signIn();
    const smsConversation = ids[1]!; // the seed puts conversation 1 on the SMS inbox
    const conv = world.server.conversation(smsConversation)!;
    const contact = useContactStore();
    await contact.load(conv.contactId, smsConversation);
    expect(contact.phoneNumbers).toEqual(['+8613800000001']);
    const startedAt = world.clock.now();
    await contact.call('+8613800000001');
    expect(device.calls).toEqual(['+8613800000001']);
    // The agent talks for three minutes and comes back to the app, with no network.
    world.clock.advance(180_000);
    device.foreground();
    expect(contact.elapsedSeconds).toBe(180);
    world.net.goOffline(PHONE);
    expect(await drive(contact.logCall({ outcome: 'answered', talkSeconds: 150, notes: 'meter reading confirmed' }))).toBe(true);
    expect(contact.activeCall).toBeNull();
    world.net.goOnline(PHONE);
    await settle();
    const calls = world.server.messagesOf(smsConversation).filter((m) => m.kind === 'call');
    expect(calls).toHaveLength(1);
    expect(calls[0]!.meta.call).toMatchObject({
      direction: 'out', from: 'Erin', to: '+8613800000001', startedAt, answeredAt: startedAt + 30_000, endedAt: startedAt + 180_000, durationSeconds: 150, outcome: 'answered',
    });
    expect(calls[0]!.text).toBe('meter reading confirmed');
    expect(world.server.messagesOf(smsConversation).filter((m) => m.kind === 'note')).toEqual([]);
  });

  it('[trust] a masked number is called through a privacy number bound to my phone, never dialled as the mask; without a provider or my number the app says why', async () => {
    await signIn();
    const smsConversation = ids[1]!;
    const conv = world.server.conversation(smsConversation)!;
    const contact = useContactStore();
    await contact.load(conv.contactId, smsConversation);
    // No provider on the server: nothing dialled, the reason kept for the page.
    device.settingsData.set(MY_NUMBER_KEY, '+86 139 0000 1111');
    await contact.call('+86138****0001', 0);
    expect(device.calls).toEqual([]);
    expect(contact.maskedProblem).toBe('noPrivacyNumber');
    expect(contact.activeCall).toBeNull();
    // My own number missing: the server is not even asked.
    device.settingsData.delete(MY_NUMBER_KEY);
    device.rest.privacyNumber = '17100001111';
    await contact.call('+86138****0001', 0);
    expect(contact.maskedProblem).toBe('noOwnNumber');
    expect(device.rest.privacyRequests).toHaveLength(1);
    // With both: the dialer gets X; the call shows the masked number and is logged to X.
    device.settingsData.set(MY_NUMBER_KEY, '+86 139 0000 1111');
    await contact.call('+86138****0001', 0);
    expect(contact.maskedProblem).toBeNull();
    expect(device.calls).toEqual(['17100001111']);
    expect(device.rest.privacyRequests.at(-1)).toEqual({ conversationId: smsConversation, agentPhone: '+86 139 0000 1111', identity: 0 });
    expect(contact.activeCall).toMatchObject({ phoneNumber: '17100001111', shown: '138****0001' });
    // A clear number (an agent with pii.view) still goes straight to the dialer.
    contact.cancelCall();
    await contact.call('+8613800000001');
    expect(device.calls).toEqual(['17100001111', '+8613800000001']);
    expect(device.rest.privacyRequests).toHaveLength(2);
  });

  it('assigns to me: the conversation moves to my list', async () => {
    await signIn();
    const inbox = useInboxStore();
    await inbox.bind();
    const conversation = useConversationStore();
    await drive(conversation.open(ids[2]!));
    await drive(conversation.assignToMe());
    await settle();
    expect(inbox.rows.map((c) => c.id)).toEqual([ids[2]]);
    expect(inbox.counts.mine).toBe(1);
  });
});

describe('settings store', () => {
  it('keeps the chosen language', () => {
    const settings = useSettingsStore();
    settings.init('en');
    expect(settings.locale).toBe('en');
    settings.setLocale('zh-CN');
    setActivePinia(createPinia());
    const again = useSettingsStore();
    again.init('en');
    expect(again.locale).toBe('zh-CN');
  });
  it('follows the system theme until the agent picks one, and keeps the choice', () => {
    const settings = useSettingsStore();
    settings.init('en', true);
    expect(settings.themeChoice).toBe('system');
    expect(settings.theme).toBe('dark');
    settings.systemDark = false;
    expect(settings.theme).toBe('light');
    settings.setTheme('dark');
    expect(settings.theme).toBe('dark');
    setActivePinia(createPinia());
    const again = useSettingsStore();
    again.init('en', false);
    expect(again.themeChoice).toBe('dark');
    expect(again.theme).toBe('dark');
  });
});

describe('applyTextChange', () => {
  it('edits only the changed middle of a shared text', () => {
    let value = 'hello world';
    const ops: string[] = [];
    const text = {
      toString: () => value,
      insert: (i: number, s: string) => {
        ops.push(`+${i}:${s}`);
        value = value.slice(0, i) + s + value.slice(i);
      },
      delete: (i: number, n: number) => {
        ops.push(`-${i}:${n}`);
        value = value.slice(0, i) + value.slice(i + n);
      },
      observe: () => undefined,
      unobserve: () => undefined,
    };
    applyTextChange(text, 'hello brave world');
    applyTextChange(text, 'hello world');
    applyTextChange(text, 'hello world');
    expect(value).toBe('hello world');
    expect(ops).toEqual(['+6:brave ', '-6:6']);
  });
});

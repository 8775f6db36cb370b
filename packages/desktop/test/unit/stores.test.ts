// @vitest-environment happy-dom
import { beforeEach, describe, expect, it } from 'vitest';
import { createPinia, setActivePinia } from 'pinia';
import { useInboxStore, PAGE_SIZE } from '../../src/renderer/stores/inbox';
import { useSessionStore } from '../../src/renderer/stores/session';
import { useConversationStore } from '../../src/renderer/stores/conversation';
import { useConnectivityStore } from '../../src/renderer/stores/connectivity';
import { useSettingsStore } from '../../src/renderer/stores/settings';
import { useDirectoryStore } from '../../src/renderer/stores/directory';
import { conversations, flush, markSynced, ME, OTHER, offlineServices, useTestApp } from './testServices';

beforeEach(() => {
  setActivePinia(createPinia());
});

async function signedIn(rows = conversations(250, (i) => ({ assigneeId: i % 2 === 0 ? ME.id : i % 5 === 0 ? null : OTHER.id, status: i % 7 === 0 ? 'resolved' : 'open', priority: i % 10 === 0 ? 'urgent' : 'normal' }))) {
  const services = await offlineServices({ conversations: rows });
  const host = useTestApp(services);
  const session = useSessionStore();
  await session.login('http://127.0.0.1:8787', 'me@example.com', 'pw');
  return { services, host, session };
}

describe('session store', () => {
  it('signs in, remembers the session through the host and signs out', async () => {
    const { host, session } = await signedIn([]);
    expect(session.status).toBe('signedIn');
    expect(session.agentId).toBe(ME.id);
    expect(host.saved?.agent.id).toBe(ME.id);
    await session.logout();
    expect(session.status).toBe('signedOut');
    expect(host.saved).toBeNull();
  });
});

describe('inbox store (a projection of the local database)', () => {
  it('counts views and reads windows by offset', async () => {
    await signedIn();
    const inbox = useInboxStore();
    await inbox.bind();
    // Mine, active (open + pending): even rows minus resolved ones.
    const mineOpen = conversations(250).filter((_, i) => i % 2 === 0 && i % 7 !== 0).length;
    expect(inbox.total).toBe(mineOpen);
    expect(inbox.counts.mine).toBe(mineOpen);
    expect(inbox.rowAt(0)?.id).toBe('c0248');
    await inbox.setView('all');
    await inbox.setFilter('status', 'any');
    expect(inbox.total).toBe(250);
    await inbox.ensureRange(PAGE_SIZE * 2, PAGE_SIZE * 2 + 20);
    expect(inbox.rowAt(PAGE_SIZE * 2)?.id).toBe(`c${String(249 - PAGE_SIZE * 2).padStart(4, '0')}`);
    await inbox.setFilter('priority', 'urgent');
    expect(inbox.total).toBe(25);
    await inbox.setFilter('text', 'Contact 240');
    expect(inbox.total).toBe(1);
    inbox.unbind();
  });

  it('filters by SLA: breached and due soon (core matchesSlaFilter), a filter a saved view keeps', async () => {
    const now = Date.now();
    const sla = (dueAt: number, warnAt: number) => ({ policyId: 'p', firstResponseDueAt: dueAt, nextResponseDueAt: null, resolutionDueAt: null, breached: [], warnAt: { first_response: warnAt }, warned: [], fired: [], pausedAt: null, firstResponseAt: null, firstResponseDeviceTime: null, stoppedAt: null });
    // Every 10th row is past due, every 10th + 1 due within the hour (warned 10 min ago), others on track.
    await signedIn(conversations(50, (i) => ({ assigneeId: ME.id, status: 'open', sla: i % 10 === 0 ? sla(now - 60_000, now - 600_000) : i % 10 === 1 ? sla(now + 3_600_000, now - 600_000) : sla(now + 86_400_000, now + 80_000_000) })));
    const inbox = useInboxStore();
    await inbox.bind();
    expect(inbox.total).toBe(50);
    await inbox.setFilter('sla', 'breached');
    expect(inbox.total).toBe(5);
    expect(inbox.rowAt(0)?.id).toBe('c0040');
    await inbox.setFilter('sla', 'due');
    expect(inbox.total).toBe(5);
    expect(inbox.rowAt(0)?.id).toBe('c0041');
    const { currentFilters } = await import('../../src/renderer/stores/savedViews');
    expect(currentFilters().sla).toBe('due');
    await inbox.setFilter('sla', '');
    expect(inbox.total).toBe(50);
    inbox.unbind();
  });

  it('j/k move the selection within the list', async () => {
    await signedIn();
    const inbox = useInboxStore();
    await inbox.bind();
    inbox.move(1);
    expect(inbox.selectedIndex).toBe(0);
    inbox.move(1);
    inbox.move(1);
    inbox.move(-1);
    expect(inbox.selectedIndex).toBe(1);
    expect(inbox.selectedId).toBe(inbox.rowAt(1)?.id);
    inbox.move(-5);
    expect(inbox.selectedIndex).toBe(0);
    inbox.unbind();
  });

  it('unassigned view and the unread badge', async () => {
    const { host } = await signedIn(conversations(10, (i) => ({ assigneeId: i < 3 ? null : ME.id, lastMessageDirection: 'in' })));
    const inbox = useInboxStore();
    await inbox.bind();
    const { useNotificationStore } = await import('../../src/renderer/stores/notifications');
    const n = useNotificationStore();
    await n.bind();
    await flush();
    expect(host.unread).toBe(7);
    expect(inbox.unread).toBe(7);
    await inbox.markRead(inbox.rowAt(0)!);
    await flush();
    expect(host.unread).toBe(6);
    n.unbind();
    await inbox.setView('unassigned');
    expect(inbox.total).toBe(3);
    await inbox.markRead(inbox.rowAt(0)!);
    inbox.unbind();
  });
});

describe('conversation store and connectivity (offline intents)', () => {
  it('a reply, a note and a resolve are shown at once and wait in the outbox', async () => {
    await signedIn();
    const conn = useConnectivityStore();
    conn.bind();
    const inbox = useInboxStore();
    await inbox.bind();
    const conv = useConversationStore();
    conv.bind();
    await conv.open('c0248');
    await conv.send('reply', 'Hello 你好');
    await conv.send('note', 'internal');
    await conv.setStatus('resolved');
    await flush();
    expect(conv.messages.map((m) => [m.text, m.kind, m.status])).toEqual([
      ['Hello 你好', 'text', 'queued'],
      ['internal', 'note', null],
    ]);
    expect(conv.conversation?.status).toBe('resolved');
    expect(conn.state.pending).toBe(3);
    expect(conn.entries.map((e) => e.command.type)).toEqual(['send_reply', 'add_note', 'set_status']);
    // The resolved conversation leaves the active Mine view at once.
    expect(inbox.indexOfLoaded('c0248')).toBe(-1);
    conv.unbind();
    conn.unbind();
    inbox.unbind();
  });

  it('assign, priority and labels apply optimistically', async () => {
    await signedIn();
    const conv = useConversationStore();
    conv.bind();
    await conv.open('c0248');
    await conv.assign(OTHER.id);
    await conv.setPriority('high');
    await conv.addLabel('vip');
    await conv.addLabel('退款');
    await conv.removeLabel('vip');
    expect(conv.conversation).toMatchObject({ assigneeId: OTHER.id, priority: 'high', labels: ['退款'] });
    conv.unbind();
  });
});

describe('settings and directory', () => {
  it('keeps language and theme in the host preferences', async () => {
    const { host } = await signedIn([]);
    const s = useSettingsStore();
    s.setLocale('en');
    s.setTheme('dark');
    expect(host.prefs.get('goutong.locale')).toBe('en');
    expect(host.prefs.get('goutong.theme')).toBe('dark');
  });
  it('lists agents from the local database', async () => {
    await signedIn([]);
    const d = useDirectoryStore();
    await d.bind();
    expect(d.agents.map((a) => a.name)).toEqual([ME.name, OTHER.name].sort((a, b) => a.localeCompare(b)));
    expect(d.agentName(OTHER.id)).toBe(OTHER.name);
    d.unbind();
  });
});

describe('notifications', () => {
  it('recognises mentions of the agent', async () => {
    const { mentions } = await import('@goutong/core');
    const me = { name: 'Alice Chen', email: 'alice@demo.goutong' };
    expect(mentions('@Alice can you check?', me)).toBe(true);
    expect(mentions('ping @alice.', me)).toBe(true);
    expect(mentions('@Alice Chen please', me)).toBe(true);
    expect(mentions('@alicex not me', me)).toBe(false);
    expect(mentions('no mention', me)).toBe(false);
    expect(mentions('请 @张三 看一下', { name: '张三 Zhang San', email: 'zhang.san@demo.goutong' })).toBe(true);
  });

  it('notifies a note mentioning me once the session synced; before that, what the device has is history', async () => {
    const { services, host } = await signedIn(conversations(3, () => ({ assigneeId: ME.id })));
    const { useNotificationStore } = await import('../../src/renderer/stores/notifications');
    const n = useNotificationStore();
    await n.bind();
    const { makeMessage } = await import('@goutong/core/testing');
    const note = (id: string, seq: number) => makeMessage({ id, tenantId: 'tenant-1', conversationId: 'c0001', kind: 'note', direction: 'out', authorType: 'agent', authorId: OTHER.id, text: '@Me 请看一下', createdAt: Date.now() + 1000, status: null, seq });
    await services.store.putMessages([note('n0', 1)]);
    services.client.changes.emit({ messageConversationIds: ['c0001'] });
    await flush();
    expect(host.notes).toEqual([]);
    markSynced(services.client);
    await flush();
    await services.store.putMessages([note('n1', 5)]);
    services.client.changes.emit({ messageConversationIds: ['c0001'] });
    await flush();
    await flush();
    expect(host.notes).toEqual([{ title: 'Contact 1: you were mentioned', body: '@Me 请看一下', conversationId: 'c0001' }]);
    n.unbind();
  });
});

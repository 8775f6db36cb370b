// @vitest-environment happy-dom
import { beforeEach, describe, expect, it } from 'vitest';
import { mount } from '@vue/test-utils';
import { createPinia, setActivePinia, type Pinia } from 'pinia';
import ElementPlus from 'element-plus';
import { makeMessage } from '@goutong/core/testing';
import ConnectivityBar from '../../src/renderer/components/ConnectivityBar.vue';
import MessageItem from '../../src/renderer/components/MessageItem.vue';
import PrefsSwitch from '../../src/renderer/components/PrefsSwitch.vue';
import { makeI18n } from '../../src/renderer/i18n';
import { useConnectivityStore } from '../../src/renderer/stores/connectivity';
import { useSettingsStore } from '../../src/renderer/stores/settings';
import { setHost } from '../../src/renderer/platform/host';
import { testHost } from './testServices';

let pinia: Pinia;
beforeEach(() => {
  setHost(testHost());
  pinia = createPinia();
  setActivePinia(pinia);
});

const plugins = (locale: 'en' | 'zh-CN' = 'en') => ({ global: { plugins: [pinia, makeI18n(locale), ElementPlus] } });

describe('ConnectivityBar', () => {
  it('shows status with pending and failed counts, labelled for assistive technology', async () => {
    const conn = useConnectivityStore();
    conn.state = { status: 'offline', pending: 3, failed: 1, lastSyncedAt: null, sessionExpired: false };
    const w = mount(ConnectivityBar, plugins());
    const bar = w.get('[role="status"]');
    expect(bar.attributes('aria-label')).toBe('Connectivity');
    expect(bar.attributes('data-pending')).toBe('3');
    expect(bar.text()).toContain('Offline');
    expect(bar.text()).toContain('3 pending');
    expect(bar.text()).toContain('1 failed');
    await w.get('button').trigger('click');
    expect(conn.panelOpen).toBe(true);
  });

  it('tells the agent to update the app when the server speaks another protocol version', () => {
    const conn = useConnectivityStore();
    conn.state = { status: 'offline', pending: 1, failed: 0, lastSyncedAt: null, sessionExpired: false, updateRequired: true };
    const w = mount(ConnectivityBar, plugins());
    expect(w.get('[data-update-required]').text()).toMatch(/update the app/);
    expect(w.text()).toContain('1 pending');
  });

  it('speaks Chinese', () => {
    const conn = useConnectivityStore();
    conn.state = { status: 'online', pending: 2, failed: 0, lastSyncedAt: null, sessionExpired: false };
    const w = mount(ConnectivityBar, plugins('zh-CN'));
    expect(w.text()).toContain('在线');
    expect(w.text()).toContain('2 条待发送');
  });
});

describe('MessageItem', () => {
  it('shows delivery states', () => {
    for (const [status, text] of [['queued', 'Queued'], ['sending', 'Sending'], ['accepted', 'Sent'], ['delivered', 'Delivered']] as const) {
      const w = mount(MessageItem, { props: { message: makeMessage({ direction: 'out', authorType: 'agent', status, text: 'hi', createdAt: Date.now(), deviceTime: Date.now() }) }, ...plugins() });
      expect(w.get('[data-testid="delivery-status"]').text()).toBe(text);
      expect(w.get('article').attributes('data-status')).toBe(status);
    }
  });

  it('shows a failure with its reason, and retry/discard while the command is in the outbox', async () => {
    const m = makeMessage({ direction: 'out', authorType: 'agent', status: 'failed', statusReason: 'number blocked', text: 'hi' });
    const conn = useConnectivityStore();
    conn.entries = [{ id: m.id, lane: 'x', command: { type: 'send_reply', id: m.id, deviceTime: 1, conversationId: m.conversationId, text: 'hi' }, state: 'failed', attempts: 1, nextAttemptAt: 0, order: 1, error: { code: 'bad_request', message: 'number blocked' }, ackSeq: null, createdAt: 1 }];
    const w = mount(MessageItem, { props: { message: m }, ...plugins() });
    // The reason in the UI's language; the server's raw text one click away.
    expect(w.get('[data-testid="delivery-status"]').text()).toBe('Not sent: The server refused the request');
    const buttons = w.findAll('button').map((b) => b.text());
    expect(buttons).toEqual(['Details', 'Retry', 'Discard']);
    await w.get('[data-testid="delivery-detail-toggle"]').trigger('click');
    expect(w.get('[data-testid="delivery-detail"]').text()).toBe('number blocked');
  });

  it('marks notes, written-offline times and folds quoted e-mail text', () => {
    const note = mount(MessageItem, { props: { message: makeMessage({ kind: 'note', direction: 'out', authorType: 'agent', text: 'internal', status: null }) }, ...plugins() });
    expect(note.get('article').classes()).toContain('note');
    expect(note.get('article').attributes('aria-label')).toBe('Internal note');
    const offline = mount(MessageItem, { props: { message: makeMessage({ direction: 'out', authorType: 'agent', status: 'accepted', deviceTime: 1_700_000_000_000, serverTime: 1_700_000_000_000 + 40 * 60_000 }) }, ...plugins() });
    expect(offline.text()).toContain('written offline at');
    const email = mount(MessageItem, { props: { message: makeMessage({ kind: 'email', text: 'Thanks\n> old text', subject: 'Re: order' }) }, ...plugins() });
    expect(email.get('.text').text()).toBe('Thanks');
    expect(email.get('details summary').text()).toBe('Show quoted text');
    expect(email.text()).toContain('Subject: Re: order');
  });

  it('renders e-mail HTML in a frame without script once the sanitiser loaded (the sanitiser itself is checked in Chromium, bigInbox e2e)', async () => {
    const w = mount(MessageItem, { props: { message: makeMessage({ kind: 'email', text: 'x', meta: { html: '<p>Hi</p>' } }) }, ...plugins() });
    // Until the lazy sanitiser is in, the plain text shows (never unsanitised HTML).
    expect(w.find('iframe').exists() || w.get('.text').text() === 'x').toBe(true);
    await expect.poll(() => w.find('iframe').exists()).toBe(true);
    const frame = w.get('iframe');
    expect(frame.attributes('srcdoc')).toContain('Hi');
    expect(frame.attributes('sandbox')).toBe('');
    expect(frame.attributes('referrerpolicy')).toBe('no-referrer');
  });
});

describe('PrefsSwitch', () => {
  it('switches language and theme (system, light, dark) through labelled Element Plus selects', async () => {
    const w = mount(PrefsSwitch, { ...plugins(), attachTo: document.body });
    const s = useSettingsStore();
    await w.get('[data-testid="prefs-open"]').trigger('click');
    // The selects load lazily (their own chunk).
    await expect.poll(() => w.findAllComponents({ name: 'GtSelect' }).filter((c) => c.props('options') !== undefined).length).toBe(2);
    const [lang, theme] = w.findAllComponents({ name: 'GtSelect' }).filter((c) => c.props('options') !== undefined);
    expect(lang!.props('label')).toBe('Language');
    expect(theme!.props('label')).toBe('Theme');
    expect((theme!.props('options') as Array<{ value: string }>).map((o) => o.value)).toEqual(['system', 'light', 'dark']);
    expect(w.find('input[aria-label="Theme"]').exists()).toBe(true);
    lang!.vm.$emit('update:modelValue', 'zh-CN');
    expect(s.locale).toBe('zh-CN');
    theme!.vm.$emit('update:modelValue', 'dark');
    expect(s.themeChoice).toBe('dark');
    expect(s.theme).toBe('dark');
    theme!.vm.$emit('update:modelValue', 'system');
    s.systemDark = false;
    expect(s.theme).toBe('light');
    s.systemDark = true;
    expect(s.theme).toBe('dark');
    w.unmount();
  });
});

describe('MessageItem events and calls', () => {
  it('shows server events and call records in the agent’s language', () => {
    const ev = mount(MessageItem, { props: { message: makeMessage({ kind: 'event', authorType: 'system', text: 'status → resolved', meta: { action: 'status', status: 'resolved' } }) }, ...plugins('zh-CN') });
    expect(ev.text()).toContain('状态 → 已解决');
    const call = mount(MessageItem, { props: { message: makeMessage({ kind: 'call', direction: 'in', text: '', meta: { call: { direction: 'in', outcome: 'answered', durationSeconds: 125 } } }) }, ...plugins() });
    expect(call.text()).toContain('Incoming call · answered · 2:05');
  });
});

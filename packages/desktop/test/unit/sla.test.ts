// @vitest-environment happy-dom
import { beforeEach, describe, expect, it } from 'vitest';
import { mount } from '@vue/test-utils';
import { createPinia, setActivePinia, type Pinia } from 'pinia';
import ElementPlus from 'element-plus';
import type { ConversationSla } from '@goutong/core';
import SlaBadge from '../../src/renderer/components/ops/SlaBadge.vue';
import { makeI18n } from '../../src/renderer/i18n';
import { makeMessage } from '@goutong/core/testing';
import { useSessionStore } from '../../src/renderer/stores/session';
import { useNotificationStore } from '../../src/renderer/stores/notifications';
import { conversations, flush, markSynced, ME, OTHER, offlineServices, useTestApp } from './testServices';

let pinia: Pinia;
beforeEach(() => {
  pinia = createPinia();
  setActivePinia(pinia);
});
const plugins = (locale: 'en' | 'zh-CN' = 'en') => ({ global: { plugins: [pinia, makeI18n(locale), ElementPlus] } });

const NOW = 1_800_000_000_000;
const MIN = 60_000;
const sla = (over: Partial<ConversationSla> = {}): ConversationSla => ({
  policyId: 'p1', firstResponseDueAt: NOW + 90 * MIN, nextResponseDueAt: null, resolutionDueAt: NOW + 600 * MIN, breached: [],
  warnAt: { first_response: NOW + 60 * MIN }, warned: [], fired: [], pausedAt: null, firstResponseAt: null, firstResponseDeviceTime: null, stoppedAt: null,
  ...over,
});

describe('SlaBadge', () => {
  it('counts down the most urgent target, amber when warned, red when breached, with an accessible name', () => {
    const ok = mount(SlaBadge, { props: { sla: sla(), now: NOW }, ...plugins() }).get('[data-testid="sla-badge"]');
    expect(ok.attributes('data-sla-state')).toBe('ok');
    expect(ok.text()).toContain('due in 1 h 30 min');
    expect(ok.attributes('aria-label')).toBe('SLA first response: on track, due in 1 h 30 min');
    const warn = mount(SlaBadge, { props: { sla: sla(), now: NOW + 70 * MIN }, ...plugins() }).get('[data-testid="sla-badge"]');
    expect(warn.attributes('data-sla-state')).toBe('warning');
    expect(warn.text()).toContain('due in 20 min');
    const late = mount(SlaBadge, { props: { sla: sla({ fired: ['first_response'], breached: ['first_response'] }), now: NOW + 100 * MIN }, ...plugins() }).get('[data-testid="sla-badge"]');
    expect(late.attributes('data-sla-state')).toBe('breached');
    expect(late.text()).toContain('overdue 10 min');
  });

  it('speaks Chinese, shows paused clocks, and nothing once every target is met', () => {
    const zh = mount(SlaBadge, { props: { sla: sla(), now: NOW + 95 * MIN }, ...plugins('zh-CN') }).get('[data-testid="sla-badge"]');
    expect(zh.text()).toContain('已超时 5 分钟');
    expect(zh.attributes('aria-label')).toBe('SLA 首次响应：已违约，已超时 5 分钟');
    const paused = mount(SlaBadge, { props: { sla: sla({ pausedAt: NOW }), now: NOW + 500 * MIN }, ...plugins() }).get('[data-testid="sla-badge"]');
    expect(paused.attributes('data-sla-state')).toBe('paused');
    const met = mount(SlaBadge, { props: { sla: sla({ firstResponseDueAt: null, resolutionDueAt: null, stoppedAt: NOW }), now: NOW }, ...plugins() });
    expect(met.find('[data-testid="sla-badge"]').exists()).toBe(false);
  });
});

describe('SLA notifications', () => {
  it('notifies the agents an SLA warning or breach names, once; not the others', async () => {
    const services = await offlineServices({ conversations: conversations(2) });
    const host = useTestApp(services);
    await useSessionStore().login('http://127.0.0.1:8787', 'me@example.com', 'pw');
    const n = useNotificationStore();
    await n.bind();
    markSynced(services.client);
    await flush();
    const event = (id: string, conversationId: string, notify: string[]) =>
      makeMessage({ id, tenantId: 'tenant-1', conversationId, kind: 'event', direction: 'out', authorType: 'system', authorId: null, status: null, text: 'SLA breached: first response / SLA 已违约：首次响应', meta: { action: 'sla', sla: 'breached', metric: 'first_response', notify }, createdAt: Date.now() + 1000, seq: 10 });
    await services.store.putMessages([event('e1', 'c0000', [ME.id]), event('e2', 'c0001', [OTHER.id])]);
    services.client.changes.emit({ messageConversationIds: ['c0000', 'c0001'] });
    await flush();
    services.client.changes.emit({ messageConversationIds: ['c0000'] });
    await flush();
    expect(host.notes).toEqual([{ title: 'SLA: Contact 0', body: 'SLA breached: first response / SLA 已违约：首次响应', conversationId: 'c0000' }]);
    n.unbind();
  });
});

// @vitest-environment happy-dom
import { beforeEach, describe, expect, it } from 'vitest';
import { mount } from '@vue/test-utils';
import { createPinia, setActivePinia, type Pinia } from 'pinia';
import ElementPlus from 'element-plus';
import RoutingAvailability from '../../src/renderer/components/ops/RoutingAvailability.vue';
import RoutingQueues from '../../src/renderer/components/ops/RoutingQueues.vue';
import { makeI18n } from '../../src/renderer/i18n';
import { setServices } from '../../src/renderer/platform/services';
import { useSessionStore } from '../../src/renderer/stores/session';
import { useDirectoryStore } from '../../src/renderer/stores/directory';
import { useSoftphoneStore } from '../../src/renderer/softphone/store';
import { setHost } from '../../src/renderer/platform/host';
import { choose, flush, ME, OTHER, offlineServices, testHost } from './testServices';

let pinia: Pinia;
beforeEach(() => {
  setHost(testHost());
  pinia = createPinia();
  setActivePinia(pinia);
});
const plugins = (locale: 'en' | 'zh-CN' = 'en') => ({ global: { plugins: [pinia, makeI18n(locale), ElementPlus] } });

/** The services with a recording REST api answering from `answers`. */
async function withApi(answers: Record<string, unknown>, agents = [{ ...ME, availability: 'online' as const, chosenAvailability: 'online' as const }, OTHER]) {
  const services = await offlineServices({ agents });
  const calls: Array<{ method: string; path: string; body: unknown }> = [];
  const api = {
    request: async (method: string, path: string, body?: unknown) => {
      calls.push({ method, path, body });
      return (answers[`${method} ${path}`] ?? {}) as never;
    },
  };
  setServices({ ...services, api } as never);
  useSessionStore().agent = ME;
  await useDirectoryStore().load();
  return { calls };
}

describe('RoutingAvailability (top bar)', () => {
  it('shows what routing sees, and a call in progress reaches the server as busy', async () => {
    const { calls } = await withApi({});
    const w = mount(RoutingAvailability, plugins('zh-CN'));
    await flush();
    expect(w.get('[data-availability]').attributes('data-availability')).toBe('online');
    const phone = useSoftphoneStore();
    phone.call = { id: 'c1', direction: 'out', state: 'active', remote: '100', remoteName: null, startedAt: 1, answeredAt: 2, endedAt: null, alerting: false, muted: false } as never;
    await flush();
    expect(calls).toContainEqual({ method: 'PATCH', path: '/api/v1/agents/me', body: { onCall: true } });
    expect(w.text()).toContain('通话中：忙碌');
    phone.call = null;
    await flush();
    expect(calls).toContainEqual({ method: 'PATCH', path: '/api/v1/agents/me', body: { onCall: false } });
    w.unmount();
  });
});

describe('RoutingQueues (supervisors)', () => {
  it('lists the waiting conversations with the agents\' availability and load, and re-routes one', async () => {
    const { calls } = await withApi({
      'GET /api/v1/queues': {
        items: [{
          scope: 's', inboxId: 'inbox-1', inboxName: 'Web 网站', teamId: null, strategy: 'round_robin', waiting: 2, longestWaitMs: 125_000,
          unassigned: [{ id: 'cv-1', contactName: '王芳', channel: 'sms', priority: 'high', subject: null, lastMessagePreview: '订单' }],
          agents: [{ id: OTHER.id, name: OTHER.name, availability: 'online', load: 1, capacity: 3 }],
        }],
      },
    });
    const w = mount(RoutingQueues, plugins('zh-CN'));
    await flush();
    const text = w.text();
    expect(text).toContain('Web 网站');
    expect(text).toContain('轮流分配');
    expect(text).toContain('2 分钟');
    expect(text).toContain('王芳');
    expect(text).toContain('1 / 3');
    await choose(w, '分配给…', OTHER.id);
    const assign = w.findAll('button').find((b) => b.text() === '分配')!;
    await assign.trigger('click');
    await flush();
    expect(calls).toContainEqual({ method: 'PATCH', path: '/api/v1/conversations/cv-1', body: { assigneeId: OTHER.id } });
    w.unmount();
  });
});

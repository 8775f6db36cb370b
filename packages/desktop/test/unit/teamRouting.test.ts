// @vitest-environment happy-dom
// Routing per team in the settings: each team's routing is loaded; a strategy is saved with its
// capacity and skills, and "as its inboxes" removes the team's own routing.
import { beforeEach, describe, expect, it } from 'vitest';
import { mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import ElementPlus from 'element-plus';
import TeamRoutingSettings from '../../src/renderer/components/ops/TeamRoutingSettings.vue';
import { makeI18n } from '../../src/renderer/i18n';
import { setServices } from '../../src/renderer/platform/services';
import { setHost } from '../../src/renderer/platform/host';
import { choose, flush, gtSelect, offlineServices, propsOf, testHost } from './testServices';

beforeEach(() => {
  setHost(testHost());
  setActivePinia(createPinia());
});

describe('TeamRoutingSettings', () => {
  it('saves a team round robin with capacity and skills, and removes it again', async () => {
    const services = await offlineServices();
    const calls: Array<{ method: string; path: string; body: unknown }> = [];
    const answers: Record<string, unknown> = {
      'GET /api/v1/teams': { items: [{ id: 'sup', tenantId: 't', name: 'Support 客服', seq: 1 }] },
      'GET /api/v1/teams/sup/routing': { routing: null },
    };
    setServices({ ...services, api: { request: async (method: string, path: string, body?: unknown) => (calls.push({ method, path, body }), (answers[`${method} ${path}`] ?? {}) as never) } } as never);
    const w = mount(TeamRoutingSettings, { global: { plugins: [makeI18n('en'), ElementPlus] } });
    await flush();
    await flush();
    expect(w.text()).toContain('Support 客服');
    const strategy = await gtSelect(w, 'Strategy Support 客服');
    expect(propsOf(strategy).modelValue).toBe('inherit');
    await choose(w, 'Strategy Support 客服', 'round_robin');
    await w.get('input[aria-label="Default capacity per agent Support 客服"]').setValue('4');
    await w.get('input[aria-label="Required skills Support 客服"]').setValue('zh, vip');
    await w.get('button').trigger('click');
    await flush();
    expect(calls.filter((c) => c.method === 'PATCH')).toEqual([{ method: 'PATCH', path: '/api/v1/teams/sup/routing', body: { routing: { strategy: 'round_robin', capacity: 4, skills: ['zh', 'vip'] } } }]);
    await choose(w, 'Strategy Support 客服', 'inherit');
    await w.get('button').trigger('click');
    await flush();
    expect(calls.filter((c) => c.method === 'PATCH')[1]).toEqual({ method: 'PATCH', path: '/api/v1/teams/sup/routing', body: { routing: null } });
    w.unmount();
  });
});

// @vitest-environment happy-dom
// The live board's voice queue section: callers waiting, talking to an agent and the longest wait,
// per queue, from GET /api/v1/voice/queues; hidden when the server refuses (not a supervisor).
import { beforeEach, describe, expect, it } from 'vitest';
import { mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import CallQueueBoard from '../../src/renderer/components/insight/CallQueueBoard.vue';
import { makeI18n } from '../../src/renderer/i18n';
import { setServices } from '../../src/renderer/platform/services';
import { setHost } from '../../src/renderer/platform/host';
import { useConnectivityStore } from '../../src/renderer/stores/connectivity';
import { flush, offlineServices, testHost } from './testServices';

beforeEach(() => {
  setHost(testHost());
  setActivePinia(createPinia());
});

describe('CallQueueBoard', () => {
  it('shows the callers in each voice queue and the longest wait, in Chinese', async () => {
    const services = await offlineServices();
    const asked: string[] = [];
    const items = [
      { inboxId: 'in-voice-1', teamId: null, waiting: 2, connected: 1, longestWaitMs: 95_000 },
      { inboxId: 'in-voice-2', teamId: null, waiting: 1, connected: 0, longestWaitMs: 12_000 },
    ];
    setServices({ ...services, api: { request: async (method: string, path: string) => (asked.push(`${method} ${path}`), { items } as never) } } as never);
    useConnectivityStore().state = { ...useConnectivityStore().state, status: 'online' };
    const w = mount(CallQueueBoard, { global: { plugins: [makeI18n('zh-CN')] } });
    await flush();
    expect(asked).toContain('GET /api/v1/voice/queues');
    expect(w.get('[data-live="calls-waiting"] .value').text()).toBe('3');
    expect(w.get('[data-live="calls-connected"] .value').text()).toBe('1');
    expect(w.get('[data-live="calls-longest"] .label').text()).toBe('来电最长等待');
    expect(w.get('[data-live="calls-longest"] .value').text()).not.toBe('—');
    expect(w.findAll('tbody tr')).toHaveLength(2);
    w.unmount();
  });

  it('stays hidden when the server refuses', async () => {
    const services = await offlineServices();
    setServices({ ...services, api: { request: async () => Promise.reject(new Error('403')) } } as never);
    useConnectivityStore().state = { ...useConnectivityStore().state, status: 'online' };
    const w = mount(CallQueueBoard, { global: { plugins: [makeI18n('en')] } });
    await flush();
    expect(w.find('[data-testid="call-queues"]').exists()).toBe(false);
    w.unmount();
  });
});

// @vitest-environment happy-dom
// The inbox form's business hours and automatic replies: loads the calendars and templates, and
// saves the calendar and both replies (a template, text in both languages, or off) in one PATCH.
import { beforeEach, describe, expect, it } from 'vitest';
import { mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import ElementPlus from 'element-plus';
import InboxServiceSettings from '../../src/renderer/components/ops/InboxServiceSettings.vue';
import { makeI18n } from '../../src/renderer/i18n';
import { setServices } from '../../src/renderer/platform/services';
import { setHost } from '../../src/renderer/platform/host';
import { choose, flush, offlineServices, testHost } from './testServices';

beforeEach(() => {
  setHost(testHost());
  setActivePinia(createPinia());
});

describe('InboxServiceSettings', () => {
  it('saves the calendar, a template acknowledgement and a bilingual out-of-hours text, in Chinese', async () => {
    const services = await offlineServices();
    const calls: Array<{ method: string; path: string; body: unknown }> = [];
    const answers: Record<string, unknown> = {
      'GET /api/v1/business-hours': { items: [{ id: 'bh1', tenantId: 't', name: '上海客服', timeZone: 'Asia/Shanghai', weekly: [], holidays: [], createdAt: 0, updatedAt: 0 }] },
      'GET /api/v1/templates': { items: [{ id: 'tpl1', tenantId: 't', name: 'Thanks', body: { en: 'Thanks' }, subject: null, createdAt: 0, updatedAt: 0 }] },
    };
    setServices({ ...services, api: { request: async (method: string, path: string, body?: unknown) => (calls.push({ method, path, body }), (answers[`${method} ${path}`] ?? {}) as never) } } as never);
    const inbox = { id: 'in1', tenantId: 't', name: 'SMS', channel: 'sms', provider: 'kannel', teamIds: [], createdAt: 0, seq: 1, config: {}, secretsSet: [], urls: [], ops: { routing: { strategy: 'manual' }, businessHoursId: null, autoReply: {} } };
    const w = mount(InboxServiceSettings, { props: { inbox: inbox as never }, global: { plugins: [makeI18n('zh-CN'), ElementPlus] } });
    await flush();
    expect(w.text()).toContain('营业时间与自动回复');
    await choose(w, '营业时间', 'bh1');
    await choose(w, '首次联系确认', 'template');
    await flush();
    await choose(w, '首次联系确认 · 模板', 'tpl1');
    await choose(w, '非营业时间回复', 'text');
    await flush();
    const areas = w.findAll('[data-testid="inbox-autoreply-outOfHours"] textarea');
    await areas[0]!.setValue('我们已下班，{{business.nextOpening}} 回复您');
    await areas[1]!.setValue('We are closed; back at {{business.nextOpening}}');
    await w.get('[data-testid="inbox-service-save"]').trigger('click');
    await flush();
    expect(calls.find((c) => c.method === 'PATCH')).toEqual({
      method: 'PATCH',
      path: '/api/v1/inboxes/in1',
      body: {
        businessHoursId: 'bh1',
        autoReply: {
          acknowledge: { templateId: 'tpl1' },
          outOfHours: { text: { en: 'We are closed; back at {{business.nextOpening}}', 'zh-CN': '我们已下班，{{business.nextOpening}} 回复您' } },
        },
      },
    });
    expect(w.text()).toContain('已保存');
    w.unmount();
  });
});

// @vitest-environment happy-dom
import { beforeEach, describe, expect, it } from 'vitest';
import { mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import ElementPlus from 'element-plus';
import WidgetSnippet from '../../src/renderer/components/admin/WidgetSnippet.vue';
import { makeI18n } from '../../src/renderer/i18n';
import { useSessionStore } from '../../src/renderer/stores/session';
import { setHost } from '../../src/renderer/platform/host';
import { testHost } from './testServices';

beforeEach(() => {
  setHost(testHost());
  setActivePinia(createPinia());
});

const mountWith = (urls: { key: string; what: Record<string, string>; method: 'GET' | 'POST'; url: string }[], locale: 'en' | 'zh-CN' = 'en') =>
  mount(WidgetSnippet, { props: { inbox: { urls } }, global: { plugins: [ElementPlus, makeI18n(locale)] } });

describe('WidgetSnippet (website chat inbox admin)', () => {
  it('builds the embed snippet from the provider URL `widget` and the server address', () => {
    useSessionStore().serverUrl = 'https://chat.example.com/';
    const w = mountWith([{ key: 'widget', what: { en: 'Widget script', 'zh-CN': '聊天窗口脚本' }, method: 'GET', url: '/widget/widget.js?inbox=0190abc.deadbeef' }], 'zh-CN');
    expect((w.find('input').element as HTMLInputElement).value).toBe('<script src="https://chat.example.com/widget/widget.js" data-inbox-token="0190abc.deadbeef" async></script>');
    expect(w.text()).toContain('在网站上嵌入聊天窗口');
  });

  it('shows nothing for inboxes of other channels', () => {
    useSessionStore().serverUrl = 'https://chat.example.com';
    const w = mountWith([{ key: 'inbound', what: { en: 'Inbound' }, method: 'POST', url: '/webhooks/x' }]);
    expect(w.find('section').exists()).toBe(false);
  });
});

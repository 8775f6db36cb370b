// @vitest-environment happy-dom
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mount } from '@vue/test-utils';
import VisitorTyping from '../../src/renderer/components/VisitorTyping.vue';
import { makeI18n } from '../../src/renderer/i18n';
import { setServices, type AppServices } from '../../src/renderer/platform/services';
import { setHost } from '../../src/renderer/platform/host';
import { testHost } from './testServices';

const asked: string[] = [];
let visitor = false;

beforeEach(() => {
  setHost(testHost());
  asked.length = 0;
  const api = {
    request: async (method: string, path: string) => {
      asked.push(`${method} ${path}`);
      return { visitor };
    },
  };
  setServices({ api } as unknown as AppServices);
});
afterEach(() => setServices(null));

const until = async (f: () => boolean) => {
  for (let i = 0; i < 100 && !f(); i++) await new Promise((r) => setTimeout(r, 10));
};

describe('VisitorTyping (website chat)', () => {
  it('shows when the website visitor types, asking the webchat provider', async () => {
    visitor = true;
    const w = mount(VisitorTyping, { props: { conversationId: 'c-1', channel: 'web', intervalMs: 20 }, global: { plugins: [makeI18n('zh-CN')] } });
    await until(() => w.find('[data-testid=visitor-typing]').exists());
    expect(w.text()).toBe('访客正在输入…');
    expect(asked[0]).toBe('GET /api/v1/webchat/conversations/c-1/typing');
    visitor = false;
    await until(() => !w.find('[data-testid=visitor-typing]').exists());
    expect(w.find('[data-testid=visitor-typing]').exists()).toBe(false);
    w.unmount();
  });

  it('asks nothing for conversations of other channels', async () => {
    visitor = true;
    const w = mount(VisitorTyping, { props: { conversationId: 'c-2', channel: 'email', intervalMs: 20 }, global: { plugins: [makeI18n('en')] } });
    await new Promise((r) => setTimeout(r, 60));
    expect(asked).toEqual([]);
    expect(w.text()).toBe('');
    w.unmount();
  });
});

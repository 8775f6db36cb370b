// @vitest-environment happy-dom
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { mount } from '@vue/test-utils';
import { createPinia, setActivePinia, type Pinia } from 'pinia';
import ElementPlus from 'element-plus';
import { makeContact } from '@goutong/core/testing';
import { useSessionStore } from '../../src/renderer/stores/session';
import { useConversationStore } from '../../src/renderer/stores/conversation';
import { useCannedStore } from '../../src/renderer/stores/canned';
import ComposerBox from '../../src/renderer/components/ComposerBox.vue';
import { makeI18n } from '../../src/renderer/i18n';
import { conversations, flush, offlineServices, useTestApp } from './testServices';

let pinia: Pinia;
beforeEach(() => {
  pinia = createPinia();
  setActivePinia(pinia);
});

describe('canned responses in the composer', () => {
  it('offers the tenant’s list (cached for offline) and fills variables', async () => {
    const rows = conversations(1, () => ({ contactId: 'contact-1', subject: 'Order 42' }));
    const services = await offlineServices({ conversations: rows, contacts: [makeContact({ id: 'contact-1', tenantId: 'tenant-1', name: 'Wang Fang', attributes: { city: 'Hangzhou' } })] });
    useTestApp(services);
    await useSessionStore().login('http://127.0.0.1:8787', 'me@example.com', 'pw');
    // What an earlier online session cached.
    await services.store.setMeta('desktop.cannedResponses', [
      { id: 'c1', tenantId: 'tenant-1', shortCode: 'city', title: 'City', body: 'Hi {{contact.firstName}} from {{contact.city}}, re {{conversation.subject}} — {{agent.name}}', createdAt: 1, updatedAt: 1 },
    ]);
    const canned = useCannedStore();
    await canned.bind();
    expect(canned.known).toBe(true);
    expect(canned.items.map((c) => c.shortCode)).toEqual(['city']);
    const conv = useConversationStore();
    conv.bind();
    await conv.open(rows[0]!.id);
    const w = mount(ComposerBox, { global: { plugins: [pinia, makeI18n('en'), ElementPlus] } });
    await flush();
    // [composer] `/ci` at the caret offers the cached list; Enter puts the filled text in place of the token.
    const ta = w.get('textarea');
    const el = ta.element as HTMLTextAreaElement;
    el.value = 'Dear /ci';
    el.setSelectionRange(8, 8);
    await ta.trigger('input');
    // The picker is in a lazy chunk: it shows once loaded.
    const picker = await vi.waitFor(() => w.get('[role="listbox"]'), { timeout: 10_000 });
    expect(picker.findAll('[role="option"]').map((o) => o.text())).toEqual(['/cityCity']);
    await ta.trigger('keydown', { key: 'Enter' });
    await flush();
    expect(el.value).toBe('Dear Hi Wang from Hangzhou, re Order 42 — Me 我');
    canned.unbind();
  });
});

// @vitest-environment happy-dom
import { beforeEach, describe, expect, it } from 'vitest';
import { mount } from '@vue/test-utils';
import { createPinia, setActivePinia, type Pinia } from 'pinia';
import ElementPlus from 'element-plus';
import InboxForm from '../../src/renderer/components/admin/InboxForm.vue';
import { makeI18n } from '../../src/renderer/i18n';
import { providersOf } from '../../src/renderer/admin/schema';
import { useAdminStore, type CreateInboxBody, type CreatedInbox } from '../../src/renderer/stores/admin';
import { setHost } from '../../src/renderer/platform/host';
import { flush, testHost } from './testServices';

let pinia: Pinia;
beforeEach(() => {
  setHost(testHost());
  pinia = createPinia();
  setActivePinia(pinia);
});

const voice = {
  components: {
    schemas: {
      'Provider.voice/sip.config': {
        type: 'object',
        properties: {
          wsUrl: { type: 'string', format: 'uri', title: 'SIP WebSocket URL', description: 'The SIP server over WebSocket', 'x-i18n': { 'zh-CN': { title: 'SIP WebSocket 地址', description: 'SIP 服务器的 WebSocket 地址' } } },
          domain: { type: 'string', minLength: 1 },
          // Titles as the server's label() writes them (the form's labels come from the schema).
          agents: { default: {}, type: 'object', title: 'Agents → SIP users', 'x-i18n': { 'zh-CN': { title: '坐席 → SIP 用户' } }, propertyNames: { type: 'string', minLength: 1 }, additionalProperties: { type: 'string', minLength: 1, maxLength: 64 } },
          recordCalls: { default: false, type: 'boolean' },
          iceServers: { default: [], type: 'array', items: { type: 'object', properties: { urls: { type: 'string' } } } },
        },
        required: ['wsUrl', 'domain'],
      },
      'Provider.voice/sip.secrets': { type: 'object', properties: { voicemailToken: { type: 'string', pattern: '^[A-Za-z0-9_-]{16,128}$' } }, additionalProperties: { type: 'string', minLength: 1 } },
    },
  },
};

describe('InboxForm (generated from the provider schemas)', () => {
  it('edits maps, JSON and named secrets, checks them, and posts the typed values', async () => {
    const admin = useAdminStore();
    admin.providers = providersOf(voice);
    admin.teams = [{ id: 'team-a', tenantId: 't', name: 'Support', seq: 1 }];
    const sent: CreateInboxBody[] = [];
    admin.createInbox = async (body) => {
      sent.push(body);
      return { id: 'inbox-9', tenantId: 't', name: body.name, channel: 'voice', provider: 'sip', teamIds: body.teamIds, createdAt: 1, seq: 1, config: body.config, secretsSet: [], generatedSecrets: { voicemailToken: 'generated-token-123456' } } as CreatedInbox;
    };
    const created: CreatedInbox[] = [];
    const w = mount(InboxForm, { props: { onCreated: (c: CreatedInbox) => created.push(c) }, global: { plugins: [pinia, makeI18n('en'), ElementPlus] }, attachTo: document.body });
    await flush();
    const byLabel = (label: string) => w.get(`[aria-label="${label}"]`);
    // Labels and hints come from the schema (no i18n entry for this provider's fields).
    expect(w.get('label[for="cfg-wsUrl"]').text()).toBe('SIP WebSocket URL');
    expect(w.get('#cfg-wsUrl-hint').text()).toBe('The SIP server over WebSocket');
    expect(w.get('#cfg-wsUrl').attributes('aria-describedby')).toBe('cfg-wsUrl-hint');
    await w.get('#inbox-name').setValue('Hotline 热线');
    await w.get('#cfg-wsUrl').setValue('wss://sip.example.com/ws');
    await w.get('#cfg-domain').setValue('sip.example.com');
    await byLabel('Add an entry to Agents → SIP users').trigger('click');
    await byLabel('Agents → SIP users: key of entry 1').setValue('alice@demo.goutong');
    await byLabel('Agents → SIP users: value of entry 1').setValue('1001');
    await w.get('#cfg-iceServers').setValue('not json');
    await byLabel('Add an entry to Other entries').trigger('click');
    await byLabel('Other entries: key of entry 1').setValue('password:1001');
    expect(byLabel('Other entries: value of entry 1').attributes('type')).toBe('password');
    await w.get('form').trigger('submit');
    await flush();
    expect(w.get('#cfg-iceServers').attributes('aria-invalid')).toBe('true');
    expect(w.text()).toContain('Not valid JSON');
    expect(w.text()).toContain('password:1001: Required');
    expect(sent).toHaveLength(0);

    await w.get('#cfg-iceServers').setValue('[{"urls": "stun:stun.example.com"}]');
    await byLabel('Other entries: value of entry 1').setValue('sip-pass');
    await w.get('form').trigger('submit');
    await flush();
    expect(sent).toEqual([
      {
        name: 'Hotline 热线',
        channel: 'voice',
        provider: 'sip',
        config: { wsUrl: 'wss://sip.example.com/ws', domain: 'sip.example.com', agents: { 'alice@demo.goutong': '1001' }, recordCalls: false, iceServers: [{ urls: 'stun:stun.example.com' }] },
        secrets: { 'password:1001': 'sip-pass' },
        teamIds: [],
      },
    ]);
    expect(created[0]?.generatedSecrets).toEqual({ voicemailToken: 'generated-token-123456' });
    w.unmount();
  });
});

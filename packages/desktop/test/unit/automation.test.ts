// @vitest-environment happy-dom
// The automation rule editor builds the rule the server validates (core AutomationRuleInput), in
// zh-CN and en; the inbox list shows ticket numbers.
import { beforeEach, describe, expect, it } from 'vitest';
import { mount } from '@vue/test-utils';
import { createPinia, setActivePinia, type Pinia } from 'pinia';
import ElementPlus from 'element-plus';
import { AutomationRuleInput, type AutomationRule } from '@goutong/core';
import { makeTeam } from '@goutong/core/testing';
import AutomationRuleEditor from '../../src/renderer/components/ops/AutomationRuleEditor.vue';
import AutomationTicket from '../../src/renderer/components/ops/AutomationTicket.vue';
import { makeI18n } from '../../src/renderer/i18n';
import { automationEn, automationZhCN } from '../../src/renderer/i18n/automation';
import { setHost } from '../../src/renderer/platform/host';
import { choose, testHost } from './testServices';

let pinia: Pinia;
beforeEach(() => {
  setHost(testHost());
  pinia = createPinia();
  setActivePinia(pinia);
});
const plugins = (locale: 'en' | 'zh-CN' = 'en') => ({ global: { plugins: [pinia, makeI18n(locale), ElementPlus] } });
const team = makeTeam({ id: 'team-billing', name: 'Billing' });

function keys(o: object, prefix = ''): string[] {
  return Object.entries(o).flatMap(([k, v]) => (typeof v === 'object' && v !== null ? keys(v as object, `${prefix}${k}.`) : [`${prefix}${k}`])).sort();
}

describe('automation admin', () => {
  it('has every message in both languages', () => {
    expect(keys(automationZhCN)).toEqual(keys(automationEn));
  });

  it('edits a rule into a valid AutomationRuleInput: keyword 退款 → label, priority, team', async () => {
    const w = mount(AutomationRuleEditor, { props: { rule: null, teams: [team], agents: [], templates: [], inboxes: [] }, ...plugins('zh-CN') });
    expect(w.text()).toContain('当');
    await w.get('#rule-name').setValue('退款');
    // Add a text condition with keywords.
    await choose(w, '添加条件', 'text');
    await w.findAll('button').find((b) => b.text() === '添加条件')!.trigger('click');
    await w.get('[data-testid="rule-condition"] input').setValue('退款, refund');
    await w.get('[data-testid="rule-condition"] input').trigger('change');
    // The first action (add label) gets its label; then a priority and a team action.
    await w.get('[data-testid="rule-action"] input').setValue('refund');
    await choose(w, '添加动作', 'set_priority');
    await w.findAll('button').find((b) => b.text() === '添加动作')!.trigger('click');
    await choose(w, '添加动作', 'assign_team');
    await w.findAll('button').find((b) => b.text() === '添加动作')!.trigger('click');
    await w.get('form').trigger('submit');
    const [body] = w.emitted('save')![0] as [unknown];
    const parsed = AutomationRuleInput.parse(body);
    expect(parsed).toMatchObject({
      name: '退款', event: 'message_received', enabled: true,
      conditions: { match: 'all', items: [{ field: 'text', containsAny: ['退款', 'refund'] }] },
      actions: [{ type: 'add_label', label: 'refund' }, { type: 'set_priority', priority: 'high' }, { type: 'assign_team', teamId: 'team-billing' }],
    });
  });

  it('opens an existing rule with its values', () => {
    const rule: AutomationRule = {
      id: 'r1', tenantId: 't', name: 'VIP', event: 'conversation_created', conditions: { match: 'any', items: [{ field: 'business_hours', state: 'closed' }] },
      actions: [{ type: 'resolve' }], enabled: false, position: 0, disabledReason: null, createdAt: 0, updatedAt: 0,
    };
    const w = mount(AutomationRuleEditor, { props: { rule, teams: [team], agents: [], templates: [], inboxes: [] }, ...plugins() });
    expect((w.get('#rule-name').element as HTMLInputElement).value).toBe('VIP');
    expect(w.text()).toContain('Business hours are');
    expect(w.text()).toContain('Resolve');
  });

  it('shows the ticket number in the list', () => {
    expect(mount(AutomationTicket, { props: { conversation: { ticketNumber: 1234 } }, ...plugins() }).text()).toBe('#1234');
    expect(mount(AutomationTicket, { props: { conversation: {} }, ...plugins() }).text()).toBe('');
  });
});

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { makeAgent, makeContact, makeConversation, makeInbox, makeMessage, makeTeam } from '../testing/fixtures.js';
import {
  automationRuleProblem, AutomationRuleInput, containsKeyword, decideAutomation, MAX_AUTOMATION_DEPTH, normalizeText,
  type AutomationRule, type AutomationState,
} from './automation.js';
import type { Calendar } from './businessHours.js';

let n = 0;
const ids = { next: (k: string) => `${k}-${++n}` };
const NOW = Date.parse('2026-12-03T10:00:00+08:00');
const rule = (over: Partial<AutomationRule> & Pick<AutomationRule, 'id' | 'actions'>): AutomationRule => ({
  tenantId: 'tenant-1', name: over.id, event: 'message_received', conditions: { match: 'all', items: [] }, enabled: true, position: 0, disabledReason: null,
  createdAt: 0, updatedAt: 0, ...over,
});
const team = makeTeam({ id: 'team-billing', name: 'Billing' });
function state(over: Partial<AutomationState> = {}): AutomationState {
  const conversation = makeConversation({ id: 'c1', labels: [], priority: 'normal', status: 'open', teamId: null, channel: 'email' });
  return {
    event: 'message_received', cause: null, conversation, inbox: makeInbox({ id: conversation.inboxId }), contact: makeContact({ id: conversation.contactId }),
    message: makeMessage({ conversationId: 'c1', direction: 'in', text: '我要退款，谢谢' }), calendar: null, rules: [],
    teams: new Map([[team.id, team]]), agents: new Map(), templates: new Map(), ...over,
  };
}

describe('automation rules', () => {
  it('keyword 退款 → label refund, priority high, team: one application authored by the rule', () => {
    const r = rule({
      id: 'r-refund', name: 'Refunds',
      conditions: { match: 'all', items: [{ field: 'text', containsAny: ['退款', 'refund'] }] },
      actions: [{ type: 'add_label', label: 'refund' }, { type: 'set_priority', priority: 'high' }, { type: 'assign_team', teamId: team.id }],
    });
    const apps = decideAutomation(state({ rules: [r] }), { now: NOW, seq: 9, ids });
    expect(apps).toHaveLength(1);
    expect(apps[0]!.cause).toEqual({ ruleId: 'r-refund', depth: 1, chain: ['r-refund'] });
    const conv = apps[0]!.facts.find((f) => f.kind === 'conversation');
    expect(conv?.kind === 'conversation' && conv.conversation).toMatchObject({ labels: ['refund'], priority: 'high', teamId: team.id, seq: 9 });
    const texts = apps[0]!.facts.flatMap((f) => (f.kind === 'message' ? [f.message.text] : []));
    expect(texts).toEqual(['Rule Refunds added label refund', 'Rule Refunds set priority to high', 'Rule Refunds assigned team Billing']);
    // An English message without the keyword does not match.
    expect(decideAutomation(state({ rules: [r], message: makeMessage({ text: 'hello' }) }), { now: NOW, seq: 9, ids })).toEqual([]);
  });

  it('normalises full-width and case: ＲＥＦＵＮＤ matches refund', () => {
    expect(normalizeText('ＲＥＦＵＮＤ　please')).toBe('refund please');
    expect(containsKeyword('I want a ＲｅＦｕｎｄ!', ['refund'])).toBe(true);
    expect(containsKeyword('退　款', ['退款'])).toBe(false);
    fc.assert(fc.property(fc.string(), fc.string({ minLength: 1 }), (a, k) => {
      const kw = k.trim();
      fc.pre(normalizeText(kw).length > 0);
      expect(containsKeyword(`${a}${kw.toUpperCase()}${a}`, [kw.toLowerCase()])).toBe(normalizeText(`${a}${kw.toUpperCase()}${a}`).includes(normalizeText(kw.toLowerCase())));
    }));
  });

  it('runs in position order; a later rule sees what an earlier one did', () => {
    const a = rule({ id: 'a', position: 2, conditions: { match: 'all', items: [{ field: 'label', op: 'has', label: 'vip' }] }, actions: [{ type: 'set_priority', priority: 'urgent' }] });
    const b = rule({ id: 'b', position: 1, actions: [{ type: 'add_label', label: 'vip' }] });
    const apps = decideAutomation(state({ rules: [a, b] }), { now: NOW, seq: 1, ids });
    expect(apps.map((x) => x.rule.id)).toEqual(['b', 'a']);
  });

  it('loop protection: stops at depth 3 and never runs a rule twice for one root event', () => {
    // Two rules that would trigger each other for ever on priority changes.
    const up = rule({ id: 'up', event: 'priority_changed', conditions: { match: 'all', items: [{ field: 'priority', in: ['normal'] }] }, actions: [{ type: 'set_priority', priority: 'high' }] });
    const down = rule({ id: 'down', event: 'priority_changed', conditions: { match: 'all', items: [{ field: 'priority', in: ['high'] }] }, actions: [{ type: 'set_priority', priority: 'normal' }] });
    let s = state({ event: 'priority_changed', rules: [up, down] });
    const ran: string[] = [];
    for (let i = 0; i < 10; i += 1) {
      const apps = decideAutomation(s, { now: NOW, seq: i, ids });
      if (apps.length === 0) break;
      const last = apps[apps.length - 1]!;
      ran.push(...apps.map((x) => x.rule.id));
      const conv = last.facts.find((f) => f.kind === 'conversation');
      s = { ...s, cause: last.cause, conversation: conv?.kind === 'conversation' ? conv.conversation : s.conversation };
    }
    expect(ran).toEqual(['up', 'down']);
    // And at the depth limit nothing runs at all.
    const again = rule({ id: 'other', event: 'priority_changed', actions: [{ type: 'add_label', label: 'x' }] });
    expect(decideAutomation(state({ event: 'priority_changed', rules: [again], cause: { ruleId: 'z', depth: MAX_AUTOMATION_DEPTH } }), { now: NOW, seq: 1, ids })).toEqual([]);
  });

  it('conditions: channel, business hours closed, contact attributes, any/all', () => {
    const shanghai: Calendar = { timeZone: 'Asia/Shanghai', weekly: [{ day: 4, open: '09:00', close: '18:00' }], holidays: [] };
    const r = rule({
      id: 'ooh', conditions: { match: 'all', items: [{ field: 'business_hours', state: 'closed' }, { field: 'channel', in: ['email'] }] },
      actions: [{ type: 'add_label', label: 'after-hours' }],
    });
    expect(decideAutomation(state({ rules: [r], calendar: shanghai }), { now: NOW, seq: 1, ids })).toHaveLength(0);
    expect(decideAutomation(state({ rules: [r], calendar: shanghai }), { now: NOW + 10 * 3_600_000, seq: 1, ids })).toHaveLength(1);
    const vip = rule({ id: 'vip', conditions: { match: 'any', items: [{ field: 'contact_attribute', key: 'tier', op: 'equals', value: 'VIP' }, { field: 'channel', in: ['sms'] }] }, actions: [{ type: 'set_priority', priority: 'high' }] });
    expect(decideAutomation(state({ rules: [vip], contact: makeContact({ attributes: { tier: 'vip' } }) }), { now: NOW, seq: 1, ids })).toHaveLength(1);
    expect(decideAutomation(state({ rules: [vip], contact: makeContact({ attributes: {} }) }), { now: NOW, seq: 1, ids })).toHaveLength(0);
  });

  it('snooze, resolve, assign agent, template and webhook actions', () => {
    const agent = makeAgent({ id: 'ag1', name: 'Li Lei', active: true });
    const tpl = { id: 't1', tenantId: 'tenant-1', name: 'Thanks', body: { en: 'Hi {{contact.name}}', 'zh-CN': '您好 {{contact.name}}' }, subject: null, createdAt: 0, updatedAt: 0 };
    const r = rule({ id: 'x', actions: [
      { type: 'assign_agent', agentId: 'ag1' }, { type: 'send_template', templateId: 't1' }, { type: 'snooze', forMinutes: 60 },
      { type: 'webhook', url: 'https://hooks.example.com/x', secret: 'secret-123' },
    ] });
    const apps = decideAutomation(state({ rules: [r], agents: new Map([[agent.id, agent]]), templates: new Map([['t1', tpl]]), contact: makeContact({ name: '王芳', attributes: {} }) }), { now: NOW, seq: 1, ids });
    const f = apps[0]!.facts;
    const out = f.find((x) => x.kind === 'message' && x.message.authorType === 'system' && x.message.kind !== 'event');
    expect(out?.kind === 'message' && out.message.text).toBe('您好 王芳');
    expect(f.some((x) => x.kind === 'relay_job')).toBe(true);
    const conv = f.find((x) => x.kind === 'conversation');
    expect(conv?.kind === 'conversation' && conv.conversation).toMatchObject({ assigneeId: 'ag1', status: 'snoozed', snoozedUntil: NOW + 3_600_000 });
    expect(apps[0]!.webhooks).toHaveLength(1);
    expect(apps[0]!.relayMessageIds).toHaveLength(1);
  });

  it('rules naming teams, agents or templates that do not exist cannot be saved', () => {
    const input = AutomationRuleInput.parse({ name: 'x', event: 'conversation_created', actions: [{ type: 'assign_team', teamId: 'gone' }] });
    const refs = { teamIds: new Set(['t']), agentIds: new Set<string>(), templateIds: new Set<string>(), inboxIds: new Set<string>() };
    expect(automationRuleProblem(input, refs)).toBe('unknown team gone');
    expect(automationRuleProblem({ ...input, actions: [{ type: 'assign_team', teamId: 't' }] }, refs)).toBeNull();
    expect(AutomationRuleInput.safeParse({ name: 'x', event: 'nope', actions: [{ type: 'resolve' }] }).success).toBe(false);
    expect(AutomationRuleInput.safeParse({ name: 'x', event: 'conversation_created', actions: [{ type: 'snooze' }] }).success).toBe(false);
  });
});

// The reference server's service operations (referenceOps.ts) run the server's listeners on core's
// rules: each promise of issue 10 once, deterministically, on the fake clock. The convergence
// property test then mixes them with everything else.
import { describe, expect, it } from 'vitest';
import { AutomationRuleInput, BusinessHoursInput, SlaPolicyInput, automationRuleProblem, calendarProblem, slaPolicyProblem, type Message } from '../index.js';
import { OPS_PICK_RANGES, opsFactProblems, opsScenario, type OpsPicks } from './opsScenario.js';
import { ReferenceServerError } from './referenceServer.js';
import { TestWorld, seedContactCenter } from './harness.js';

const MIN = 60_000;
/** Thursday 2026-12-03 20:00 in Shanghai (closed: Mon-Fri 09:00-18:00). */
const EVENING = Date.parse('2026-12-03T20:00:00+08:00');

function world(start = EVENING) {
  const w = new TestWorld({ seed: 7, start });
  seedContactCenter(w, 0);
  w.server.enableOps(w.tenantId, { lifecycle: { autoResolvePendingAfterSeconds: 3600, reopenWindowSeconds: 1800 } });
  return w;
}
const system = (msgs: Message[]) => msgs.filter((m) => m.authorType === 'system' && m.kind !== 'event');

describe('the reference server runs the ops listeners on core rules', () => {
  it('an email out of hours gets the out-of-hours reply once, naming the next opening; auto-submitted mail gets none', async () => {
    const w = world();
    const s = w.server;
    s.addBusinessHours(w.tenantId, 'bh', { name: 'Shanghai', timeZone: 'Asia/Shanghai', weekly: [1, 2, 3, 4, 5].map((day) => ({ day, open: '09:00', close: '18:00' })) });
    s.setInboxOps('mail', { businessHoursId: 'bh', autoReply: { outOfHours: { text: { en: 'Closed; back {{business.nextOpening}}', 'zh-CN': '已下班，{{business.nextOpening}} 回来' } } } });
    const c = s.inbound({ inboxId: 'mail', from: 'ann@example.com', text: 'Where is my order?', subject: 'Order' }).conversation.id;
    s.inbound({ inboxId: 'mail', from: 'ann@example.com', text: 'Hello?', subject: 'Re: Order' });
    expect(system(s.messagesOf(c)).map((m) => [m.text, m.meta['autoReplyKind']])).toEqual([['Closed; back 2026-12-04 09:00 (Asia/Shanghai)', 'out_of_hours']]);
    expect(s.messagesOf(c).filter((m) => m.meta['autoReply'] === true)[0]!.status).toBe('queued');
    // The email channel marks automatic mail (Auto-Submitted: meta.autoSubmitted): no reply to it.
    const mute = s.inbound({ inboxId: 'mail', from: 'robot@example.com', text: 'I am away', subject: 'Auto: away', meta: { autoSubmitted: 'auto-replied' } }).conversation.id;
    expect(system(s.messagesOf(mute))).toEqual([]);
    await w.dispose();
  });

  it('an SLA warning and a breach fire once each on the clock, with the escalation; the timer follows a reply', async () => {
    const w = world();
    const s = w.server;
    s.addSlaPolicy(w.tenantId, 'p', { name: 'Fast', isDefault: true, targets: { normal: { firstResponseSeconds: 600, resolutionSeconds: 7200 } }, warning: { percent: 50 }, escalation: { raisePriority: true } });
    const c = s.inbound({ inboxId: 'chat', from: 'wf-1', text: 'hi' }).conversation.id;
    expect(s.conversation(c)!.sla).toMatchObject({ policyId: 'p', firstResponseDueAt: EVENING + 10 * MIN });
    await w.clock.tick(5 * MIN);
    expect(s.conversation(c)!.sla!.warned).toEqual(['first_response']);
    await w.clock.tick(5 * MIN);
    expect(s.conversation(c)).toMatchObject({ priority: 'high', sla: { breached: ['first_response'] } });
    await w.clock.tick(60 * MIN);
    const events = s.messagesOf(c).filter((m) => m.meta['action'] === 'sla').map((m) => `${String(m.meta['sla'])} ${String(m.meta['metric'])}`);
    expect(events).toEqual(['warning first_response', 'breached first_response', 'warning resolution']);
    expect(s.opsTimers(w.tenantId)).toEqual([{ name: 'sla.check', subjectId: c, dueAt: EVENING + 120 * MIN, payload: {} }]);
    await w.dispose();
  });

  it('a pair of automation rules that would loop stops; the rules are the authors', async () => {
    const w = world();
    const s = w.server;
    s.addAutomationRule(w.tenantId, 'up', { name: 'Up', event: 'priority_changed', conditions: { items: [{ field: 'priority', in: ['high'] }] }, actions: [{ type: 'set_priority', priority: 'urgent' }] });
    s.addAutomationRule(w.tenantId, 'down', { name: 'Down', event: 'priority_changed', conditions: { items: [{ field: 'priority', in: ['urgent'] }] }, actions: [{ type: 'set_priority', priority: 'high' }] });
    s.addAutomationRule(w.tenantId, 'kw', { name: 'Keyword', event: 'message_received', conditions: { items: [{ field: 'text', containsAny: ['退款'] }] }, actions: [{ type: 'set_priority', priority: 'high' }] });
    const c = s.inbound({ inboxId: 'chat', from: 'wf-2', text: '我要退款' }).conversation.id;
    const by = s.messagesOf(c).filter((m) => m.meta['action'] === 'automation').map((m) => m.meta['ruleId']);
    expect(by).toEqual(['kw', 'up', 'down']);
    expect(s.conversation(c)!.priority).toBe('high');
    expect(() => s.addAutomationRule(w.tenantId, 'x', { name: 'X', event: 'conversation_created', actions: [{ type: 'assign_team', teamId: 'deleted-team' }] })).toThrow(ReferenceServerError);
    await w.dispose();
  });

  it('a CSAT SMS reply "5" is stored against the right conversation and gets no auto-reply; a link answer counts once', async () => {
    const w = world();
    const s = w.server;
    for (const id of ['sms', 'chat']) s.setInboxOps(id, { csat: { enabled: true }, autoReply: { acknowledge: { text: { en: 'Got it', 'zh-CN': '收到' } } } });
    const a = s.inbound({ inboxId: 'sms', from: '+8613800000001', text: 'help' }).conversation.id;
    const b = s.inbound({ inboxId: 'sms', from: '+8613800000002', text: 'help too' }).conversation.id;
    const [tc] = [await w.addClient('bob')];
    await w.settle();
    await tc!.client.dispatch({ type: 'set_status', conversationId: a, status: 'resolved' });
    await w.settle();
    expect(system(s.messagesOf(a)).map((m) => m.meta['csatMode'] ?? m.meta['autoReplyKind'])).toEqual(['acknowledge', 'reply']);
    s.inbound({ inboxId: 'sms', from: '+8613800000001', text: '5' });
    expect(s.conversation(a)).toMatchObject({ status: 'resolved', csat: { rating: 5, comment: null } });
    expect(s.conversation(b)!.csat ?? null).toBeNull();
    expect(system(s.messagesOf(a))).toHaveLength(2); // the answer got no acknowledgement
    const chat = s.inbound({ inboxId: 'chat', from: 'wf-3', text: 'hi' }).conversation.id;
    await tc!.client.dispatch({ type: 'set_status', conversationId: chat, status: 'resolved' });
    await w.settle();
    const survey = s.csatSurveys(w.tenantId).find((x) => x.conversationId === chat)!;
    expect(survey.mode).toBe('link');
    expect(s.answerCsat(w.tenantId, survey.token, { rating: 4, comment: 'ok' })).toMatchObject({ csat: { rating: 4, comment: 'ok' } });
    expect(s.answerCsat(w.tenantId, survey.token, { rating: 1, comment: null })).toBeNull();
    await w.dispose();
  });

  it('lifecycle: a snooze wakes at its time, a silent pending conversation resolves, a reply within the reopen window reopens', async () => {
    const w = world();
    const s = w.server;
    const tc = await w.addClient('erin');
    const c = s.inbound({ inboxId: 'chat', from: 'wf-4', text: 'hi' }).conversation.id;
    await w.settle();
    await tc.client.dispatch({ type: 'set_status', conversationId: c, status: 'snoozed', snoozedUntil: w.clock.now() + 30 * MIN });
    await w.clock.tick(10 * MIN);
    expect(s.conversation(c)!.status).toBe('snoozed');
    await w.clock.tick(25 * MIN);
    expect(s.conversation(c)!.status).toBe('open');
    await tc.client.dispatch({ type: 'set_status', conversationId: c, status: 'pending' });
    await w.clock.tick(61 * MIN);
    expect(s.conversation(c)!.status).toBe('resolved');
    s.inbound({ inboxId: 'chat', from: 'wf-4', text: 'one more thing' });
    expect(s.conversation(c)!.status).toBe('open');
    expect(s.opsStats(w.tenantId)).toMatchObject({ snoozeWakes: 1, autoResolved: 1 });
    await w.dispose();
  });
});

describe('opsScenario', () => {
  it('every pick gives settings the server accepts (calendars with a half day, policies, rules)', () => {
    for (let hours = 0; hours < OPS_PICK_RANGES.hours; hours++) {
      for (let n = 0; n < OPS_PICK_RANGES.sla; n++) {
        const picks: OpsPicks = { hours, sla: n, automation: n, autoReply: n, csat: true, lifecycle: n };
        const sc = opsScenario(picks, EVENING);
        if (sc.businessHours) expect(calendarProblem(BusinessHoursInput.parse(sc.businessHours))).toBeNull();
        if (hours === 1) expect(sc.businessHours!.holidays.map((h) => h.hours.length)).toEqual([1, 0]);
        const ids = { inboxIds: ['mail', 'sms'], teamId: 'support', businessHoursId: sc.businessHours ? 'bh' : null };
        const policy = sc.slaPolicy(ids);
        if (policy) expect(slaPolicyProblem(SlaPolicyInput.parse(policy), { inboxIds: new Set(ids.inboxIds), teamIds: new Set(['support']), businessHoursIds: new Set(['bh']), otherDefault: false })).toBeNull();
        for (const r of sc.rules(ids)) expect(automationRuleProblem(AutomationRuleInput.parse(r), { teamIds: new Set(['support']), agentIds: new Set(), templateIds: new Set(), inboxIds: new Set() })).toBeNull();
      }
    }
  });

  it('opsFactProblems finds a second breach of one clock run, a second survey, two auto-replies in the window, and a stray system message', () => {
    const m = (id: string, meta: Record<string, unknown>, over: Partial<Message> = {}): Message => ({
      id, tenantId: 't', conversationId: 'c', direction: 'out', kind: 'text', authorType: 'system', authorId: null, text: '', subject: null, attachments: [], status: null,
      statusReason: null, deviceTime: null, serverTime: 0, createdAt: 0, meta, seq: 1, ...over,
    });
    const breach = { action: 'sla', sla: 'breached', metric: 'first_response', dueAt: 5 };
    expect(opsFactProblems('c', [m('e1', breach, { kind: 'event' }), m('e2', { ...breach, dueAt: 9 }, { kind: 'event' }), m('a', { autoReply: true }, { createdAt: 0 }), m('b', { autoReply: true }, { createdAt: 60 * MIN })], { autoReplyWindowMs: 30 * MIN })).toEqual([]);
    expect(opsFactProblems('c', [m('e1', breach, { kind: 'event' }), m('e2', breach, { kind: 'event' })], { autoReplyWindowMs: 0 })).toHaveLength(1);
    expect(opsFactProblems('c', [m('s1', { csatSurvey: true }), m('s2', { csatSurvey: true })], { autoReplyWindowMs: 0 })).toHaveLength(1);
    expect(opsFactProblems('c', [m('a', { autoReply: true }, { createdAt: 0 }), m('b', { autoReply: true }, { createdAt: 10 * MIN })], { autoReplyWindowMs: 30 * MIN })).toHaveLength(1);
    expect(opsFactProblems('c', [m('x', {})], { autoReplyWindowMs: 0 })).toEqual(['c: system message x is no ops fact']);
  });
});

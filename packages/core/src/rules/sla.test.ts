import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Calendar } from './businessHours.js';
import { businessMillisBetween } from './businessHours.js';
import {
  countsAsResponse,
  decideSlaTimer,
  nextSla,
  nextSlaCheck,
  policyFor,
  slaNotice,
  slaStatus,
  SlaPolicy,
  SlaPolicyInput,
  slaPolicyProblem,
  subtractBusinessMillis,
  teamSupervisor,
} from './sla.js';
import { makeAgent, makeConversation } from '../testing/fixtures.js';
import type { Conversation } from '../domain/model.js';

const H = 3_600_000;
const sh = (iso: string) => Date.parse(`${iso}+08:00`);
/** Mon-Fri 09:00-18:00 Shanghai. */
const shanghai: Calendar = { timeZone: 'Asia/Shanghai', weekly: [1, 2, 3, 4, 5].map((day) => ({ day, open: '09:00', close: '18:00' })), holidays: [] };

const policy = (over: Partial<SlaPolicyInput> & { id?: string; createdAt?: number } = {}): SlaPolicy =>
  SlaPolicy.parse({
    id: over.id ?? 'p1', tenantId: 't', createdAt: over.createdAt ?? 1, updatedAt: 1,
    ...SlaPolicyInput.parse({
      name: 'Standard', isDefault: true, businessHoursId: 'bh1',
      targets: { normal: { firstResponseSeconds: 7200, nextResponseSeconds: 3600, resolutionSeconds: 8 * 3600 }, urgent: { firstResponseSeconds: 1800 } },
      ...Object.fromEntries(Object.entries(over).filter(([k]) => k !== 'id' && k !== 'createdAt')),
    }),
  });

const ids = () => {
  let n = 0;
  return { next: () => `id-${(n += 1)}` };
};

function created(at: number, over: Partial<Conversation> = {}): Conversation {
  return makeConversation({ createdAt: at, lastMessageAt: at, waitingSince: at, status: 'open', priority: 'normal', teamId: null, inboxId: 'in1', ...over });
}

describe('SLA policies', () => {
  it('counts in business hours: Friday 17:00 Shanghai with a 2 h target is due Monday 10:00', () => {
    const conv = created(sh('2026-12-04T17:00:00'));
    const sla = nextSla(conv, { type: 'created' }, policy(), shanghai, conv.createdAt)!;
    expect(sla.firstResponseDueAt).toBe(sh('2026-12-07T10:00:00'));
    // 80 % of 2 h: warned after 96 minutes of business time, Monday 09:36.
    expect(sla.warnAt.first_response).toBe(sh('2026-12-07T09:36:00'));
    expect(sla.resolutionDueAt).toBe(sh('2026-12-07T16:00:00')); // 8 h: 1 h on Friday, 7 h on Monday
    expect(nextSlaCheck(sla)).toBe(sh('2026-12-07T09:36:00'));
  });

  it('pauses while pending: due dates move by the business time spent paused', () => {
    const t0 = sh('2026-12-07T09:00:00'); // Monday
    let conv = created(t0);
    conv = { ...conv, sla: nextSla(conv, { type: 'created' }, policy(), shanghai, t0) };
    expect(conv.sla!.firstResponseDueAt).toBe(sh('2026-12-07T11:00:00'));
    conv = { ...conv, status: 'pending' };
    conv = { ...conv, sla: nextSla(conv, { type: 'status', from: 'open', to: 'pending' }, policy(), shanghai, sh('2026-12-07T10:00:00')) };
    expect(conv.sla!.pausedAt).toBe(sh('2026-12-07T10:00:00'));
    expect(nextSlaCheck(conv.sla)).toBeNull();
    conv = { ...conv, status: 'open' };
    conv = { ...conv, sla: nextSla(conv, { type: 'status', from: 'pending', to: 'open' }, policy(), shanghai, sh('2026-12-07T17:00:00')) };
    // One business hour was left: 17:00 + 1 h = 18:00.
    expect(conv.sla!.firstResponseDueAt).toBe(sh('2026-12-07T18:00:00'));
    expect(conv.sla!.pausedAt).toBeNull();
  });

  it('an agent reply meets the first response at the server time (device time kept); a customer message after it starts next response', () => {
    const t0 = sh('2026-12-07T09:00:00');
    let conv = created(t0);
    conv = { ...conv, sla: nextSla(conv, { type: 'created' }, policy(), shanghai, t0) };
    conv = { ...conv, waitingSince: null, sla: nextSla(conv, { type: 'agent_reply', serverTime: t0 + H, deviceTime: t0 - H }, policy(), shanghai, t0 + H) };
    expect(conv.sla).toMatchObject({ firstResponseAt: t0 + H, firstResponseDeviceTime: t0 - H, firstResponseDueAt: null, nextResponseDueAt: null });
    conv = { ...conv, waitingSince: t0 + 2 * H, sla: nextSla(conv, { type: 'customer_message', at: t0 + 2 * H }, policy(), shanghai, t0 + 2 * H) };
    expect(conv.sla!.nextResponseDueAt).toBe(t0 + 3 * H);
    // A second message while waiting keeps the clock.
    const again = nextSla(conv, { type: 'customer_message', at: t0 + 2.5 * H }, policy(), shanghai, t0 + 2.5 * H);
    expect(again).toBe(conv.sla);
    // Resolving stops everything.
    const resolved = nextSla({ ...conv, status: 'resolved' }, { type: 'status', from: 'open', to: 'resolved' }, policy(), shanghai, t0 + 3 * H)!;
    expect(resolved).toMatchObject({ firstResponseDueAt: null, nextResponseDueAt: null, resolutionDueAt: null, stoppedAt: t0 + 3 * H });
    expect(nextSlaCheck(resolved)).toBeNull();
  });

  it('warns once and breaches once, with escalations', () => {
    const t0 = sh('2026-12-07T09:00:00');
    const p = policy({ escalation: { raisePriority: true, notify: true, reassignToSupervisor: true } });
    let conv = created(t0, { teamId: 'team1', assigneeId: 'a1' });
    conv = { ...conv, sla: nextSla(conv, { type: 'created' }, p, shanghai, t0) };
    const boss = makeAgent({ id: 'boss', role: 'supervisor', teamIds: ['team1'] });
    const none = decideSlaTimer(conv, p, { supervisor: boss }, { now: t0 + H, seq: 5, ids: ids() });
    expect(none.facts).toEqual([]);
    const warn = decideSlaTimer(conv, p, { supervisor: boss }, { now: t0 + 1.7 * H, seq: 5, ids: ids() });
    expect(warn.events).toEqual([{ type: 'sla_warning', conversationId: conv.id, metric: 'first_response', dueAt: t0 + 2 * H }]);
    conv = warn.conversation;
    expect(decideSlaTimer(conv, p, { supervisor: boss }, { now: t0 + 1.8 * H, seq: 6, ids: ids() }).events).toEqual([]);
    const breach = decideSlaTimer(conv, p, { supervisor: boss }, { now: t0 + 2 * H, seq: 7, ids: ids() });
    expect(breach.events.map((e) => e.type)).toEqual(['sla_breached']);
    expect(breach.conversation.sla!.breached).toEqual(['first_response']);
    expect(breach.conversation.priority).toBe('high');
    expect(breach.conversation.assigneeId).toBe('boss');
    expect(breach.facts.map((f) => f.kind)).toEqual(['message', 'conversation', 'conversation_sla']);
    const msg = breach.facts[0]!;
    expect(msg.kind === 'message' && msg.message.meta).toMatchObject({ sla: 'breached', metric: 'first_response', notify: ['a1', 'boss'] });
    conv = breach.conversation;
    expect(decideSlaTimer(conv, p, { supervisor: boss }, { now: t0 + 3 * H, seq: 8, ids: ids() }).events).toEqual([]);
    expect(nextSlaCheck(conv.sla)).toBe(conv.sla!.warnAt.resolution);
  });

  it('a paused conversation never fires', () => {
    const t0 = sh('2026-12-07T09:00:00');
    let conv = created(t0, { status: 'snoozed' });
    conv = { ...conv, sla: nextSla(conv, { type: 'created' }, policy(), shanghai, t0) };
    expect(conv.sla!.pausedAt).toBe(t0);
    expect(decideSlaTimer(conv, policy(), { supervisor: null }, { now: t0 + 100 * H, seq: 2, ids: ids() }).facts).toEqual([]);
  });

  it('priority changes recompute the running targets', () => {
    const t0 = sh('2026-12-07T09:00:00');
    let conv = created(t0);
    conv = { ...conv, sla: nextSla(conv, { type: 'created' }, policy(), shanghai, t0) };
    conv = { ...conv, priority: 'urgent', sla: nextSla({ ...conv, priority: 'urgent' }, { type: 'priority', from: 'normal', to: 'urgent' }, policy(), shanghai, t0 + 0.25 * H) };
    expect(conv.sla!.firstResponseDueAt).toBe(t0 + 0.5 * H);
    // urgent has no resolution target: that clock stops.
    expect(conv.sla!.resolutionDueAt).toBeNull();
  });

  it('picks team, then inbox, then default policies', () => {
    const d = policy({ id: 'default', createdAt: 1 });
    const inbox = policy({ id: 'inbox', isDefault: false, inboxIds: ['in1'], createdAt: 2 });
    const team = policy({ id: 'team', isDefault: false, teamIds: ['t1'], createdAt: 3 });
    expect(policyFor([d, inbox, team], { inboxId: 'in1', teamId: 't1' })?.id).toBe('team');
    expect(policyFor([d, inbox, team], { inboxId: 'in1', teamId: 't2' })?.id).toBe('inbox');
    expect(policyFor([d, inbox, team], { inboxId: 'in2', teamId: null })?.id).toBe('default');
    expect(policyFor([{ ...d, active: false }], { inboxId: 'in2', teamId: null })).toBeNull();
  });

  it('validates policies against the tenant', () => {
    const known = { inboxIds: new Set(['in1']), teamIds: new Set(['t1']), businessHoursIds: new Set(['bh1']), otherDefault: false };
    const base = SlaPolicyInput.parse({ name: 'x', isDefault: true, targets: { normal: { firstResponseSeconds: 60 } } });
    expect(slaPolicyProblem(base, known)).toBeNull();
    expect(slaPolicyProblem({ ...base, businessHoursId: 'nope' }, known)).toMatch(/business hours nope not found/);
    expect(slaPolicyProblem({ ...base, teamIds: ['t9'] }, known)).toMatch(/team t9/);
    expect(slaPolicyProblem(base, { ...known, otherDefault: true })).toMatch(/default/);
    expect(slaPolicyProblem({ ...base, targets: {} }, known)).toMatch(/at least one target/);
    expect(SlaPolicyInput.safeParse({ name: 'x', targets: {}, warning: { percent: 80, minutesBefore: 5 } }).success).toBe(false);
  });

  it('only an agent reply counts as a response', () => {
    expect(countsAsResponse({ direction: 'out', kind: 'text', authorType: 'agent' })).toBe(true);
    expect(countsAsResponse({ direction: 'out', kind: 'note', authorType: 'agent' })).toBe(false);
    expect(countsAsResponse({ direction: 'out', kind: 'email', authorType: 'system' })).toBe(false);
    expect(countsAsResponse({ direction: 'in', kind: 'text', authorType: 'contact' })).toBe(false);
  });

  it('the team supervisor: the named one, else the first supervisor of the team', () => {
    const a = makeAgent({ id: 'a', role: 'agent', teamIds: ['t1'] });
    const s = makeAgent({ id: 's', role: 'supervisor', teamIds: ['t1'] });
    expect(teamSupervisor({ teamId: 't1' }, [a, s], null)?.id).toBe('s');
    expect(teamSupervisor({ teamId: 't1' }, [a, s], 'a')?.id).toBe('a');
    expect(teamSupervisor({ teamId: null }, [a, s], null)).toBeNull();
  });

  it('subtractBusinessMillis mirrors business time', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 60 * 24 * 30 }), fc.integer({ min: 1, max: 60 * 60 }), (offsetMin, amountMin) => {
        const to = sh('2026-12-01T00:00:00') + offsetMin * 60_000;
        const from = subtractBusinessMillis(shanghai, to, amountMin * 60_000)!;
        expect(businessMillisBetween(shanghai, from, to)).toBe(amountMin * 60_000);
      }),
      { numRuns: 60 },
    );
  }, 30_000);
});

describe('slaStatus', () => {
  it('shows the most urgent running target: ok, warning, breached, paused, done', () => {
    const t0 = sh('2026-12-07T09:00:00');
    const conv = created(t0);
    const sla = nextSla(conv, { type: 'created' }, policy(), shanghai, t0)!;
    expect(slaStatus(sla, t0)).toMatchObject({ state: 'ok', metric: 'first_response', remainingMs: 2 * H });
    expect(slaStatus(sla, t0 + 1.7 * H)?.state).toBe('warning');
    expect(slaStatus(sla, t0 + 2 * H)).toMatchObject({ state: 'breached', remainingMs: 0 });
    expect(slaStatus({ ...sla, pausedAt: t0 + H }, t0 + 5 * H)).toMatchObject({ state: 'paused', remainingMs: H });
    expect(slaStatus({ ...sla, firstResponseDueAt: null, resolutionDueAt: null, nextResponseDueAt: null }, t0)?.state).toBe('done');
    expect(slaStatus(null, t0)).toBeNull();
  });
});

describe('slaNotice', () => {
  it('lists the breached conversations, then those in warning, most urgent first; not the ones on track, paused or done', () => {
    const t0 = sh('2026-12-07T09:00:00');
    const conv = (id: string, at: number, over: Partial<Conversation> = {}) => {
      const c = created(at, { id, ...over });
      return { ...c, sla: nextSla(c, { type: 'created' }, policy(), shanghai, at) };
    };
    const late = conv('late', t0); // first response due 11:00
    const later = conv('later', t0 + 0.5 * H); // due 11:30
    const soon = conv('soon', t0 + 0.8 * H); // due 11:48, warned from 11:24
    const fine = conv('fine', t0 + 1.5 * H);
    const paused = { ...conv('paused', t0), sla: { ...late.sla!, pausedAt: t0 + H } };
    const now = t0 + 2.6 * H; // 11:36
    const n = slaNotice([fine, soon, paused, later, late, { ...fine, id: 'none', sla: null }], now);
    expect(n.breached.map((c) => c.id)).toEqual(['late', 'later']);
    expect(n.warning.map((c) => c.id)).toEqual(['soon']);
    expect(slaNotice([fine], now)).toEqual({ breached: [], warning: [] });
  });
});

describe('SLA clocks under any sequence of events (property)', () => {
  it('never fire while paused or stopped, and fire the first-response and resolution warning and breach at most once each', () => {
    const step = fc.oneof(
      fc.record({ k: fc.constant('customer' as const), dt: fc.integer({ min: 0, max: 3 * H }) }),
      fc.record({ k: fc.constant('reply' as const), dt: fc.integer({ min: 0, max: 3 * H }) }),
      fc.record({ k: fc.constantFrom('pending' as const, 'snoozed' as const, 'open' as const), dt: fc.integer({ min: 0, max: 3 * H }) }),
      fc.record({ k: fc.constant('tick' as const), dt: fc.integer({ min: 0, max: 10 * H }) }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 25 }), (steps) => {
        const p = policy();
        let t = sh('2026-12-07T09:00:00');
        let conv = created(t);
        conv = { ...conv, sla: nextSla(conv, { type: 'created' }, p, shanghai, t) };
        const fired: string[] = [];
        for (const s of steps) {
          t += s.dt;
          const prevStatus = conv.status;
          if (s.k === 'customer') {
            conv = { ...conv, status: 'open', waitingSince: conv.waitingSince ?? t };
            if (prevStatus !== 'open') conv = { ...conv, sla: nextSla(conv, { type: 'status', from: prevStatus, to: 'open' }, p, shanghai, t) };
            conv = { ...conv, sla: nextSla(conv, { type: 'customer_message', at: t }, p, shanghai, t) };
          } else if (s.k === 'reply') {
            conv = { ...conv, waitingSince: null, sla: nextSla({ ...conv, waitingSince: null }, { type: 'agent_reply', serverTime: t, deviceTime: null }, p, shanghai, t) };
          } else if (s.k === 'tick') {
            const d = decideSlaTimer(conv, p, { supervisor: null }, { now: t, seq: 1, ids: ids() });
            if (conv.sla!.pausedAt !== null) expect(d.events).toEqual([]);
            fired.push(...d.events.map((e) => `${e.type}:${e.metric}`));
            conv = { ...d.conversation, priority: conv.priority };
          } else if (s.k !== prevStatus) {
            conv = { ...conv, status: s.k };
            conv = { ...conv, sla: nextSla(conv, { type: 'status', from: prevStatus, to: s.k }, p, shanghai, t) };
          }
        }
        for (const key of ['sla_warning:first_response', 'sla_breached:first_response', 'sla_warning:resolution', 'sla_breached:resolution']) {
          expect(fired.filter((f) => f === key).length).toBeLessThanOrEqual(1);
        }
        expect(new Set(conv.sla!.breached).size).toBe(conv.sla!.breached.length);
      }),
      { numRuns: 80 },
    );
  }, 60_000);
});

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Agent, Contact, Conversation, Inbox, InboxRouting } from '../domain/model.js';
import { AgentCapacity } from '../domain/model.js';
import { makeContact, makeConversation } from '../testing/fixtures.js';
import {
  AgentRoutingPatch,
  decideAgentRoutingPatch,
  decidePresence,
  decideRelease,
  decideRouting,
  effectiveAvailability,
  queuesOf,
  routingScope,
  wantedSkills,
  type RoutingCandidate,
  type RoutingOutcome,
} from './index.js';

const T = 'tenant-1';
const NOW = 1_700_000_000_000;
const agent = (id: string, over: Partial<Agent> = {}): Agent => ({
  id, tenantId: T, email: `${id}@x.org`, name: id, role: 'agent', teamIds: ['support'], active: true, availability: 'online', seq: 1, ...over,
});
const inbox = (routing: InboxRouting, channel: Inbox['channel'] = 'sms'): Inbox => ({
  id: 'in-1', tenantId: T, name: 'in', channel, provider: null, teamIds: ['support'], createdAt: 0, seq: 1, ops: { routing, businessHoursId: null, autoReply: {} },
});
const conv = (over: Partial<Conversation> = {}): Conversation => makeConversation({ id: 'cv-1', tenantId: T, inboxId: 'in-1', contactId: 'ct-1', teamId: 'support', channel: 'sms', assigneeId: null, status: 'open', ...over });
const cand = (a: Agent, load = 0, lastRoutedAt = 0): RoutingCandidate => ({ agent: a, load: { sms: load }, lastRoutedAt });
const ctx = { now: NOW, seq: 42, ids: { next: (k: string) => `${k}-42` } };
const assigned = (o: RoutingOutcome) => (o.kind === 'assign' ? o.agentId : o.kind);

describe('routing', () => {
  it('round robin walks the agents in order after the pointer and wraps: 1-2-3-1', () => {
    const agents = ['a1', 'a2', 'a3'].map((id) => cand(agent(id)));
    let pointer: string | null = null;
    const got: string[] = [];
    for (let i = 0; i < 4; i++) {
      const o = decideRouting({ conversation: conv({ id: `cv-${i}` }), inbox: inbox({ strategy: 'round_robin' }), contact: null, candidates: agents, pointer }, ctx);
      expect(o.kind).toBe('assign');
      if (o.kind !== 'assign') return;
      got.push(o.agentId);
      const p = o.facts.find((f) => f.kind === 'routing_pointer');
      expect(p).toMatchObject({ scope: routingScope(conv()), agentId: o.agentId });
      pointer = o.agentId;
    }
    expect(got).toEqual(['a1', 'a2', 'a3', 'a1']);
  });

  it('offers only online, active agents of the team who see the inbox; nobody: the queue', () => {
    const cands = [
      cand(agent('busy', { availability: 'busy' })),
      cand(agent('away', { availability: 'away' })),
      cand(agent('off', { availability: 'offline' })),
      cand(agent('gone', { active: false })),
      cand(agent('sales', { teamIds: ['sales'] })),
      cand(agent('nostate', { availability: undefined })),
    ];
    const o = decideRouting({ conversation: conv(), inbox: inbox({ strategy: 'least_loaded' }), contact: null, candidates: cands, pointer: null }, ctx);
    expect(o.kind).toBe('queue');
    const withOne = decideRouting({ conversation: conv(), inbox: inbox({ strategy: 'least_loaded' }), contact: null, candidates: [...cands, cand(agent('ok'))], pointer: null }, ctx);
    expect(assigned(withOne)).toBe('ok');
  });

  it('manual inboxes, assigned and not-open conversations are not routed', () => {
    const cands = [cand(agent('a'))];
    expect(decideRouting({ conversation: conv(), inbox: inbox({ strategy: 'manual' }), contact: null, candidates: cands, pointer: null }, ctx).kind).toBe('skip');
    expect(decideRouting({ conversation: conv({ assigneeId: 'x' }), inbox: inbox({ strategy: 'round_robin' }), contact: null, candidates: cands, pointer: null }, ctx).kind).toBe('skip');
    expect(decideRouting({ conversation: conv({ status: 'snoozed' }), inbox: inbox({ strategy: 'round_robin' }), contact: null, candidates: cands, pointer: null }, ctx).kind).toBe('skip');
  });

  it('least-loaded picks the fewest open conversations on the channel, respects capacity, ties to the longest idle', () => {
    const i = inbox({ strategy: 'least_loaded', capacity: 3 });
    const a = cand(agent('a'), 2, 10);
    const b = cand(agent('b'), 1, 50);
    const c = cand(agent('c'), 1, 20);
    expect(assigned(decideRouting({ conversation: conv(), inbox: i, contact: null, candidates: [a, b, c], pointer: null }, ctx))).toBe('c');
    // Per-channel capacity of the agent overrides the inbox default: c is full on sms.
    const cFull = cand(agent('c', { capacity: { sms: 1, email: 10 } }), 1, 20);
    expect(assigned(decideRouting({ conversation: conv(), inbox: i, contact: null, candidates: [a, b, cFull], pointer: null }, ctx))).toBe('b');
    // Everyone full: queue.
    const full = [cand(agent('a'), 3), cand(agent('b', { capacity: 1 }), 1)];
    expect(decideRouting({ conversation: conv(), inbox: i, contact: null, candidates: full, pointer: null }, ctx).kind).toBe('queue');
  });

  it('skills: a VIP contact goes to the agent with skill vip; a required inbox skill excludes agents without it; language counts', () => {
    const vipContact: Contact = makeContact({ id: 'ct-1', tenantId: T, name: 'V', attributes: { tier: 'VIP' } });
    const cands = [cand(agent('a1'), 0, 0), cand(agent('a2', { skills: ['vip'] }), 5, 100)];
    expect(wantedSkills(conv(), vipContact)).toContain('vip');
    expect(assigned(decideRouting({ conversation: conv(), inbox: inbox({ strategy: 'least_loaded' }), contact: vipContact, candidates: cands, pointer: null }, ctx))).toBe('a2');
    expect(assigned(decideRouting({ conversation: conv(), inbox: inbox({ strategy: 'least_loaded' }), contact: null, candidates: cands, pointer: null }, ctx))).toBe('a1');
    const required = inbox({ strategy: 'round_robin', skills: ['billing'] });
    expect(decideRouting({ conversation: conv(), inbox: required, contact: null, candidates: cands, pointer: null }, ctx).kind).toBe('queue');
    const zh = makeContact({ id: 'ct-1', tenantId: T, name: 'Z', attributes: { language: 'zh-CN' } });
    const langs = [cand(agent('en', { languages: ['en'] })), cand(agent('zh', { languages: ['zh'] }), 3, 99)];
    expect(assigned(decideRouting({ conversation: conv(), inbox: inbox({ strategy: 'least_loaded' }), contact: zh, candidates: langs, pointer: null }, ctx))).toBe('zh');
    // Labels ask for skills too.
    const billing = [cand(agent('x')), cand(agent('y', { skills: ['Billing'] }), 2, 5)];
    expect(assigned(decideRouting({ conversation: conv({ labels: ['billing'] }), inbox: inbox({ strategy: 'least_loaded' }), contact: null, candidates: billing, pointer: null }, ctx))).toBe('y');
  });

  it('property: routing assigns an eligible agent with room, or queues only when nobody eligible has room', () => {
    const agentArb = fc.record({
      id: fc.constantFrom('a', 'b', 'c', 'd', 'e'),
      availability: fc.constantFrom('online', 'busy', 'away', 'offline') as fc.Arbitrary<Agent['availability']>,
      team: fc.constantFrom('support', 'sales'),
      capacity: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
      load: fc.integer({ min: 0, max: 5 }),
      skills: fc.subarray(['vip', 'billing']),
      lastRoutedAt: fc.integer({ min: 0, max: 100 }),
    });
    fc.assert(
      fc.property(
        fc.uniqueArray(agentArb, { selector: (a) => a.id, maxLength: 5 }),
        fc.constantFrom('round_robin', 'least_loaded') as fc.Arbitrary<'round_robin' | 'least_loaded'>,
        fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
        fc.option(fc.constantFrom('a', 'b', 'c', 'd', 'e'), { nil: null }),
        fc.boolean(),
        (specs, strategy, inboxCap, pointer, vip) => {
          const cands = specs.map((s) => cand(agent(s.id, { availability: s.availability, teamIds: [s.team], skills: s.skills, ...(s.capacity ? { capacity: s.capacity } : {}) }), s.load, s.lastRoutedAt));
          const contact = makeContact({ id: 'ct-1', tenantId: T, name: 'c', attributes: vip ? { tier: 'vip' } : {} });
          const i = inbox({ strategy, ...(inboxCap ? { capacity: inboxCap } : {}) });
          const o = decideRouting({ conversation: conv(), inbox: i, contact, candidates: cands, pointer }, ctx);
          const cap = (s: (typeof specs)[number]) => s.capacity ?? inboxCap ?? Infinity;
          const eligible = specs.filter((s) => s.availability === 'online' && s.team === 'support' && s.load < cap(s));
          if (eligible.length === 0) return o.kind === 'queue';
          if (o.kind !== 'assign') return false;
          const pick = eligible.find((s) => s.id === o.agentId);
          if (!pick) return false;
          // A VIP customer goes to a VIP agent whenever one is eligible.
          if (vip && eligible.some((s) => s.skills.includes('vip')) && !pick.skills.includes('vip')) return false;
          // Least-loaded never picks someone with more load than another equally-skilled eligible agent.
          const peers = eligible.filter((s) => s.skills.includes('vip') === pick.skills.includes('vip') || !vip);
          if (strategy === 'least_loaded' && peers.some((s) => s.load < pick.load)) return false;
          const conv1 = o.facts.find((f) => f.kind === 'conversation');
          return conv1?.kind === 'conversation' && conv1.conversation.assigneeId === o.agentId && conv1.conversation.seq === 42;
        },
      ),
    );
  });
});

describe('availability and presence', () => {
  it('is offline without a device, busy on a call, otherwise the agent\'s choice', () => {
    expect(effectiveAvailability({ chosen: 'online', connected: false, onCall: false })).toBe('offline');
    expect(effectiveAvailability({ chosen: 'online', connected: true, onCall: true })).toBe('busy');
    expect(effectiveAvailability({ chosen: 'away', connected: true, onCall: true })).toBe('away');
    expect(effectiveAvailability({ chosen: 'offline', connected: true, onCall: false })).toBe('offline');
    expect(effectiveAvailability({ chosen: 'online', connected: true, onCall: false })).toBe('online');
  });

  it('an agent sets their own availability; only admins set others\' or capacity and skills', () => {
    const me = agent('me', { availability: 'offline' });
    const other = agent('other');
    const admin = agent('boss', { role: 'admin' });
    const sup = agent('sup', { role: 'supervisor' });
    const p = { connected: true, onCall: false };
    const d = decideAgentRoutingPatch(me, me, 'me', { availability: 'away' }, p, { now: NOW, seq: 7 });
    expect(d.ok && d.facts[0]).toMatchObject({ kind: 'agent_routing', agent: { availability: 'away', chosenAvailability: 'away', seq: 7 } });
    expect(decideAgentRoutingPatch(me, other, 'other', { availability: 'away' }, p, { now: NOW, seq: 7 })).toMatchObject({ ok: false, rejection: { code: 'forbidden' } });
    expect(decideAgentRoutingPatch(sup, other, 'other', { availability: 'away' }, p, { now: NOW, seq: 7 })).toMatchObject({ ok: false, rejection: { code: 'forbidden' } });
    expect(decideAgentRoutingPatch(me, me, 'me', { capacity: 5 }, p, { now: NOW, seq: 7 })).toMatchObject({ ok: false, rejection: { code: 'forbidden' } });
    const byAdmin = decideAgentRoutingPatch(admin, other, 'other', { capacity: { sms: 5, email: 10 }, skills: ['VIP', 'vip'] }, p, { now: NOW, seq: 8 });
    expect(byAdmin.ok && byAdmin.facts).toEqual([
      expect.objectContaining({ kind: 'agent_routing', agent: expect.objectContaining({ capacity: { sms: 5, email: 10 }, skills: ['vip'] }) }),
      expect.objectContaining({ kind: 'audit', action: 'agent.routing', target: 'other' }),
    ]);
    expect(decideAgentRoutingPatch(admin, null, 'nobody', {}, p, { now: NOW, seq: 8 })).toMatchObject({ ok: false, rejection: { code: 'not_found' } });
    // A call in progress: busy; the call ends: online again.
    const onCall = decideAgentRoutingPatch(me, agent('me'), 'me', { onCall: true }, p, { now: NOW, seq: 9 });
    expect(onCall.ok && onCall.facts[0]).toMatchObject({ agent: { availability: 'busy' }, onCall: true });
  });

  it('refuses bad bodies: unknown availability, capacity below 1', () => {
    expect(AgentRoutingPatch.safeParse({ availability: 'sleeping' }).success).toBe(false);
    expect(AgentRoutingPatch.safeParse({ capacity: 0 }).success).toBe(false);
    expect(AgentRoutingPatch.safeParse({ capacity: { sms: 0 } }).success).toBe(false);
    expect(AgentRoutingPatch.safeParse({ capacity: { fax: 2 } }).success).toBe(false);
    expect(AgentRoutingPatch.safeParse({ role: 'admin' }).success).toBe(false);
    expect(AgentCapacity.safeParse({ sms: 5, email: 10 }).success).toBe(true);
  });

  it('presence: the last device gone makes the agent offline; reconnecting brings back their choice', () => {
    const a = agent('a', { chosenAvailability: 'online', availability: 'online' });
    expect(decidePresence(a, { connected: true, onCall: false }, false, 3)).toBeNull();
    expect(decidePresence(a, { connected: false, onCall: false }, false, 3)).toMatchObject({ kind: 'agent_routing', agent: { availability: 'offline', seq: 3 } });
    expect(decidePresence({ ...a, availability: 'offline' }, { connected: true, onCall: false }, false, 4)).toMatchObject({ agent: { availability: 'online' } });
  });
});

describe('grace release and queues', () => {
  it('releases an offline agent\'s open and pending conversations, nothing once they are back', () => {
    const a = agent('a', { availability: 'offline' });
    const facts = decideRelease(a, conv({ assigneeId: 'a' }), ctx);
    expect(facts[0]).toMatchObject({ kind: 'conversation', conversation: { assigneeId: null, teamId: 'support', seq: 42 } });
    expect(facts[1]).toMatchObject({ kind: 'message', message: { kind: 'event', authorType: 'system', text: 'released: agent offline' } });
    expect(decideRelease({ ...a, availability: 'online' }, conv({ assigneeId: 'a' }), ctx)).toEqual([]);
    expect(decideRelease(a, conv({ assigneeId: 'b' }), ctx)).toEqual([]);
    expect(decideRelease(a, conv({ assigneeId: 'a', status: 'resolved' }), ctx)).toEqual([]);
  });

  it('queues group waiting conversations by inbox and team, longest wait first', () => {
    const q = queuesOf([
      conv({ id: 'x', waitingSince: NOW - 5000 }),
      conv({ id: 'y', waitingSince: NOW - 9000 }),
      conv({ id: 'z', assigneeId: 'a' }),
      conv({ id: 'w', teamId: null, waitingSince: NOW - 1000 }),
    ], NOW);
    expect(q).toEqual([
      expect.objectContaining({ teamId: 'support', waiting: 2, longestWaitMs: 9000, conversationIds: ['y', 'x'] }),
      expect.objectContaining({ teamId: null, waiting: 1, longestWaitMs: 1000, conversationIds: ['w'] }),
    ]);
  });
});

import { describe, expect, it } from 'vitest';
import type { Agent, Inbox, InboxRouting } from '../domain/model.js';
import {
  callQueueStats,
  decideCallOffer,
  decideQueueTick,
  ivrCalendar,
  ivrMenuAt,
  pinyinNumber,
  queuePosition,
  queuePrompt,
  type CallOfferState,
  type IvrConfig,
  type QueuedCall,
  type RoutingCandidate,
} from './index.js';

const T = 'tenant-1';
const NOW = 1_700_000_000_000;
const agent = (id: string, over: Partial<Agent> = {}): Agent => ({ id, tenantId: T, email: `${id}@x.org`, name: id, role: 'agent', teamIds: ['support'], active: true, availability: 'online', seq: 1, ...over });
const inbox = (routing: InboxRouting): Inbox => ({ id: 'in-1', tenantId: T, name: 'Hotline', channel: 'voice', provider: 'sip', teamIds: ['support'], createdAt: 0, seq: 1, ops: { routing, businessHoursId: null, autoReply: {} } });
const cand = (a: Agent, lastRoutedAt = 0, voiceLoad = 0): RoutingCandidate => ({ agent: a, load: { voice: voiceLoad }, lastRoutedAt });
const call = (id: string, enteredAt: number, over: Partial<QueuedCall> = {}): QueuedCall => ({ id, tenantId: T, inboxId: 'in-1', teamId: 'support', enteredAt, state: 'waiting', agentId: null, declined: [], ...over });
const ctx = { now: NOW, seq: 7, ids: { next: (k: string) => `${k}-7` } };
const state = (c: QueuedCall, over: Partial<CallOfferState> = {}): CallOfferState => ({
  call: c, labels: [], inbox: inbox({ strategy: 'least_loaded' }), teamRouting: null, calls: [c], candidates: [cand(agent('a')), cand(agent('b'))], lastCallAt: new Map(), pointer: null, ...over,
});
const offered = (s: CallOfferState) => {
  const o = decideCallOffer(s, ctx);
  return o.kind === 'offer' ? o.agentId : o.kind;
};

describe('voice queue', () => {
  it('serves callers first come, first served: only the longest-waiting caller of a queue is offered an agent', () => {
    const c1 = call('q-b', NOW - 3000);
    const c2 = call('q-a', NOW - 2000);
    const c3 = call('q-c', NOW - 1000);
    const calls = [c3, c1, c2];
    expect(queuePosition(calls, 'q-b')).toBe(1);
    expect(queuePosition(calls, 'q-a')).toBe(2);
    expect(queuePosition(calls, 'q-c')).toBe(3);
    expect(offered(state(c2, { calls }))).toBe('wait');
    expect(offered(state(c3, { calls }))).toBe('wait');
    expect(offered(state(c1, { calls }))).toBe('a');
    // the same entry time: the id breaks the tie the same way in every process
    const tie = [call('q-2', NOW), call('q-1', NOW)];
    expect(queuePosition(tie, 'q-1')).toBe(1);
    // c1 rings agent a: c2 is now first and gets b; a caller in another queue is not behind them
    const ringing = { ...c1, state: 'ringing' as const, agentId: 'a' };
    expect(offered(state(c2, { calls: [ringing, c2, c3] }))).toBe('b');
    expect(queuePosition([ringing, c2, c3], 'q-a')).toBe(2);
    const sales = call('q-s', NOW, { teamId: null });
    expect(offered(state(sales, { calls: [c1, c2, sales] }))).toBe('a');
  });

  it('an agent ringing or talking on a queue call is busy; nobody free: wait', () => {
    const c1 = call('q-1', NOW - 5000, { state: 'connected', agentId: 'a' });
    const c2 = call('q-2', NOW - 4000, { state: 'ringing', agentId: 'b' });
    const c3 = call('q-3', NOW - 1000);
    expect(offered(state(c3, { calls: [c1, c2, c3] }))).toBe('wait');
    expect(queuePosition([c1, c2, c3], 'q-3')).toBe(2);
    // the softphone's own call state already made c busy; d is away
    const cands = [cand(agent('a')), cand(agent('b')), cand(agent('c', { availability: 'busy' })), cand(agent('d', { availability: 'away' })), cand(agent('e'))];
    expect(offered(state(c3, { calls: [c1, c2, c3], candidates: cands }))).toBe('e');
  });

  it('routing decides among the free agents: team, capacity, longest idle since the last queue call', () => {
    const c = call('q-1', NOW);
    const cands = [cand(agent('a'), 100), cand(agent('b'), 50), cand(agent('sales', { teamIds: ['sales'] })), cand(agent('full', { capacity: { voice: 0 } }))];
    expect(offered(state(c, { candidates: cands }))).toBe('b');
    // b just had a queue call: a waited longer
    expect(offered(state(c, { candidates: cands, lastCallAt: new Map([['b', NOW - 10]]) }))).toBe('a');
    // open voice conversations do not count as calls: a call's load is the calls in progress
    expect(offered(state(c, { candidates: [cand(agent('a'), 100, 9), cand(agent('b'), 50, 9)] }))).toBe('b');
    // a manual inbox still rings its agents
    expect(offered(state(c, { inbox: inbox({ strategy: 'manual' }), candidates: cands }))).toBe('b');
    // round robin after the queue's pointer
    expect(offered(state(c, { inbox: inbox({ strategy: 'round_robin' }), candidates: cands, pointer: 'a' }))).toBe('b');
  });

  it('re-offers a call that rang out to the next agent, then starts a new round', () => {
    const c = call('q-1', NOW, { declined: ['b'] });
    const cands = [cand(agent('a'), 100), cand(agent('b'), 50)];
    expect(decideCallOffer(state(c, { candidates: cands }), ctx)).toEqual({ kind: 'offer', agentId: 'a', newRound: false });
    expect(decideCallOffer(state({ ...c, declined: ['a', 'b'] }, { candidates: cands }), ctx)).toEqual({ kind: 'offer', agentId: 'b', newRound: true });
    expect(decideCallOffer(state({ ...c, declined: ['b'] }, { candidates: [cands[1]!] }), ctx)).toEqual({ kind: 'offer', agentId: 'b', newRound: true });
    expect(decideCallOffer(state({ ...c, state: 'ringing', agentId: 'a' }), ctx).kind).toBe('wait');
  });

  it('announces the position on entry and periodically; overflows after the maximum wait', () => {
    const s = { maxWaitSeconds: 60, announceEverySeconds: 20 };
    expect(decideQueueTick(s, { enteredAt: NOW, now: NOW, lastAnnouncedAt: null, position: 3 })).toEqual({ kind: 'announce', position: 3 });
    expect(decideQueueTick(s, { enteredAt: NOW, now: NOW + 19_999, lastAnnouncedAt: NOW, position: 3 })).toEqual({ kind: 'wait' });
    expect(decideQueueTick(s, { enteredAt: NOW, now: NOW + 20_000, lastAnnouncedAt: NOW, position: 2 })).toEqual({ kind: 'announce', position: 2 });
    expect(decideQueueTick(s, { enteredAt: NOW, now: NOW + 60_000, lastAnnouncedAt: NOW + 40_000, position: 1 })).toEqual({ kind: 'overflow' });
    expect(decideQueueTick({ maxWaitSeconds: 60, announceEverySeconds: 0 }, { enteredAt: NOW, now: NOW + 50_000, lastAnnouncedAt: NOW, position: 1 })).toEqual({ kind: 'wait' });
  });

  it('says the position in English and in Mandarin pinyin, with the callback key', () => {
    expect(queuePrompt('en', 3, '5')).toBe('You are number 3 in the queue. Please hold. To be called back, press 5.');
    expect(queuePrompt('en', 1, null)).toBe('You are next in line. Please hold.');
    expect(queuePrompt('zh', 3, '*')).toBe('nin2 qian2 mian4 hai2 you3 liang3 wei4. qing3 shao1 hou4. xu1 yao4 hui2 dian4 qing3 an4 xing1 hao4.');
    expect([pinyinNumber(1), pinyinNumber(10), pinyinNumber(12), pinyinNumber(20), pinyinNumber(35)]).toEqual(['yi1', 'shi2', 'shi2 er4', 'er4 shi2', 'san1 shi2 wu3']);
  });

  it('counts queue length and longest wait per queue (callers talking to an agent apart)', () => {
    const calls = [call('q-1', NOW - 9000, { state: 'connected', agentId: 'a' }), call('q-2', NOW - 5000, { state: 'ringing', agentId: 'b' }), call('q-3', NOW - 1000), call('q-4', NOW - 2000, { teamId: null })];
    expect(callQueueStats(calls, NOW)).toEqual([
      { inboxId: 'in-1', teamId: 'support', waiting: 2, connected: 1, longestWaitMs: 5000 },
      { inboxId: 'in-1', teamId: null, waiting: 1, connected: 0, longestWaitMs: 2000 },
    ]);
  });
});

describe('IVR calendar', () => {
  const closed = { timeZone: 'Asia/Shanghai', weekly: [], holidays: [] };
  const open = { timeZone: 'Asia/Shanghai', weekly: [0, 1, 2, 3, 4, 5, 6].map((day) => ({ day, open: '00:00', close: '24:00' })), holidays: [] };
  const menu = { greeting: 'hi', prompt: 'press', options: {} };
  const cfg: IvrConfig = { inHours: menu, outOfHours: { ...menu, greeting: 'closed' }, maxRepeats: 1, fallback: { type: 'voicemail' } };
  it("prefers the inbox's business hours over the IVR's own", () => {
    expect(ivrCalendar({ calendar: closed, hours: open })).toBe(closed);
    expect(ivrCalendar({ calendar: null, hours: open })).toBe(open);
    expect(ivrCalendar({})).toBeNull();
    expect(ivrMenuAt({ ...cfg, calendar: closed, hours: open }, NOW).variant).toBe('out_of_hours');
    expect(ivrMenuAt({ ...cfg, calendar: null, hours: closed }, NOW).variant).toBe('out_of_hours');
    expect(ivrMenuAt({ ...cfg, calendar: null, hours: null }, NOW).variant).toBe('in_hours');
  });
});

import { describe, expect, it } from 'vitest';
import { reportReplayOf, responseOf, type ReplayMessage } from './reports.js';

const m = (id: string, o: Partial<ReplayMessage>): ReplayMessage => ({
  id, direction: 'in', kind: 'text', authorType: 'contact', authorId: null, status: null, createdAt: 0, serverTime: 0, deviceTime: null, meta: {}, ...o,
});

describe('reportReplayOf: the events stored facts stand for (rollup rebuild)', () => {
  const conv = { id: 'c1', status: 'resolved' as const, createdAt: 1_000 };
  const msgs: ReplayMessage[] = [
    m('m1', { createdAt: 1_000, serverTime: 1_000 }),
    m('m2', { createdAt: 5_000, serverTime: 5_000 }), // still waiting since m1
    m('n1', { direction: 'out', kind: 'note', authorType: 'agent', authorId: 'a', serverTime: 6_000 }), // a note answers nobody
    m('s1', { direction: 'out', authorType: 'system', status: 'accepted', serverTime: 7_000 }), // an automatic reply: still waiting, but it cost
    m('r1', { direction: 'out', authorType: 'agent', authorId: 'a', status: 'delivered', serverTime: 61_000, meta: { cost: { amount: 0.05, currency: 'CNY' } } }),
    m('m3', { createdAt: 100_000, serverTime: 100_000 }),
    m('r2', { direction: 'out', authorType: 'agent', authorId: 'b', status: 'queued', serverTime: 400_000 }), // not accepted: no cost
  ];

  it('derives creation, messages, replies with the wait they answered, acceptances and the resolution', () => {
    const ev = reportReplayOf(conv, msgs, { resolvedAt: 500_000 });
    expect(ev.map((e) => `${e.event.type}@${e.at}`)).toEqual([
      'conversation_created@1000', 'message_received@1000', 'message_received@5000', 'message_status@7000',
      'agent_replied@61000', 'message_status@61000', 'message_received@100000', 'agent_replied@400000', 'status_changed@500000',
    ]);
    const replies = ev.flatMap((e) => (e.event.type === 'agent_replied' ? [e.event] : []));
    expect(replies.map((r) => responseOf({ firstReply: r.firstReply, waitingSince: r.waitingSince, replyAt: r.serverTime }))).toEqual([
      { kind: 'first', seconds: 60 },
      { kind: 'next', seconds: 300 },
    ]);
    const costs = ev.flatMap((e) => (e.event.type === 'message_status' ? [e.event.cost] : []));
    expect(costs).toEqual([null, { amount: 0.05, currency: 'CNY' }]);
    expect(new Set(ev.map((e) => e.id)).size).toBe(ev.length); // stable, distinct ids: a second rebuild writes the same rows
  });

  it('adds no resolution when the rollups have one already or the conversation is open', () => {
    expect(reportReplayOf(conv, msgs, { resolvedAt: null }).some((e) => e.event.type === 'status_changed')).toBe(false);
    expect(reportReplayOf({ ...conv, status: 'open' }, msgs, { resolvedAt: 9 }).some((e) => e.event.type === 'status_changed')).toBe(false);
  });
});

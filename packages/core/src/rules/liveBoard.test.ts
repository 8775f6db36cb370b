import { describe, expect, it } from 'vitest';
import { makeAgent, makeConversation } from '../testing/fixtures.js';
import { liveBoard } from './liveBoard.js';

const NOW = 1_000_000_000;
const MIN = 60_000;

describe('liveBoard', () => {
  it('counts open, awaiting and unassigned per queue with the longest wait; agents by availability and load', () => {
    const conv = (id: string, over: Parameters<typeof makeConversation>[0]) => makeConversation({ id, inboxId: 'sms', teamId: 'support', status: 'open', assigneeId: null, waitingSince: null, createdAt: NOW - MIN, ...over });
    const convs = [
      conv('a', { waitingSince: NOW - 12 * MIN }), // unassigned, waits 12 min
      conv('b', { assigneeId: 'alice', waitingSince: NOW - 3 * MIN }), // alice owes an answer
      conv('c', { assigneeId: 'alice' }), // alice, answered
      conv('d', { assigneeId: 'bob', status: 'pending' }),
      conv('e', { status: 'snoozed' }),
      conv('f', { status: 'resolved', waitingSince: NOW - 99 * MIN }), // finished: not on the board
      conv('g', { inboxId: 'mail', teamId: null, createdAt: NOW - 30 * MIN }), // unassigned, nobody wrote yet: waits since creation
    ];
    const agents = [
      makeAgent({ id: 'bob', name: 'Bob', availability: 'away', capacity: 5 }),
      makeAgent({ id: 'alice', name: 'Alice', availability: 'online', capacity: { sms: 3 } }),
      makeAgent({ id: 'gone', name: 'Gone', active: false }),
    ];
    const b = liveBoard(convs, agents, NOW);
    expect(b.queues.map((q) => [q.scope, q.open, q.awaitingReply, q.unassigned, q.pending, q.snoozed, q.longestWaitMs])).toEqual([
      ['inbox:mail|team:-', 1, 0, 1, 0, 0, 30 * MIN],
      ['inbox:sms|team:support', 3, 2, 1, 1, 1, 12 * MIN],
    ]);
    expect(b.totals).toEqual({ open: 4, awaitingReply: 2, unassigned: 2, longestWaitMs: 30 * MIN, agentsOnline: 1 });
    expect(b.agents).toEqual([
      { id: 'alice', name: 'Alice', availability: 'online', load: 2, awaitingReply: 1, capacity: null },
      { id: 'bob', name: 'Bob', availability: 'away', load: 0, awaitingReply: 0, capacity: 5 },
    ]);
  });

  it('an empty workspace has an empty board', () => {
    expect(liveBoard([], [], NOW)).toEqual({ at: NOW, totals: { open: 0, awaitingReply: 0, unassigned: 0, longestWaitMs: 0, agentsOnline: 0 }, queues: [], agents: [] });
  });
});

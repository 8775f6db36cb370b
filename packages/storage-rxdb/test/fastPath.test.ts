// The IndexedDB fast path (direct key-range reads: getAll(range, count) per status, batched walks for
// other filters, a key cursor that skips to a deeper page) against the full query: core's runQuery
// over the stored state, and RxDB's query path over the same facts in another database. Property
// test over random inboxes (row count, agents, ties on the sort keys), random filters, sort orders and
// windows, before and after updates (rows moving between status and assignee ranges, older seqs
// ignored) and deletions (clearFacts, then part of the rows again).
import { IDBFactory, IDBKeyRange } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
import { CONVERSATION_SORTS, matchesQuery, runQuery, type Conversation, type ConversationQuery } from '@goutong/core';
import { generateConversations, makeFactBatch, seededRandom } from '@goutong/core/testing';
import { AesGcmCipher, RxdbStore, type RxdbStoreOptions } from '../src/index.js';

const indexedDB = new IDBFactory();
let n = 0;
const open = (dbName: string, extra: Partial<RxdbStoreOptions> = {}) => RxdbStore.open({ name: dbName, indexedDB, IDBKeyRange, mirror: false, ...extra });
const ids = (rows: readonly { id: string }[]) => rows.map((r) => r.id);

type Picker = <T>(xs: readonly T[]) => T;

function randomQuery(rnd: () => number, agentIds: readonly string[]): ConversationQuery {
  const pick: Picker = (xs) => xs[Math.floor(rnd() * xs.length)]!;
  const some = <T>(xs: readonly T[]): T[] => xs.filter(() => rnd() < 0.4);
  const q: ConversationQuery = { sort: pick(CONVERSATION_SORTS), limit: pick([1, 5, 20, 50, 120]) };
  // Deep pages too: a single range skips with a key cursor, several are read to the page's end.
  if (rnd() < 0.4) q.offset = pick([0, 1, 7, 49, 150, 900]);
  if (rnd() < 0.7) q.status = some(['open', 'pending', 'snoozed', 'resolved', 'closed', 'open'] as const);
  if (rnd() < 0.6) q.assigneeId = pick([...agentIds, null, 'agent-unknown']);
  // Filters the indexes do not hold (walked in batches), less often so most queries are index-only pages.
  if (rnd() < 0.15) q.inboxIds = some(['inbox-email', 'inbox-sms', 'inbox-im', 'inbox-api', 'inbox-voice']);
  if (rnd() < 0.15) q.teamId = pick(['team-a', 'team-b', null]);
  if (rnd() < 0.1) q.channels = some(['email', 'sms', 'im', 'api', 'voice'] as const);
  if (rnd() < 0.1) q.priorities = some(['urgent', 'high', 'normal', 'low'] as const);
  if (rnd() < 0.1) q.label = pick(['vip', 'billing', '投诉']);
  if (rnd() < 0.15) q.text = pick(['acme', '订单', 'zzz-no-hit', 'a', '  ']);
  return q;
}

/** Upserts by seq, as the store does (a tie: the later row wins). */
function applySeqRule(state: Map<string, Conversation>, rows: readonly Conversation[]): void {
  for (const r of rows) {
    const prev = state.get(r.id);
    if (prev === undefined || r.seq >= prev.seq) state.set(r.id, r);
  }
}

/** Changes that move rows between ranges (status, assignee), reorder them (activity, priority) and some with an older seq. */
function updates(rnd: () => number, rows: readonly Conversation[], count: number, agentIds: readonly string[], seqBase: number): Conversation[] {
  const pick: Picker = (xs) => xs[Math.floor(rnd() * xs.length)]!;
  return Array.from({ length: count }, (_, i) => {
    const r = pick(rows);
    return {
      ...r,
      status: pick(['open', 'pending', 'snoozed', 'resolved', 'closed'] as const),
      assigneeId: pick([...agentIds, null]),
      // Coarse times: many ties, broken by the id as in compareConversations.
      lastMessageAt: r.lastMessageAt + Math.floor(rnd() * 3) * 60_000,
      waitingSince: rnd() < 0.5 ? null : r.lastMessageAt,
      priority: pick(['urgent', 'high', 'normal', 'low'] as const),
      seq: rnd() < 0.2 ? 0 : seqBase + i,
    };
  });
}

async function expectSame(fast: RxdbStore, full: RxdbStore, state: Map<string, Conversation>, queries: readonly ConversationQuery[]): Promise<void> {
  const rows = [...state.values()];
  for (const q of queries) {
    const label = JSON.stringify(q);
    const want = runQuery(rows, q);
    const got = await fast.queryConversations(q);
    // Whole rows, not only the order.
    expect(got, label).toEqual(want);
    expect(ids(await full.queryConversations(q)), `rxdb query path ${label}`).toEqual(ids(want));
    const { sort: _s, limit: _l, offset: _o, ...filter } = q;
    const count = rows.filter((c) => matchesQuery(c, filter)).length;
    expect(await fast.countConversations(filter), `count ${label}`).toBe(count);
    expect(await full.countConversations(filter), `rxdb count ${label}`).toBe(count);
  }
}

describe('RxdbStore IndexedDB fast path', () => {
  it('reads key ranges directly (not through RxDB queries) on the Dexie storage', async () => {
    const store = await open(`path${++n}`);
    const full = await open(`path-full${n}`, { nativeReads: false });
    try {
      expect(await store.indexedReadPath()).toBe('native');
      expect(await full.indexedReadPath()).toBe('rxdb');
    } finally {
      await full.close();
      await store.close();
    }
  });

  for (const seed of [1, 2, 3, 4]) {
    it(`returns exactly what the full query returns on a random inbox (seed ${seed}), after updates and deletions`, async () => {
      const rnd = seededRandom(1000 + seed);
      const agentIds = Array.from({ length: 1 + Math.floor(rnd() * 6) }, (_, i) => `agent-${i + 1}`);
      const size = 150 + Math.floor(rnd() * 900);
      const data = generateConversations(size, { seed, agentIds, timeSpreadMinutes: 20 + Math.floor(rnd() * size) });
      const fast = await open(`fast${++n}`);
      const full = await open(`full${n}`, { nativeReads: false });
      const apply = async (rows: readonly Conversation[], cp: number) => {
        for (const s of [fast, full]) await s.applyFacts(makeFactBatch({ conversations: rows }), cp, 's');
      };
      const queries = (k: number) => Array.from({ length: k }, () => randomQuery(rnd, agentIds));
      try {
        const state = new Map<string, Conversation>();
        await apply(data, 1);
        applySeqRule(state, data);
        await expectSame(fast, full, state, queries(50));

        for (let round = 0; round < 3; round++) {
          const batch = updates(rnd, data, round === 1 ? 300 : 15, agentIds, 10_000 * (round + 1));
          await apply(batch, round + 2);
          applySeqRule(state, batch);
          await expectSame(fast, full, state, queries(25));
        }

        // Deletions: the facts go, then part of the rows come back (at their latest version).
        for (const s of [fast, full]) await s.clearFacts();
        state.clear();
        await expectSame(fast, full, state, queries(5));
        const back = data.filter(() => rnd() < 0.5);
        await apply(back, 10);
        applySeqRule(state, back);
        await expectSame(fast, full, state, queries(25));
      } finally {
        await full.close();
        await fast.close();
      }
    }, 240_000);
  }

  it('gives the same rows with documents encrypted at rest', async () => {
    const key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
    const cipher = new AesGcmCipher(key);
    const data = generateConversations(400, { seed: 9, agentIds: ['agent-1', 'agent-2'], timeSpreadMinutes: 60 });
    const fast = await open(`enc${++n}`, { cipher });
    const full = await open(`enc-full${n}`, { cipher, nativeReads: false });
    try {
      for (const s of [fast, full]) await s.applyFacts(makeFactBatch({ conversations: data }), 1, 's');
      const state = new Map(data.map((c) => [c.id, c]));
      const rnd = seededRandom(77);
      await expectSame(
        fast,
        full,
        state,
        Array.from({ length: 20 }, () => randomQuery(rnd, ['agent-1', 'agent-2'])),
      );
    } finally {
      await full.close();
      await fast.close();
    }
  }, 120_000);
});

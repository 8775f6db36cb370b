// The in-memory mirror of the conversation index: conformance in both states (IndexedDB only, and
// mirror loaded), agreement with the IndexedDB path and runQuery on generated data, writes during a
// load, clearFacts, and the mirror's own sorted runs under changes.
import { IDBFactory, IDBKeyRange } from 'fake-indexeddb';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CONVERSATION_SORTS, matchesQuery, runQuery, type Conversation, type ConversationQuery } from '@goutong/core';
import { generateConversations, makeFactBatch, runStorageConformance, seededRandom } from '@goutong/core/testing';
import { RxdbStore, type RxdbStoreOptions } from '../src/index.js';
import { ConversationMirror } from '../src/mirror.js';

const indexedDB = new IDBFactory();
let n = 0;
let name = '';

runStorageConformance(
  'RxdbStore, IndexedDB path only (mirror off)',
  ({ reopen }) => {
    if (!reopen) name = `nomirror${++n}`;
    return RxdbStore.open({ name, indexedDB, IDBKeyRange, mirror: false });
  },
  { describe, it, expect, beforeEach, afterEach },
  { persistent: true, timeout: 30_000 },
);

runStorageConformance(
  'RxdbStore, mirror loaded',
  async ({ reopen }) => {
    if (!reopen) name = `mirror${++n}`;
    const store = await RxdbStore.open({ name, indexedDB, IDBKeyRange });
    if (!(await store.mirrorLoaded)) throw new Error('mirror did not load');
    return store;
  },
  { describe, it, expect, beforeEach, afterEach },
  { persistent: true, timeout: 30_000 },
);

const ids = (rows: readonly { id: string }[]) => rows.map((r) => r.id);
const open = (dbName: string, extra: Partial<RxdbStoreOptions> = {}) => RxdbStore.open({ name: dbName, indexedDB, IDBKeyRange, ...extra });
const agentIds = ['agent-1', 'agent-2', 'agent-3', 'agent-4'];

/** Random queries over the generated universe: every filter kind, sorts, windows, texts (Chinese, case, no hit). */
function randomQueries(count: number, seed: number): ConversationQuery[] {
  const rnd = seededRandom(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const some = <T>(xs: readonly T[]): T[] => xs.filter(() => rnd() < 0.4);
  const texts = ['acme', 'ACME', '  订单 ', '张', 'refund', 'zzz-no-hit', 'é', 'help', 'vip', 'invoice #44', '\n', 'a', '   '];
  const out: ConversationQuery[] = [];
  for (let i = 0; i < count; i++) {
    const q: ConversationQuery = { sort: pick(CONVERSATION_SORTS), limit: pick([1, 7, 50, 200, 0]) };
    if (rnd() < 0.3) q.offset = pick([0, 3, 50, 400]);
    if (rnd() < 0.5) q.status = some(['open', 'pending', 'snoozed', 'resolved', 'closed', 'open'] as const);
    if (rnd() < 0.4) q.assigneeId = pick([...agentIds, null, 'agent-9']);
    if (rnd() < 0.2) q.inboxIds = some(['inbox-email', 'inbox-sms', 'inbox-im', 'inbox-api', 'inbox-voice']);
    if (rnd() < 0.3) q.teamId = pick(['team-a', 'team-b', null]);
    if (rnd() < 0.2) q.channels = some(['email', 'sms', 'im', 'api', 'voice'] as const);
    if (rnd() < 0.2) q.priorities = some(['urgent', 'high', 'normal', 'low'] as const);
    if (rnd() < 0.2) q.label = pick(['vip', 'billing', '投诉', 'vi']);
    if (rnd() < 0.4) q.text = pick(texts);
    out.push(q);
  }
  return out;
}

/** The stored state after upserts by seq (ties: the later row wins), as runQuery input. */
function applySeqRule(state: Map<string, Conversation>, rows: readonly Conversation[]): void {
  for (const r of rows) {
    const prev = state.get(r.id);
    if (prev === undefined || r.seq >= prev.seq) state.set(r.id, r);
  }
}

/** Changes of some rows: status, assignee, activity, text; some with an older seq (to be ignored). */
function changes(rows: readonly Conversation[], count: number, seed: number, seqBase: number): Conversation[] {
  const rnd = seededRandom(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const out: Conversation[] = [];
  for (let i = 0; i < count; i++) {
    const r = pick(rows);
    out.push({
      ...r,
      status: pick(['open', 'pending', 'snoozed', 'resolved', 'closed'] as const),
      assigneeId: pick([...agentIds, null]),
      lastMessageAt: r.lastMessageAt + Math.floor(rnd() * 5) * 60_000,
      waitingSince: rnd() < 0.5 ? null : r.lastMessageAt,
      priority: pick(['urgent', 'high', 'normal', 'low'] as const),
      lastMessagePreview: pick(['New ACME order', '新的订单', r.lastMessagePreview]),
      seq: rnd() < 0.15 ? 0 : seqBase + i,
    });
  }
  return out;
}

async function expectAgreement(store: RxdbStore, state: Map<string, Conversation>, queries: readonly ConversationQuery[], other?: RxdbStore) {
  const rows = [...state.values()];
  for (const q of queries) {
    const label = JSON.stringify(q);
    const want = ids(runQuery(rows, q));
    expect(ids(await store.queryConversations(q)), label).toEqual(want);
    if (other) expect(ids(await other.queryConversations(q)), `indexeddb ${label}`).toEqual(want);
    const { sort: _s, limit: _l, offset: _o, ...filter } = q;
    const count = rows.filter((c) => matchesQuery(c, filter)).length;
    expect(await store.countConversations(filter), `count ${label}`).toBe(count);
    if (other) expect(await other.countConversations(filter), `indexeddb count ${label}`).toBe(count);
  }
}

describe('RxdbStore mirror', () => {
  it('answers like the IndexedDB path and runQuery on generated data, before and after updates', async () => {
    const data = generateConversations(2500, { seed: 5, agentIds, timeSpreadMinutes: 300 });
    const store = await open(`agree${++n}`);
    // The same facts in a second database, answered from IndexedDB (one name opens once per process).
    const indexed = await open(`agree-indexed${n}`, { mirror: false });
    const apply = (rows: readonly Conversation[], cp: number) => Promise.all([store, indexed].map((s) => s.applyFacts(makeFactBatch({ conversations: rows }), cp, 's')));
    try {
      expect(indexed.mirrorState).toBe('off');
      expect(await store.mirrorLoaded).toBe(true);
      expect(store.mirrorState).toBe('ready');
      await apply(data, 1);
      const state = new Map<string, Conversation>();
      applySeqRule(state, data);
      await expectAgreement(store, state, randomQueries(40, 1), indexed);
      await expectAgreement(store, state, randomQueries(400, 2));
      // Whole rows, equal to IndexedDB's.
      const q: ConversationQuery = { sort: 'priority', limit: 100, text: 'a' };
      expect(await store.queryConversations(q)).toEqual(await indexed.queryConversations(q));
      expect(await store.getConversation(data[7]!.id)).toEqual(data[7]);

      // Few changes at a time (spliced into the sorted runs) and big batches (merged), queries in between.
      for (let round = 0; round < 6; round++) {
        const batch = changes(data, round % 2 === 0 ? 5 : 600, 100 + round, 10_000 * (round + 1));
        await apply(batch, round + 2);
        applySeqRule(state, batch);
        await expectAgreement(store, state, randomQueries(60, 200 + round));
      }
      await expectAgreement(store, state, randomQueries(30, 9), indexed);
    } finally {
      await indexed.close();
      await store.close();
    }
  }, 120_000);

  it('hands out copies', async () => {
    const store = await open(`copies${++n}`);
    try {
      await store.mirrorLoaded;
      const [row] = generateConversations(1, { seed: 2 });
      await store.applyFacts(makeFactBatch({ conversations: [row!] }), 1, 's');
      const got = (await store.queryConversations({ sort: 'lastActivity', limit: 1 }))[0]!;
      got.labels.push('mutated');
      got.status = 'closed';
      (await store.getConversation(row!.id))!.labels.push('mutated');
      expect(await store.getConversation(row!.id)).toEqual(row);
      expect(await store.countConversations({ status: [row!.status] })).toBe(1);
    } finally {
      await store.close();
    }
  });

  it.each([
    ['Dexie table reads', false],
    ['RxDB queries', true],
  ])('loses no write made while the mirror loads (%s)', async (_path, mirrorViaQuery) => {
    const data = generateConversations(1200, { seed: 8, agentIds, timeSpreadMinutes: 500 });
    const dbName = `during${++n}`;
    const first = await open(dbName, { mirror: false });
    await first.applyFacts(makeFactBatch({ conversations: data }), 1, 's');
    await first.close();

    const state = new Map<string, Conversation>();
    applySeqRule(state, data);
    const hooked: number[] = [];
    const write = async (rows: Conversation[]) => {
      await store.applyFacts(makeFactBatch({ conversations: rows }), 2, 's');
      applySeqRule(state, rows);
    };
    // The hooks run while the mirror loads, after open() has returned the store.
    const store: RxdbStore = await open(dbName, {
      mirrorViaQuery,
      mirrorChunk: 100,
      mirrorLoadHook: async (read) => {
        hooked.push(read);
        expect(store.mirrorState).toBe('loading');
        if (read === 100) {
          // Rows of the chunk just read (its stale copies must not win), of later chunks, and new rows.
          await write(data.slice(0, 30).map((c, i) => ({ ...c, status: 'closed', subject: 'changed in chunk', seq: 5000 + i })));
          await write(data.slice(700, 730).map((c, i) => ({ ...c, assigneeId: 'agent-4', lastMessageAt: c.lastMessageAt + 1, seq: 6000 + i })));
          await write(generateConversations(20, { seed: 9, idPrefix: 'new-', agentIds }));
          await write(generateConversations(20, { seed: 10, idPrefix: 'a-', agentIds }));
        }
        if (read === 600) {
          // Rows already in the mirror, and an older version that the seq rule drops.
          await write(data.slice(50, 80).map((c, i) => ({ ...c, status: 'open', labels: ['vip'], seq: 7000 + i })));
          await write([{ ...data[60]!, status: 'resolved', seq: 1 }]);
        }
        // Queries meanwhile use the IndexedDB path and see every write.
        expect(await store.countConversations({})).toBe(state.size);
      },
    });
    try {
      expect(await store.mirrorLoaded).toBe(true);
      expect(store.mirrorStats()).toMatchObject({ rows: 1240, load: { steps: expect.any(Number) as number } });
      expect(store.mirrorStats()!.load.ms).toBeGreaterThan(0);
      // 1,200 rows plus the 20 'new-' ones (after the loader's position); the 20 'a-' ones sort before it.
      expect(hooked).toEqual([100, 200, 300, 400, 500, 600, 700, 800, 900, 1000, 1100, 1200, 1220]);
      expect(state.size).toBe(1240);
      await expectAgreement(store, state, randomQueries(300, 3));
      expect((await store.getConversation(data[5]!.id))?.subject).toBe('changed in chunk');
      expect((await store.getConversation(data[60]!.id))?.status).toBe('open');
    } finally {
      await store.close();
    }
    // What IndexedDB holds agrees with the mirror's answers too.
    const indexed = await open(dbName, { mirror: false });
    try {
      await expectAgreement(indexed, state, randomQueries(20, 4));
    } finally {
      await indexed.close();
    }
  }, 120_000);

  it('clearFacts empties the mirror, also in the middle of a load', async () => {
    const data = generateConversations(500, { seed: 4, agentIds });
    const dbName = `clear${++n}`;
    const store = await open(dbName);
    await store.mirrorLoaded;
    await store.applyFacts(makeFactBatch({ conversations: data }), 1, 's');
    expect(await store.countConversations({})).toBe(500);
    await store.clearFacts();
    expect(store.mirrorState).toBe('ready');
    expect(await store.countConversations({})).toBe(0);
    expect(await store.queryConversations({ sort: 'lastActivity', limit: 10 })).toEqual([]);
    expect(await store.getConversation(data[0]!.id)).toBeNull();
    await store.applyFacts(makeFactBatch({ conversations: data.slice(0, 3) }), 2, 't');
    expect(ids(await store.queryConversations({ sort: 'lastActivity', limit: 10 }))).toEqual(ids(runQuery(data.slice(0, 3), { sort: 'lastActivity', limit: 10 })));
    await store.applyFacts(makeFactBatch({ conversations: data }), 3, 't');
    await store.close();

    let cleared = false;
    const reopened: RxdbStore = await open(dbName, {
      mirrorChunk: 100,
      mirrorLoadHook: async (read) => {
        if (read === 200) {
          await reopened.clearFacts();
          cleared = true;
        }
      },
    });
    try {
      const firstLoad = reopened.mirrorLoaded;
      expect(await firstLoad).toBe(false); // stopped by clearFacts
      expect(cleared).toBe(true);
      expect(await reopened.mirrorLoaded).toBe(true);
      expect(await reopened.countConversations({})).toBe(0);
      await reopened.applyFacts(makeFactBatch({ conversations: data.slice(10, 12) }), 4, 'u');
      expect(await reopened.countConversations({})).toBe(2);
    } finally {
      await reopened.close();
    }
  }, 60_000);

  it('a filtered walk of IndexedDB started during the load switches to the mirror once it is ready', async () => {
    const data = generateConversations(5000, { seed: 13, agentIds });
    const dbName = `switch${++n}`;
    const first = await open(dbName, { mirror: false });
    await first.applyFacts(makeFactBatch({ conversations: data }), 1, 's');
    await first.close();
    const mirrorQuery = vi.spyOn(ConversationMirror.prototype, 'query');
    const mirrorCount = vi.spyOn(ConversationMirror.prototype, 'count');
    // Each walk reads one batch, then waits for the mirror: its next step sees it ready and switches.
    const proto = RxdbStore.prototype as unknown as { walkRead: (...args: unknown[]) => Promise<unknown> };
    const walkRead = proto.walkRead;
    const held = vi.spyOn(proto, 'walkRead').mockImplementation(async function (this: RxdbStore, ...args: unknown[]) {
      const rows = await walkRead.apply(this, args);
      await this.mirrorLoaded;
      return rows;
    });
    const store = await open(dbName);
    try {
      expect(store.mirrorState).toBe('loading');
      const noHit: ConversationQuery = { text: 'zzz-no-hit', sort: 'lastActivity', limit: 50 };
      const [rows, count] = await Promise.all([store.queryConversations(noHit), store.countConversations({ text: 'acme', status: ['open', 'closed'] })]);
      expect(rows).toEqual([]);
      expect(count).toBe(data.filter((c) => matchesQuery(c, { text: 'acme', status: ['open', 'closed'] })).length);
      expect(store.mirrorState).toBe('ready');
      expect(mirrorQuery).toHaveBeenCalledWith(noHit);
      expect(mirrorCount).toHaveBeenCalledTimes(1);
      expect(held).toHaveBeenCalled();
    } finally {
      held.mockRestore();
      mirrorQuery.mockRestore();
      mirrorCount.mockRestore();
      await store.close();
    }
  }, 60_000);

  it('is off with multiInstance (other tabs would write past it)', async () => {
    const store = await open(`multi${++n}`, { multiInstance: true, mirror: true });
    try {
      expect(store.mirrorState).toBe('off');
      expect(await store.mirrorLoaded).toBe(false);
    } finally {
      await store.close();
    }
  });

  it('close stops a running load', async () => {
    const dbName = `closing${++n}`;
    const first = await open(dbName, { mirror: false });
    await first.applyFacts(makeFactBatch({ conversations: generateConversations(300, { seed: 6 }) }), 1, 's');
    await first.close();
    const store = await open(dbName, { mirrorChunk: 50 });
    const loaded = store.mirrorLoaded;
    await store.queryConversations({ sort: 'lastActivity', limit: 5 });
    await store.close();
    expect(await loaded).toBe(false);
    expect(store.mirrorState).toBe('off');
  });
});

describe('ConversationMirror', () => {
  it('keeps its sorted runs right when rows change during the background sort', async () => {
    const data = generateConversations(30_000, { seed: 12, agentIds, timeSpreadMinutes: 2000 });
    const mirror = new ConversationMirror();
    const state = new Map<string, Conversation>();
    for (const c of data) mirror.putIfAbsent(c);
    applySeqRule(state, data);
    let step = 0;
    const done = await mirror.build(async () => {
      // A write between every two steps of the build (each step sorts or merges part of a bucket).
      const batch = changes(data, step % 3 === 0 ? 200 : 2, 300 + step, 100_000 + step * 1000).filter((c) => c.seq > 0);
      for (const c of batch) mirror.put(c);
      applySeqRule(state, batch);
      step++;
      return false;
    });
    expect(done).toBe(true);
    expect(step).toBeGreaterThan(10);
    const check = (queries: ConversationQuery[]) => {
      const rows = [...state.values()];
      for (const q of queries) {
        expect(ids(mirror.query(q)), JSON.stringify(q)).toEqual(ids(runQuery(rows, q)));
        const { sort: _s, limit: _l, offset: _o, ...filter } = q;
        expect(mirror.count(filter)).toBe(rows.filter((c) => matchesQuery(c, filter)).length);
      }
    };
    check(randomQueries(300, 5));
    // Many changes while nobody reads: applied when they pile up, then at the next read.
    for (let round = 0; round < 4; round++) {
      const batch = changes(data, 3000, 400 + round, 200_000 + round * 10_000).filter((c) => c.seq > 0);
      for (const c of batch) mirror.put(c);
      applySeqRule(state, batch);
    }
    check(randomQueries(100, 6));
  }, 60_000);

  it('stays right through compactions, with many labels and odd needles', async () => {
    const data = generateConversations(2000, { seed: 21, agentIds, timeSpreadMinutes: 100 }).map((c, i) => ({
      ...c,
      // 40 distinct labels: codes beyond the 32-bit mask are tested on the row.
      labels: [...new Set([...c.labels, `l${i % 40}`, `l${(i * 7) % 40}`])].sort(),
      contactName: i % 50 === 0 ? `Nul\u0000Name ${i}` : c.contactName,
    }));
    const mirror = new ConversationMirror();
    const state = new Map<string, Conversation>();
    for (const c of data) mirror.put(c);
    applySeqRule(state, data);
    expect(await mirror.build(async () => false)).toBe(true);
    const queries = [
      ...randomQueries(150, 7),
      { label: 'l35', sort: 'lastActivity', limit: 50 },
      { label: 'l3', status: ['open'], sort: 'priority', limit: 20 },
      { text: 'nul\u0000name', sort: 'lastActivity', limit: 50 },
      { text: '\u0000', sort: 'waitingLongest', limit: 10 },
      { text: 'l39', sort: 'lastActivity', limit: 5, offset: 3 },
      { text: 'acme\nacme', sort: 'lastActivity', limit: 5 },
      { text: 'bob builder\n', sort: 'lastActivity', limit: 5 },
    ] as ConversationQuery[];
    const check = () => {
      const rows = [...state.values()];
      for (const q of queries) {
        expect(ids(mirror.query(q)), JSON.stringify(q)).toEqual(ids(runQuery(rows, q)));
        const { sort: _s, limit: _l, offset: _o, ...filter } = q;
        expect(mirror.count(filter), JSON.stringify(filter)).toBe(rows.filter((c) => matchesQuery(c, filter)).length);
      }
    };
    check();
    let puts = data.length;
    for (let round = 0; round < 8; round++) {
      const batch = changes(data, 1500, 500 + round, 1_000_000 + round * 10_000).filter((c) => c.seq > 0);
      for (const c of batch) mirror.put(c);
      puts += batch.length;
      applySeqRule(state, batch);
      if (round % 3 === 0) check();
    }
    check();
    // Replaced versions were dropped along the way.
    expect(mirror.stats().slots).toBeLessThan(puts);
    expect(mirror.size).toBe(state.size);
  }, 60_000);

  it('a loaded row never replaces a written one', () => {
    const [a] = generateConversations(1, { seed: 1 });
    const mirror = new ConversationMirror();
    mirror.put({ ...a!, subject: 'written' });
    mirror.putIfAbsent({ ...a!, subject: 'loaded', seq: a!.seq + 10 });
    expect(mirror.get(a!.id)?.subject).toBe('written');
    expect(mirror.size).toBe(1);
  });
});

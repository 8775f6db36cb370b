// The mobile app's stores on the same data: 10,000 conversations and 100,000 messages, then the
// inbox query (filter, sort, first 50), a count and a message page, timed on
//  - the app-plus adapter, PlusSqliteStore on real SQLite (better-sqlite3 behind the plus.sqlite
//    stand-in: same call shapes, same asynchronous callbacks);
//  - the H5 adapter, RxdbStore (RxDB + Dexie) on fake-indexeddb in Node: the queries answered by
//    its in-memory mirror of the conversation index once loaded, and the inbox query on the
//    IndexedDB indexes alone (the same database reopened without the mirror: inboxQueryIndexedDb);
// each beside core's runQuery over a plain array of the same rows, measured in the same run.
//
// Run: pnpm --filter @goutong/mobile bench [-- --conversations=N --messages=N --runs=N --browser=0]
//   prints one JSON line per adapter: {"name":"mobile-sqlite-store",…} and {"name":"mobile-browser-store",…}
// Or import it (tsx, with the "source" condition for workspace packages):
//   node --conditions=source --import tsx -e "import('./packages/mobile/bench/sqliteStore.bench.ts').then(async (m) => console.log(await m.runSqliteStoreBench({ print: false })))"
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { runQuery, type Conversation, type ConversationQuery, type LocalStore, type Message } from '@goutong/core';
import { generateConversations, makeFactBatch, makeMessage } from '@goutong/core/testing';
import { PlusSqliteStore } from '../src/storage/plusSqliteStore';
import { createPlusSqliteStandIn } from '../test/plusSqliteStandIn';

export interface SqliteStoreBenchOptions {
  /** Conversations stored (default 10,000). */
  conversations?: number;
  /** Messages stored, spread over the conversations (default 100,000). */
  messages?: number;
  /** Timed runs of each query (default 50). */
  runs?: number;
  /** Also the H5 adapter (RxDB on fake-indexeddb) on the same data (default true). */
  browser?: boolean;
  /** Print each result as a JSON line (default true). */
  print?: boolean;
}

export interface Stats {
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
}

export interface StoreBenchResult {
  name: 'mobile-sqlite-store' | 'mobile-browser-store';
  adapter: string;
  conversations: number;
  messages: number;
  loadConversationsMs: number;
  loadMessagesMs: number;
  /** The inbox query: open and pending, last activity first, first 50. */
  inboxQuery: Stats;
  inboxQueryPriority: Stats;
  inboxQueryText: Stats;
  count: Stats;
  messagePage: Stats;
  /** core's runQuery on a plain array of the same rows (the same inbox query). */
  referenceRunQuery: Stats;
  /** inboxQuery p50 ÷ referenceRunQuery p50. */
  inboxQueryVsRunQuery: number;
  sameRowsAsRunQuery: boolean;
  [extra: string]: unknown;
}

const round = (x: number) => Math.round(x * 1000) / 1000;

function stats(samples: number[]): Stats {
  const s = [...samples].sort((a, b) => a - b);
  const at = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
  return { p50Ms: round(at(50)), p99Ms: round(at(99)), meanMs: round(s.reduce((a, b) => a + b, 0) / s.length) };
}

async function time(runs: number, fn: () => Promise<unknown> | unknown): Promise<Stats> {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    samples.push(performance.now() - t0);
  }
  return stats(samples);
}

const INBOX: ConversationQuery = { status: ['open', 'pending'], sort: 'lastActivity', limit: 50 };

/** The same data for every adapter. */
function fixture(conversations: number, messageCount: number): { rows: Conversation[]; messages: Message[] } {
  const rows = generateConversations(conversations, { seed: 1 });
  const perConversation = Math.max(1, Math.floor(messageCount / rows.length));
  const messages: Message[] = [];
  rows.forEach((c, i) => {
    for (let j = 0; j < perConversation && messages.length < messageCount; j++)
      messages.push(makeMessage({ id: `m-${i}-${j}`, conversationId: c.id, createdAt: c.createdAt + j * 1000, text: `message ${j} of ${c.id}` }));
  });
  return { rows, messages };
}

/** Loads the fixture into a store and times the queries. */
async function measure(store: LocalStore, rows: Conversation[], messages: Message[], runs: number, afterLoad?: () => Promise<Record<string, unknown>>) {
  const t0 = performance.now();
  for (let i = 0; i < rows.length; i += 2_000) await store.applyFacts(makeFactBatch({ conversations: rows.slice(i, i + 2_000) }), i + 1, 'bench');
  const loadConversationsMs = performance.now() - t0;
  const t1 = performance.now();
  for (let i = 0; i < messages.length; i += 5_000) await store.putMessages(messages.slice(i, i + 5_000));
  const loadMessagesMs = performance.now() - t1;
  const extra = afterLoad ? await afterLoad() : {};
  const same = JSON.stringify((await store.queryConversations(INBOX)).map((c) => c.id)) === JSON.stringify(runQuery(rows, INBOX).map((c) => c.id));
  const inboxQuery = await time(runs, () => store.queryConversations(INBOX));
  const referenceRunQuery = await time(runs, () => runQuery(rows, INBOX));
  return {
    conversations: rows.length,
    messages: messages.length,
    loadConversationsMs: round(loadConversationsMs),
    loadMessagesMs: round(loadMessagesMs),
    ...extra,
    inboxQuery,
    inboxQueryPriority: await time(runs, () => store.queryConversations({ status: ['open'], sort: 'priority', limit: 50 })),
    inboxQueryText: await time(Math.min(runs, 20), () => store.queryConversations({ text: 'acme', sort: 'lastActivity', limit: 50 })),
    count: await time(runs, () => store.countConversations({ status: ['open', 'pending'] })),
    messagePage: await time(runs, () => store.getMessages({ conversationId: rows[rows.length >> 1]!.id, limit: 30 })),
    referenceRunQuery,
    inboxQueryVsRunQuery: round(inboxQuery.p50Ms / Math.max(referenceRunQuery.p50Ms, 0.001)),
    sameRowsAsRunQuery: same,
  };
}

export async function runSqliteStoreBench(opts: SqliteStoreBenchOptions = {}): Promise<StoreBenchResult[]> {
  const conversations = opts.conversations ?? 10_000;
  const messageCount = opts.messages ?? 100_000;
  const runs = opts.runs ?? 50;
  const print = opts.print ?? true;
  const { rows, messages } = fixture(conversations, messageCount);
  const results: StoreBenchResult[] = [];
  const emit = (r: StoreBenchResult) => {
    results.push(r);
    if (print) console.log(JSON.stringify(r));
  };

  const root = mkdtempSync(join(tmpdir(), 'goutong-sqlite-bench-'));
  try {
    const store = await PlusSqliteStore.open({ api: createPlusSqliteStandIn({ root }) });
    emit({ name: 'mobile-sqlite-store', adapter: 'plus.sqlite stand-in on better-sqlite3 (app-plus)', ...(await measure(store, rows, messages, runs)) });
    await store.close();
  } finally {
    rmSync(root, { recursive: true, force: true });
  }

  if (opts.browser ?? true) {
    const { IDBFactory, IDBKeyRange } = await import('fake-indexeddb');
    const { RxdbStore } = await import('@goutong/storage-rxdb');
    const indexedDB = new IDBFactory();
    const store = await RxdbStore.open({ name: 'mobile-bench', indexedDB, IDBKeyRange });
    const r = await measure(store, rows, messages, runs, async () => {
      // The H5 app's adapter answers from its in-memory mirror once loaded (timed here); the
      // IndexedDB indexes serve until then (timed below).
      const t = performance.now();
      const loaded = await store.mirrorLoaded;
      return { mirrorLoaded: loaded, mirrorLoadMs: round(performance.now() - t) };
    });
    await store.close();
    // The same database opened again without the mirror: the inbox query on the IndexedDB indexes.
    const cold = await RxdbStore.open({ name: 'mobile-bench', indexedDB, IDBKeyRange, mirror: false });
    const inboxQueryIndexedDb = await time(Math.min(runs, 20), () => cold.queryConversations(INBOX));
    await cold.close();
    emit({ name: 'mobile-browser-store', adapter: 'RxdbStore (RxDB + Dexie) on fake-indexeddb (H5)', ...r, inboxQueryIndexedDb });
  }
  return results;
}

const arg = (name: string, def: number) => {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.split('=')[1]) : def;
};

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runSqliteStoreBench({
    conversations: arg('conversations', 10_000),
    messages: arg('messages', 100_000),
    runs: arg('runs', 50),
    browser: arg('browser', 1) !== 0,
  });
}

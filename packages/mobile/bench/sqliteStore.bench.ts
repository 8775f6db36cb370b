// The plus.sqlite adapter on real SQLite (better-sqlite3 behind the plus.sqlite stand-in): stores
// 10,000 conversations and 100,000 messages, then times the inbox query (filter, sort, first 50)
// and a message page, beside core's runQuery over a plain array of the same rows.
// Run: pnpm --filter @goutong/mobile bench [-- --conversations=N --messages=N --runs=N]
// Prints one JSON line: {"name":"mobile-sqlite-store", ...}.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { runQuery, type ConversationQuery, type Message } from '@goutong/core';
import { generateConversations, makeFactBatch, makeMessage } from '@goutong/core/testing';
import { PlusSqliteStore } from '../src/storage/plusSqliteStore';
import { createPlusSqliteStandIn } from '../test/plusSqliteStandIn';

const arg = (name: string, def: number) => {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.split('=')[1]) : def;
};
const CONVERSATIONS = arg('conversations', 10_000);
const MESSAGES = arg('messages', 100_000);
const RUNS = arg('runs', 50);

const round = (x: number) => Math.round(x * 1000) / 1000;
function stats(samples: number[]) {
  const s = [...samples].sort((a, b) => a - b);
  const at = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
  return { p50Ms: round(at(50)), p99Ms: round(at(99)), meanMs: round(s.reduce((a, b) => a + b, 0) / s.length) };
}
async function time(runs: number, fn: () => Promise<unknown> | unknown) {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    samples.push(performance.now() - t0);
  }
  return stats(samples);
}

const root = mkdtempSync(join(tmpdir(), 'goutong-sqlite-bench-'));
try {
  const store = await PlusSqliteStore.open({ api: createPlusSqliteStandIn({ root }) });
  const rows = generateConversations(CONVERSATIONS, { seed: 1 });
  const t0 = performance.now();
  for (let i = 0; i < rows.length; i += 2_000) await store.applyFacts(makeFactBatch({ conversations: rows.slice(i, i + 2_000) }), i + 1, 'bench');
  const loadConversationsMs = performance.now() - t0;
  const perConversation = Math.max(1, Math.floor(MESSAGES / rows.length));
  const messages: Message[] = [];
  rows.forEach((c, i) => {
    for (let j = 0; j < perConversation && messages.length < MESSAGES; j++)
      messages.push(makeMessage({ id: `m-${i}-${j}`, conversationId: c.id, createdAt: c.createdAt + j * 1000, text: `message ${j} of ${c.id}` }));
  });
  const t1 = performance.now();
  for (let i = 0; i < messages.length; i += 5_000) await store.putMessages(messages.slice(i, i + 5_000));
  const loadMessagesMs = performance.now() - t1;

  const query: ConversationQuery = { status: ['open', 'pending'], sort: 'lastActivity', limit: 50 };
  const same = JSON.stringify((await store.queryConversations(query)).map((c) => c.id)) === JSON.stringify(runQuery(rows, query).map((c) => c.id));
  const result = {
    name: 'mobile-sqlite-store',
    adapter: 'plus.sqlite stand-in on better-sqlite3',
    conversations: rows.length,
    messages: messages.length,
    loadConversationsMs: round(loadConversationsMs),
    loadMessagesMs: round(loadMessagesMs),
    inboxQuery: await time(RUNS, () => store.queryConversations(query)),
    inboxQueryPriority: await time(RUNS, () => store.queryConversations({ status: ['open'], sort: 'priority', limit: 50 })),
    inboxQueryText: await time(Math.min(RUNS, 20), () => store.queryConversations({ text: 'acme', sort: 'lastActivity', limit: 50 })),
    count: await time(RUNS, () => store.countConversations({ status: ['open', 'pending'] })),
    messagePage: await time(RUNS, () => store.getMessages({ conversationId: rows[rows.length >> 1]!.id, limit: 30 })),
    referenceRunQuery: await time(RUNS, () => runQuery(rows, query)),
    sameRowsAsRunQuery: same,
  };
  await store.close();
  console.log(JSON.stringify(result));
} finally {
  rmSync(root, { recursive: true, force: true });
}

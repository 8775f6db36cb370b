// Inbox query on the local index: RxdbStore (RxDB + Dexie on fake-indexeddb, in Node) against the
// reference runQuery over a plain array of the same rows, measured in the same run.
// Needs the built packages (`pnpm run build`). Run: node packages/storage-rxdb/bench/indexQuery.bench.mjs [--rows=N] [--runs=N]
// Prints one JSON line: {"name":"local-index-query", ...}.
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { IDBFactory, IDBKeyRange } from 'fake-indexeddb';
import { runQuery } from '@goutong/core';
import { generateConversations, makeFactBatch } from '@goutong/core/testing';
import { RxdbStore } from '../dist/index.js';

/**
 * @typedef {object} IndexQueryBenchOptions
 * @property {number} [rows] conversations in the index (default 100,000)
 * @property {number} [runs] timed runs of each side (default 50)
 * @property {number} [limit] page size of the inbox query (default 50)
 * @property {number} [seed] fixture seed (default 1)
 * @property {number} [chunk] conversations per applyFacts batch while loading (default 2,000)
 * @property {boolean} [print] print the JSON line (default true)
 */

/** Nearest-rank percentile of sorted samples. */
function percentile(sorted, p) {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

const round = (x) => Math.round(x * 1000) / 1000;

function stats(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
  return { p50Ms: round(percentile(sorted, 50)), p99Ms: round(percentile(sorted, 99)), meanMs: round(mean), minMs: round(sorted[0]), maxMs: round(sorted[sorted.length - 1]) };
}

async function time(runs, fn) {
  const samples = [];
  let last;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    last = await fn();
    samples.push(performance.now() - t0);
  }
  return { samples, last };
}

/**
 * Loads `rows` conversations into a fresh RxdbStore and measures the inbox query
 * (status open, one assignee, sort lastActivity, first `limit`) against runQuery over an array.
 * @param {IndexQueryBenchOptions} [opts]
 */
export async function runIndexQueryBench(opts = {}) {
  const rows = opts.rows ?? 100_000;
  const runs = opts.runs ?? 50;
  const limit = opts.limit ?? 50;
  const seed = opts.seed ?? 1;
  const chunk = opts.chunk ?? 2_000;
  const warmup = 3;

  const agentIds = Array.from({ length: 20 }, (_, i) => `agent-${i + 1}`);
  const data = generateConversations(rows, { seed, agentIds, timeSpreadMinutes: rows * 2 });
  /** @type {import('@goutong/core').ConversationQuery} */
  const query = { status: ['open'], assigneeId: 'agent-1', sort: 'lastActivity', limit };
  const matching = data.filter((c) => c.status === 'open' && c.assigneeId === 'agent-1').length;

  const store = await RxdbStore.open({ name: `bench-index-query-${Date.now()}`, indexedDB: new IDBFactory(), IDBKeyRange });
  try {
    const t0 = performance.now();
    for (let i = 0; i < data.length; i += chunk) {
      await store.applyFacts(makeFactBatch({ conversations: data.slice(i, i + chunk) }), i + chunk, 'bench');
    }
    const loadMs = performance.now() - t0;

    for (let i = 0; i < warmup; i++) {
      await store.queryConversations(query);
      runQuery(data, query);
    }
    const local = await time(runs, () => store.queryConversations(query));
    const base = await time(runs, () => runQuery(data, query));
    const count = await time(Math.min(runs, 20), () => store.countConversations({ status: ['open'], assigneeId: 'agent-1' }));

    const ids = (xs) => xs.map((c) => c.id).join(',');
    const identical = ids(local.last) === ids(base.last) && count.last === matching;
    const rx = stats(local.samples);
    const baseline = stats(base.samples);
    const result = {
      name: 'local-index-query',
      rows,
      runs,
      query: { status: query.status, assigneeId: query.assigneeId, sort: query.sort, limit },
      matchingRows: matching,
      rxdb: rx,
      baseline: { ...baseline, impl: 'runQuery over an in-memory array' },
      ratioP50: round(rx.p50Ms / baseline.p50Ms),
      ratioP99: round(rx.p99Ms / baseline.p99Ms),
      countP50Ms: stats(count.samples).p50Ms,
      loadMs: Math.round(loadMs),
      identical,
      storage: 'rxdb 17 + dexie on fake-indexeddb (node)',
      node: process.version,
    };
    if (opts.print ?? true) console.log(JSON.stringify(result));
    return result;
  } finally {
    await store.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const arg = (name) => {
    const hit = process.argv.find((a) => a.startsWith(`--${name}=`));
    return hit === undefined ? undefined : Number(hit.slice(name.length + 3));
  };
  const result = await runIndexQueryBench({ rows: arg('rows'), runs: arg('runs'), limit: arg('limit') });
  if (!result.identical) {
    console.error('local-index-query: RxdbStore and runQuery disagree');
    process.exitCode = 1;
  }
}

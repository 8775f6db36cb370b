// Conversation queries on 100,000 rows: RxdbStore (RxDB + Dexie on fake-indexeddb, in Node) against
// the reference runQuery over a plain array of the same rows, measured in the same run.
// Needs the built packages (`npx tsc -b packages/storage-rxdb`).
// Run: node packages/storage-rxdb/bench/indexQuery.bench.mjs [--rows=N] [--runs=N] [--mirror-runs=N] [--limit=N] [--indexeddb-nohit]
// Prints two JSON lines:
//  - {"name":"local-index-query", ...}: the inbox query on the IndexedDB indexes (the path used while
//    the mirror loads, or without one), with the mirror's figure beside it;
//  - {"name":"local-index-mirror", ...}: cold open and first inbox page, mirror load time, event-loop
//    blocking during the load, heap of the mirror, and p50/p99 of the inbox query, a team filter and
//    text searches (common Latin, common Chinese, no hit) answered from the mirror, each beside runQuery.
import { monitorEventLoopDelay, performance, PerformanceObserver } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import os from 'node:os';
import { IDBFactory, IDBKeyRange } from 'fake-indexeddb';
import { matchesQuery, runQuery } from '@goutong/core';
import { generateConversations, makeFactBatch } from '@goutong/core/testing';
import { RxdbStore } from '../dist/index.js';
import { ConversationMirror } from '../dist/mirror.js';

/**
 * @typedef {object} IndexQueryBenchOptions
 * @property {number} [rows] conversations in the index (default 100,000)
 * @property {number} [runs] timed runs of each side for the IndexedDB inbox query (default 50)
 * @property {number} [mirrorRuns] timed runs of each side for the mirror's queries (default 100)
 * @property {number} [limit] page size of the inbox query (default 50)
 * @property {number} [seed] fixture seed (default 1)
 * @property {number} [chunk] conversations per applyFacts batch while loading (default 2,000)
 * @property {boolean} [indexedDbNoHit] also time the no-hit text search on the IndexedDB path (one run; ~15 s on 100,000 rows)
 * @property {boolean} [print] print the JSON lines (default true)
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
  return {
    p50Ms: round(percentile(sorted, 50)),
    p95Ms: round(percentile(sorted, 95)),
    p99Ms: round(percentile(sorted, 99)),
    meanMs: round(mean),
    minMs: round(sorted[0]),
    maxMs: round(sorted[sorted.length - 1]),
  };
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

/** A full collection (Node's gc exposed at run time, so the bench runs with a plain `node`). */
const gc = (() => {
  try {
    v8.setFlagsFromString('--expose-gc');
    return vm.runInNewContext('gc');
  } catch {
    return null;
  }
})();

function heapUsed() {
  if (gc) {
    gc();
    gc();
  }
  return process.memoryUsage().heapUsed;
}

/**
 * Event-loop delay while `promise` runs (how long a UI thread would have waited for its turn): p99 and
 * max in ms. In Node, fake-indexeddb clones the rows of each chunk on the event loop and keeps the
 * whole database in the same heap (GC), which a browser's IndexedDB does not.
 */
async function eventLoopDelay(promise) {
  const h = monitorEventLoopDelay({ resolution: 1 });
  // Garbage collections meanwhile (each entry's duration is a pause of the event loop, or part of one).
  const gcs = [];
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcs.push(e.duration);
  });
  obs.observe({ entryTypes: ['gc'] });
  h.enable();
  const t0 = performance.now();
  try {
    await promise;
  } finally {
    h.disable();
    // Entries are delivered asynchronously: one more turn before disconnecting.
    await new Promise((resolve) => setTimeout(resolve, 0));
    obs.disconnect();
  }
  const overMs = performance.now() - t0;
  const sorted = [...gcs].sort((a, b) => a - b);
  return {
    p50Ms: round(h.percentile(50) / 1e6),
    p99Ms: round(h.percentile(99) / 1e6),
    maxMs: round(h.max / 1e6),
    overMs: round(overMs),
    gc: { count: gcs.length, totalMs: round(gcs.reduce((a, b) => a + b, 0)), maxMs: round(sorted[sorted.length - 1] ?? 0), over50Ms: gcs.filter((d) => d > 50).length },
  };
}

/** The same measure with nothing to do for `ms` (the machine's and the runtime's own delays: the baseline). */
const idleDelay = (ms) => eventLoopDelay(new Promise((resolve) => setTimeout(resolve, ms)));

const ids = (xs) => xs.map((c) => c.id).join(',');

/**
 * Loads `rows` conversations into a fresh RxdbStore, measures the inbox query
 * (status open, one assignee, sort lastActivity, first `limit`) on the IndexedDB indexes against
 * runQuery over an array, then reopens the store cold and measures the mirror.
 * @param {IndexQueryBenchOptions} [opts]
 */
export async function runIndexQueryBench(opts = {}) {
  const rows = opts.rows ?? 100_000;
  const runs = opts.runs ?? 50;
  const mirrorRuns = opts.mirrorRuns ?? 100;
  const limit = opts.limit ?? 50;
  const seed = opts.seed ?? 1;
  const chunk = opts.chunk ?? 2_000;
  const print = opts.print ?? true;
  const warmup = 3;

  const agentIds = Array.from({ length: 20 }, (_, i) => `agent-${i + 1}`);
  const data = generateConversations(rows, { seed, agentIds, timeSpreadMinutes: rows * 2 });
  /** @type {import('@goutong/core').ConversationQuery} */
  const query = { status: ['open'], assigneeId: 'agent-1', sort: 'lastActivity', limit };
  const matching = data.filter((c) => c.status === 'open' && c.assigneeId === 'agent-1').length;
  /** @type {Record<string, import('@goutong/core').ConversationQuery>} */
  const queries = {
    inbox: query,
    team: { teamId: 'team-a', sort: 'lastActivity', limit },
    textCommon: { text: 'acme', sort: 'lastActivity', limit },
    textCommonZh: { text: '订单', sort: 'lastActivity', limit },
    textNoHit: { text: 'no such words', sort: 'lastActivity', limit },
  };

  const name = `bench-index-query-${Date.now()}`;
  const indexedDB = new IDBFactory();
  const openStore = (extra = {}) => RxdbStore.open({ name, indexedDB, IDBKeyRange, ...extra });

  // ------------------------------------------------ load, and the IndexedDB path (mirror off)
  let store = await openStore({ mirror: false });
  let first;
  let indexedDbQueries;
  try {
    const t0 = performance.now();
    for (let i = 0; i < data.length; i += chunk) {
      await store.applyFacts(makeFactBatch({ conversations: data.slice(i, i + chunk) }), i + chunk, 'bench');
      if ((i + chunk) % 20_000 === 0) process.stderr.write(`# loaded ${i + chunk} rows in ${Math.round(performance.now() - t0)} ms\n`);
    }
    const loadMs = performance.now() - t0;

    for (let i = 0; i < warmup; i++) {
      await store.queryConversations(query);
      runQuery(data, query);
    }
    heapUsed();
    const local = await time(runs, () => store.queryConversations(query));
    heapUsed();
    const base = await time(runs, () => runQuery(data, query));
    // The same query through RxDB's query path (a cursor step per row; the path before the direct
    // reads), same database, same run: the before/after ratio.
    await store.close();
    store = await openStore({ mirror: false, nativeReads: false });
    for (let i = 0; i < warmup; i++) await store.queryConversations(query);
    heapUsed();
    const viaRxdb = await time(runs, () => store.queryConversations(query));
    const rxdbPath = stats(viaRxdb.samples);
    await store.close();
    store = await openStore({ mirror: false });
    const readPath = await store.indexedReadPath();
    const count = await time(Math.min(runs, 20), () => store.countConversations({ status: ['open'], assigneeId: 'agent-1' }));
    const identical = ids(local.last) === ids(base.last) && ids(viaRxdb.last) === ids(base.last) && count.last === matching;
    const rx = stats(local.samples);
    const baseline = stats(base.samples);
    first = {
      name: 'local-index-query',
      rows,
      runs,
      query: { status: query.status, assigneeId: query.assigneeId, sort: query.sort, limit },
      matchingRows: matching,
      rxdb: { ...rx, path: `indexeddb (${readPath} reads)` },
      rxdbQueryPath: { ...rxdbPath, path: 'indexeddb through RxDB queries (before)' },
      baseline: { ...baseline, impl: 'runQuery over an in-memory array' },
      ratioP50: round(rx.p50Ms / baseline.p50Ms),
      ratioP95: round(rx.p95Ms / baseline.p95Ms),
      ratioP99: round(rx.p99Ms / baseline.p99Ms),
      ratioToRxdbPathP95: round(rx.p95Ms / rxdbPath.p95Ms),
      targetP95Ms: 16,
      countP50Ms: stats(count.samples).p50Ms,
      loadMs: Math.round(loadMs),
      identical,
      storage: 'rxdb 17 + dexie on fake-indexeddb (node)',
      node: process.version,
    };

    // The filtered scans on the IndexedDB path, few runs (they are slow): the figures the mirror replaces.
    indexedDbQueries = {};
    for (const [key, q, n] of [
      ['team', queries.team, 10],
      ['textCommon', queries.textCommon, 3],
      ...(opts.indexedDbNoHit ? [['textNoHit', queries.textNoHit, 1]] : []),
    ]) {
      const r = await time(n, () => store.queryConversations(q));
      indexedDbQueries[key] = { ...stats(r.samples), runs: n, identical: ids(r.last) === ids(runQuery(data, q)) };
    }
  } finally {
    await store.close();
  }
  const heapClosed = heapUsed();

  // ------------------------------------------------ cold open: first page from IndexedDB while the mirror loads
  const tOpen = performance.now();
  store = await openStore();
  const openMs = performance.now() - tOpen;
  let mirror;
  try {
    const firstPage = await store.queryConversations(query);
    const firstPageMs = performance.now() - tOpen;
    const stateAtFirstPage = store.mirrorState;
    const delay = await eventLoopDelay(store.mirrorLoaded);
    const loaded = store.mirrorState === 'ready';
    const mirrorLoadMs = performance.now() - tOpen;
    // Baseline: the same process with nothing to do, for as long (at most 10 s).
    const idle = await idleDelay(Math.min(10_000, delay.overMs));
    const heapMirror = heapUsed();
    const mirrorStats = store.mirrorStats();

    const perQuery = {};
    let allIdentical = loaded && ids(firstPage) === ids(runQuery(data, query));
    for (const [key, q] of Object.entries(queries)) {
      const { sort: _s, limit: _l, offset: _o, ...filter } = q;
      for (let i = 0; i < warmup; i++) {
        await store.queryConversations(q);
        runQuery(data, q);
      }
      // A full collection before each series, so neither side pays for the other's garbage.
      heapUsed();
      const m = await time(mirrorRuns, () => store.queryConversations(q));
      heapUsed();
      const b = await time(mirrorRuns, () => runQuery(data, q));
      const c = await time(20, () => store.countConversations(filter));
      const cb = await time(20, () => data.filter((row) => matchesQuery(row, filter)).length);
      const ms = stats(m.samples);
      const bs = stats(b.samples);
      const identical = ids(m.last) === ids(b.last) && c.last === cb.last;
      allIdentical &&= identical;
      perQuery[key] = {
        query: q,
        matchingRows: cb.last,
        mirror: ms,
        baseline: bs,
        ratioP50: round(ms.p50Ms / bs.p50Ms),
        ratioP99: round(ms.p99Ms / bs.p99Ms),
        count: { mirrorP50Ms: stats(c.samples).p50Ms, baselineP50Ms: stats(cb.samples).p50Ms },
        ...(indexedDbQueries[key] ? { indexedDb: indexedDbQueries[key] } : {}),
        identical,
      };
    }
    first.mirror = perQuery.inbox.mirror;
    first.mirrorRatioP50 = perQuery.inbox.ratioP50;

    mirror = {
      name: 'local-index-mirror',
      rows,
      runs: mirrorRuns,
      coldOpen: { openMs: round(openMs), firstPageMs: round(firstPageMs), mirrorStateAtFirstPage: stateAtFirstPage },
      mirrorLoadMs: Math.round(mirrorLoadMs),
      loader: mirrorStats ? { steps: mirrorStats.load.steps, longestStepMs: round(mirrorStats.load.longestStepMs) } : null,
      eventLoopDelayWhileLoading: delay,
      eventLoopDelayIdle: idle,
      eventLoopP99RatioToIdle: round(delay.p99Ms / Math.max(idle.p99Ms, 0.001)),
      eventLoopTargetP99Ms: 50,
      heap: gc
        ? { mirrorMB: round((heapMirror - heapClosed) / 1e6), bytesPerRow: Math.round((heapMirror - heapClosed) / rows), textChars: mirrorStats?.textChars }
        : { note: 'gc not available' },
      queries: perQuery,
      identical: allIdentical,
      storage: 'rxdb 17 + dexie on fake-indexeddb (node)',
      node: process.version,
      load: os.loadavg().map((x) => round(x)),
      cpus: os.cpus().length,
    };
  } finally {
    await store.close();
  }

  // ------------------------------------------------ the mirror alone: filling and sorting it, longest step
  {
    const jsons = data.map((c) => JSON.stringify(c));
    const m = new ConversationMirror();
    const t0 = performance.now();
    for (const j of jsons) m.putIfAbsent(JSON.parse(j));
    const fillMs = performance.now() - t0;
    let slice = performance.now();
    let maxStepMs = 0;
    const t1 = performance.now();
    await m.build(async () => {
      const t = performance.now();
      if (t - slice >= 8) {
        maxStepMs = Math.max(maxStepMs, t - slice);
        await new Promise((r) => setTimeout(r, 0));
        slice = performance.now();
      }
      return false;
    });
    mirror.inMemory = { parseAndPutMs: Math.round(fillMs), sortMs: Math.round(performance.now() - t1), maxSortStepMs: round(maxStepMs) };
  }
  first.identical &&= mirror.identical;
  if (print) {
    console.log(JSON.stringify(first));
    console.log(JSON.stringify(mirror));
  }
  return { ...first, mirrorBench: mirror };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const arg = (name) => {
    const hit = process.argv.find((a) => a.startsWith(`--${name}=`));
    return hit === undefined ? undefined : Number(hit.slice(name.length + 3));
  };
  const result = await runIndexQueryBench({
    rows: arg('rows'),
    runs: arg('runs'),
    mirrorRuns: arg('mirror-runs'),
    limit: arg('limit'),
    indexedDbNoHit: process.argv.includes('--indexeddb-nohit'),
  });
  if (!result.identical) {
    console.error('local-index-query: RxdbStore and runQuery disagree');
    process.exitCode = 1;
  }
}

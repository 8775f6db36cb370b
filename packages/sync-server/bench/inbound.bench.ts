/**
 * Inbound benchmark (issue 4), run by `pnpm bench`: inbound SMS per second through the provider
 * webhook (Kannel get-url: token check, decode, segment count, ingest in one transaction, answer
 * after commit) and fanned out as pokes to 50 connected sync sockets, on SQLite and PostgreSQL;
 * beside the bare insert rate of the same database (one row per transaction, same concurrency)
 * as the baseline. Prints one JSON line per database.
 *
 * Env: BENCH_INBOUND_N (messages, default 2000), BENCH_INBOUND_CONCURRENCY (requests in flight,
 * default 8), GOUTONG_TEST_PG (admin URL, default postgres://postgres@127.0.0.1:5432/test),
 * BENCH_INBOUND_GROUP=off (one transaction per message: the group commit switched off, to compare),
 * BENCH_INBOUND_DISK=1 (SQLite on the disk, with its fsyncs, instead of tmpfs),
 * BENCH_INBOUND_AB=1 (alternating rounds, each on a fresh server: the ops bus batching its jobs in
 * one transaction, then one transaction per listener as before; BENCH_INBOUND_ROUNDS pairs, default 2).
 *
 * `perSecond` counts a message once it is stored and every socket was poked up to the seq of the
 * last one; `processedPerSecond` counts until the ops bus has also digested every event (routing,
 * SLA, automation, reports…): the figure that the bus's own work bounds.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { WebSocket } from 'ws';
import { loadConfig } from '../src/config.js';
import { startServer } from '../src/server.js';
import { createTenant } from '../src/seed.js';
import type { Db } from '../src/db/db.js';

const N = Number(process.env.BENCH_INBOUND_N ?? 2000);
const CONCURRENCY = Number(process.env.BENCH_INBOUND_CONCURRENCY ?? 8);
const CLIENTS = 50;
const GROUP = process.env.BENCH_INBOUND_GROUP !== 'off';
const DISK = process.env.BENCH_INBOUND_DISK === '1';
const AB = process.env.BENCH_INBOUND_AB === '1';
const ROUNDS = Number(process.env.BENCH_INBOUND_ROUNDS ?? 2);
const PG_ADMIN = process.env.GOUTONG_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};

async function pgDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `gt_bench_${crypto.randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const u = new URL(PG_ADMIN);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: PG_ADMIN });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

async function pool<T>(items: T[], n: number, fn: (x: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (i < items.length) await fn(items[i++]!);
  }));
}

/** Bare inserts of rows shaped like messages, each in its own transaction, same concurrency. */
async function baseline(db: Db): Promise<number> {
  await db.exec('CREATE TABLE bench_inserts (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, text TEXT NOT NULL, meta TEXT NOT NULL, created_at BIGINT NOT NULL)');
  const ids = Array.from({ length: N }, () => crypto.randomUUID());
  const t0 = performance.now();
  await pool(ids, CONCURRENCY, async (id) => {
    await db.tx((q) => q.run('INSERT INTO bench_inserts (id, tenant_id, text, meta, created_at) VALUES (?, ?, ?, ?, ?)', [id, 't', `你好，订单 ${id.slice(0, 8)} 还没到`, '{"segments":1}', Date.now()]));
  });
  const rate = N / ((performance.now() - t0) / 1000);
  await db.exec('DROP TABLE bench_inserts');
  return rate;
}

async function run(dialect: 'sqlite' | 'postgres', opsBatch?: number): Promise<Record<string, unknown>> {
  const base = fs.existsSync('/dev/shm') && !DISK ? '/dev/shm' : os.tmpdir();
  const dataDir = fs.mkdtempSync(path.join(base, 'goutong-inbound-'));
  const pgDb = dialect === 'postgres' ? await pgDatabase() : null;
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', GOUTONG_DATA_DIR: dataDir, GOUTONG_DEMO: '0', GOUTONG_LOG: 'error', GOUTONG_EGRESS_ALLOW: '127.0.0.0/8,::1', ...(pgDb ? { DATABASE_URL: pgDb.url } : {}) });
  const server = await startServer({ config });
  if (!GROUP) server.workspace.commits.maxUnits = 1;
  if (opsBatch !== undefined) server.ops.batch = opsBatch;
  const sockets: WebSocket[] = [];
  try {
    const t = await createTenant(server.workspace, {
      slug: 'bench', name: 'Bench', teams: ['Support'],
      agents: [{ email: 'admin@bench.test', name: 'Admin', role: 'admin', teams: ['Support'], password: 'bench-password' }],
    });
    const login = await fetch(`${server.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'admin@bench.test', password: 'bench-password' }) });
    const { accessToken } = (await login.json()) as { accessToken: string };
    const token = crypto.randomBytes(16).toString('hex');
    const inbox = await fetch(`${server.url}/api/v1/inboxes`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${accessToken}` },
      body: JSON.stringify({ name: 'SMS', channel: 'sms', provider: 'kannel', teamIds: [t.teamIds.Support], config: { username: 'u', webhookBaseUrl: server.url }, secrets: { password: 'p', webhookToken: token } }),
    });
    if (inbox.status !== 201) throw new Error(`creating the inbox answered ${inbox.status}: ${await inbox.text()}`);
    const inboxId = ((await inbox.json()) as { id: string }).id;

    // 50 sync sockets, each recording the highest poked seq and when it arrived.
    const seen: { seq: number; at: number }[] = [];
    for (let i = 0; i < CLIENTS; i++) {
      const ws = new WebSocket(`${server.url.replace('http', 'ws')}/sync`);
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      });
      const slot = { seq: 0, at: 0 };
      seen.push(slot);
      ws.on('message', (d) => {
        const m = JSON.parse(String(d)) as { t: string; seq?: number };
        if (m.t === 'poke' && (m.seq ?? 0) > slot.seq) {
          slot.seq = m.seq!;
          slot.at = performance.now();
        }
      });
      ws.send(JSON.stringify({ t: 'auth', token: accessToken }));
      sockets.push(ws);
    }
    await new Promise((r) => setTimeout(r, 300));
    const connected = server.sockets.connectionCount;

    const msgs = Array.from({ length: N }, (_, i) => ({ from: `+86138${String(i % 500).padStart(8, '0')}`, text: `你好，我的订单 ${i} 还没有到，请帮忙查一下。`, id: crypto.randomUUID() }));
    const latencies: number[] = [];
    // Every transaction of the server during the run (the ingest's own, and the ops bus's after it).
    let transactions = 0;
    const tx = server.db.tx.bind(server.db);
    server.db.tx = (fn) => {
      transactions++;
      return tx(fn);
    };
    const t0 = performance.now();
    await pool(msgs, CONCURRENCY, async (m) => {
      const s = performance.now();
      const res = await fetch(`${server.url}/webhooks/kannel/${inboxId}/inbound?token=${token}&from=${encodeURIComponent(m.from)}&to=12345&text=${encodeURIComponent(m.text)}&coding=0&charset=UTF-8&id=${m.id}`);
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`inbound answered ${res.status}`);
      latencies.push(performance.now() - s);
    });
    const stored = performance.now();
    const finalSeq = await server.workspace.currentSeq(t.tenantId);
    const deadline = Date.now() + 30_000;
    while (seen.some((x) => x.seq < finalSeq) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
    const fannedOut = Math.max(...seen.map((x) => x.at));
    // The ops bus's backlog: every event of the run digested.
    const opsDeadline = Date.now() + 600_000;
    while ((await server.db.one<{ n: number }>("SELECT COUNT(*) AS n FROM ops_jobs WHERE kind = 'event'"))!.n > 0 && Date.now() < opsDeadline) await new Promise((r) => setTimeout(r, 5));
    const processed = performance.now();
    const txDuringRun = transactions;
    server.db.tx = tx;
    const count = Number((await server.db.one<{ n: number }>('SELECT COUNT(*) AS n FROM messages WHERE inbox_id = ?', [inboxId]))!.n);
    if (count !== N) throw new Error(`stored ${count} of ${N}`);
    const perSecond = N / ((fannedOut - t0) / 1000);

    const bare = await baseline(server.db);
    return {
      name: 'inbound-sms-fanout',
      db: dialect,
      messages: N,
      clients: connected,
      concurrency: CONCURRENCY,
      perSecond: round(perSecond),
      storedPerSecond: round(N / ((stored - t0) / 1000)),
      fanoutLagMs: round(fannedOut - stored),
      processedPerSecond: round(N / ((processed - t0) / 1000)),
      processedRatioToBaseline: round(N / ((processed - t0) / 1000) / bare, 3),
      opsBatch: server.ops.batch,
      opsJobs: server.ops.stats.jobs,
      opsTransactions: server.ops.stats.transactions,
      opsFallbacks: server.ops.stats.fallbacks,
      latencyP50Ms: round(pct(latencies, 50), 2),
      latencyP99Ms: round(pct(latencies, 99), 2),
      baselineInsertPerSecond: round(bare),
      ratioToBaseline: round(perSecond / bare, 3),
      groupCommit: GROUP ? { transactions: server.workspace.commits.stats.transactions, largestGroup: server.workspace.commits.stats.largest } : 'off',
      transactionsPerMessage: round(txDuringRun / N, 2),
      storage: dialect === 'sqlite' ? (DISK ? 'disk' : 'tmpfs') : 'postgres',
      unit: 'messages/s',
    };
  } finally {
    for (const ws of sockets) ws.terminate();
    await server.close();
    await pgDb?.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

export async function inboundBench(dialects: ('sqlite' | 'postgres')[] = ['sqlite', 'postgres']): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for (const d of dialects) {
    if (!AB) {
      const r = await run(d);
      console.log(JSON.stringify(r));
      out.push(r);
      continue;
    }
    const rounds: Record<string, unknown>[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      for (const batch of i % 2 === 0 ? [50, 1] : [1, 50]) {
        const r = { ...(await run(d, batch)), name: 'inbound-sms-fanout-ab-round', round: i };
        console.error(JSON.stringify(r));
        rounds.push(r);
      }
    }
    const median = (xs: number[]) => {
      const s = [...xs].sort((a, b) => a - b);
      return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
    };
    const of = (batch: number, k: string) => round(median(rounds.filter((r) => r['opsBatch'] === batch).map((r) => Number(r[k]))), 3);
    const r = {
      name: 'inbound-sms-fanout-ops-ab',
      db: d,
      storage: rounds[0]!['storage'],
      rounds: ROUNDS,
      messages: N,
      batched: { perSecond: of(50, 'perSecond'), processedPerSecond: of(50, 'processedPerSecond'), ratioToBaseline: of(50, 'ratioToBaseline'), processedRatioToBaseline: of(50, 'processedRatioToBaseline'), transactionsPerMessage: of(50, 'transactionsPerMessage'), baselineInsertPerSecond: of(50, 'baselineInsertPerSecond') },
      perListener: { perSecond: of(1, 'perSecond'), processedPerSecond: of(1, 'processedPerSecond'), ratioToBaseline: of(1, 'ratioToBaseline'), processedRatioToBaseline: of(1, 'processedRatioToBaseline'), transactionsPerMessage: of(1, 'transactionsPerMessage'), baselineInsertPerSecond: of(1, 'baselineInsertPerSecond') },
      processedSpeedup: round(of(50, 'processedPerSecond') / of(1, 'processedPerSecond'), 2),
      unit: 'messages/s (medians of the rounds)',
    };
    console.log(JSON.stringify(r));
    out.push(r);
  }
  return out;
}


if (import.meta.url === `file://${process.argv[1]}`) {
  const which = process.argv[2];
  await inboundBench(which === 'sqlite' || which === 'postgres' ? [which] : ['sqlite', 'postgres']);
  process.exit(0);
}

/**
 * Issue 11 (`pnpm bench reports`): reports over a large history, on SQLite and PostgreSQL.
 *
 *  - `reports-overview`: GET /api/v1/reports/overview over a year holding BENCH_MESSAGES messages
 *    (default 1,000,000) in BENCH_CONVERSATIONS conversations (default 100,000), through the real
 *    server (HTTP, auth, rollups), median of BENCH_REPEAT runs; target < 200 ms. Ratio to a plain
 *    scan of the same facts (one SQL count of messages in/out and conversations over the year, in
 *    this process, no HTTP) measured in the same run.
 *  - `reports-timeseries`: GET /api/v1/reports/timeseries?metric=messages_in&interval=day, same data.
 *  - `suggestions`: GET /api/v1/conversations/{id}/suggestions with ≥ 10,000 past answers (the
 *    engine reads the newest 10,000): the first call (reads the answers) and warm calls; ratio to
 *    GET /api/v1/me on the same server.
 *
 *  - `reports-percentiles` (issue 11 follow-up, BENCH_PERCENTILE_CONVERSATIONS=100000,1000000, SQLite
 *    only, instead of the figures above): the overview's seven distributions (median/P90 of first and
 *    next response and resolution in business and wall seconds, handle time) over one year in
 *    Asia/Shanghai, from every duration row (the old path: seven reads, percentiles in JS) and from the
 *    hourly/daily histograms (one read), median of BENCH_REPEAT runs each, in the same process, as a
 *    ratio; the same for the agents report's first response per agent. The durations are bulk-inserted
 *    as the fold writes them (~5.7 per conversation: 1 first, 4 next, 0.7 resolution, 0.1 handle, random
 *    log-uniform waits, 3 inboxes × 2 teams × 8 agents) and the histograms filled by migration 461's
 *    backfill (timed). Also reports the largest relative error of a median/P90 against the exact one.
 *
 * Seeding: bulk multi-row inserts of contacts, conversations and messages into the demo workspace,
 * then the rollups through the rollup rebuild (domain/reportRebuild.ts, the live listener's fold).
 * Env: BENCH_MESSAGES, BENCH_CONVERSATIONS, BENCH_REPEAT (default 7), BENCH_DIALECTS (sqlite,postgres).
 * Prints one JSON line per figure.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { silentLogger } from '@goutong/core';
import { loadConfig } from '../src/config.js';
import { startServer, type RunningServer } from '../src/server.js';
import type { Param, Queryable } from '../src/db/db.js';
import { rebuildReports } from '../src/domain/reportRebuild.js';
import { costPerHead, durations, overviewDistributions, rollupTotals, savePricing } from '../src/domain/reports.js';
import { csatSummary } from '../src/domain/csat.js';
import { DEMO_QA } from '../src/demoHistory.js';
import { backfillHistograms, distributionOf, histogramDistributions } from '../src/domain/reportHistograms.js';
import { ReportQuery, type Distribution } from '@goutong/core';
import { seededRandom } from '@goutong/core/testing';
import { calendarFor } from '../src/domain/businessHours.js';
import { createTestDatabase } from '../test/support/pg.js';

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 1_000_000);
const CONVERSATIONS = Number(process.env.BENCH_CONVERSATIONS ?? 100_000);
const REPEAT = Number(process.env.BENCH_REPEAT ?? 7);
const DIALECTS = (process.env.BENCH_DIALECTS ?? 'sqlite,postgres').split(',').map((s) => s.trim()) as Array<'sqlite' | 'postgres'>;
const DAY = 86_400_000;
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;

/** Customer questions and the team's answers (zh and en; the demo history's), varied per conversation. */
const QA: Array<[string, string]> = DEMO_QA.map((x) => [x.question, x.answer]);

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t0 = performance.now();
  const r = await fn();
  return [performance.now() - t0, r];
}

async function insertRows(q: Queryable, table: string, cols: readonly string[], rows: Param[][]): Promise<void> {
  const per = Math.max(1, Math.floor(30_000 / cols.length));
  for (let i = 0; i < rows.length; i += per) {
    const chunk = rows.slice(i, i + per);
    await q.run(`INSERT INTO ${table} (${cols.join(', ')}) VALUES ${chunk.map(() => `(${cols.map(() => '?').join(', ')})`).join(', ')}`, chunk.flat());
  }
}

async function seed(s: RunningServer, tenantId: string, from: number): Promise<{ messages: number; conversations: number; answers: number }> {
  const inbox = (await s.db.one<{ id: string; channel: string }>("SELECT id, channel FROM inboxes WHERE tenant_id = ? AND channel = 'api' ORDER BY created_at LIMIT 1", [tenantId]))!;
  const agents = (await s.db.all<{ id: string }>("SELECT id FROM agents WHERE tenant_id = ? ORDER BY id", [tenantId])).map((a) => String(a.id));
  const team = (await s.db.one<{ id: string }>('SELECT id FROM teams WHERE tenant_id = ? ORDER BY name LIMIT 1', [tenantId]))!.id;
  const perConv = Math.max(2, Math.round(MESSAGES / CONVERSATIONS));
  const contacts = Math.max(1, Math.floor(CONVERSATIONS / 5));
  const span = 360 * DAY;
  const seq = { n: 1_000_000 };
  let messages = 0;
  let answers = 0;
  const BATCH = 2_000; // conversations per transaction
  for (let c0 = 0; c0 < CONVERSATIONS; c0 += BATCH) {
    await s.db.tx(async (q) => {
      const contactRows: Param[][] = [];
      const convRows: Param[][] = [];
      const msgRows: Param[][] = [];
      for (let c = c0; c < Math.min(CONVERSATIONS, c0 + BATCH); c += 1) {
        const k = c % contacts;
        const contactId = `bc-${k}`;
        if (c < contacts) {
          contactRows.push([contactId, tenantId, `Customer ${k}`, JSON.stringify([{ channel: 'api', identifier: `bench-${k}` }]), '{}', from, from, ++seq.n]);
        }
        const created = from + Math.floor((c / CONVERSATIONS) * span);
        const agent = agents[c % agents.length]!;
        const resolved = c % 10 < 7;
        let t = created;
        for (let j = 0; j < perConv; j += 1) {
          const [question, answer] = QA[(c + Math.floor(j / 2)) % QA.length]!;
          t += (j % 2 === 0 ? 600 : 30 + (c % 300)) * 1000;
          const inbound = j % 2 === 0;
          if (!inbound) answers += 1;
          msgRows.push([
            `bm-${c}-${j}`, tenantId, `bv-${c}`, inbox.id, inbound ? 'in' : 'out', 'text', inbound ? 'contact' : 'agent', inbound ? null : agent,
            inbound ? `${question} (${c})` : answer, null, '[]', inbound ? null : 'accepted', null, t, t, t, '{}', null, null, ++seq.n,
          ]);
          messages += 1;
        }
        convRows.push([
          `bv-${c}`, tenantId, inbox.id, 'api', contactId, `Customer ${k}`, team, resolved ? 'resolved' : 'open', 'normal', agent, '[]', null,
          'preview', 'out', t, null, null, perConv, created, resolved ? t + 600_000 : t, ++seq.n,
        ]);
      }
      await insertRows(q, 'contacts', ['id', 'tenant_id', 'name', 'identities', 'attributes', 'created_at', 'updated_at', 'seq'], contactRows);
      await insertRows(q, 'contact_identities', ['tenant_id', 'channel', 'identifier', 'contact_id'], contactRows.map((r) => [tenantId, 'api', `bench-${String(r[0]).slice(3)}`, r[0]!]));
      await insertRows(q, 'conversations', [
        'id', 'tenant_id', 'inbox_id', 'channel', 'contact_id', 'contact_name', 'team_id', 'status', 'priority', 'assignee_id', 'labels', 'subject',
        'last_message_preview', 'last_message_direction', 'last_message_at', 'waiting_since', 'snoozed_until', 'message_count', 'created_at', 'updated_at', 'seq',
      ], convRows);
      await insertRows(q, 'messages', [
        'id', 'tenant_id', 'conversation_id', 'inbox_id', 'direction', 'kind', 'author_type', 'author_id', 'text', 'subject', 'attachments',
        'status', 'status_reason', 'device_time', 'server_time', 'created_at', 'meta', 'external_id', 'provider_message_id', 'seq',
      ], msgRows);
    });
  }
  return { messages, conversations: CONVERSATIONS, answers };
}

async function run(dialect: 'sqlite' | 'postgres'): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'goutong-bench-reports-'));
  const pg = dialect === 'postgres' ? await createTestDatabase('gtbench') : null;
  const config = loadConfig({ PORT: '0', GOUTONG_DATA_DIR: dir, GOUTONG_DEMO: '1', GOUTONG_LOG: 'silent', ...(pg ? { DATABASE_URL: pg.url } : {}) });
  const s = await startServer({ config, logger: silentLogger });
  try {
    const tenantId = String((await s.db.one<{ id: string }>("SELECT id FROM tenants WHERE slug = 'demo'"))!.id);
    await s.ops.drain();
    const to = Date.now();
    const from = to - 365 * DAY;
    await savePricing(s.db, tenantId, { currency: 'CNY', emailPerMessage: 0, imPerMessage: 0, apiPerMessage: 0.045, voicePerMinute: 0.1, transcriptionPerSecond: 0, monthlyBudget: null, timeZone: 'Asia/Shanghai' }, to);
    const [seedMs, seeded] = await timed(() => seed(s, tenantId, from + DAY));
    const [rebuildMs] = await timed(() => rebuildReports(s.db, tenantId, { now: Date.now(), calendarOf: (q, c) => calendarFor(q, c.tenantId, { inboxId: c.inboxId, teamId: c.teamId }) }));
    if (dialect === 'postgres') await s.db.run('ANALYZE');
    const base = { dialect, messages: seeded.messages, conversations: seeded.conversations, load: os.loadavg()[0]!.toFixed(1) };
    console.log(JSON.stringify({ name: 'reports-seed', ...base, insertS: round(seedMs / 1000), rebuildS: round(rebuildMs / 1000), rebuildMessagesPerS: Math.round(seeded.messages / (rebuildMs / 1000)) }));

    const login = await fetch(`${s.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'admin@demo.goutong', password: 'goutong-demo' }) });
    const token = ((await login.json()) as { accessToken: string }).accessToken;
    const get = async (p: string) => {
      const r = await fetch(`${s.url}${p}`, { headers: { authorization: `Bearer ${token}` } });
      if (!r.ok) throw new Error(`${p}: ${r.status} ${await r.text()}`);
      return r.json() as Promise<Record<string, unknown>>;
    };
    const range = `from=${from}&to=${to}&tz=Asia/Shanghai`;
    const measure = async (fn: () => Promise<unknown>) => {
      await fn(); // warm-up
      const xs: number[] = [];
      for (let i = 0; i < REPEAT; i += 1) xs.push((await timed(fn))[0]);
      return median(xs);
    };
    const overview = (await get(`/api/v1/reports/overview?${range}`)) as { messages: { in: number; out: number } };
    if (overview.messages.in + overview.messages.out < seeded.messages) throw new Error(`the overview counts ${overview.messages.in + overview.messages.out} messages, seeded ${seeded.messages}`);
    const scan = () =>
      Promise.all([
        s.db.one("SELECT COUNT(*) AS n, SUM(CASE WHEN direction = 'in' THEN 1 ELSE 0 END) AS i FROM messages WHERE tenant_id = ? AND server_time >= ? AND server_time < ?", [tenantId, from, to]),
        s.db.one('SELECT COUNT(*) AS n FROM conversations WHERE tenant_id = ? AND created_at >= ? AND created_at < ?', [tenantId, from, to]),
      ]);
    const scanMs = await measure(scan);
    const overviewMs = await measure(() => get(`/api/v1/reports/overview?${range}`));
    const seriesMs = await measure(() => get(`/api/v1/reports/timeseries?metric=messages_in&interval=day&${range}`));
    console.log(JSON.stringify({ name: 'reports-overview', ...base, ms: round(overviewMs), scanMs: round(scanMs), ratioToScan: round(overviewMs / scanMs, 3), targetMs: 200, met: overviewMs < 200 }));
    // What the overview's time goes to (each part alone, in this process, no HTTP).
    const rq = ReportQuery.parse({ from, to, tz: 'Asia/Shanghai' });
    const parts: Record<string, number> = {};
    for (const [k, fn] of [
      ['totals', () => rollupTotals(s.db, tenantId, rq, 'none')],
      ['byChannel', () => rollupTotals(s.db, tenantId, rq, 'channel')],
      ['byHour', () => rollupTotals(s.db, tenantId, rq, 'hour')],
      ['distributions', () => overviewDistributions(s.db, tenantId, rq)],
      ['csat', () => csatSummary(s.db, tenantId, rq)],
      ['costPerHead', () => costPerHead(s.db, tenantId, rq, 0)],
      // A month instead of the year: contacts' spans enclose it (each writes all year), one probe each.
      ['costPerHeadMonth', () => costPerHead(s.db, tenantId, { ...rq, from: to - 30 * DAY }, 0)],
      ['overviewMonth', () => get(`/api/v1/reports/overview?from=${to - 30 * DAY}&to=${to}&tz=Asia/Shanghai`)],
    ] as const) parts[`${k}Ms`] = round(await measure(fn));
    console.log(JSON.stringify({ name: 'reports-overview-parts', ...base, ...parts }));
    console.log(JSON.stringify({ name: 'reports-timeseries', ...base, ms: round(seriesMs), scanMs: round(scanMs), ratioToScan: round(seriesMs / scanMs, 3), targetMs: 200, met: seriesMs < 200 }));

    // Suggestions for a new customer question (a paraphrase), with ≥ 10,000 past answers.
    const inbox = (await s.db.one<{ id: string }>("SELECT id FROM inboxes WHERE tenant_id = ? AND channel = 'api' ORDER BY created_at LIMIT 1", [tenantId]))!.id;
    const inbound = await fetch(`${s.url}/api/v1/inboxes/${inbox}/inbound`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ externalId: 'bench-suggest', from: { identifier: 'bench-suggest', name: 'Bench' }, text: '请问我的快递为什么还没到呢' }),
    });
    const conversationId = String(((await inbound.json()) as { conversationId: string }).conversationId);
    const [coldMs, first] = await timed(() => get(`/api/v1/conversations/${conversationId}/suggestions`));
    const items = (first as { items: Array<{ text: string }> }).items;
    const warmMs = await measure(() => get(`/api/v1/conversations/${conversationId}/suggestions`));
    const meMs = await measure(() => get('/api/v1/me'));
    console.log(JSON.stringify({ name: 'suggestions', ...base, pastAnswers: Math.min(10_000, seeded.answers), coldMs: round(coldMs), ms: round(warmMs), baselineMeMs: round(meMs), ratioToMe: round(warmMs / meMs, 2), top: items[0]?.text ?? null }));
  } finally {
    await s.close();
    await pg?.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}


/** Issue 11 follow-up: overview percentiles from every duration row vs from the histograms (SQLite). */
async function runPercentiles(conversations: number): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'goutong-bench-pct-'));
  const config = loadConfig({ PORT: '0', GOUTONG_DATA_DIR: dir, GOUTONG_DEMO: '1', GOUTONG_LOG: 'silent' });
  const s = await startServer({ config, logger: silentLogger });
  try {
    const tenantId = String((await s.db.one<{ id: string }>("SELECT id FROM tenants WHERE slug = 'demo'"))!.id);
    await s.ops.drain();
    const to = Date.now();
    const from = to - 365 * DAY;
    const r = seededRandom(11);
    const logUniform = (lo: number, hi: number) => Math.round(lo * Math.exp(r() * Math.log(hi / lo)));
    const agents = Array.from({ length: 8 }, (_, i) => `bench-agent-${i}`);
    const cols = ['id', 'tenant_id', 'kind', 'conversation_id', 'channel', 'inbox_id', 'team_id', 'agent_id', 'at', 'seconds', 'business_seconds'];
    let rowsN = 0;
    const t0 = performance.now();
    const BATCH = 5_000;
    for (let c0 = 0; c0 < conversations; c0 += BATCH) {
      const rows: Param[][] = [];
      for (let c = c0; c < Math.min(conversations, c0 + BATCH); c += 1) {
        const created = from + Math.floor((c / conversations) * 364 * DAY) + Math.floor(r() * 3_600_000);
        const dims = ['api', `bench-inbox-${c % 3}`, `bench-team-${c % 2}`, agents[c % agents.length]!];
        const business = (s2: number) => Math.round(s2 * (0.3 + 0.7 * r()));
        const first = logUniform(5, 4 * 3600);
        let t = created + first * 1000;
        rows.push([`p-${c}-f`, tenantId, 'first_response', `pc-${c}`, ...dims, t, first, business(first)]);
        for (let j = 0; j < 4; j += 1) {
          const next = logUniform(10, 3600);
          t += (600 + next) * 1000;
          rows.push([`p-${c}-n${j}`, tenantId, 'next_response', `pc-${c}`, ...dims, t, next, business(next)]);
        }
        if (c % 10 < 7) {
          const res = Math.round((t - created) / 1000) + logUniform(60, 3 * 86_400);
          rows.push([`p-${c}-r`, tenantId, 'resolution', `pc-${c}`, ...dims, created + res * 1000, res, business(res)]);
        }
        if (c % 10 === 0) {
          const h = logUniform(30, 1800);
          rows.push([`p-${c}-h`, tenantId, 'handle', `pc-${c}`, ...dims, created + 120_000, h, h]);
        }
      }
      rowsN += rows.length;
      await s.db.tx((q) => insertRows(q, 'report_durations', cols, rows));
    }
    const insertMs = performance.now() - t0;
    const [backfillMs] = await timed(() => s.db.tx((q) => backfillHistograms(q, tenantId)));
    const histogramRows = Number((await s.db.one<{ n: number }>('SELECT COUNT(*) AS n FROM report_histograms'))!.n);
    const dailyRows = Number((await s.db.one<{ n: number }>("SELECT COUNT(*) AS n FROM report_histograms WHERE grain = 'day'"))!.n);
    await s.db.run('ANALYZE');
    const base = { dialect: 'sqlite', conversations, durations: rowsN, histogramRows, dailyRows, load: os.loadavg()[0]!.toFixed(1) };
    console.log(JSON.stringify({ name: 'reports-percentiles-seed', ...base, insertS: round(insertMs / 1000), backfillS: round(backfillMs / 1000) }));

    const rq = ReportQuery.parse({ from, to, tz: 'Asia/Shanghai' });
    const measure = async <T>(fn: () => Promise<T>): Promise<[number, T]> => {
      const out = await fn(); // warm-up
      const xs: number[] = [];
      for (let i = 0; i < REPEAT; i += 1) xs.push((await timed(fn))[0]);
      return [median(xs), out];
    };
    const [oldMs, exact] = await measure(() => overviewDistributions(s.db, tenantId, rq, { exact: true }));
    const [newMs, est] = await measure(() => overviewDistributions(s.db, tenantId, rq));
    const relErr = (a: Distribution[], b: Distribution[]) => {
      let worst = 0;
      a.forEach((d, i) => {
        if (d.count !== b[i]!.count) throw new Error(`count differs: ${d.count} vs ${b[i]!.count}`);
        for (const k of ['medianS', 'p90S'] as const) if (b[i]![k]) worst = Math.max(worst, Math.abs(d[k]! - b[i]![k]!) / b[i]![k]!);
      });
      return worst;
    };
    console.log(JSON.stringify({ name: 'reports-percentiles-overview', ...base, oldMs: round(oldMs), newMs: round(newMs), ratio: round(oldMs / newMs, 1), maxRelErr: round(relErr(est, exact), 4) }));
    // The agents report's first response per agent: the old loop (one read per agent) vs one read by agent.
    const [agentsOldMs, agentsExact] = await measure(async () => Promise.all(agents.map((a) => durations(s.db, tenantId, { ...rq, agentId: a }, 'first_response', true))));
    const [agentsNewMs, agentsEst] = await measure(async () => {
      const g = await histogramDistributions(s.db, tenantId, rq, [{ kind: 'first_response', clock: 'business' }], { byAgent: true });
      return agents.map((a) => distributionOf(g, a, { kind: 'first_response', clock: 'business' }));
    });
    console.log(JSON.stringify({ name: 'reports-percentiles-agents', ...base, agents: agents.length, oldMs: round(agentsOldMs), newMs: round(agentsNewMs), ratio: round(agentsOldMs / agentsNewMs, 1), maxRelErr: round(relErr(agentsEst, agentsExact), 4) }));
  } finally {
    await s.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const PERCENTILE_SIZES = (process.env.BENCH_PERCENTILE_CONVERSATIONS ?? '').split(',').map((x) => Number(x.trim())).filter((x) => x > 0);
if (PERCENTILE_SIZES.length > 0) for (const n of PERCENTILE_SIZES) await runPercentiles(n);
else for (const d of DIALECTS) await run(d);

/**
 * Group commit benchmark (issue 16), run by `pnpm bench`: commands from many devices at once
 * (`Workspace.applyCommands`, the path of `POST /api/v1/commands` without HTTP), committed with the
 * group commit and without it (one transaction per command), on SQLite on the disk (its fsyncs) and on
 * PostgreSQL. The two modes alternate in rounds on the same server so the machine's load hits both.
 * Prints one JSON line per database: `commands-group-commit`.
 *
 * Env: BENCH_GC_COMMANDS (per round, default 400), BENCH_GC_DEVICES (batches in flight, default 32),
 * BENCH_GC_ROUNDS (per mode, default 3), GOUTONG_TEST_PG.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { Uuidv7Generator, silentLogger } from '@goutong/core';
import { loadConfig } from '../src/config.js';
import { startServer } from '../src/server.js';
import { tenantBySlug } from '../src/domain/tenants.js';

const COMMANDS = Number(process.env.BENCH_GC_COMMANDS ?? 400);
const DEVICES = Number(process.env.BENCH_GC_DEVICES ?? 32);
const ROUNDS = Number(process.env.BENCH_GC_ROUNDS ?? 3);
const PG_ADMIN = process.env.GOUTONG_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ids = new Uuidv7Generator(Date.now, (n) => crypto.randomBytes(n));

async function pgDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `gt_benchgc_${crypto.randomBytes(5).toString('hex')}`;
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

async function run(dialect: 'sqlite' | 'postgres'): Promise<Record<string, unknown>> {
  // The disk, not tmpfs: the fsync of each commit is what grouping saves.
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'goutong-gc-'));
  const pgDb = dialect === 'postgres' ? await pgDatabase() : null;
  const server = await startServer({ config: loadConfig({ PORT: '0', HOST: '127.0.0.1', GOUTONG_DATA_DIR: dataDir, GOUTONG_DEMO: '1', GOUTONG_LOG: 'silent', ...(pgDb ? { DATABASE_URL: pgDb.url } : {}) }), logger: silentLogger });
  try {
    const ws = server.workspace;
    const tenantId = (await tenantBySlug(server.db, 'demo'))!.id;
    const admin = (await ws.agents(tenantId)).find((a) => a.role === 'admin')!;
    const inbox = (await ws.inboxes(tenantId)).find((i) => i.name === 'Demo API')!;
    const convs: string[] = [];
    for (let i = 0; i < 20; i++) convs.push((await ws.ingestInbound(inbox, { externalId: `gc-bench-${i}`, from: { identifier: `+86136${String(i).padStart(8, '0')}` }, text: '基准' })).conversation.id);

    const modes = { group: [] as number[], alone: [] as number[] };
    const txs = { group: [] as number[], alone: [] as number[] };
    for (let r = 0; r < ROUNDS * 2; r++) {
      const mode = r % 2 === 0 ? 'group' : 'alone';
      ws.commits.maxUnits = mode === 'group' ? 256 : 1;
      // DEVICES devices, each sending its batches of 2 commands one after the other.
      const perDevice = Math.ceil(COMMANDS / DEVICES / 2);
      const tx0 = ws.commits.stats.transactions;
      const t0 = performance.now();
      await Promise.all(Array.from({ length: DEVICES }, async (_, d) => {
        for (let b = 0; b < perDevice; b++) {
          const batch = [0, 1].map((k) => ({ type: 'add_note', id: ids.next(), deviceTime: Date.now(), conversationId: convs[(d + b + k) % convs.length]!, text: `note ${d}.${b}.${k}` }));
          const out = await ws.applyCommands(admin, batch);
          if (out.some((o) => o.outcome !== 'applied')) throw new Error(`not applied: ${JSON.stringify(out)}`);
        }
      }));
      const n = DEVICES * perDevice * 2;
      modes[mode].push(n / ((performance.now() - t0) / 1000));
      txs[mode].push((ws.commits.stats.transactions - tx0) / n);
    }
    ws.commits.maxUnits = 256;
    const group = median(modes.group);
    const alone = median(modes.alone);
    return {
      name: 'commands-group-commit',
      db: dialect,
      storage: dialect === 'sqlite' ? 'disk (synchronous=FULL)' : 'postgres',
      devices: DEVICES,
      commandsPerRound: COMMANDS,
      rounds: ROUNDS,
      groupCommit: { perSecond: round(group), transactionsPerCommand: round(median(txs.group), 3) },
      oneTransactionEach: { perSecond: round(alone), transactionsPerCommand: round(median(txs.alone), 3) },
      speedup: round(group / alone, 2),
      unit: 'commands/s',
    };
  } finally {
    await server.close();
    await pgDb?.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const which = process.argv[2];
  for (const d of which === 'sqlite' || which === 'postgres' ? [which] : (['sqlite', 'postgres'] as const)) console.log(JSON.stringify(await run(d)));
  process.exit(0);
}

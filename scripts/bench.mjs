#!/usr/bin/env node
// `pnpm bench`: every benchmark of the workspace in one run (not part of the tests).
// Each prints JSON lines; this script collects them, prints a summary, and writes
// bench-results.json. Figures are ratios against a baseline measured in the same run.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';

const only = process.argv[2] ?? null;
const benches = [
  { key: 'sync', cwd: 'packages/sync-server', cmd: ['npx', 'tsx', 'bench/sync.bench.ts'] },
  { key: 'server', cwd: 'packages/sync-server', cmd: ['npx', 'tsx', 'bench/server.bench.ts'] },
  { key: 'propagation-workers', cwd: 'packages/sync-server', cmd: ['npx', 'tsx', 'bench/propagation.bench.ts'] },
  { key: 'reports', cwd: 'packages/sync-server', cmd: ['npx', 'tsx', 'bench/reports.bench.ts'] },
  { key: 'suggest', cwd: 'packages/core', cmd: ['npx', 'tsx', 'bench/suggest.bench.ts'] },
  { key: 'group-commit', cwd: 'packages/sync-server', cmd: ['npx', 'tsx', 'bench/groupCommit.bench.ts'] },
  { key: 'inbound', cwd: 'packages/sync-server', cmd: ['npx', 'tsx', 'bench/inbound.bench.ts'], optional: 'packages/sync-server/bench/inbound.bench.ts' },
  { key: 'index-query', cwd: 'packages/storage-rxdb', cmd: ['node', 'bench/indexQuery.bench.mjs'] },
  { key: 'mobile-sqlite', cwd: 'packages/mobile', cmd: ['pnpm', 'run', 'bench'] },
  { key: 'desktop-open', cwd: 'packages/desktop', cmd: ['pnpm', 'run', 'bench'], optional: 'packages/desktop/bench/openApp.bench.mjs' },
];

const results = [];
for (const b of benches) {
  if (only && b.key !== only) continue;
  if (b.optional && !fs.existsSync(b.optional)) {
    console.log(`# ${b.key}: not present, skipped`);
    continue;
  }
  console.log(`# ${b.key}: ${b.cmd.join(' ')} (in ${b.cwd})`);
  const t0 = Date.now();
  const r = spawnSync(b.cmd[0], b.cmd.slice(1), { cwd: b.cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, env: { ...process.env, npm_config_nodedir: '/usr' } });
  const lines = (r.stdout ?? '').split('\n').filter((l) => l.trim().startsWith('{'));
  for (const l of lines) {
    try {
      const j = JSON.parse(l);
      results.push({ bench: b.key, ...j });
      console.log(l);
    } catch {
      /* not a result line */
    }
  }
  if (r.status !== 0) {
    console.log(`# ${b.key}: exited with ${r.status}\n${(r.stderr ?? '').split('\n').slice(-15).join('\n')}`);
  }
  console.log(`# ${b.key}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}
const meta = { date: new Date().toISOString(), node: process.version, cpus: os.cpus().length, cpu: os.cpus()[0]?.model ?? 'unknown', load: os.loadavg().map((x) => x.toFixed(2)) };
fs.writeFileSync('bench-results.json', `${JSON.stringify({ meta, results }, null, 2)}\n`);
console.log(`# wrote bench-results.json (${results.length} results; load average ${meta.load.join(' ')})`);

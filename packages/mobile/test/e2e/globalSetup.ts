// Builds what the mobile e2e test drives, when it is missing or older than its sources: the H5
// build (dist/build/h5, served by the sync server at /m/) and the server (root `tsc -b`).
// Skipped when GOUTONG_E2E=0, or when the command line names test files and none is an e2e one
// (so `npx vitest run --project mobile test/stores.test.ts` never waits for a build).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = fileURLToPath(new URL('../../', import.meta.url));
const root = path.resolve(pkg, '../..');
export const H5_INDEX = path.join(pkg, 'dist/build/h5/index.html');
export const SERVER_MAIN = path.join(root, 'packages/sync-server/dist/main.js');

function newest(p: string): number {
  if (!fs.existsSync(p)) return 0;
  const st = fs.statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  let max = 0;
  for (const e of fs.readdirSync(p)) max = Math.max(max, newest(path.join(p, e)));
  return max;
}

/** Whether `output` is missing or older than any source (`marker`, when given, stands for the build's time). */
function stale(output: string, sources: string[], marker?: string): boolean {
  if (!fs.existsSync(output)) return true;
  const out = Math.max(fs.statSync(output).mtimeMs, marker && fs.existsSync(marker) ? fs.statSync(marker).mtimeMs : 0);
  return sources.some((s) => newest(s) > out);
}

export function ensureBuilt(log: (s: string) => void = () => undefined): void {
  const sources = [
    path.join(pkg, 'src'),
    path.join(pkg, 'index.html'),
    path.join(pkg, 'vite.config.ts'),
    path.join(pkg, 'scripts/appShell.ts'),
    path.join(root, 'packages/core/src'),
    path.join(root, 'packages/storage-rxdb/src'),
  ];
  if (stale(path.join(pkg, 'dist/build/h5/sw.js'), sources)) {
    log('building H5 (dist/build/h5)');
    execFileSync(process.execPath, [path.join(pkg, 'scripts/uni.cjs'), 'build'], { cwd: pkg, stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, NODE_ENV: 'production' } });
  }
  // tsc -b rewrites only the outputs that changed; its build info is touched on every build.
  if (stale(SERVER_MAIN, [path.join(root, 'packages/core/src'), path.join(root, 'packages/sync-server/src')], path.join(root, 'packages/sync-server/tsconfig.tsbuildinfo'))) {
    log('building core and the server (tsc -b)');
    execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-b', 'packages/core', 'packages/sync-server'], { cwd: root, stdio: 'inherit' });
  }
}

/** Whether this vitest run includes the e2e files (no file filters, or a filter naming one). */
export function e2eSelected(argv: readonly string[] = process.argv): boolean {
  const i = argv.findIndex((a) => /vitest(\.mjs|\.js)?$/.test(a) || a.endsWith('vitest.mjs'));
  const rest = argv.slice(i >= 0 ? i + 1 : 2);
  const filters: string[] = [];
  for (let k = 0; k < rest.length; k++) {
    const a = rest[k]!;
    if (a === 'run' || a === 'watch' || a === 'related') continue;
    if (a.startsWith('-')) {
      // Options that take a value as the next argument.
      if (!a.includes('=') && /^--(project|config|root|dir|reporter|outputFile|testNamePattern|t|shard|pool|environment|maxWorkers|mode)$/.test(a.replace(/^-t$/, '--t'))) k++;
      continue;
    }
    filters.push(a);
  }
  return filters.length === 0 || filters.some((f) => /e2e/.test(f));
}

export default function setup(): void {
  if (process.env.GOUTONG_E2E === '0' || !e2eSelected()) return;
  const t0 = Date.now();
  ensureBuilt((s) => process.stdout.write(`[mobile e2e] ${s}\n`));
  if (Date.now() - t0 > 1000) process.stdout.write(`[mobile e2e] built in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
}

// Builds what the e2e tests drive when it is missing or older than its sources: the renderer
// (dist/renderer, served by the sync server at /app), the seeding harness (dist/harness, served to
// Chromium through request interception only) and the server itself (root `tsc -b`).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = fileURLToPath(new URL('../../', import.meta.url));
const root = path.resolve(pkg, '../..');

function newest(dir: string): number {
  let max = 0;
  if (!fs.existsSync(dir)) return 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) max = Math.max(max, newest(p));
    else max = Math.max(max, fs.statSync(p).mtimeMs);
  }
  return max;
}

function stale(output: string, sources: string[]): boolean {
  if (!fs.existsSync(output)) return true;
  const out = fs.statSync(output).mtimeMs;
  return sources.some((s) => newest(s) > out);
}

export function ensureBuilt(log: (s: string) => void = () => {}): void {
  const vite = path.join(pkg, 'node_modules/vite/bin/vite.js');
  const sources = [path.join(pkg, 'src/renderer'), path.join(pkg, 'src/shared'), path.join(root, 'packages/core/src'), path.join(root, 'packages/storage-rxdb/src')];
  if (stale(path.join(pkg, 'dist/renderer/index.html'), sources)) {
    log('building the renderer');
    execFileSync(process.execPath, [vite, 'build', '--logLevel', 'warn'], { cwd: pkg, stdio: 'inherit' });
  }
  if (stale(path.join(pkg, 'dist/harness/index.html'), [...sources, path.join(pkg, 'test/harness')])) {
    log('building the test harness');
    execFileSync(process.execPath, [vite, 'build', '--config', 'test/harness/vite.config.ts', '--logLevel', 'warn'], { cwd: pkg, stdio: 'inherit' });
  }
  if (!fs.existsSync(path.join(root, 'packages/sync-server/dist/main.js'))) {
    log('building the server');
    execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-b', 'packages/core', 'packages/sync-server', 'packages/storage-rxdb'], { cwd: root, stdio: 'inherit' });
  }
}

export default function setup(): void {
  if (process.env.GOUTONG_E2E === '0') return;
  ensureBuilt((s) => process.stdout.write(`[desktop e2e] ${s}\n`));
}

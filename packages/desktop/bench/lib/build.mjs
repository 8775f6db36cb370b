// Builds the renderer and the harness when missing or stale (shared by the e2e globalSetup and the bench).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = fileURLToPath(new URL('../../', import.meta.url));
const root = path.resolve(pkg, '../..');

function newest(dir) {
  let max = 0;
  if (!fs.existsSync(dir)) return 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    max = Math.max(max, e.isDirectory() ? newest(p) : fs.statSync(p).mtimeMs);
  }
  return max;
}

function stale(output, sources) {
  if (!fs.existsSync(output)) return true;
  const out = fs.statSync(output).mtimeMs;
  return sources.some((s) => newest(s) > out);
}

/** @param {(s: string) => void} [log] @param {{ server?: boolean }} [opts] */
export function ensureBuilt(log = () => {}, opts = {}) {
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
  if (opts.server && !fs.existsSync(path.join(root, 'packages/sync-server/dist/main.js'))) {
    log('building the server');
    execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-b', 'packages/core', 'packages/sync-server', 'packages/storage-rxdb'], { cwd: root, stdio: 'inherit' });
  }
}

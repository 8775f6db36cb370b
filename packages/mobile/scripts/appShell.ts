// Build step of the H5 app shell: writes `sw.js` (src/serviceWorker/sw.js with the shared app shell,
// this build's file list and a content version) next to index.html, so the H5 app opens with no network.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Plugin } from 'vite';
import { composeWorker } from '../../../scripts/app-shell-worker/index.mjs';

export const SW_FILE = 'sw.js';
/** Not precached: source maps, and the app-plus icons that uni copies into every target's static/. */
const SKIP = /(^|\/)(sw\.js|.*\.map|\.DS_Store)$|^static\/icons\/(android|ios)\//;

/** Every file of a build directory, relative, with `/` separators, sorted (the worker's precache list). */
export function shellFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else {
        const rel = path.relative(dir, p).split(path.sep).join('/');
        if (!SKIP.test(rel)) out.push(rel);
      }
    }
  };
  walk(dir);
  return out.sort();
}

/** The worker's source for a build directory: the template with the file list and a version of their contents. */
export function serviceWorkerSource(template: string, dir: string, builtAt: number = Date.now()): { source: string; version: string; files: string[] } {
  const files = shellFiles(dir);
  const hash = createHash('sha256');
  for (const f of files) hash.update(f).update('\0').update(fs.readFileSync(path.join(dir, f)));
  hash.update(template);
  // Build time first (13 digits, sorts as text), so the worker can tell the previous shell's cache.
  const version = `${String(builtAt).padStart(13, '0')}-${hash.digest('hex').slice(0, 16)}`;
  // Raw paths: the worker resolves them with `new URL(f, scope)`, which normalises them exactly as the
  // page's own references are (pnpm's "rxdb@17…" chunk names keep their "@").
  if (files.some((f) => /[?#%]/.test(f))) throw new Error(`a build file name cannot be cached as a URL: ${files.find((f) => /[?#%]/.test(f))}`);
  const source = composeWorker(template, { version, files });
  return { source, version, files };
}

/** Vite plugin (H5 builds only): writes the app shell's service worker once every file is written. */
export function appShellWorker(templateFile: string): Plugin {
  let outDir = '';
  return {
    name: 'goutong:app-shell-worker',
    apply: 'build',
    enforce: 'post',
    configResolved(config) {
      outDir = path.resolve(config.root, config.build.outDir);
    },
    // After writeBundle (uni copies src/static there), so static files are in the list.
    closeBundle() {
      if (process.env.UNI_PLATFORM !== 'h5' || !outDir || !fs.existsSync(path.join(outDir, 'index.html'))) return;
      const { source } = serviceWorkerSource(fs.readFileSync(templateFile, 'utf8'), outDir);
      fs.writeFileSync(path.join(outDir, SW_FILE), source);
    },
  };
}

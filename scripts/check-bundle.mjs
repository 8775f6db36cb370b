#!/usr/bin/env node
// Checks a served web build (the desktop renderer at /app, the mobile H5 app at /m):
//  - the initial JavaScript (entry scripts of index.html and the chunks they import statically),
//    gzipped, stays under a budget;
//  - no served file contains RxDB's dev-mode or validation (ajv) plugins;
//  - no public source maps: no *.map file and no sourceMappingURL comment in the served folder.
// Usage: node scripts/check-bundle.mjs <dir> [--budget-kb=N]   (exit code 1 on a problem)
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';

/**
 * Strings that only the dev-mode and validation plugins of RxDB contain (core RxDB keeps
 * `isDevMode()` hooks, which are fine). `dev-mode-iframe.html` is the dev-mode plugin's tracking
 * iframe; `schema with key or id` is an ajv error message (the validate-ajv storage).
 */
export const DEV_MODE_MARKERS = ['dev-mode-iframe.html', 'RxDBDevModePlugin', 'wrappedValidateAjvStorage', 'schema with key or id'];

const TEXT_FILE = /\.(?:m?js|cjs|css|html?|json|svg|txt|webmanifest)$/i;
const SOURCE_MAP_COMMENT = /[#@]\s*sourceMappingURL\s*=\s*(?!data:)\S+/;
// Static imports of a module chunk: `import{a}from"./x.js"`, `import"./x.js"`, `export*from"./x.js"`.
const STATIC_IMPORT = /(?:^|[^.\w$])(?:import|export)\s*(?:[\w$*{}\s,]*?\s*from\s*)?["'`]([^"'`]+\.m?js)["'`]/g;

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) out.push(...walk(full));
    else out.push(full);
  }
  return out;
}

/** Resolves a script URL of index.html (`/app/assets/x.js`, `./assets/x.js`, `assets/x.js`) to a file of dir. */
function resolveEntry(dir, src, files) {
  const clean = src.split(/[?#]/)[0];
  const rel = clean.replace(/^(?:\.\/)+/, '');
  const candidates = [path.join(dir, rel)];
  // Under a base path (`/app/assets/x.js`), drop leading segments until the file exists.
  const parts = clean.split('/').filter(Boolean);
  for (let i = 0; i < parts.length; i++) candidates.push(path.join(dir, ...parts.slice(i)));
  return candidates.find((c) => files.has(c)) ?? null;
}

/** The initial JavaScript: entry scripts and modulepreloads of index.html, plus their static imports (transitively). */
export function initialChunks(dir) {
  const files = new Set(walk(dir));
  const html = readFileSync(path.join(dir, 'index.html'), 'utf8');
  const queue = [];
  for (const m of html.matchAll(/<script\b[^>]*\bsrc=["']([^"']+)["'][^>]*>/gi)) queue.push(m[1]);
  for (const m of html.matchAll(/<link\b[^>]*\brel=["']modulepreload["'][^>]*\bhref=["']([^"']+)["'][^>]*>/gi)) queue.push(m[1]);
  const seen = new Set();
  const missing = [];
  for (const src of queue) {
    if (/^(?:https?:)?\/\//.test(src)) continue;
    const file = resolveEntry(dir, src, files);
    if (!file) {
      missing.push(src);
      continue;
    }
    if (seen.has(file)) continue;
    seen.add(file);
    const code = readFileSync(file, 'utf8');
    for (const m of code.matchAll(STATIC_IMPORT)) {
      const spec = m[1];
      if (!spec.startsWith('.')) continue;
      const dep = path.resolve(path.dirname(file), spec);
      if (files.has(dep) && !seen.has(dep)) queue.push(path.relative(dir, dep).split(path.sep).join('/'));
    }
  }
  return { files: [...seen], missing };
}

/**
 * All problems of the build in `dir` (an empty list when it passes).
 * @param {string} dir
 * @param {{ budgetKb: number }} options budget of the initial JavaScript, gzipped, in KiB
 */
export function checkBundle(dir, { budgetKb }) {
  const problems = [];
  const all = walk(dir);
  for (const file of all) {
    const rel = path.relative(dir, file);
    if (file.endsWith('.map')) {
      problems.push(`public source map: ${rel} (build with sourcemap off, or 'hidden' maps kept out of the served folder)`);
      continue;
    }
    if (!TEXT_FILE.test(file)) continue;
    const text = readFileSync(file, 'utf8');
    for (const marker of DEV_MODE_MARKERS) {
      if (text.includes(marker)) problems.push(`RxDB dev-mode/validation code in ${rel} (marker "${marker}"): gate it on import.meta.env.DEV`);
    }
    if (SOURCE_MAP_COMMENT.test(text)) problems.push(`sourceMappingURL to a public map in ${rel}`);
  }
  const initial = initialChunks(dir);
  for (const src of initial.missing) problems.push(`index.html loads ${src}, which is not in the build`);
  if (initial.files.length === 0) problems.push('index.html loads no script: cannot measure the initial JavaScript');
  const gzipBytes = initial.files.reduce((sum, f) => sum + gzipSync(readFileSync(f), { level: 9 }).length, 0);
  const gzipKb = gzipBytes / 1024;
  if (gzipKb > budgetKb) {
    problems.push(`initial JavaScript is ${gzipKb.toFixed(1)} KiB gzipped, over the budget of ${budgetKb} KiB (${initial.files.map((f) => path.relative(dir, f)).join(', ')})`);
  }
  return { problems, initialGzipKb: gzipKb, initialFiles: initial.files.map((f) => path.relative(dir, f)) };
}

function main(argv) {
  const args = argv.filter((a) => !a.startsWith('--'));
  const budgetArg = argv.find((a) => a.startsWith('--budget-kb='));
  if (args.length !== 1 || !budgetArg) {
    console.error('usage: node scripts/check-bundle.mjs <dir> --budget-kb=N');
    return 2;
  }
  const budgetKb = Number(budgetArg.slice('--budget-kb='.length));
  if (!Number.isFinite(budgetKb) || budgetKb <= 0) {
    console.error(`check-bundle: --budget-kb must be a positive number, got ${budgetArg}`);
    return 2;
  }
  const dir = path.resolve(args[0]);
  const { problems, initialGzipKb, initialFiles } = checkBundle(dir, { budgetKb });
  if (problems.length > 0) {
    console.error(`check-bundle: ${dir} fails:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    return 1;
  }
  console.log(`check-bundle: ${path.relative(process.cwd(), dir) || dir} ok: initial JS ${initialGzipKb.toFixed(1)} KiB gzip (budget ${budgetKb}) in ${initialFiles.join(', ')}; no source maps, no RxDB dev-mode`);
  return 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) process.exitCode = main(process.argv.slice(2));

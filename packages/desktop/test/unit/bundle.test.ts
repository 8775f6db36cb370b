// The bundle check of the served web builds (scripts/check-bundle.mjs, run by `pnpm build`): it must
// fire on RxDB dev-mode code, public source maps and an initial JavaScript over budget.
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { checkBundle } from '../../../../scripts/check-bundle.mjs';

const pkg = fileURLToPath(new URL('../../', import.meta.url));
let dirs: string[] = [];
afterEach(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
});

/** A small build like vite's: index.html loading /app/assets/index.js, which imports a shared chunk and lazy-loads another. */
function plantBuild(extra: Record<string, string> = {}): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'goutong-bundle-'));
  dirs.push(dir);
  mkdirSync(path.join(dir, 'assets'));
  const files: Record<string, string> = {
    'index.html': '<!doctype html><html><head><script type="module" crossorigin src="/app/assets/index-a1.js"></script></head><body></body></html>',
    'assets/index-a1.js': 'import{a as e}from"./shared-b2.js";const t=()=>import("./lazy-c3.js");console.log(e,t);',
    'assets/shared-b2.js': 'export const a=1;',
    'assets/lazy-c3.js': 'export const b=2;',
    ...extra,
  };
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return dir;
}

/** Pseudo-random text that gzip cannot shrink much. */
function incompressible(bytes: number): string {
  let x = 12345;
  let s = '';
  while (s.length < bytes) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    s += x.toString(36);
  }
  return s.slice(0, bytes);
}

describe('check-bundle', () => {
  it('passes a clean build and counts the entry and its static imports, not lazy chunks', () => {
    const result = checkBundle(plantBuild(), { budgetKb: 10 });
    expect(result.problems).toEqual([]);
    expect(result.initialFiles.sort()).toEqual(['assets/index-a1.js', 'assets/shared-b2.js']);
  });

  it('fails on RxDB dev-mode code in any served chunk, even a lazy one', () => {
    const dir = plantBuild({ 'assets/lazy-c3.js': 'const u="https://rxdb.info/html/dev-mode-iframe.html?version="+v;' });
    expect(checkBundle(dir, { budgetKb: 10 }).problems).toEqual([expect.stringMatching(/dev-mode.*lazy-c3\.js.*dev-mode-iframe\.html/)]);
  });

  it('fails on the ajv validation plugin', () => {
    const dir = plantBuild({ 'assets/lazy-c3.js': 'throw new Error(`schema with key or id "${k}" already exists`)' });
    expect(checkBundle(dir, { budgetKb: 10 }).problems.join('\n')).toMatch(/schema with key or id/);
  });

  it('fails on a public source map file and on a sourceMappingURL comment', () => {
    const dir = plantBuild({
      'assets/shared-b2.js': 'export const a=1;\n//# sourceMappingURL=shared-b2.js.map\n',
      'assets/shared-b2.js.map': '{"version":3}',
    });
    const problems = checkBundle(dir, { budgetKb: 10 }).problems.join('\n');
    expect(problems).toMatch(/public source map: assets\/shared-b2\.js\.map/);
    expect(problems).toMatch(/sourceMappingURL to a public map in assets\/shared-b2\.js/);
  });

  it('fails when the initial JavaScript is over budget, counting statically imported chunks', () => {
    const dir = plantBuild({ 'assets/shared-b2.js': `export const a=${JSON.stringify(incompressible(20_000))};` });
    const result = checkBundle(dir, { budgetKb: 10 });
    expect(result.initialGzipKb).toBeGreaterThan(10);
    expect(result.problems).toEqual([expect.stringMatching(/initial JavaScript is .* over the budget of 10 KiB/)]);
  });

  it('does not count a large lazy chunk against the budget', () => {
    const dir = plantBuild({ 'assets/lazy-c3.js': `export const b=${JSON.stringify(incompressible(20_000))};` });
    expect(checkBundle(dir, { budgetKb: 10 }).problems).toEqual([]);
  });

  it('fails when index.html loads a script that is not in the build', () => {
    const dir = plantBuild({ 'index.html': '<script type="module" src="/app/assets/gone.js"></script>' });
    expect(checkBundle(dir, { budgetKb: 10 }).problems.join('\n')).toMatch(/gone\.js, which is not in the build/);
  });

  const renderer = path.join(pkg, 'dist/renderer');
  it.skipIf(!existsSync(path.join(renderer, 'index.html')))('the built renderer (dist/renderer) passes under the budget of the build script', () => {
    const build = (JSON.parse(readFileSync(path.join(pkg, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.build;
    const budget = /--budget-kb=(\d+)/.exec(build ?? '');
    expect(budget, 'the build script runs check-bundle with a budget').not.toBeNull();
    expect(checkBundle(renderer, { budgetKb: Number(budget?.[1]) }).problems).toEqual([]);
  });
});

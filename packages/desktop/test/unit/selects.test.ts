// Issue 15: the workspace's selects are Element Plus (GtSelect); no template uses a native
// <select>. The e2e screens.e2e test checks the rendered screens; this checks every component,
// including forms no e2e opens.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const renderer = fileURLToPath(new URL('../../src/renderer/', import.meta.url));

function vueFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? vueFiles(path.join(dir, e.name)) : e.name.endsWith('.vue') ? [path.join(dir, e.name)] : []));
}

describe('selects', () => {
  it('no component template has a native <select> (GtSelect instead)', () => {
    const files = vueFiles(renderer);
    expect(files.length).toBeGreaterThan(50);
    const hits = files.flatMap((f) => {
      const template = readFileSync(f, 'utf8').replace(/<!--[\s\S]*?-->/g, '');
      return /<select[\s>]/i.test(template) ? [path.relative(renderer, f)] : [];
    });
    expect(hits).toEqual([]);
  });
});

import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const src = (f: string) => fs.readFileSync(fileURLToPath(new URL(`../src/${f}`, import.meta.url)), 'utf8');
const dist = fileURLToPath(new URL('../dist', import.meta.url));

describe('the embed loader', () => {
  it('imports nothing (no framework, no core): the page downloads only itself until the chat is opened', () => {
    expect(src('loader.ts')).not.toMatch(/^\s*import\s/m);
  });

  it('the chat UI imports only its own files and the backoff of @goutong/core, never a UI framework', () => {
    const imports = [...fs.readdirSync(fileURLToPath(new URL('../src', import.meta.url)))].flatMap((f) => [...src(f).matchAll(/^\s*import\s[^'"]*['"]([^'"]+)['"]/gm)].map((m) => m[1]!));
    expect(imports.filter((i) => !i.startsWith('./'))).toEqual(['@goutong/core']);
    const manifest = JSON.parse(fs.readFileSync(`${dist}/manifest.json`, 'utf8')) as { chat: string };
    const built = fs.readFileSync(`${dist}/${manifest.chat}`, 'utf8');
    for (const marker of ['createApp', '__VUE', 'React', 'ZodError', 'yjs']) expect(built.includes(marker), marker).toBe(false);
  });

  it('names the hashed chat file it loads (so the chat UI can be cached for good)', () => {
    const manifest = JSON.parse(fs.readFileSync(`${dist}/manifest.json`, 'utf8')) as { chat: string };
    expect(fs.readFileSync(`${dist}/widget.js`, 'utf8')).toContain(manifest.chat);
  });
});

#!/usr/bin/env node
// Builds the widget: the chat UI (dist/chat-<hash>.js, loaded on demand) and then the loader
// (dist/widget.js, the one <script> a site embeds, which names the chat file). Both are classic
// scripts (IIFE): a site needs no module support and no CORS for them. Then enforces the size budget.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { checkBudget } from './budget.mjs';

const pkg = fileURLToPath(new URL('..', import.meta.url));
const out = path.join(pkg, 'dist');
const coreSrc = fileURLToPath(new URL('../../core/src/index.ts', import.meta.url));

const common = (entry, fileName, define = {}) => ({
  configFile: false,
  logLevel: 'warn',
  root: pkg,
  define,
  resolve: { alias: [{ find: /^@goutong\/core$/, replacement: coreSrc }] },
  build: {
    outDir: out,
    emptyOutDir: false,
    target: 'es2019',
    minify: true,
    sourcemap: false,
    lib: { entry: path.join(pkg, entry), formats: ['iife'], name: 'GoutongWidget', fileName: () => fileName },
  },
});

fs.rmSync(out, { recursive: true, force: true });
await build(common('src/chat.ts', 'chat.js'));
const chat = fs.readFileSync(path.join(out, 'chat.js'));
const chatFile = `chat-${crypto.createHash('sha256').update(chat).digest('base64url').slice(0, 10)}.js`;
fs.renameSync(path.join(out, 'chat.js'), path.join(out, chatFile));
await build(common('src/loader.ts', 'widget.js', { __CHAT_FILE__: JSON.stringify(chatFile) }));
fs.writeFileSync(path.join(out, 'manifest.json'), JSON.stringify({ loader: 'widget.js', chat: chatFile }, null, 2));
process.exitCode = checkBudget(out) ? 0 : 1;

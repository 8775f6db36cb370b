// Shared by the e2e tests and the benchmark: Debian's Chromium through playwright-core, and an
// "offline origin" that serves the built renderer from disk through request interception while
// every server request fails (the server is unreachable), plus the harness that seeds local data.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const pkg = fileURLToPath(new URL('../../', import.meta.url));
export const RENDERER_DIR = path.join(pkg, 'dist/renderer');
export const HARNESS_DIR = path.join(pkg, 'dist/harness');
/** Nothing listens on port 1: the WebSocket fails at once, HTTP is intercepted. */
export const OFFLINE_ORIGIN = 'http://127.0.0.1:1';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function launchChromium() {
  return chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS, headless: true });
}

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.json': 'application/json', '.map': 'application/json', '.svg': 'image/svg+xml', '.woff2': 'font/woff2', '.woff': 'font/woff', '.ttf': 'font/ttf' };

function fileIn(dir, rel) {
  const file = path.resolve(dir, rel || 'index.html');
  const inside = file.startsWith(path.resolve(dir) + path.sep);
  return inside && fs.existsSync(file) && fs.statSync(file).isFile() ? file : path.join(dir, 'index.html');
}

/** Serves the renderer (and the harness) at `${origin}/app/` from disk; everything else is refused. */
export async function serveOffline(context, origin = OFFLINE_ORIGIN) {
  await context.route(`${origin}/**`, async (route) => {
    const url = new URL(route.request().url());
    let file = null;
    if (url.pathname.startsWith('/app/__harness/')) file = fileIn(HARNESS_DIR, decodeURIComponent(url.pathname.slice('/app/__harness/'.length)));
    else if (url.pathname.startsWith('/app/')) file = fileIn(RENDERER_DIR, decodeURIComponent(url.pathname.slice('/app/'.length)));
    if (!file) return route.abort('connectionrefused');
    return route.fulfill({ status: 200, path: file, headers: { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-cache' } });
  });
}

/** Writes `count` conversations and a saved session into the origin's IndexedDB and localStorage. */
export async function seedLocal(context, { count, origin = OFFLINE_ORIGIN, seed = 1 }) {
  const page = await context.newPage();
  try {
    await page.goto(`${origin}/app/__harness/index.html`);
    await page.waitForFunction(() => document.getElementById('state')?.textContent === 'ready');
    return await page.evaluate((o) => globalThis.goutongHarness.seed(o), { count, seed, serverUrl: origin });
  } finally {
    await page.close();
  }
}

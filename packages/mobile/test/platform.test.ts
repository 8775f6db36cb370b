// The H5 platform pieces without a browser: the app shell's service worker (run on fakes of the
// worker's globals), its build step, its registration, the REST seam (uploads, canned responses)
// and the browser network monitor.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { TransportError } from '@goutong/core';
import { serviceWorkerSource, shellFiles } from '../scripts/appShell';
import { registerAppShell, shellWorkerUrl } from '../src/app/appShell';
import { createServerApi, parseAttachment, type RawSender } from '../src/app/uniServerApi';
import { browserNetworkMonitor } from '../src/app/uniDevice';
import { e2eSelected } from './e2e/globalSetup';

const TEMPLATE = fs.readFileSync(fileURLToPath(new URL('../src/serviceWorker/sw.js', import.meta.url)), 'utf8');

function buildDir(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'goutong-shell-'));
  for (const [f, body] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), body);
  }
  return dir;
}

/** Runs the worker's source against fakes of `self`, `caches` and `fetch`. */
function runWorker(source: string, opts: { caches?: Map<string, Map<string, string>>; online?: boolean } = {}) {
  const store = opts.caches ?? new Map<string, Map<string, string>>();
  const state = { online: opts.online ?? true, fetched: [] as string[], skipWaiting: 0, claimed: 0 };
  const listeners: Record<string, (e: unknown) => void> = {};
  const res = (url: string, body: string) => ({ url, ok: true, type: 'basic', body, clone: () => res(url, body) });
  const open = async (name: string) => {
    if (!store.has(name)) store.set(name, new Map());
    const c = store.get(name)!;
    const key = (r: unknown) => (typeof r === 'string' ? r : (r as { url: string }).url);
    return {
      match: async (r: unknown, o?: { ignoreSearch?: boolean }) => {
        const k = o?.ignoreSearch ? key(r).split('?')[0]! : key(r);
        return c.has(k) ? res(k, c.get(k)!) : undefined;
      },
      put: async (r: unknown, v: { body: string }) => void c.set(key(r), v.body),
      addAll: async (reqs: Array<{ url: string }>) => {
        for (const r of reqs) c.set(r.url, (await fakeFetch(r)).body);
      },
    };
  };
  const fakeFetch = async (r: unknown) => {
    const url = typeof r === 'string' ? r : (r as { url: string }).url;
    state.fetched.push(url);
    if (!state.online) throw new TypeError('Failed to fetch');
    return res(url, `network:${url}`);
  };
  const self = {
    registration: { scope: 'http://127.0.0.1:8080/m/' },
    location: { origin: 'http://127.0.0.1:8080' },
    addEventListener: (type: string, fn: (e: unknown) => void) => void (listeners[type] = fn),
    skipWaiting: async () => void state.skipWaiting++,
    clients: { claim: async () => void state.claimed++, matchAll: async () => [], openWindow: async () => null },
  };
  const caches = {
    open,
    keys: async () => [...store.keys()],
    delete: async (k: string) => store.delete(k),
    match: async (r: unknown) => {
      for (const name of store.keys()) {
        const hit = await (await open(name)).match(r);
        if (hit) return hit;
      }
      return undefined;
    },
  };
  class FakeRequest {
    constructor(readonly url: string) {}
  }
  new Function('self', 'caches', 'fetch', 'URL', 'Request', source)(self, caches, fakeFetch, URL, FakeRequest);
  const waitUntil = async (type: string) => {
    let p: Promise<unknown> = Promise.resolve();
    listeners[type]!({ waitUntil: (x: Promise<unknown>) => (p = x) });
    await p;
  };
  /** A fetch event; resolves with the body served by the worker, or null when it let the request through. */
  const request = async (url: string, init: { mode?: string; method?: string } = {}) => {
    const responded: Array<Promise<{ body: string }>> = [];
    listeners.fetch!({ request: { url, method: init.method ?? 'GET', mode: init.mode ?? 'cors' }, respondWith: (p: Promise<{ body: string }>) => responded.push(p) });
    return responded[0] ? (await responded[0]).body : null;
  };
  return { state, store, install: () => waitUntil('install'), activate: () => waitUntil('activate'), request };
}

describe('app shell service worker', () => {
  it('is written with every file of the build and a version that follows their contents', () => {
    const dir = buildDir({ 'index.html': '<html>', 'assets/index-abc.js': 'js', 'assets/pnpm-rxdb@17.js': 'x', 'static/icons/logo.png': 'png', 'static/icons/android/hdpi.png': 'png', 'sw.js': 'old' });
    expect(shellFiles(dir)).toEqual(['assets/index-abc.js', 'assets/pnpm-rxdb@17.js', 'index.html', 'static/icons/logo.png']);
    const a = serviceWorkerSource(TEMPLATE, dir, 1_700_000_000_000);
    expect(a.source).toContain('"assets/pnpm-rxdb@17.js"');
    expect(a.version).toMatch(/^1700000000000-[0-9a-f]{16}$/);
    expect(serviceWorkerSource(TEMPLATE, dir, 1_700_000_000_000).version).toBe(a.version);
    fs.writeFileSync(path.join(dir, 'assets/index-abc.js'), 'js2');
    expect(serviceWorkerSource(TEMPLATE, dir, 1_700_000_000_000).version).not.toBe(a.version);
    fs.rmSync(dir, { recursive: true });
  });

  it('precaches the shell, opens the app with no network, and leaves the API to the network', async () => {
    const dir = buildDir({ 'index.html': '<html>', 'assets/app.js': 'js' });
    const sw = runWorker(serviceWorkerSource(TEMPLATE, dir, 1).source);
    await sw.install();
    await sw.activate();
    expect(sw.state.skipWaiting).toBe(1);
    expect(sw.state.claimed).toBe(1);
    expect(sw.state.fetched).toEqual(['http://127.0.0.1:8080/m/assets/app.js', 'http://127.0.0.1:8080/m/index.html']);

    sw.state.online = false;
    // A reload of any app URL gets the cached index.html; assets come from the cache.
    expect(await sw.request('http://127.0.0.1:8080/m/', { mode: 'navigate' })).toBe('network:http://127.0.0.1:8080/m/index.html');
    expect(await sw.request('http://127.0.0.1:8080/m/index.html?x=1', { mode: 'navigate' })).toBe('network:http://127.0.0.1:8080/m/index.html');
    expect(await sw.request('http://127.0.0.1:8080/m/assets/app.js')).toBe('network:http://127.0.0.1:8080/m/assets/app.js');
    // The API, other paths, other origins and writes are not the worker's business.
    expect(await sw.request('http://127.0.0.1:8080/api/v1/sync/pull')).toBeNull();
    expect(await sw.request('http://127.0.0.1:8080/app/')).toBeNull();
    expect(await sw.request('https://cdn.example.com/m/x.png')).toBeNull();
    expect(await sw.request('http://127.0.0.1:8080/m/assets/app.js', { method: 'POST' })).toBeNull();
    fs.rmSync(dir, { recursive: true });
  });

  it('keeps the previous version for pages still running it, and drops older ones', async () => {
    const caches = new Map<string, Map<string, string>>();
    const dir = buildDir({ 'index.html': 'v', 'assets/a.js': 'a' });
    for (const t of [1, 2, 3]) {
      fs.writeFileSync(path.join(dir, 'assets/a.js'), `a${t}`);
      const sw = runWorker(serviceWorkerSource(TEMPLATE, dir, t).source, { caches });
      await sw.install();
      await sw.activate();
    }
    expect([...caches.keys()].map((k) => k.slice('goutong-m-shell-'.length, 'goutong-m-shell-'.length + 13))).toEqual(['0000000000002', '0000000000003']);
    fs.rmSync(dir, { recursive: true });
  });

  it('is registered next to the page, and a tapped notification opens its conversation', async () => {
    expect(shellWorkerUrl({ origin: 'http://h:1', pathname: '/m/' })).toEqual({ url: 'http://h:1/m/sw.js', scope: 'http://h:1/m/' });
    expect(shellWorkerUrl({ origin: 'http://h:1', pathname: '/m/index.html' })).toEqual({ url: 'http://h:1/m/sw.js', scope: 'http://h:1/m/' });
    const registered: unknown[] = [];
    let onMessage: ((e: { data?: unknown }) => void) | null = null;
    let persisted = false;
    const opened: string[] = [];
    const nav = {
      serviceWorker: { register: async (url: string, o?: unknown) => void registered.push([url, o]), addEventListener: (_: 'message', fn: (e: { data?: unknown }) => void) => void (onMessage = fn) },
      storage: { persisted: async () => persisted, persist: async () => (persisted = true) },
    };
    const env = process.env.NODE_ENV;
    process.env.NODE_ENV = 'production';
    try {
      expect(await registerAppShell((id) => opened.push(id), nav, { protocol: 'http:', origin: 'http://h:1', pathname: '/m/' } as Location)).toBe(true);
    } finally {
      process.env.NODE_ENV = env;
    }
    expect(registered).toEqual([['http://h:1/m/sw.js', { scope: 'http://h:1/m/' }]]);
    expect(persisted).toBe(true);
    onMessage!({ data: { type: 'goutong:open-conversation', conversationId: 'c-1' } });
    onMessage!({ data: { type: 'other' } });
    expect(opened).toEqual(['c-1']);
    expect(await registerAppShell(undefined, nav, { protocol: 'file:', origin: 'null', pathname: '/' } as Location)).toBe(false);
  });
});

describe('REST seam', () => {
  const file = { ref: 'r1', name: '现场 photo.jpg', mime: 'image/jpeg', size: 3 };

  function api(answer: (url: string, init: Parameters<RawSender>[1]) => { status: number; text: string } | Error) {
    const seen: Array<{ url: string; init: Parameters<RawSender>[1] }> = [];
    const send: RawSender = async (url, init) => {
      seen.push({ url, init });
      const a = answer(url, init);
      if (a instanceof Error) throw a;
      return a;
    };
    const bytes = new Uint8Array([1, 2, 3]).buffer;
    return { seen, api: createServerApi({ baseUrl: 'http://s/', token: async () => 'tok', send, bytes: async (f) => (f.ref === 'r1' ? bytes : null), download: async (u) => `blob:${u}` }) };
  }

  it('uploads the raw bytes with the type and the name, and reads the attachment back', async () => {
    const { api: a, seen } = api(() => ({ status: 201, text: JSON.stringify({ id: 'att1', name: '现场 photo.jpg', mime: 'image/jpeg', size: 3, sha256: 'f'.repeat(64), url: '/x' }) }));
    expect(await a.uploadAttachment(file)).toEqual({ id: 'att1', name: '现场 photo.jpg', mime: 'image/jpeg', size: 3, sha256: 'f'.repeat(64), url: '/x' });
    expect(seen[0]!.url).toBe('http://s/api/v1/attachments?name=%E7%8E%B0%E5%9C%BA%20photo.jpg');
    expect(seen[0]!.init).toMatchObject({ method: 'POST', headers: { authorization: 'Bearer tok', 'content-type': 'image/jpeg' } });
    expect(new Uint8Array(seen[0]!.init.body as ArrayBuffer)).toEqual(new Uint8Array([1, 2, 3]));
  });

  it('says which failures are worth retrying', async () => {
    const offline = api(() => new Error('request:fail'));
    const e1 = await offline.api.uploadAttachment(file).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(TransportError);
    expect((e1 as TransportError).retryable).toBe(true);
    const tooBig = api(() => ({ status: 413, text: JSON.stringify({ error: { code: 'too_large', message: 'file too large' } }) }));
    const e2 = (await tooBig.api.uploadAttachment(file).catch((e: unknown) => e)) as TransportError;
    expect([e2.retryable, e2.status, e2.message]).toEqual([false, 413, '/api/v1/attachments?name=%E7%8E%B0%E5%9C%BA%20photo.jpg: file too large']);
    const busy = api(() => ({ status: 503, text: 'down' }));
    expect(((await busy.api.uploadAttachment(file).catch((e: unknown) => e)) as TransportError).retryable).toBe(true);
    const gone = api(() => ({ status: 201, text: '{}' }));
    expect(((await gone.api.uploadAttachment({ ...file, ref: 'missing' }).catch((e: unknown) => e)) as TransportError).retryable).toBe(false);
    expect(() => parseAttachment('{"id":1}')).toThrow(/unexpected/);
  });

  it('gets JSON with the token and shows stored attachments through one download each', async () => {
    const { api: a, seen } = api(() => ({ status: 200, text: '{"items":[]}' }));
    expect(await a.getJson('/api/v1/canned-responses')).toEqual({ items: [] });
    expect(seen[0]).toMatchObject({ url: 'http://s/api/v1/canned-responses', init: { method: 'GET', headers: { authorization: 'Bearer tok' } } });
    expect(await a.attachmentUrl({ id: 'a b', mime: 'image/png' })).toBe('blob:http://s/api/v1/attachments/a%20b');
  });
});

describe('browser network monitor', () => {
  it('follows navigator.onLine and the online/offline events', () => {
    const handlers: Record<string, () => void> = {};
    const w = { navigator: { onLine: false }, addEventListener: (t: 'online' | 'offline', fn: () => void) => void (handlers[t] = fn) };
    const m = browserNetworkMonitor(w);
    const seen: boolean[] = [];
    m.subscribe((o) => seen.push(o));
    expect(m.isOnline()).toBe(false);
    handlers.online!();
    handlers.online!();
    handlers.offline!();
    expect(seen).toEqual([true, false]);
  });
});

describe('e2e global setup', () => {
  it('builds only when the run includes the e2e files', () => {
    const cli = ['/usr/bin/node', '/work/node_modules/vitest/vitest.mjs'];
    expect(e2eSelected([...cli, 'run'])).toBe(true);
    expect(e2eSelected([...cli, 'run', '--project', 'mobile'])).toBe(true);
    expect(e2eSelected([...cli, 'run', '--project', 'mobile', 'test/e2e'])).toBe(true);
    expect(e2eSelected([...cli, 'run', '--project', 'mobile', 'test/stores.test.ts', 'test/features.test.ts'])).toBe(false);
    expect(e2eSelected([...cli, 'run', '--project=mobile', '-t', 'canned', 'test/features.test.ts'])).toBe(false);
  });
});

describe('native dark mode', () => {
  const src = (f: string) => JSON.parse(fs.readFileSync(fileURLToPath(new URL(`../src/${f}`, import.meta.url)), 'utf8')) as Record<string, unknown>;

  it('every platform follows the system theme through theme.json, which defines each variable pages.json uses in both themes', () => {
    const manifest = src('manifest.json') as Record<string, { darkmode?: boolean; themeLocation?: string }>;
    for (const platform of ['app-plus', 'h5', 'mp-weixin']) {
      expect(manifest[platform]?.darkmode, platform).toBe(true);
      expect(manifest[platform]?.themeLocation, platform).toBe('theme.json');
    }
    const theme = src('theme.json') as { light: Record<string, string>; dark: Record<string, string> };
    expect(Object.keys(theme.dark).sort()).toEqual(Object.keys(theme.light).sort());
    expect(theme.dark.navBgColor).not.toBe(theme.light.navBgColor);
    const pages = JSON.stringify(src('pages.json'));
    const used = [...pages.matchAll(/"@(\w+)"/g)].map((m) => m[1]!);
    expect(used).toEqual(expect.arrayContaining(['navBgColor', 'navTxtStyle', 'bgColor']));
    for (const v of used) expect(theme.light[v], v).toBeDefined();
  });
});

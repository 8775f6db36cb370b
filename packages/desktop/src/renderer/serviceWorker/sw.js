/* Goutong desktop web app (/app): the service worker that lets the workspace reload with no network.
 *
 * The data is on the device already (IndexedDB, encrypted) and so is the session; this worker keeps
 * the page itself:
 *  - install: precaches every file of this build: the hashed assets the vite manifest lists and
 *    index.html (the list and a version of the build are written in at build time, see
 *    vite.config.ts), then takes over at once;
 *  - index.html (every navigation under /app/): network first, so a new deploy is picked up at the
 *    next load; the cached copy only when the network fails (offline, server down);
 *  - other GETs under /app/ (hashed assets): cache first, else the network (and kept);
 *  - everything else (the REST API under /api, the sync socket, attachments, other origins) is never
 *    touched or cached: those requests fail offline as they should, and core's outbox waits.
 */
// Service-worker globals (self, caches, fetch) come from eslint.config.js (globals.serviceworker).
const VERSION = '__GOUTONG_SW_VERSION__';
const FILES = /* __GOUTONG_SW_FILES__ */ [];
const PREFIX = 'goutong-app-shell-';
const CACHE = PREFIX + VERSION;

const scope = () => new URL(self.registration.scope);
const indexUrl = () => new URL('index.html', scope()).href;

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(FILES.map((f) => new Request(new URL(f, scope()).href, { cache: 'reload' }))))
      .then(() => self.skipWaiting()),
  );
});

// The previous build's cache is kept one version more: a page still running it may load one of its
// lazy chunks after this worker took over.
self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => {
        const older = keys.filter((k) => k.startsWith(PREFIX) && k !== CACHE && k < CACHE).sort().reverse();
        const newer = keys.filter((k) => k.startsWith(PREFIX) && k > CACHE);
        return Promise.all([...older.slice(1), ...newer].map((k) => caches.delete(k)));
      })
      .then(() => self.clients.claim()),
  );
});

async function networkFirstIndex(request) {
  const cache = await caches.open(CACHE);
  try {
    const res = await fetch(request);
    if (res.ok && res.type === 'basic') cache.put(indexUrl(), res.clone()).catch(() => undefined);
    return res;
  } catch (e) {
    const hit = (await cache.match(indexUrl())) ?? (await caches.match(indexUrl()));
    if (hit) return hit;
    throw e;
  }
}

async function cacheFirst(request) {
  const cache = await caches.open(CACHE);
  const hit = (await cache.match(request)) ?? (await caches.match(request));
  if (hit) return hit;
  const res = await fetch(request);
  if (res.ok && res.type === 'basic') cache.put(request, res.clone()).catch(() => undefined);
  return res;
}

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  const base = scope();
  if (url.origin !== base.origin || !url.pathname.startsWith(base.pathname)) return;
  if (request.mode === 'navigate' || url.href === indexUrl() || url.pathname === base.pathname) {
    event.respondWith(networkFirstIndex(request));
    return;
  }
  event.respondWith(cacheFirst(request));
});

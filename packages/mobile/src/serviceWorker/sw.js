/* Goutong mobile (H5): the app shell's service worker, so the app opens with no network at all.
 *
 * A field worker in a lift or a basement reloads the page, or the browser drops the tab and
 * reopens it: the page itself (index.html, the scripts and styles, the icons) must come from the
 * device. The data is already there (IndexedDB), the session too (localStorage); this worker keeps
 * the shell.
 *
 *  - install: precaches every file of this build (the list is written in at build time, with a
 *    version that changes whenever a file does), then takes over at once (the previous version's
 *    cache stays until the next one, for pages still running it);
 *  - navigations under the scope: the cached index.html first (its hashed assets are in the same
 *    cache), the network only when the cache has nothing. The browser checks this file for a
 *    new version on navigation, so a new deploy installs in the background and the next start
 *    runs it;
 *  - other GETs under the scope (assets, static files): cache first, else network (and kept);
 *  - everything else (the API under /api, WebSockets, other origins) is not touched: requests go
 *    to the network as the page made them, and fail offline as they should; core's outbox holds
 *    the commands until the network is back.
 */
// Service-worker globals (self, caches, fetch) come from eslint.config.js (globals.serviceworker).
const VERSION = '__GOUTONG_SW_VERSION__';
const FILES = /* __GOUTONG_SW_FILES__ */ [];
const PREFIX = 'goutong-m-shell-';
const CACHE = PREFIX + VERSION;

const scope = () => new URL(self.registration.scope);

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(FILES.map((f) => new Request(new URL(f, scope()).href, { cache: 'reload' }))))
      .then(() => self.skipWaiting()),
  );
});

// The previous shell's cache is kept one more version: a page still running it may load one of
// its lazy chunks after this worker took over (the server has only the new build by then).
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

async function fromCacheOrNetwork(request, cacheKey) {
  const cache = await caches.open(CACHE);
  const hit = (await cache.match(cacheKey ?? request, { ignoreSearch: cacheKey !== undefined })) ?? (await caches.match(cacheKey ?? request));
  if (hit) return hit;
  const res = await fetch(request);
  if (res.ok && res.type === 'basic' && request.method === 'GET') cache.put(cacheKey ?? request, res.clone()).catch(() => undefined);
  return res;
}

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  const base = scope();
  if (url.origin !== base.origin || !url.pathname.startsWith(base.pathname)) return;
  if (request.mode === 'navigate') {
    event.respondWith(fromCacheOrNetwork(request, new URL('index.html', base).href));
    return;
  }
  event.respondWith(fromCacheOrNetwork(request));
});

// A notification of a newly assigned conversation (shown through this worker, which Android's
// Chrome requires): a tap focuses the app and opens the conversation.
self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const id = event.notification.data && event.notification.data.conversationId;
  event.waitUntil(
    self.clients.matchAll({ type: 'window', includeUncontrolled: true }).then((list) => {
      const client = list[0];
      if (client) {
        if (id) client.postMessage({ type: 'goutong:open-conversation', conversationId: id });
        return client.focus();
      }
      const hash = id ? '#/pages/conversation/index?id=' + encodeURIComponent(id) : '';
      return self.clients.openWindow(new URL('index.html' + hash, scope()).href);
    }),
  );
});

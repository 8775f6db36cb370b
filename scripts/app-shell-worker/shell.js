/* The app shell of Goutong's web apps (the desktop renderer at /app, the mobile H5 app at /m), shared
 * by both service workers: each app's sw.js calls goutongAppShell(...) with its cache prefix and how
 * it loads index.html; the build inlines this file in place of the shell marker (index.mjs).
 *
 *  - install: precaches every file of this build (the list and a version of the build are written in
 *    at build time), then takes over at once;
 *  - activate: the previous build's cache is kept one version more (a page still running it may load
 *    one of its lazy chunks after this worker took over), older and newer ones are dropped;
 *  - index.html (navigations under the scope, the scope itself, index.html): `network-first` (the
 *    desktop: a new deploy is picked up at the next load, the cached copy when the network fails) or
 *    `cache-first` (the mobile shell: the cached copy, the network only when the cache has none);
 *  - other GETs under the scope (hashed assets, static files): cache first, else the network (kept);
 *  - everything else (the REST API, the sync socket, attachments, other origins, writes) is never
 *    touched or cached: those requests fail offline as they should, and core's outbox waits.
 */
// eslint-disable-next-line @typescript-eslint/no-unused-vars
function goutongAppShell(options) {
  const { prefix, version, files, navigation } = options;
  const CACHE = prefix + version;
  const scope = () => new URL(self.registration.scope);
  const indexUrl = () => new URL('index.html', scope()).href;

  self.addEventListener('install', (event) => {
    event.waitUntil(
      caches
        .open(CACHE)
        .then((cache) => cache.addAll(files.map((f) => new Request(new URL(f, scope()).href, { cache: 'reload' }))))
        .then(() => self.skipWaiting()),
    );
  });

  self.addEventListener('activate', (event) => {
    event.waitUntil(
      caches
        .keys()
        .then((keys) => {
          const older = keys.filter((k) => k.startsWith(prefix) && k !== CACHE && k < CACHE).sort().reverse();
          const newer = keys.filter((k) => k.startsWith(prefix) && k > CACHE);
          return Promise.all([...older.slice(1), ...newer].map((k) => caches.delete(k)));
        })
        .then(() => self.clients.claim()),
    );
  });

  /** The cached copy (under `key`, query ignored, when given), from this build's cache or an older one. */
  async function cached(cache, request, key) {
    return (await cache.match(key ?? request, { ignoreSearch: key !== undefined })) ?? (await caches.match(key ?? request));
  }

  async function keep(cache, request, key, res) {
    if (res.ok && res.type === 'basic') cache.put(key ?? request, res.clone()).catch(() => undefined);
    return res;
  }

  async function cacheFirst(request, key) {
    const cache = await caches.open(CACHE);
    const hit = await cached(cache, request, key);
    if (hit) return hit;
    return keep(cache, request, key, await fetch(request));
  }

  async function networkFirst(request, key) {
    const cache = await caches.open(CACHE);
    try {
      return await keep(cache, request, key, await fetch(request));
    } catch (e) {
      const hit = await cached(cache, request, key);
      if (hit) return hit;
      throw e;
    }
  }

  self.addEventListener('fetch', (event) => {
    const request = event.request;
    if (request.method !== 'GET') return;
    const url = new URL(request.url);
    const base = scope();
    if (url.origin !== base.origin || !url.pathname.startsWith(base.pathname)) return;
    if (request.mode === 'navigate' || url.pathname === base.pathname || url.href.split('?')[0] === indexUrl()) {
      event.respondWith(navigation === 'network-first' ? networkFirst(request, indexUrl()) : cacheFirst(request, indexUrl()));
      return;
    }
    event.respondWith(cacheFirst(request));
  });
}

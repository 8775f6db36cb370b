/* Goutong mobile (H5): the app shell's service worker, so the app opens with no network at all.
 *
 * A field worker in a lift or a basement reloads the page, or the browser drops the tab and
 * reopens it: the page itself (index.html, the scripts and styles, the icons) must come from the
 * device. The data is already there (IndexedDB), the session too (localStorage); this worker keeps
 * the shell.
 *
 * The shell both web apps share (scripts/app-shell-worker/shell.js, inlined at build time by
 * scripts/appShell.ts) with the cached index.html first (its hashed assets are in the same cache),
 * the network only when the cache has nothing: the browser checks this file for a new version on
 * navigation, so a new deploy installs in the background and the next start runs it. The API,
 * WebSockets and other origins are not touched; core's outbox holds the commands until the network
 * is back.
 */
// Service-worker globals (self, caches, fetch) come from eslint.config.js (globals.serviceworker).
/* global goutongAppShell */
const VERSION = '__GOUTONG_SW_VERSION__';
const FILES = /* __GOUTONG_SW_FILES__ */ [];

/* __GOUTONG_SW_SHELL__ */

goutongAppShell({ prefix: 'goutong-m-shell-', version: VERSION, files: FILES, navigation: 'cache-first' });

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
      return self.clients.openWindow(new URL('index.html' + hash, self.registration.scope).href);
    }),
  );
});

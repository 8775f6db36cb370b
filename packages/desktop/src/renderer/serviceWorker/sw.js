/* Goutong desktop web app (/app): the service worker that lets the workspace reload with no network.
 *
 * The data is on the device already (IndexedDB, encrypted) and so is the session; this worker keeps
 * the page itself, with the app shell both web apps share (scripts/app-shell-worker/shell.js, inlined
 * at build time, see vite.config.ts): index.html network first (a new deploy is picked up at the next
 * load; the cached copy only when the network fails), hashed assets cache first, the API, the sync
 * socket and attachments never touched.
 */
// Service-worker globals (self, caches, fetch) come from eslint.config.js (globals.serviceworker).
/* global goutongAppShell */
const VERSION = '__GOUTONG_SW_VERSION__';
const FILES = /* __GOUTONG_SW_FILES__ */ [];

/* __GOUTONG_SW_SHELL__ */

goutongAppShell({ prefix: 'goutong-app-shell-', version: VERSION, files: FILES, navigation: 'network-first' });

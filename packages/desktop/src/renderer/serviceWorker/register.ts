// Registers the web app's service worker (serviceWorker/sw.js, written into the build as /app/sw.js)
// so the workspace reloads offline. Only in a browser over http(s): the Electron window loads the
// app from disk (app://) and needs none.
export function registerAppServiceWorker(w: { location: Location; navigator: Navigator } = globalThis as unknown as { location: Location; navigator: Navigator }): void {
  if (!/^https?:$/.test(w.location.protocol) || !('serviceWorker' in w.navigator)) return;
  // Only for the app served under /app/ (test harnesses elsewhere have no sw.js).
  if (!w.location.pathname.startsWith('/app/')) return;
  w.navigator.serviceWorker.register('/app/sw.js', { scope: '/app/' }).catch((e: unknown) => {
    console.warn('[goutong] the offline shell is not available:', e);
  });
}

// H5 only (main.ts imports it inside `#ifdef H5`): keeps the app usable with no network at all.
//  - registers the app shell's service worker (dist/build/h5/sw.js, written at build time by
//    scripts/appShell.ts), so reloading the page offline still opens the app;
//  - asks the browser to keep this site's storage (IndexedDB with the inbox and the outbox, the
//    queued attachments) instead of evicting it under storage pressure.

interface ShellNavigator {
  serviceWorker?: {
    register(url: string, opts?: { scope?: string }): Promise<unknown>;
    addEventListener?(type: 'message', fn: (e: { data?: unknown }) => void): void;
  };
  storage?: { persist?: () => Promise<boolean>; persisted?: () => Promise<boolean> };
}

/** The worker's URL and scope: next to the page (`/m/sw.js` when the app is served at `/m/`). */
export function shellWorkerUrl(loc: { origin: string; pathname: string }): { url: string; scope: string } {
  const dir = loc.pathname.endsWith('/') ? loc.pathname : loc.pathname.replace(/[^/]*$/, '');
  return { url: `${loc.origin}${dir}sw.js`, scope: `${loc.origin}${dir}` };
}

/**
 * `onOpenConversation` runs when a notification shown through the worker is tapped (the worker
 * posts the conversation's id to the page).
 */
export async function registerAppShell(
  onOpenConversation: (id: string) => void = () => undefined,
  nav: ShellNavigator | undefined = globalThis.navigator as ShellNavigator | undefined,
  loc: Location | undefined = globalThis.location,
): Promise<boolean> {
  if (!nav || !loc || !/^https?:$/.test(loc.protocol)) return false;
  nav.serviceWorker?.addEventListener?.('message', (e) => {
    const d = e.data as { type?: unknown; conversationId?: unknown } | undefined;
    if (d?.type === 'goutong:open-conversation' && typeof d.conversationId === 'string') onOpenConversation(d.conversationId);
  });
  try {
    if (nav.storage?.persist && !(await nav.storage.persisted?.())) await nav.storage.persist();
  } catch {
    // Not granted: the browser may still keep the data; nothing to do.
  }
  if (!nav.serviceWorker || process.env.NODE_ENV !== 'production') return false;
  try {
    const { url, scope } = shellWorkerUrl(loc);
    await nav.serviceWorker.register(url, { scope });
    return true;
  } catch (e) {
    console.warn('[goutong] app shell worker not registered', e);
    return false;
  }
}

// Builds the signed-in services: the local database (RxDB on IndexedDB, one per tenant and agent),
// the HTTP transport and core's local-first client. The stores read everything through these.
import {
  GoutongClient,
  HttpTransport,
  Uuidv7Generator,
  login as coreLogin,
  loginWithCode,
  Me,
  type Clock,
  type LocalStore,
  type Logger,
  type NetworkMonitor,
  type Session,
  type UploadPorts,
  TransportError,
} from '@goutong/core';
import { useHost, type SavedSession } from './host';
import { openLocalStore } from './localStore';
import { createServerApi, type ServerApi } from './serverApi';
import { lazyVault, memoryVault, openIndexedDbVault, type FileVault } from '../attachments/vault';
import { desktopUploadPorts, migrateLegacyQueue } from '../attachments/uploads';
import { cacheBlob } from '../attachments/blobCache';

export interface AppServices {
  client: GoutongClient;
  store: LocalStore;
  /** REST calls besides sync (attachments, admin screens); absent in offline unit tests. */
  api?: ServerApi;
  /** Files waiting to upload (IndexedDB); absent in unit tests, which use a memory vault. */
  files?: FileVault;
  /** Signs out on the server (best effort). */
  logout(): Promise<void>;
  dispose(): Promise<void>;
}

export interface ConnectHooks {
  onSession(session: Session): void;
  onSessionExpired(): void;
}

/** How the renderer opens the database and reaches the server; replaced in unit tests. */
export interface ServiceFactory {
  /** [accounts] With `mfa`: the second step of a two-factor login (the first step threw MfaRequiredError). */
  login(serverUrl: string, email: string, password: string, mfa?: { token: string; code: string }): Promise<SavedSession>;
  connect(saved: SavedSession, hooks: ConnectHooks): Promise<AppServices>;
}

export const browserClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => window.setTimeout(fn, ms),
  clearTimeout: (h) => window.clearTimeout(h as number),
};

export const browserNetwork: NetworkMonitor = {
  isOnline: () => navigator.onLine,
  subscribe(listener) {
    const on = () => listener(true);
    const off = () => listener(false);
    window.addEventListener('online', on);
    window.addEventListener('offline', off);
    return () => {
      window.removeEventListener('online', on);
      window.removeEventListener('offline', off);
    };
  },
};

export const consoleLogger: Logger = {
  debug: () => {},
  info: (m, f) => console.info(`[goutong] ${m}`, f ?? ''),
  warn: (m, f) => console.warn(`[goutong] ${m}`, f ?? ''),
  error: (m, f) => console.error(`[goutong] ${m}`, f ?? ''),
};

const fetchLike = (url: string, init: { method: string; headers: Record<string, string>; body?: string }) => window.fetch(url, init);

export function normaliseServerUrl(url: string): string {
  const u = new URL(url.trim());
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('server URL must start with http:// or https://');
  return u.origin + u.pathname.replace(/\/+$/, '');
}

/** The local database name of a signed-in agent. */
export function databaseName(saved: Pick<SavedSession, 'tenant' | 'agent'>): string {
  return `goutong-${saved.tenant.id}-${saved.agent.id}`.toLowerCase().replace(/[^a-z0-9_-]/g, '_');
}

export class DatabaseInUseError extends Error {
  override readonly name = 'DatabaseInUseError';
  constructor() {
    super('Goutong is already open in another tab or window of this browser for this account');
  }
}

/** Holds a Web Lock on the database until released; rejects when another tab holds it. */
async function holdDatabaseLock(name: string): Promise<() => void> {
  const locks = (navigator as Navigator & { locks?: LockManager }).locks;
  if (!locks) return () => {};
  return new Promise((resolve, reject) => {
    void locks.request(`goutong-db:${name}`, { ifAvailable: true }, (lock) => {
      if (!lock) {
        reject(new DatabaseInUseError());
        return undefined;
      }
      return new Promise<void>((release) => resolve(() => release()));
    });
  });
}

let storageModule: Promise<typeof import('@goutong/storage-rxdb')> | null = null;
/** Starts loading the database code at once (it is a separate chunk), in parallel with the UI. */
export function preloadStorage(): Promise<typeof import('@goutong/storage-rxdb')> {
  storageModule ??= import('@goutong/storage-rxdb');
  return storageModule;
}

export const browserServices: ServiceFactory = {
  async login(serverUrl, email, password, mfa) {
    const base = normaliseServerUrl(serverUrl);
    const opts = { baseUrl: base, fetch: fetchLike, now: Date.now };
    const electron = Boolean((globalThis as { goutong?: unknown }).goutong);
    const session = mfa
      ? await loginWithCode(opts, mfa.token, mfa.code)
      : await coreLogin(opts, email, password, { deviceName: electron ? 'Goutong desktop' : `Web (${navigator.userAgent.match(/(Firefox|Edg|Chrome|Safari)\/[\d]+/)?.[0] ?? 'browser'})`, platform: electron ? 'desktop' : 'web' });
    let res: Response;
    try {
      res = await window.fetch(`${base}/api/v1/me`, { headers: { authorization: `Bearer ${session.accessToken}` } });
    } catch (e) {
      throw new TransportError('network', `cannot reach the server: ${(e as Error).message}`);
    }
    if (!res.ok) throw new TransportError('http', `HTTP ${res.status}`, res.status);
    const me = Me.parse(await res.json());
    return { serverUrl: base, session, agent: me.agent, tenant: me.tenant };
  },

  async connect(saved, hooks) {
    const storage = await preloadStorage();
    const name = databaseName(saved);
    // One tab per local database: the store serialises writes within one JavaScript context only.
    const releaseLock = await holdDatabaseLock(name);
    // [accounts] Encrypted at rest with the device key (safeStorage in Electron, IndexedDB in a browser).
    const store = await openLocalStore(storage, name, useHost()).catch((e: unknown) => {
      releaseLock();
      throw e;
    });
    const transport = new HttpTransport({
      baseUrl: saved.serverUrl,
      fetch: fetchLike,
      webSocket: (url) => new WebSocket(url) as unknown as ReturnType<ConstructorParameters<typeof HttpTransport>[0]['webSocket']>,
      session: saved.session,
      now: Date.now,
      onSession: hooks.onSession,
      onSessionExpired: hooks.onSessionExpired,
    });
    const bytes = (n: number) => crypto.getRandomValues(new Uint8Array(n));
    const api = createServerApi({ baseUrl: saved.serverUrl, token: () => transport.freshToken() });
    const files = lazyVault(() => openIndexedDbVault(name).catch(() => memoryVault()));
    let syncing: () => boolean = () => false;
    const client = new GoutongClient({
      store,
      transport,
      clock: browserClock,
      ids: new Uuidv7Generator(Date.now, bytes),
      random: Math.random,
      logger: consoleLogger,
      network: browserNetwork,
      agent: { id: saved.agent.id, tenantId: saved.agent.tenantId, name: saved.agent.name },
      device: (globalThis as { goutong?: unknown }).goutong ? 'desktop' : 'web',
      // Replies with attachments and call recordings wait in core's upload queue, files in IndexedDB.
      uploads: desktopUploadPorts({ vault: () => files, api: () => api, isOnline: () => syncing(), onUploaded: (a, blob) => void cacheBlob(a.id, blob) }) as UploadPorts<unknown>,
    });
    syncing = () => ['online', 'syncing'].includes(client.connectivity.value.status);
    // Reads work at once from the local database; syncing starts in the background (after a queue
    // saved by an older version of the app has moved into the local store).
    void migrateLegacyQueue(files, store)
      .catch((e: unknown) => consoleLogger.warn('uploads: cannot move the old upload queue', { error: String(e) }))
      .then(() => client.start());
    return {
      client,
      store,
      api,
      files,
      logout: () => transport.logout(),
      async dispose() {
        await client.stop().catch(() => undefined);
        files.close();
        await store.close().catch(() => undefined);
        releaseLock();
      },
    };
  },
};

let factory: ServiceFactory = browserServices;
let services: AppServices | null = null;

export function setServiceFactory(f: ServiceFactory): void {
  factory = f;
}
export function serviceFactory(): ServiceFactory {
  return factory;
}
export function setServices(s: AppServices | null): void {
  services = s;
}
export function currentServices(): AppServices | null {
  return services;
}
export function requireServices(): AppServices {
  if (!services) throw new Error('not signed in');
  return services;
}

/** Calls `fn` after client changes, coalesced to one call per macrotask. */
export function onClientChange(fn: (change: import('@goutong/core').ClientChange) => void): () => void {
  const client = services?.client;
  if (!client) return () => undefined;
  let queued: import('@goutong/core').ClientChange | null = null;
  return client.changes.on((change) => {
    if (queued) {
      for (const [k, v] of Object.entries(change)) {
        const cur = (queued as Record<string, unknown>)[k];
        (queued as Record<string, unknown>)[k] = Array.isArray(cur) && Array.isArray(v) ? [...cur, ...v] : (v ?? cur);
      }
      return;
    }
    queued = { ...change };
    setTimeout(() => {
      const c = queued!;
      queued = null;
      fn(c);
    }, 0);
  });
}

// The Device of the real app: uni-app APIs for HTTP, WebSocket, network state, storage and the
// phone's dialer, feeding core's HttpTransport and GoutongClient.
import {
  GoutongClient,
  HttpTransport,
  login as coreLogin,
  Me,
  TransportError,
  Uuidv7Generator,
  type FetchLike,
  type Logger,
  type NetworkMonitor,
  type WebSocketFactory,
  type WebSocketLike,
} from '@goutong/core';
import { openDeviceStore } from '../storage';
import type { PlusSqliteApi } from '../storage/plusSqlite';
import type { AppServices, Device, SavedSession, SettingsKv } from './services';

export const uniFetch: FetchLike = (url, init) =>
  new Promise((resolve, reject) => {
    uni.request({
      url,
      method: init.method as 'GET' | 'POST',
      header: init.headers,
      ...(init.body !== undefined ? { data: init.body } : {}),
      dataType: 'text',
      responseType: 'text',
      success: (res) => {
        const body = typeof res.data === 'string' ? res.data : JSON.stringify(res.data ?? '');
        resolve({ status: res.statusCode, ok: res.statusCode >= 200 && res.statusCode < 300, text: async () => body });
      },
      fail: (err) => reject(new Error(err.errMsg || 'request failed')),
    });
  });

export const uniWebSocket: WebSocketFactory = (url) => {
  let state = 0; // CONNECTING
  const ws: WebSocketLike = {
    binaryType: 'arraybuffer',
    get readyState() {
      return state;
    },
    send(data) {
      const payload = typeof data === 'string' ? data : (data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer);
      task.send({ data: payload });
    },
    close(code, reason) {
      state = 2;
      task.close({ code: code ?? 1000, reason: reason ?? '' });
    },
    onopen: null,
    onmessage: null,
    onclose: null,
    onerror: null,
  };
  // A callback makes uni return the SocketTask on every platform (mini programs included).
  const task = uni.connectSocket({ url, complete: () => undefined });
  task.onOpen((ev) => {
    state = 1;
    ws.onopen?.(ev);
  });
  task.onMessage((ev) => ws.onmessage?.({ data: ev.data }));
  task.onError((ev) => ws.onerror?.(ev));
  task.onClose((ev: { code?: number; reason?: string }) => {
    state = 3;
    ws.onclose?.({ code: ev.code ?? 1006, reason: ev.reason ?? '' });
  });
  return ws;
};

export function uniNetworkMonitor(): NetworkMonitor {
  let online = true;
  const listeners = new Set<(online: boolean) => void>();
  const set = (next: boolean) => {
    if (next === online) return;
    online = next;
    for (const l of [...listeners]) l(online);
  };
  uni.getNetworkType({ success: (r) => set(r.networkType !== 'none') });
  uni.onNetworkStatusChange((r) => set(r.isConnected));
  return {
    isOnline: () => online,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

interface BrowserNetwork {
  navigator: { onLine: boolean };
  addEventListener(type: 'online' | 'offline', fn: () => void): void;
}

/**
 * H5: the browser's own `navigator.onLine` with its online/offline events. uni's H5 network API
 * prefers the Network Information API where it exists (Chromium), whose `type` is empty on
 * desktops and whose `effectiveType` stays "4g" with the network gone, so it never says offline.
 */
export function browserNetworkMonitor(w: BrowserNetwork): NetworkMonitor {
  let online = w.navigator.onLine !== false;
  const listeners = new Set<(online: boolean) => void>();
  const set = (next: boolean) => {
    if (next === online) return;
    online = next;
    for (const l of [...listeners]) l(online);
  };
  w.addEventListener('online', () => set(true));
  w.addEventListener('offline', () => set(false));
  return {
    isOnline: () => online,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  const c = (globalThis as { crypto?: { getRandomValues?: (a: Uint8Array) => Uint8Array } }).crypto;
  if (c?.getRandomValues) return c.getRandomValues(out);
  for (let i = 0; i < n; i++) out[i] = Math.floor(Math.random() * 256);
  return out;
}

const consoleLogger: Logger = {
  debug: () => undefined,
  info: (msg, fields) => console.info(`[goutong] ${msg}`, fields ?? ''),
  warn: (msg, fields) => console.warn(`[goutong] ${msg}`, fields ?? ''),
  error: (msg, fields) => console.error(`[goutong] ${msg}`, fields ?? ''),
};

export const uniSettings: SettingsKv = {
  get(key) {
    const v: unknown = uni.getStorageSync(`goutong.${key}`);
    return typeof v === 'string' && v !== '' ? v : null;
  },
  set(key, value) {
    uni.setStorageSync(`goutong.${key}`, value);
  },
  remove(key) {
    uni.removeStorageSync(`goutong.${key}`);
  },
};

function plusSqlite(): PlusSqliteApi | undefined {
  const g = globalThis as { plus?: { sqlite?: unknown } };
  return (g.plus?.sqlite as PlusSqliteApi | undefined) ?? (typeof plus !== 'undefined' ? (plus.sqlite as unknown as PlusSqliteApi) : undefined);
}

function normaliseUrl(url: string): string {
  const u = url.trim().replace(/\/+$/, '');
  return /^https?:\/\//i.test(u) ? u : `https://${u}`;
}

export function createUniDevice(platform: string): Device {
  const w = globalThis as unknown as Partial<BrowserNetwork>;
  const network = platform === 'h5' && w.navigator && typeof w.addEventListener === 'function' ? browserNetworkMonitor(w as BrowserNetwork) : uniNetworkMonitor();
  return {
    settings: uniSettings,
    now: () => Date.now(),

    async login(serverUrl, email, password): Promise<SavedSession> {
      const base = normaliseUrl(serverUrl);
      const session = await coreLogin({ baseUrl: base, fetch: uniFetch, now: Date.now }, email, password);
      const res = await uniFetch(`${base}/api/v1/me`, { method: 'GET', headers: { authorization: `Bearer ${session.accessToken}` } });
      if (!res.ok) throw new TransportError(res.status === 401 ? 'auth' : 'http', `HTTP ${res.status}`, res.status);
      const me = Me.parse(JSON.parse(await res.text()));
      return { serverUrl: base, session, agent: me.agent, tenant: me.tenant };
    },

    async connect(saved, hooks): Promise<AppServices> {
      const opened = await openDeviceStore({ platform, agentId: saved.agent.id, uni, sqlite: platform === 'app' ? plusSqlite() : undefined });
      const transport = new HttpTransport({
        baseUrl: saved.serverUrl,
        fetch: uniFetch,
        webSocket: uniWebSocket,
        session: saved.session,
        now: Date.now,
        onSession: hooks.onSession,
        onSessionExpired: hooks.onSessionExpired,
      });
      const client = new GoutongClient({
        store: opened.store,
        transport,
        clock: { now: Date.now, setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>) },
        ids: new Uuidv7Generator(Date.now, randomBytes),
        random: Math.random,
        logger: consoleLogger,
        network,
        agent: { id: saved.agent.id, tenantId: saved.agent.tenantId, name: saved.agent.name },
        device: 'mobile',
      });
      await client.start();
      return {
        client,
        store: opened.store,
        storageKind: opened.kind,
        workingSet: opened.workingSet,
        async dispose() {
          await client.stop();
          await opened.store.close();
        },
      };
    },

    makePhoneCall(phoneNumber) {
      return new Promise((resolve, reject) =>
        uni.makePhoneCall({ phoneNumber, success: () => resolve(), fail: (e) => reject(new Error(e.errMsg || 'cannot call')) }),
      );
    },

    defaultServerUrl() {
      // On H5 the app is served by the sync server itself (at /m/): same origin as the API.
      const loc = platform === 'h5' ? (globalThis as { location?: Location }).location : undefined;
      return loc && /^https?:$/.test(loc.protocol) ? loc.origin : null;
    },

    setNativeLocale(locale) {
      uni.setLocale(locale);
    },
  };
}

// The Device of the real app: uni-app APIs for HTTP, WebSocket, network state, storage and the
// phone's dialer, feeding core's HttpTransport and GoutongClient.
import {
  GoutongClient,
  HttpTransport,
  login as coreLogin,
  loginWithCode,
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
import { androidKeystoreKeeper, secureRandom, uniStorageKeeper, type KeyKeeper, type NativeAndroid } from '../storage/deviceKey';
import type { PlusSqliteApi } from '../storage/plusSqlite';
import type { AppServices, Device, FileVault, LocalNotice, PickedFile, SavedSession, SettingsKv } from './services';
import { IdbFileVault, SavedFileVault, baseName, mimeFromName } from '../attachments/vault';
import { mobileUploadPorts } from '../attachments/uploads';
import { bytesFrom, createServerApi, fetchDownload, fetchSender, uniDownload, uniSender } from './uniServerApi';

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

/**
 * [trust] Where the local database's key is kept on app-plus: AndroidKeyStore on Android (through
 * Native.js), else uni storage (README "Local data at rest" states the limit); random bytes from
 * WebCrypto or java.security.SecureRandom, else from iOS's NSUUID (arc4random).
 */
function plusDeviceKeys(): { keepers: KeyKeeper[]; random: (n: number) => Uint8Array } | undefined {
  type PlusLike = { os?: { name?: string }; android?: NativeAndroid; ios?: { newObject(c: string): unknown; invoke(o: unknown, m: string): unknown } };
  const p: PlusLike | undefined = (globalThis as { plus?: PlusLike }).plus ?? (typeof plus !== 'undefined' ? (plus as unknown as PlusLike) : undefined);
  const android = p?.os?.name === 'Android' ? p.android : undefined;
  const keepers: KeyKeeper[] = [...(android ? [androidKeystoreKeeper(android, uni)] : []), uniStorageKeeper(uni)];
  let random = secureRandom(android);
  const ios = p?.os?.name === 'iOS' ? p.ios : undefined;
  if (!random && ios) {
    random = (n) => {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; ) {
        const hex = String(ios.invoke(ios.newObject('NSUUID'), 'UUIDString')).replace(/-/g, '');
        // A version-4 UUID: 122 random bits; the version and variant nibbles are skipped.
        const bytes = hex.match(/../g)!.map((h) => parseInt(h, 16)).filter((_, k) => k !== 6 && k !== 8);
        for (const b of bytes) if (i < n) out[i++] = b;
      }
      return out;
    };
  }
  return random ? { keepers, random } : undefined;
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

    async login(serverUrl, email, password, mfa): Promise<SavedSession> {
      const base = normaliseUrl(serverUrl);
      const opts = { baseUrl: base, fetch: uniFetch, now: Date.now };
      const session = mfa ? await loginWithCode(opts, mfa.token, mfa.code) : await coreLogin(opts, email, password, { deviceName: `Goutong mobile (${platform})`, platform });
      const res = await uniFetch(`${base}/api/v1/me`, { method: 'GET', headers: { authorization: `Bearer ${session.accessToken}` } });
      if (!res.ok) throw new TransportError(res.status === 401 ? 'auth' : 'http', `HTTP ${res.status}`, res.status);
      const me = Me.parse(JSON.parse(await res.text()));
      return { serverUrl: base, session, agent: me.agent, tenant: me.tenant };
    },

    async connect(saved, hooks): Promise<AppServices> {
      const opened = await openDeviceStore({
        platform,
        agentId: saved.agent.id,
        uni,
        sqlite: platform === 'app' ? plusSqlite() : undefined,
        deviceKeys: platform === 'app' ? plusDeviceKeys() : undefined,
      });
      const transport = new HttpTransport({
        baseUrl: saved.serverUrl,
        fetch: uniFetch,
        webSocket: uniWebSocket,
        session: saved.session,
        now: Date.now,
        onSession: hooks.onSession,
        onSessionExpired: hooks.onSessionExpired,
      });
      const files = await openVault(platform, saved.agent.id);
      const api = createServerApi({
        baseUrl: saved.serverUrl,
        token: () => transport.freshToken(),
        send: platform === 'h5' && typeof fetch === 'function' ? fetchSender : uniSender,
        download: platform === 'h5' && typeof fetch === 'function' ? fetchDownload : uniDownload,
        bytes: bytesFrom(files),
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
        uploads: mobileUploadPorts(files, api),
      });
      await client.start();
      const ids = new Uuidv7Generator(Date.now, randomBytes);
      return {
        client,
        store: opened.store,
        api,
        files,
        network,
        newId: () => ids.next(),
        storageKind: opened.kind,
        workingSet: opened.workingSet,
        async dispose() {
          await client.stop();
          await opened.store.close();
          if (files instanceof IdbFileVault) files.close();
        },
      };
    },

    makePhoneCall(phoneNumber) {
      return new Promise((resolve, reject) =>
        uni.makePhoneCall({ phoneNumber, success: () => resolve(), fail: (e) => reject(new Error(e.errMsg || 'cannot call')) }),
      );
    },

    chooseMedia(source) {
      return chooseMedia(platform, source);
    },

    notify(notice) {
      return notify(platform, notice);
    },

    async requestNotifyPermission() {
      const N = browserNotification(platform);
      if (N) return N.permission === 'granted' || (N.permission !== 'denied' && (await N.requestPermission()) === 'granted');
      return platform === 'app';
    },

    onForeground(fn) {
      uni.onAppShow(fn);
      return () => uni.offAppShow(fn);
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

async function openVault(platform: string, agentId: string): Promise<FileVault> {
  if (platform === 'h5' && typeof indexedDB !== 'undefined') {
    try {
      return await IdbFileVault.open(`goutong-files-${agentId.replace(/[^A-Za-z0-9_-]/g, '_').toLowerCase()}`);
    } catch {
      // Private browsing without IndexedDB: uni's (unsupported on H5) saved files fail with a reason.
    }
  }
  return new SavedFileVault(uni);
}

type ChooseMediaFile = { tempFilePath: string; size: number; fileType?: string };
type ChooseImageFile = { path?: string; size: number; name?: string; type?: string };

/** Camera or gallery: uni.chooseMedia (photos and videos) where the platform has it, else uni.chooseImage. */
function chooseMedia(platform: string, source: 'camera' | 'album'): Promise<PickedFile[]> {
  const u = uni as unknown as {
    chooseMedia?: (o: { count: number; mediaType: string[]; sourceType: string[]; sizeType?: string[]; success(r: { tempFiles: ChooseMediaFile[] }): void; fail(): void }) => void;
  };
  return new Promise((resolve) => {
    if (platform !== 'h5' && typeof u.chooseMedia === 'function') {
      u.chooseMedia({
        count: 9,
        mediaType: ['image', 'video'],
        sourceType: [source],
        sizeType: ['compressed'],
        success: (r) =>
          resolve(
            r.tempFiles.map((f) => {
              const name = baseName(f.tempFilePath, f.fileType === 'video' ? 'video.mp4' : 'photo.jpg');
              return { path: f.tempFilePath, name, mime: mimeFromName(name), size: f.size };
            }),
          ),
        fail: () => resolve([]),
      });
      return;
    }
    uni.chooseImage({
      count: 9,
      sizeType: ['compressed'],
      sourceType: [source],
      success: (r) => {
        const paths = Array.isArray(r.tempFilePaths) ? r.tempFilePaths : [r.tempFilePaths];
        const list = (Array.isArray(r.tempFiles) ? r.tempFiles : [r.tempFiles]) as ChooseImageFile[];
        resolve(
          list.map((f, i) => {
            const path = paths[i] ?? f.path ?? '';
            const name = f.name || baseName(path);
            const isBlob = platform === 'h5' && typeof Blob !== 'undefined' && (f as unknown) instanceof Blob;
            return { path, name, mime: f.type || mimeFromName(name), size: f.size, ...(isBlob ? { blob: f as unknown as Blob } : {}) };
          }),
        );
      },
      fail: () => resolve([]),
    });
  });
}

interface NotificationCtor {
  permission: 'default' | 'granted' | 'denied';
  requestPermission(): Promise<'default' | 'granted' | 'denied'>;
  new (title: string, opts: { body: string; tag: string; icon?: string }): { onclick: (() => void) | null; close(): void };
}

function browserNotification(platform: string): NotificationCtor | null {
  const N = (globalThis as { Notification?: NotificationCtor }).Notification;
  return platform === 'h5' && N ? N : null;
}

const openConversation = (id: string) => uni.navigateTo({ url: `/pages/conversation/index?id=${encodeURIComponent(id)}` });

let pushTapBound = false;

/** A system notification where the platform has one; false when the app must show its banner. */
async function notify(platform: string, n: LocalNotice): Promise<boolean> {
  if (platform === 'app') {
    const u = uni as unknown as {
      createPushMessage?: (o: { title: string; content: string; payload: unknown; success(): void; fail(): void }) => void;
      onPushMessage?: (fn: (r: { type: string; data?: { payload?: { conversationId?: string } } }) => void) => void;
    };
    if (!pushTapBound && typeof u.onPushMessage === 'function') {
      pushTapBound = true;
      u.onPushMessage((r) => {
        const id = r.type === 'click' ? r.data?.payload?.conversationId : undefined;
        if (id) openConversation(id);
      });
    }
    if (typeof u.createPushMessage === 'function') {
      const create = u.createPushMessage;
      return new Promise((resolve) => create({ title: n.title, content: n.body, payload: { conversationId: n.conversationId }, success: () => resolve(true), fail: () => resolve(false) }));
    }
    const push = (globalThis as { plus?: { push?: { createMessage(content: string, payload: string, opts: { title: string }): void } } }).plus?.push;
    if (push) {
      push.createMessage(n.body, JSON.stringify({ conversationId: n.conversationId }), { title: n.title });
      return true;
    }
    return false;
  }
  const N = browserNotification(platform);
  if (!N || N.permission !== 'granted') return false;
  // Through the app shell's service worker where there is one (Android's Chrome accepts no other way).
  const sw = (globalThis as { navigator?: { serviceWorker?: { getRegistration(): Promise<{ showNotification?(t: string, o: unknown): Promise<void> } | undefined> } } }).navigator?.serviceWorker;
  try {
    const reg = await sw?.getRegistration();
    if (reg?.showNotification) {
      await reg.showNotification(n.title, { body: n.body, tag: `goutong-${n.conversationId}`, data: { conversationId: n.conversationId }, icon: 'static/icons/logo.png' });
      return true;
    }
  } catch {
    // fall back to a page notification
  }
  try {
    const note = new N(n.title, { body: n.body, tag: `goutong-${n.conversationId}` });
    note.onclick = () => {
      (globalThis as { focus?: () => void }).focus?.();
      openConversation(n.conversationId);
      note.close();
    };
    return true;
  } catch {
    // Android Chrome allows notifications only from a service worker: the banner shows instead.
    return false;
  }
}

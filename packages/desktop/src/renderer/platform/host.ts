// What the renderer needs from where it runs: a browser tab (web app) or the Electron window
// (through the preload bridge). Stores never touch localStorage, Notification or window.goutong
// directly; they go through the Host set at start-up (a test host in unit tests).
import type { Agent, Session } from '@goutong/core';
import type { DesktopBridge } from '../../shared/ipc';

export interface SavedSession {
  serverUrl: string;
  session: Session;
  agent: Agent;
  tenant: { id: string; slug: string; name: string };
}

export interface Host {
  readonly kind: 'web' | 'electron';
  /** Server URL proposed on the login form. */
  defaultServerUrl(): string;
  loadSession(): Promise<SavedSession | null>;
  saveSession(s: SavedSession): Promise<void>;
  clearSession(): Promise<void>;
  /** Shows a desktop notification when allowed; resolves whether it was shown. */
  notify(n: { title: string; body: string; conversationId?: string }): Promise<boolean>;
  /** Unread count for the tray (Electron) or the tab title (web). */
  setUnread(n: number): void;
  /** Deep links and notification clicks asking to open a conversation. */
  onOpenConversation(listener: (id: string) => void): () => void;
  openExternal(url: string): void;
  /** [accounts] The local database's key bytes from the platform's secure storage (Electron safeStorage); null: use a key in IndexedDB. */
  deviceKey?(name: string): Promise<Uint8Array | null>;
  /** [accounts] Forgets that key (wipe). */
  forgetDeviceKey?(name: string): Promise<void>;
  /** Start at login (Electron on macOS and Windows); absent in the browser. */
  startAtLogin?: { get(): Promise<{ supported: boolean; openAtLogin: boolean }>; set(on: boolean): Promise<{ supported: boolean; openAtLogin: boolean }> };
  /** Small synchronous preferences (language, theme). */
  prefs: { get(key: string): string | null; set(key: string, value: string): void };
}

const SESSION_KEY = 'goutong.session';

function localPrefs(): Host['prefs'] {
  return {
    get: (k) => {
      try {
        return localStorage.getItem(k);
      } catch {
        return null;
      }
    },
    set: (k, v) => {
      try {
        localStorage.setItem(k, v);
      } catch {
        /* private mode: preferences are not kept */
      }
    },
  };
}

/** The browser tab: session in localStorage, the Notification API with permission. */
export function webHost(): Host {
  const listeners = new Set<(id: string) => void>();
  const prefs = localPrefs();
  return {
    kind: 'web',
    defaultServerUrl: () => (location.protocol.startsWith('http') ? location.origin : 'http://127.0.0.1:8787'),
    async loadSession() {
      const raw = prefs.get(SESSION_KEY);
      if (!raw) return null;
      try {
        return JSON.parse(raw) as SavedSession;
      } catch {
        return null;
      }
    },
    async saveSession(s) {
      prefs.set(SESSION_KEY, JSON.stringify(s));
    },
    async clearSession() {
      try {
        localStorage.removeItem(SESSION_KEY);
      } catch {
        /* ignore */
      }
    },
    async notify(n) {
      if (typeof Notification === 'undefined' || Notification.permission !== 'granted') return false;
      const note = new Notification(n.title, { body: n.body, tag: n.conversationId ?? 'goutong' });
      note.onclick = () => {
        window.focus();
        if (n.conversationId) for (const l of listeners) l(n.conversationId);
      };
      return true;
    },
    setUnread(n) {
      document.title = n > 0 ? `(${n}) Goutong 沟通` : 'Goutong 沟通';
    },
    onOpenConversation(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    openExternal(url) {
      window.open(url, '_blank', 'noopener,noreferrer');
    },
    prefs,
  };
}

/** The Electron window: everything privileged goes through the typed preload bridge. */
export function electronHost(bridge: DesktopBridge): Host {
  return {
    kind: 'electron',
    defaultServerUrl: () => 'http://127.0.0.1:8787',
    startAtLogin: { get: () => bridge.invoke('startup:get'), set: (on) => bridge.invoke('startup:set', on) },
    loadSession: async () => (await bridge.invoke('session:get')) as SavedSession | null,
    saveSession: (s) => bridge.invoke('session:set', s),
    clearSession: () => bridge.invoke('session:clear'),
    notify: (n) => bridge.invoke('notify:show', n),
    setUnread: (n) => void bridge.invoke('tray:unread', n),
    onOpenConversation: (listener) => bridge.on('open-conversation', listener),
    openExternal: (url) => void bridge.invoke('shell:openExternal', url),
    async deviceKey(name) {
      const b64 = await bridge.invoke('dbkey:get', name);
      return b64 ? Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)) : null;
    },
    forgetDeviceKey: (name) => bridge.invoke('dbkey:delete', name),
    prefs: localPrefs(),
  };
}

let current: Host | null = null;

export function setHost(h: Host): void {
  current = h;
}

export function useHost(): Host {
  if (!current) {
    const bridge = (globalThis as { goutong?: DesktopBridge }).goutong;
    current = bridge?.kind === 'electron' ? electronHost(bridge) : webHost();
  }
  return current;
}

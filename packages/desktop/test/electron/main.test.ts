import { describe, expect, it, vi } from 'vitest';
import { registerIpcHandlers, isTrustedSender, type Handlers } from '../../src/main/ipc';
import { SecureSessionStore } from '../../src/main/secureStore';
import { loadWindowState, trackWindowState } from '../../src/main/windowState';
import { allowServerCors, hardenWebContents, restrictPermissions } from '../../src/main/security';
import { resolveAppFile } from '../../src/main/protocol';
import { deepLinkFromArgv } from '../../src/main/deepLinks';
import { UnreadIndicator } from '../../src/main/tray';
import { Updater, updaterEnabled } from '../../src/main/updater';
import { invokeContract, type SavedSessionPayload } from '../../src/shared/ipc';
import { FakeEmitter, FakeIpcMain, FakeSafeStorage, FakeSession, FakeShell, FakeWebContents, invokeEvent, memoryFiles } from './fakeElectron';

const SAVED: SavedSessionPayload = {
  serverUrl: 'http://127.0.0.1:8787',
  session: { accessToken: 'a', refreshToken: 'r', expiresAt: 1 },
  agent: { id: 'agent-1', tenantId: 't', name: 'A', email: 'a@example.com', role: 'agent', teamIds: [] },
  tenant: { id: 't', slug: 'demo', name: 'Demo' },
};

function handlers(calls: string[]): Handlers {
  const h = {} as Record<string, (...a: unknown[]) => unknown>;
  for (const c of Object.keys(invokeContract)) h[c] = (_e: unknown, ...args: unknown[]) => (calls.push(`${c}:${JSON.stringify(args)}`), c === 'notify:show' || c === 'shell:openExternal' ? true : null);
  return h as unknown as Handlers;
}

describe('typed IPC with checked senders and arguments', () => {
  it('registers every channel of the contract once', () => {
    const ipc = new FakeIpcMain();
    const channels = registerIpcHandlers(ipc, handlers([]));
    expect([...ipc.handlers.keys()].sort()).toEqual(Object.keys(invokeContract).sort());
    expect(channels.length).toBe(Object.keys(invokeContract).length);
  });

  it('runs a valid call from the app main frame', async () => {
    const ipc = new FakeIpcMain();
    const calls: string[] = [];
    registerIpcHandlers(ipc, handlers(calls));
    const wc = new FakeWebContents();
    await expect(ipc.invoke('tray:unread', invokeEvent(wc), 3)).resolves.toBeNull();
    await expect(ipc.invoke('session:set', invokeEvent(wc), SAVED)).resolves.toBeNull();
    expect(calls).toEqual(['tray:unread:[3]', `session:set:[${JSON.stringify(SAVED)}]`]);
  });

  it('rejects other origins, sub-frames and bad arguments before the handler runs', async () => {
    const ipc = new FakeIpcMain();
    const calls: string[] = [];
    const log = vi.fn();
    registerIpcHandlers(ipc, handlers(calls), { log });
    const wc = new FakeWebContents();
    const evil = new FakeWebContents();
    evil.mainFrame.url = 'https://evil.example/';
    await expect(ipc.invoke('session:get', invokeEvent(evil))).rejects.toThrow(/untrusted sender/);
    await expect(ipc.invoke('session:get', invokeEvent(wc, { url: 'app://goutong/app/' }))).rejects.toThrow(/untrusted sender/);
    await expect(ipc.invoke('tray:unread', invokeEvent(wc), -1)).rejects.toThrow(/invalid arguments/);
    await expect(ipc.invoke('tray:unread', invokeEvent(wc), 1, 2)).rejects.toThrow(/invalid arguments/);
    await expect(ipc.invoke('shell:openExternal', invokeEvent(wc), 'file:///etc/passwd')).rejects.toThrow(/invalid arguments/);
    await expect(ipc.invoke('session:set', invokeEvent(wc), { ...SAVED, serverUrl: 'not a url' })).rejects.toThrow(/invalid arguments/);
    expect(calls).toEqual([]);
    expect(log).toHaveBeenCalledTimes(6);
  });

  it('isTrustedSender needs a sender frame', () => {
    const wc = new FakeWebContents();
    expect(isTrustedSender({ sender: wc, senderFrame: null } as never)).toBe(false);
    expect(isTrustedSender(invokeEvent(wc))).toBe(true);
  });
});

describe('session tokens in safeStorage', () => {
  it('stores the session encrypted and reads it back', () => {
    const io = memoryFiles();
    const store = new SecureSessionStore(new FakeSafeStorage(), io, '/u/session.bin');
    expect(store.get()).toBeNull();
    store.set(SAVED);
    expect(io.files.get('/u/session.bin')!.toString()).not.toContain('refreshToken');
    expect(store.get()).toEqual(SAVED);
    store.clear();
    expect(store.get()).toBeNull();
  });
  it('keeps nothing without OS encryption, and ignores a tampered file', () => {
    const io = memoryFiles();
    const safe = new FakeSafeStorage();
    const store = new SecureSessionStore(safe, io, '/u/session.bin');
    safe.available = false;
    expect(store.set(SAVED)).toBe(false);
    expect(io.files.size).toBe(0);
    safe.available = true;
    io.write('/u/session.bin', Buffer.from('garbage'));
    expect(store.get()).toBeNull();
  });
});

describe('window state', () => {
  const screen = [{ x: 0, y: 0, width: 1920, height: 1080 }];
  it('restores a saved state on a visible display, drops the position when the display is gone', () => {
    expect(loadWindowState(JSON.stringify({ x: 100, y: 100, width: 1000, height: 700, maximized: true }), screen)).toEqual({ x: 100, y: 100, width: 1000, height: 700, maximized: true });
    expect(loadWindowState(JSON.stringify({ x: 5000, y: 100, width: 1000, height: 700 }), screen)).toEqual({ width: 1000, height: 700, maximized: false });
    expect(loadWindowState('{bad json', screen)).toEqual({ width: 1280, height: 820, maximized: false });
    expect(loadWindowState(JSON.stringify({ width: 10, height: 10 }), screen)).toEqual({ width: 1280, height: 820, maximized: false });
  });
  it('saves on close', () => {
    const win = Object.assign(new FakeEmitter(), { getNormalBounds: () => ({ x: 1, y: 2, width: 900, height: 700 }), isMaximized: () => false });
    const saved: unknown[] = [];
    trackWindowState(win, (s) => saved.push(s));
    win.emit('close');
    expect(saved).toEqual([{ x: 1, y: 2, width: 900, height: 700, maximized: false }]);
  });
});

describe('navigation, new windows and permissions', () => {
  it('denies window.open and navigation away; external links go to the system browser', () => {
    const wc = new FakeWebContents();
    const shell = new FakeShell();
    hardenWebContents(wc as never, shell);
    expect(wc.windowOpenHandler!({ url: 'https://example.com/help' } as never)).toEqual({ action: 'deny' });
    expect(wc.windowOpenHandler!({ url: 'javascript:alert(1)' } as never)).toEqual({ action: 'deny' });
    expect(shell.opened).toEqual(['https://example.com/help']);
    const ev = { preventDefault: vi.fn() };
    wc.emit('will-navigate', ev, 'https://evil.example/');
    expect(ev.preventDefault).toHaveBeenCalled();
    const ok = { preventDefault: vi.fn() };
    wc.emit('will-navigate', ok, 'app://goutong/app/inbox');
    expect(ok.preventDefault).not.toHaveBeenCalled();
    const file = { preventDefault: vi.fn() };
    wc.emit('will-navigate', file, 'file:///etc/passwd');
    expect(file.preventDefault).toHaveBeenCalled();
    expect(shell.opened).toEqual(['https://example.com/help', 'https://evil.example/']);
  });
  it('grants notifications and the microphone (audio only) to the app only', () => {
    const s = new FakeSession();
    restrictPermissions(s as never);
    const results: boolean[] = [];
    s.permissionRequest!({ getURL: () => 'app://goutong/app/' } as never, 'notifications', (r) => results.push(r), {} as never);
    s.permissionRequest!({ getURL: () => 'app://goutong/app/' } as never, 'media', (r) => results.push(r), {} as never);
    s.permissionRequest!({ getURL: () => 'https://evil.example/' } as never, 'notifications', (r) => results.push(r), {} as never);
    // The softphone's microphone, never the camera.
    s.permissionRequest!({ getURL: () => 'app://goutong/app/' } as never, 'media', (r) => results.push(r), { mediaTypes: ['audio'] } as never);
    s.permissionRequest!({ getURL: () => 'app://goutong/app/' } as never, 'media', (r) => results.push(r), { mediaTypes: ['audio', 'video'] } as never);
    s.permissionRequest!({ getURL: () => 'https://evil.example/' } as never, 'media', (r) => results.push(r), { mediaTypes: ['audio'] } as never);
    expect(results).toEqual([true, false, false, true, false, false]);
    expect(s.permissionCheck!(null, 'media', 'app://goutong', { mediaType: 'audio' } as never)).toBe(true);
    expect(s.permissionCheck!(null, 'media', 'app://goutong', { mediaType: 'video' } as never)).toBe(false);
  });
  it('adds CORS headers to the configured server only', () => {
    const s = new FakeSession();
    allowServerCors(s as never, () => 'http://127.0.0.1:8787');
    const out: any[] = [];
    s.headersReceived!({ url: 'http://127.0.0.1:8787/api/v1/me', method: 'GET', responseHeaders: {} }, (r) => out.push(r));
    s.headersReceived!({ url: 'https://other.example/', method: 'GET', responseHeaders: {} }, (r) => out.push(r));
    expect(out[0].responseHeaders['Access-Control-Allow-Origin']).toEqual(['app://goutong']);
    expect(out[1]).toEqual({});
  });
});

describe('app protocol, deep links, tray, updater', () => {
  it('serves files inside the renderer folder only', () => {
    expect(resolveAppFile('/r', 'app://goutong/app/')).toBe('/r/index.html');
    expect(resolveAppFile('/r', 'app://goutong/app/assets/index.js')).toBe('/r/assets/index.js');
    expect(resolveAppFile('/r', 'app://goutong/app/conversation/123')).toBe('/r/index.html');
    expect(resolveAppFile('/r', 'app://goutong/app/..%2F..%2Fetc%2Fpasswd')).toBeNull();
    expect(resolveAppFile('/r', 'app://other/app/index.html')).toBeNull();
  });
  it('finds goutong://conversation/{id} in a command line', () => {
    expect(deepLinkFromArgv(['/opt/goutong', '--flag', 'goutong://conversation/abc-123'])).toBe('abc-123');
    expect(deepLinkFromArgv(['/opt/goutong', 'goutong://settings'])).toBeNull();
  });
  it('shows the unread count in the tray and the badge', () => {
    const tray = { tip: '', title: '', setToolTip(t: string) { this.tip = t; }, setTitle(t: string) { this.title = t; } };
    let badge = -1;
    const u = new UnreadIndicator(tray, (n) => (badge = n));
    u.set(3);
    expect([tray.title, badge]).toEqual(['3', 3]);
    expect(tray.tip).toContain('3 unread');
    u.set(250);
    expect(tray.title).toBe('99+');
    u.set(0);
    expect(tray.title).toBe('');
  });
  it('the updater is off by default', async () => {
    expect(updaterEnabled({})).toBe(false);
    expect(updaterEnabled({ GOUTONG_AUTO_UPDATE: '1' })).toBe(true);
    const load = vi.fn();
    await expect(new Updater(false, load, '0.1.0').check()).resolves.toEqual({ enabled: false, available: null });
    expect(load).not.toHaveBeenCalled();
    const fake = { autoDownload: true, autoInstallOnAppQuit: false, checkForUpdates: async () => ({ updateInfo: { version: '0.2.0' } }), downloadUpdate: async () => [], quitAndInstall: () => undefined, on: () => undefined };
    await expect(new Updater(true, async () => fake, '0.1.0').check()).resolves.toEqual({ enabled: true, available: true, version: '0.2.0' });
    expect(fake.autoDownload).toBe(false);
  });
});

describe('start at login', () => {
  it('is a setting on macOS and Windows (started hidden, in the tray), not offered on Linux', async () => {
    const { startAtLogin } = await import('../../src/main/startup');
    let settings = { openAtLogin: false };
    const calls: unknown[] = [];
    const app = { getLoginItemSettings: () => settings, setLoginItemSettings: (s: { openAtLogin: boolean }) => (calls.push(s), void (settings = { openAtLogin: s.openAtLogin })) };
    const win = startAtLogin(app, 'win32');
    expect(win.get()).toEqual({ supported: true, openAtLogin: false });
    expect(win.set(true)).toEqual({ supported: true, openAtLogin: true });
    expect(calls).toEqual([{ openAtLogin: true, openAsHidden: true, args: ['--hidden'] }]);
    expect(win.set(false)).toEqual({ supported: true, openAtLogin: false });
    const linux = startAtLogin(app, 'linux');
    expect(linux.set(true)).toEqual({ supported: false, openAtLogin: false });
    expect(calls).toHaveLength(2);
  });
});

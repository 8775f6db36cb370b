// Composition root of the Electron main process. Everything with logic lives in small modules
// (ipc, secureStore, windowState, security, protocol, tray, deepLinks, updater) that the tests
// run in Node against a typed double of the electron module.
import fs from 'node:fs';
import path from 'node:path';
import { app, BrowserWindow, ipcMain, Menu, nativeImage, Notification, protocol, safeStorage, screen, session, shell, Tray } from 'electron';
import { APP_ORIGIN, APP_SCHEME, DEEP_LINK_SCHEME, type MainEvents } from '../shared/ipc';
import { registerIpcHandlers } from './ipc';
import { SecureSessionStore } from './secureStore';
import { DeviceKeyStore } from './deviceKey';
import { loadWindowState, trackWindowState } from './windowState';
import { allowServerCors, hardenWebContents, restrictPermissions } from './security';
import { CSP, MIME, resolveAppFile } from './protocol';
import { deepLinkFromArgv } from './deepLinks';
import { UnreadIndicator } from './tray';
import { updateFeedUrl, Updater, updaterEnabled } from './updater';
import { iconPaths } from './icons';
import { startAtLogin } from './startup';

const RENDERER_DIR = path.join(__dirname, '../renderer');
const PRELOAD = path.join(__dirname, '../preload/preload.cjs');

app.enableSandbox();
protocol.registerSchemesAsPrivileged([{ scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true, corsEnabled: true, codeCache: true } }]);

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  void start();
}

function fileIO() {
  return {
    read: (f: string) => (fs.existsSync(f) ? fs.readFileSync(f) : null),
    write: (f: string, d: Buffer) => fs.writeFileSync(f, d, { mode: 0o600 }),
    remove: (f: string) => fs.rmSync(f, { force: true }),
  };
}

async function start(): Promise<void> {
  let win: BrowserWindow | null = null;
  let pendingConversation: string | null = deepLinkFromArgv(process.argv);
  const userData = app.getPath('userData');
  const sessions = new SecureSessionStore(safeStorage, fileIO(), path.join(userData, 'session.bin'));
  fs.mkdirSync(path.join(userData, 'keys'), { recursive: true, mode: 0o700 });
  const deviceKeys = new DeviceKeyStore(safeStorage, fileIO(), path.join(userData, 'keys'));
  const stateFile = path.join(userData, 'window-state.json');
  const loginItem = startAtLogin(app, process.platform);
  const updater = new Updater(updaterEnabled(process.env), async () => (await import('electron-updater')).autoUpdater, app.getVersion(), updateFeedUrl(process.env));
  // A downloaded update installs when the app quits; the agent is told once (OS notification).
  updater.onState((s) => {
    if (s.status !== 'downloaded' || !Notification.isSupported()) return;
    const note = new Notification({ title: 'Goutong 沟通', body: `${s.version}: restart to update · 重启以完成更新` });
    note.on('click', () => updater.install());
    note.show();
  });

  if (process.defaultApp && process.argv[1]) app.setAsDefaultProtocolClient(DEEP_LINK_SCHEME, process.execPath, [path.resolve(process.argv[1])]);
  else app.setAsDefaultProtocolClient(DEEP_LINK_SCHEME);

  const send = <E extends keyof MainEvents>(channel: E, payload: MainEvents[E]) => win?.webContents.send(channel, payload);
  const openConversation = (id: string) => {
    if (!win) {
      pendingConversation = id;
      return;
    }
    if (win.isMinimized()) win.restore();
    win.show();
    win.focus();
    send('open-conversation', id);
  };

  app.on('second-instance', (_e, argv) => {
    const id = deepLinkFromArgv(argv);
    if (id) openConversation(id);
    else if (win) {
      if (win.isMinimized()) win.restore();
      win.focus();
    }
  });
  app.on('open-url', (event, url) => {
    event.preventDefault();
    const id = deepLinkFromArgv([url]);
    if (id) openConversation(id);
  });
  app.on('web-contents-created', (_e, contents) => hardenWebContents(contents, shell));

  await app.whenReady();
  Menu.setApplicationMenu(null);

  protocol.handle(APP_SCHEME, async (request) => {
    const file = resolveAppFile(RENDERER_DIR, request.url);
    if (!file || !fs.existsSync(file)) return new Response('not found', { status: 404 });
    return new Response(await fs.promises.readFile(file), {
      headers: { 'content-type': MIME[path.extname(file)] ?? 'application/octet-stream', 'content-security-policy': CSP, 'x-content-type-options': 'nosniff' },
    });
  });
  restrictPermissions(session.defaultSession);
  allowServerCors(session.defaultSession, () => sessions.get()?.serverUrl.replace(/(https?:\/\/[^/]+).*/, '$1') ?? null);

  const icons = iconPaths({ packaged: app.isPackaged, resourcesPath: process.resourcesPath, mainDir: __dirname, platform: process.platform });
  const tray = (() => {
    try {
      // The @2x file next to it is picked up on high-density screens.
      const image = nativeImage.createFromPath(icons.tray);
      const t = new Tray(image.isEmpty() ? nativeImage.createEmpty() : image);
      t.setContextMenu(Menu.buildFromTemplate([{ label: 'Goutong 沟通', click: () => win?.show() }, { type: 'separator' }, { role: 'quit' }]));
      t.on('click', () => win?.show());
      return t;
    } catch {
      return null;
    }
  })();
  const unread = new UnreadIndicator(tray, (n) => app.setBadgeCount(n));

  registerIpcHandlers(
    ipcMain,
    {
      'session:get': () => sessions.get(),
      'session:set': (_e, s) => void sessions.set(s),
      'session:clear': () => sessions.clear(),
      'notify:show': (_e, n) => {
        if (!Notification.isSupported()) return false;
        const note = new Notification({ title: n.title, body: n.body });
        if (n.conversationId) note.on('click', () => openConversation(n.conversationId!));
        note.show();
        return true;
      },
      'tray:unread': (_e, n) => unread.set(n),
      'shell:openExternal': async (_e, url) => {
        await shell.openExternal(url);
        return true;
      },
      'app:info': () => ({ version: app.getVersion(), platform: process.platform, userData }),
      'updater:check': () => updater.check(),
      'dbkey:get': (_e, name) => deviceKeys.get(name),
      'dbkey:delete': (_e, name) => deviceKeys.remove(name),
      'startup:get': () => loginItem.get(),
      'startup:set': (_e, on) => loginItem.set(on),
    },
    { log: (m, f) => console.warn(m, f) },
  );

  const state = loadWindowState(fs.existsSync(stateFile) ? fs.readFileSync(stateFile, 'utf8') : null, screen.getAllDisplays().map((d) => d.workArea));
  win = new BrowserWindow({
    ...state,
    minWidth: 900,
    minHeight: 600,
    show: false,
    title: 'Goutong 沟通',
    ...(process.platform === 'darwin' ? {} : { icon: icons.window }),
    webPreferences: { preload: PRELOAD, sandbox: true, contextIsolation: true, nodeIntegration: false, webviewTag: false, spellcheck: false },
  });
  if (state.maximized) win.maximize();
  trackWindowState(win, (s) => fs.writeFileSync(stateFile, JSON.stringify(s)));
  // Started at login: stays in the tray until the agent opens it.
  const startedHidden = process.argv.includes('--hidden');
  win.once('ready-to-show', () => {
    if (!startedHidden) win?.show();
  });
  win.on('closed', () => (win = null));
  win.webContents.once('did-finish-load', () => {
    if (pendingConversation) openConversation(pendingConversation);
    pendingConversation = null;
  });
  await win.loadURL(`${APP_ORIGIN}/app/`);
  if (updater.enabled) void updater.checkAndDownload();

  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });
}

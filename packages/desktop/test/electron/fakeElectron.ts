// A typed test double of the parts of the `electron` module that main uses. The Electron binary
// cannot be downloaded on these machines, so main-process code runs in Node against this.
import { existsSync } from 'node:fs';
import type * as Electron from 'electron';

type Listener = (...args: any[]) => unknown;

export class FakeEmitter {
  readonly listeners = new Map<string, Listener[]>();
  on(event: string, l: Listener): this {
    this.listeners.set(event, [...(this.listeners.get(event) ?? []), l]);
    return this;
  }
  once(event: string, l: Listener): this {
    return this.on(event, l);
  }
  emit(event: string, ...args: unknown[]): unknown[] {
    return (this.listeners.get(event) ?? []).map((l) => l(...args));
  }
}

export interface FakeFrame {
  url: string;
}

export class FakeWebContents extends FakeEmitter {
  readonly mainFrame: FakeFrame = { url: 'app://goutong/app/' };
  windowOpenHandler: Parameters<Electron.WebContents['setWindowOpenHandler']>[0] | null = null;
  sent: Array<[string, unknown]> = [];
  setWindowOpenHandler(h: Parameters<Electron.WebContents['setWindowOpenHandler']>[0]): void {
    this.windowOpenHandler = h;
  }
  send(channel: string, payload: unknown): void {
    this.sent.push([channel, payload]);
  }
  getURL(): string {
    return this.mainFrame.url;
  }
}

/** An invoke event from a frame of some web contents. */
export function invokeEvent(contents: FakeWebContents, frame: FakeFrame = contents.mainFrame): Electron.IpcMainInvokeEvent {
  return { sender: contents, senderFrame: frame } as unknown as Electron.IpcMainInvokeEvent;
}

export class FakeIpcMain implements Pick<Electron.IpcMain, 'handle'> {
  readonly handlers = new Map<string, (event: Electron.IpcMainInvokeEvent, ...args: any[]) => unknown>();
  handle(channel: string, listener: (event: Electron.IpcMainInvokeEvent, ...args: any[]) => unknown): void {
    if (this.handlers.has(channel)) throw new Error(`second handler for ${channel}`);
    this.handlers.set(channel, listener);
  }
  invoke(channel: string, event: Electron.IpcMainInvokeEvent, ...args: unknown[]): Promise<unknown> {
    const h = this.handlers.get(channel);
    if (!h) return Promise.reject(new Error(`no handler for ${channel}`));
    return Promise.resolve().then(() => h(event, ...args));
  }
}

/** Reversible, clearly fake "OS encryption". */
export class FakeSafeStorage implements Pick<Electron.SafeStorage, 'isEncryptionAvailable' | 'encryptString' | 'decryptString'> {
  available = true;
  isEncryptionAvailable(): boolean {
    return this.available;
  }
  encryptString(s: string): Buffer {
    return Buffer.from(`enc:${Buffer.from(s).toString('base64')}`);
  }
  decryptString(b: Buffer): string {
    const s = b.toString();
    if (!s.startsWith('enc:')) throw new Error('not encrypted by us');
    return Buffer.from(s.slice(4), 'base64').toString();
  }
}

export class FakeShell implements Pick<Electron.Shell, 'openExternal'> {
  opened: string[] = [];
  async openExternal(url: string): Promise<void> {
    this.opened.push(url);
  }
}

export class FakeSession {
  permissionRequest: Parameters<Electron.Session['setPermissionRequestHandler']>[0] = null;
  permissionCheck: Parameters<Electron.Session['setPermissionCheckHandler']>[0] = null;
  headersReceived: ((details: any, cb: (r: any) => void) => void) | null = null;
  readonly webRequest = { onHeadersReceived: (l: (details: any, cb: (r: any) => void) => void) => void (this.headersReceived = l) } as unknown as Electron.WebRequest;
  setPermissionRequestHandler(h: Parameters<Electron.Session['setPermissionRequestHandler']>[0]): void {
    this.permissionRequest = h;
  }
  setPermissionCheckHandler(h: Parameters<Electron.Session['setPermissionCheckHandler']>[0]): void {
    this.permissionCheck = h;
  }
}

export function memoryFiles() {
  const files = new Map<string, Buffer>();
  return {
    files,
    read: (f: string) => files.get(f) ?? null,
    write: (f: string, d: Buffer) => void files.set(f, d),
    remove: (f: string) => void files.delete(f),
  };
}

/** The whole module, for vi.mock('electron') around the composition root (main.ts). */
export function fakeElectronModule() {
  const ipcMain = new FakeIpcMain();
  const shell = new FakeShell();
  const safeStorage = new FakeSafeStorage();
  const defaultSession = new FakeSession();
  const windows: FakeBrowserWindow[] = [];
  const protocolHandlers = new Map<string, (req: Request) => Promise<Response>>();
  const privileged: unknown[] = [];
  let ready!: () => void;
  const whenReadyP = new Promise<void>((r) => (ready = r));

  class FakeBrowserWindow extends FakeEmitter {
    readonly webContents = new FakeWebContents();
    loaded: string | null = null;
    constructor(readonly options: Electron.BrowserWindowConstructorOptions) {
      super();
      windows.push(this);
    }
    async loadURL(url: string) {
      this.loaded = url;
      this.webContents.mainFrame.url = url;
    }
    getNormalBounds() {
      return { x: 10, y: 20, width: this.options.width ?? 800, height: this.options.height ?? 600 };
    }
    isMaximized() {
      return false;
    }
    isMinimized() {
      return false;
    }
    maximize() {}
    restore() {}
    show() {}
    focus() {}
  }
  class FakeNotification extends FakeEmitter {
    static shown: Array<{ title: string; body: string }> = [];
    static isSupported() {
      return true;
    }
    constructor(readonly o: { title: string; body: string }) {
      super();
    }
    show() {
      FakeNotification.shown.push(this.o);
    }
  }
  class FakeTray extends FakeEmitter {
    static created: FakeTray[] = [];
    tooltip = '';
    title = '';
    constructor(readonly image: unknown) {
      super();
      FakeTray.created.push(this);
    }
    setContextMenu() {}
    setToolTip(t: string) {
      this.tooltip = t;
    }
    setTitle(t: string) {
      this.title = t;
    }
  }
  const app = Object.assign(new FakeEmitter(), {
    sandboxed: false,
    badge: 0,
    protocolClients: [] as string[],
    enableSandbox() {
      app.sandboxed = true;
    },
    requestSingleInstanceLock: () => true,
    quit() {},
    whenReady: () => whenReadyP,
    getPath: (_n: string) => '/tmp/goutong-fake-userdata',
    getVersion: () => '0.1.0',
    setAsDefaultProtocolClient(s: string) {
      app.protocolClients.push(s);
      return true;
    },
    setBadgeCount(n: number) {
      app.badge = n;
      return true;
    },
  });
  return {
    module: {
      app,
      BrowserWindow: FakeBrowserWindow,
      ipcMain,
      Menu: { setApplicationMenu() {}, buildFromTemplate: (t: unknown) => t },
      nativeImage: {
        createEmpty: () => ({ isEmpty: () => true }),
        // An image from a file is empty when the file is missing (as Electron's).
        createFromPath: (p: string) => ({ path: p, isEmpty: () => !existsSync(p) }),
      },
      Notification: FakeNotification,
      protocol: {
        registerSchemesAsPrivileged: (s: unknown[]) => void privileged.push(...s),
        handle: (scheme: string, h: (req: Request) => Promise<Response>) => void protocolHandlers.set(scheme, h),
      },
      safeStorage,
      screen: { getAllDisplays: () => [{ workArea: { x: 0, y: 0, width: 1920, height: 1080 } }] },
      session: { defaultSession },
      shell,
      Tray: FakeTray,
    },
    ready: () => ready(),
    windows,
    protocolHandlers,
    privileged,
    FakeNotification,
  };
}

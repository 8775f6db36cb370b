// electron-updater wiring against a generic feed (electron-builder.yml `publish`, or
// GOUTONG_UPDATE_URL at run time): check, download (electron-updater verifies the artifact's
// sha512 from latest.yml), then install on quit or when the agent restarts. Off unless
// GOUTONG_AUTO_UPDATE=1 or a feed URL is set: builds without a feed have nothing to ask.
export interface UpdateInfoLike {
  version: string;
}

/** The part of electron-updater's AppUpdater this module uses. */
export interface UpdaterLike {
  autoDownload: boolean;
  autoInstallOnAppQuit: boolean;
  checkForUpdates(): Promise<{ updateInfo?: UpdateInfoLike; isUpdateAvailable?: boolean } | null>;
  downloadUpdate(): Promise<string[]>;
  quitAndInstall(isSilent?: boolean, isForceRunAfter?: boolean): void;
  setFeedURL?(options: { provider: 'generic'; url: string }): void;
  on(event: 'error', listener: (e: Error) => void): unknown;
}

export type UpdateState =
  | { status: 'off' }
  | { status: 'idle' }
  | { status: 'checking' }
  | { status: 'none'; version: string }
  | { status: 'downloading'; version: string }
  | { status: 'downloaded'; version: string; files: string[] }
  | { status: 'error'; message: string };

export class Updater {
  private updater: UpdaterLike | null = null;
  private current: UpdateState;
  private readonly listeners = new Set<(s: UpdateState) => void>();

  constructor(
    readonly enabled: boolean,
    private readonly load: () => Promise<UpdaterLike>,
    private readonly currentVersion: string,
    private readonly feedUrl: string | null = null,
  ) {
    this.current = enabled ? { status: 'idle' } : { status: 'off' };
  }

  get state(): UpdateState {
    return this.current;
  }

  onState(l: (s: UpdateState) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  private set(s: UpdateState): void {
    this.current = s;
    for (const l of this.listeners) l(s);
  }

  private async instance(): Promise<UpdaterLike> {
    if (this.updater) return this.updater;
    const u = await this.load();
    u.autoDownload = false;
    u.autoInstallOnAppQuit = true;
    if (this.feedUrl) u.setFeedURL?.({ provider: 'generic', url: this.feedUrl });
    u.on('error', (e) => this.set({ status: 'error', message: e.message }));
    this.updater = u;
    return u;
  }

  /** Asks the feed whether a newer version exists. */
  async check(): Promise<{ enabled: boolean; available: boolean | null; version?: string }> {
    if (!this.enabled) return { enabled: false, available: null };
    this.set({ status: 'checking' });
    try {
      const u = await this.instance();
      const r = await u.checkForUpdates();
      const v = r?.updateInfo?.version;
      const available = v ? (r?.isUpdateAvailable ?? newer(v, this.currentVersion)) : false;
      this.set(available && v ? { status: 'idle' } : { status: 'none', version: v ?? this.currentVersion });
      return { enabled: true, available, ...(v ? { version: v } : {}) };
    } catch (e) {
      this.set({ status: 'error', message: (e as Error).message });
      return { enabled: true, available: null };
    }
  }

  /** Checks, then downloads a newer version (its sha512 checked by electron-updater); installs on quit. */
  async checkAndDownload(): Promise<UpdateState> {
    const r = await this.check();
    if (!r.available || !r.version) return this.current;
    const u = await this.instance();
    this.set({ status: 'downloading', version: r.version });
    try {
      const files = await u.downloadUpdate();
      this.set({ status: 'downloaded', version: r.version, files });
    } catch (e) {
      this.set({ status: 'error', message: (e as Error).message });
    }
    return this.current;
  }

  /** Restarts into the downloaded version now. */
  install(): boolean {
    if (this.current.status !== 'downloaded' || !this.updater) return false;
    this.updater.quitAndInstall(false, true);
    return true;
  }
}

/** Whether `a` is a newer semver (major.minor.patch, pre-releases ordered before releases) than `b`. */
export function newer(a: string, b: string): boolean {
  const parse = (v: string) => {
    const [core = '', pre] = v.replace(/^v/, '').split('-', 2);
    return { n: core.split('.').map((x) => Number(x) || 0), pre: pre ?? null };
  };
  const x = parse(a);
  const y = parse(b);
  for (let i = 0; i < 3; i++) if ((x.n[i] ?? 0) !== (y.n[i] ?? 0)) return (x.n[i] ?? 0) > (y.n[i] ?? 0);
  if (x.pre === y.pre) return false;
  if (x.pre === null) return true;
  if (y.pre === null) return false;
  return x.pre > y.pre;
}

export function updateFeedUrl(env: Record<string, string | undefined>): string | null {
  const u = env.GOUTONG_UPDATE_URL?.trim();
  return u && /^https?:\/\//.test(u) ? u : null;
}

export function updaterEnabled(env: Record<string, string | undefined>): boolean {
  return env.GOUTONG_AUTO_UPDATE === '1' || updateFeedUrl(env) !== null;
}

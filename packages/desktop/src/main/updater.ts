// electron-updater wiring, off unless GOUTONG_AUTO_UPDATE=1 (or enabled in settings): builds for
// this project do not publish update feeds yet.
export interface UpdaterLike {
  autoDownload: boolean;
  checkForUpdates(): Promise<{ updateInfo?: { version: string } } | null>;
  on(event: 'error', listener: (e: Error) => void): unknown;
}

export class Updater {
  constructor(
    readonly enabled: boolean,
    private readonly load: () => Promise<UpdaterLike>,
    private readonly currentVersion: string,
  ) {}

  async check(): Promise<{ enabled: boolean; available: boolean | null }> {
    if (!this.enabled) return { enabled: false, available: null };
    try {
      const u = await this.load();
      u.autoDownload = false;
      const r = await u.checkForUpdates();
      const v = r?.updateInfo?.version;
      return { enabled: true, available: v ? v !== this.currentVersion : false };
    } catch {
      return { enabled: true, available: null };
    }
  }
}

export function updaterEnabled(env: Record<string, string | undefined>): boolean {
  return env.GOUTONG_AUTO_UPDATE === '1';
}

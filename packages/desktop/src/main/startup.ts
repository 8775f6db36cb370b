// Start at login (optional, off by default): the OS login item of the app, on macOS and Windows
// (Electron has no login items on Linux: the setting says it is not available there).
export interface LoginItems {
  getLoginItemSettings(): { openAtLogin: boolean };
  setLoginItemSettings(s: { openAtLogin: boolean; openAsHidden?: boolean; args?: string[] }): void;
}

export interface StartAtLogin {
  supported: boolean;
  openAtLogin: boolean;
}

export function startAtLogin(app: LoginItems, platform: NodeJS.Platform): { get(): StartAtLogin; set(on: boolean): StartAtLogin } {
  const supported = platform === 'darwin' || platform === 'win32';
  const get = (): StartAtLogin => ({ supported, openAtLogin: supported ? app.getLoginItemSettings().openAtLogin : false });
  return {
    get,
    set(on) {
      // Started by the OS at login: in the background (the tray), not in the agent's face.
      if (supported) app.setLoginItemSettings({ openAtLogin: on, openAsHidden: true, args: on ? ['--hidden'] : [] });
      return get();
    },
  };
}

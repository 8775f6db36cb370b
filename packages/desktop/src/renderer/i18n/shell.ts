// The desktop shell's own settings (Electron): start at login.
export const shellEn = {
  shell: {
    startAtLogin: 'Start Goutong when I sign in to this computer',
    startAtLoginHint: 'It starts in the background (tray) and keeps your queue up to date.',
    startAtLoginUnsupported: 'Not available on this system.',
    title: 'This computer',
  },
};

export const shellZhCN: typeof shellEn = {
  shell: {
    startAtLogin: '登录此电脑时启动沟通',
    startAtLoginHint: '在后台（托盘）启动，保持您的队列为最新。',
    startAtLoginUnsupported: '此系统不支持。',
    title: '此电脑',
  },
};

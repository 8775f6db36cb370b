// The composition root (src/main/main.ts) against the electron double: secure defaults end to end.
import { describe, expect, it, vi } from 'vitest';
import { fakeElectronModule, invokeEvent } from './fakeElectron';

const fake = fakeElectronModule();
vi.mock('electron', () => ({ ...fake.module, default: fake.module }));
vi.mock('electron-updater', () => ({ autoUpdater: { autoDownload: true, checkForUpdates: async () => null, on: () => undefined } }));

describe('main process start-up', () => {
  it('sandboxes, registers the app scheme, the typed IPC and a locked-down window', async () => {
    await import('../../src/main/main');
    fake.ready();
    await vi.waitFor(() => expect(fake.windows.length).toBe(1));
    const { app } = fake.module;
    expect(app.sandboxed).toBe(true);
    expect(app.protocolClients).toContain('goutong');
    expect(fake.privileged).toEqual([expect.objectContaining({ scheme: 'app', privileges: expect.objectContaining({ standard: true, secure: true }) })]);
    expect(fake.protocolHandlers.has('app')).toBe(true);
    const win = fake.windows[0]!;
    expect(win.options.webPreferences).toMatchObject({ sandbox: true, contextIsolation: true, nodeIntegration: false, webviewTag: false });
    expect(win.options.webPreferences?.preload).toMatch(/preload\.cjs$/);
    await vi.waitFor(() => expect(win.loaded).toBe('app://goutong/app/'));
    expect([...fake.module.ipcMain.handlers.keys()]).toEqual(expect.arrayContaining(['session:get', 'startup:get', 'startup:set']));

    // Every web contents gets the navigation guard.
    app.emit('web-contents-created', {}, win.webContents);
    expect(win.webContents.windowOpenHandler).not.toBeNull();

    // A notification click and a deep link open a conversation in the renderer.
    await fake.module.ipcMain.invoke('notify:show', invokeEvent(win.webContents), { title: 'New', body: 'b', conversationId: 'c-1' });
    expect(fake.FakeNotification.shown).toEqual([{ title: 'New', body: 'b' }]);
    app.emit('second-instance', {}, ['/opt/goutong', 'goutong://conversation/c-2']);
    expect(win.webContents.sent).toContainEqual(['open-conversation', 'c-2']);
    await fake.module.ipcMain.invoke('tray:unread', invokeEvent(win.webContents), 4);
    expect(app.badge).toBe(4);

    // Real icons: the tray image and the window icon come from the rendered files.
    const trays = (fake.module.Tray as unknown as { created: Array<{ image: { path?: string; isEmpty(): boolean } }> }).created;
    expect(trays).toHaveLength(1);
    expect(trays[0]!.image.path).toMatch(/build[\\/]tray[\\/]tray\.png$/);
    expect(trays[0]!.image.isEmpty()).toBe(false);
    expect((win.options as { icon?: string }).icon).toMatch(/build[\\/]icons[\\/]256x256\.png$/);
  });
});

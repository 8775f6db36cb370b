// Sandboxed preload: exposes task-level calls of the typed contract as `window.goutong`, never
// ipcRenderer itself. Channel names are checked here too; main checks the sender and arguments.
import { contextBridge, ipcRenderer } from 'electron';
import { invokeContract, MAIN_EVENT_CHANNELS, type DesktopBridge, type InvokeChannel, type MainEventChannel } from '../shared/ipc';

const bridge: DesktopBridge = {
  kind: 'electron',
  invoke: ((channel: InvokeChannel, ...args: unknown[]) => {
    if (!Object.prototype.hasOwnProperty.call(invokeContract, channel)) return Promise.reject(new Error(`unknown channel ${String(channel)}`));
    return ipcRenderer.invoke(channel, ...args);
  }) as DesktopBridge['invoke'],
  on: ((channel: MainEventChannel, listener: (payload: unknown) => void) => {
    if (!MAIN_EVENT_CHANNELS.includes(channel)) throw new Error(`unknown event ${String(channel)}`);
    const h = (_e: unknown, payload: unknown) => listener(payload);
    ipcRenderer.on(channel, h);
    return () => void ipcRenderer.removeListener(channel, h);
  }) as DesktopBridge['on'],
};

contextBridge.exposeInMainWorld('goutong', bridge);

// The only way main-process handlers are registered: every channel of the contract, each call
// checked for its sender (our app origin, the main frame of a window we created) and its
// arguments (the channel's zod schema) before the handler runs. Raw ipcMain.handle is not used
// anywhere else.
import type { IpcMain, IpcMainInvokeEvent } from 'electron';
import { APP_ORIGIN, invokeContract, type InvokeArgs, type InvokeChannel, type InvokeResult } from '../shared/ipc';

export type Handlers = { [C in InvokeChannel]: (event: IpcMainInvokeEvent, ...args: InvokeArgs<C>) => Promise<InvokeResult<C>> | InvokeResult<C> };

export class IpcRejected extends Error {
  override readonly name = 'IpcRejected';
}

/** Whether an IPC call comes from our renderer: the app origin, in a window's main frame. */
export function isTrustedSender(event: Pick<IpcMainInvokeEvent, 'senderFrame' | 'sender'>, origin = APP_ORIGIN): boolean {
  const frame = event.senderFrame;
  if (!frame) return false;
  if (frame !== event.sender.mainFrame) return false;
  try {
    return new URL(frame.url).origin === origin || frame.url.startsWith(`${origin}/`);
  } catch {
    return false;
  }
}

export interface RegisterOptions {
  origin?: string;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

export function registerIpcHandlers(ipcMain: Pick<IpcMain, 'handle'>, handlers: Handlers, opts: RegisterOptions = {}): InvokeChannel[] {
  const channels = Object.keys(invokeContract) as InvokeChannel[];
  for (const channel of channels) {
    const schema = invokeContract[channel].args;
    const handler = handlers[channel] as (event: IpcMainInvokeEvent, ...args: unknown[]) => unknown;
    ipcMain.handle(channel, async (event, ...raw: unknown[]) => {
      if (!isTrustedSender(event, opts.origin)) {
        opts.log?.('ipc: rejected a call from an untrusted sender', { channel, url: event.senderFrame?.url });
        throw new IpcRejected(`untrusted sender for ${channel}`);
      }
      const parsed = schema.safeParse(raw);
      if (!parsed.success) {
        opts.log?.('ipc: rejected invalid arguments', { channel, issues: parsed.error.issues.map((i) => i.message) });
        throw new IpcRejected(`invalid arguments for ${channel}`);
      }
      return handler(event, ...(parsed.data as unknown[]));
    });
  }
  return channels;
}

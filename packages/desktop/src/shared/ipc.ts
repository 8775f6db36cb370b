// The one contract between the Electron main process and the renderer. Every channel has a zod
// schema for its arguments (checked in main before the handler runs) and a result type. The
// preload exposes task-level functions built from this map, never ipcRenderer itself.
import { z } from 'zod';

const Session = z.object({
  accessToken: z.string().min(1).max(4096),
  refreshToken: z.string().min(1).max(4096),
  expiresAt: z.number().int().nonnegative(),
});

/** What the renderer keeps between launches (encrypted with safeStorage by main). */
export const SavedSessionSchema = z.object({
  serverUrl: z.string().url().max(2000),
  session: Session,
  agent: z.object({ id: z.string().min(1).max(128), tenantId: z.string().min(1).max(128), name: z.string().max(200), email: z.string().max(320), role: z.enum(['admin', 'supervisor', 'agent']), teamIds: z.array(z.string().max(128)).max(500) }).passthrough(),
  tenant: z.object({ id: z.string().min(1).max(128), slug: z.string().max(64), name: z.string().max(200) }),
});
export type SavedSessionPayload = z.infer<typeof SavedSessionSchema>;

/** Invoke channels (renderer → main, with a result). */
export const invokeContract = {
  'session:get': { args: z.tuple([]), result: null as unknown as SavedSessionPayload | null },
  'session:set': { args: z.tuple([SavedSessionSchema]), result: null as unknown as void },
  'session:clear': { args: z.tuple([]), result: null as unknown as void },
  'notify:show': {
    args: z.tuple([z.object({ title: z.string().min(1).max(200), body: z.string().max(1000), conversationId: z.string().max(128).optional() })]),
    result: null as unknown as boolean,
  },
  'tray:unread': { args: z.tuple([z.number().int().min(0).max(1_000_000)]), result: null as unknown as void },
  'shell:openExternal': { args: z.tuple([z.string().url().max(4000).refine((u) => /^(https?|mailto):/i.test(u), 'only http(s) and mailto links')]), result: null as unknown as boolean },
  'app:info': { args: z.tuple([]), result: null as unknown as { version: string; platform: string; userData: string } },
  'updater:check': { args: z.tuple([]), result: null as unknown as { enabled: boolean; available: boolean | null } },
  /** [accounts] The local database's key (base64) from safeStorage; null without OS encryption. */
  'dbkey:get': { args: z.tuple([z.string().regex(/^[a-z0-9_-]{1,200}$/)]), result: null as unknown as string | null },
  'dbkey:delete': { args: z.tuple([z.string().regex(/^[a-z0-9_-]{1,200}$/)]), result: null as unknown as void },
  /** Start at login (macOS, Windows): whether the OS supports it here and whether it is on. */
  'startup:get': { args: z.tuple([]), result: null as unknown as { supported: boolean; openAtLogin: boolean } },
  'startup:set': { args: z.tuple([z.boolean()]), result: null as unknown as { supported: boolean; openAtLogin: boolean } },
} as const;

export type InvokeChannel = keyof typeof invokeContract;
export type InvokeArgs<C extends InvokeChannel> = z.infer<(typeof invokeContract)[C]['args']>;
export type InvokeResult<C extends InvokeChannel> = (typeof invokeContract)[C]['result'];

/** Event channels (main → renderer). */
export interface MainEvents {
  /** A goutong://conversation/{id} deep link or a notification click. */
  'open-conversation': string;
}
export type MainEventChannel = keyof MainEvents;
export const MAIN_EVENT_CHANNELS: readonly MainEventChannel[] = ['open-conversation'];

/** The API the preload exposes as `window.goutong` (see src/preload/index.ts). */
export interface DesktopBridge {
  readonly kind: 'electron';
  invoke<C extends InvokeChannel>(channel: C, ...args: InvokeArgs<C>): Promise<InvokeResult<C>>;
  on<E extends MainEventChannel>(channel: E, listener: (payload: MainEvents[E]) => void): () => void;
}

/** The origin the renderer is served from inside Electron (custom protocol, see main/protocol.ts). */
export const APP_SCHEME = 'app';
export const APP_HOST = 'goutong';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;
export const DEEP_LINK_SCHEME = 'goutong';

/** Parses goutong://conversation/{id}; null for anything else. */
export function parseDeepLink(url: string): { conversationId: string } | null {
  const m = /^goutong:\/\/conversation\/([A-Za-z0-9_.:-]{1,128})\/?$/.exec(url.trim());
  return m ? { conversationId: m[1]! } : null;
}

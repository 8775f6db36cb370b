// The seam between the Pinia stores and the platform. Stores never call `uni`, `plus` or the
// network directly: they go through the `Device` set here (the uni implementation in uniDevice.ts,
// a test device over core's TestWorld in the tests), and read and write through core's
// GoutongClient, which the device builds once the user is signed in.
import type { Agent, GoutongClient, LocalStore, Session } from '@goutong/core';
import type { WorkingSetInfo } from '../storage/uniStorageStore';

export type StorageKind = 'sqlite' | 'uni' | 'uni-working-set' | 'indexeddb' | 'memory';

/** What a signed-in app runs on. */
export interface AppServices {
  client: GoutongClient;
  store: LocalStore;
  storageKind: StorageKind;
  /** Budget and usage when the store keeps only the working set (WeChat). */
  workingSet(): WorkingSetInfo | null;
  /** Stops syncing and closes the database. */
  dispose(): Promise<void>;
}

export interface SavedSession {
  serverUrl: string;
  session: Session;
  agent: Agent;
  tenant: { id: string; slug: string; name: string };
}

/** Small synchronous settings that must be there before the database opens (session, language). */
export interface SettingsKv {
  get(key: string): string | null;
  set(key: string, value: string): void;
  remove(key: string): void;
}

export interface Device {
  settings: SettingsKv;
  now(): number;
  /** Signs in against a server; rejects with a readable message. */
  login(serverUrl: string, email: string, password: string): Promise<SavedSession>;
  /** Opens the local database and starts the client for a saved session. */
  connect(saved: SavedSession, hooks: { onSession(session: Session): void; onSessionExpired(): void }): Promise<AppServices>;
  /** Opens the phone's dialer. */
  makePhoneCall(phoneNumber: string): Promise<void>;
  /** The server to offer on the login form when none is remembered (H5: the page's own origin). */
  defaultServerUrl?(): string | null;
  /** Sets uni's own locale (native strings, pages.json titles). */
  setNativeLocale?(locale: string): void;
}

let device: Device | null = null;
let services: AppServices | null = null;

export function setDevice(d: Device): void {
  device = d;
}

export function useDevice(): Device {
  if (!device) throw new Error('no device: call setDevice() at start-up');
  return device;
}

export function setServices(s: AppServices | null): void {
  services = s;
}

/** The signed-in services, or null before login. */
export function currentServices(): AppServices | null {
  return services;
}

export function requireServices(): AppServices {
  if (!services) throw new Error('not signed in');
  return services;
}

// The seam between the Pinia stores and the platform. Stores never call `uni`, `plus` or the
// network directly: they go through the `Device` set here (the uni implementation in uniDevice.ts,
// a test device over core's TestWorld in the tests), and read and write through core's
// GoutongClient, which the device builds once the user is signed in.
import type { Agent, Attachment, GoutongClient, LocalStore, NetworkMonitor, Session } from '@goutong/core';
import type { WorkingSetInfo } from '../storage/uniStorageStore';

export type StorageKind = 'sqlite' | 'uni' | 'uni-working-set' | 'indexeddb' | 'memory';

/** A photo or video the agent picked (camera or gallery), before the app keeps it. */
export interface PickedFile {
  /** uni's temporary path (a blob: URL on H5). */
  path: string;
  name: string;
  mime: string;
  size: number;
  /** H5: the File itself. */
  blob?: Blob;
}

/** A file kept on the device until it is uploaded (uni's saved files; IndexedDB on H5). */
export interface LocalFile {
  ref: string;
  name: string;
  mime: string;
  size: number;
}

export interface FileVault {
  /** Copies a picked file into durable storage (it must survive a restart while offline). */
  keep(file: PickedFile): Promise<LocalFile>;
  /** A URL to show it (thumbnail), or null when gone. */
  displayUrl(ref: string): Promise<string | null>;
  remove(ref: string): Promise<void>;
}

/** Authenticated calls to the signed-in server beside core's sync protocol. */
export interface ServerApi {
  /** GET a JSON resource (bearer token); rejects with core's TransportError. */
  getJson(path: string): Promise<unknown>;
  /** [accounts] POST a JSON body (bearer token); the parsed answer (null for 204). */
  postJson?(path: string, body: unknown): Promise<unknown>;
  /** `POST /api/v1/attachments?name=` with the file's bytes; the server's metadata for it. */
  uploadAttachment(file: LocalFile): Promise<Attachment>;
  /** A URL an <image> can show for a stored attachment (fetched with the token), or null. */
  attachmentUrl(attachment: Pick<Attachment, 'id' | 'mime'>): Promise<string | null>;
  /** [routing] POST a JSON body (e.g. the agent's availability; mini programs cannot PATCH); the JSON answer. */
  sendJson?(method: 'POST', path: string, body: unknown): Promise<unknown>;
}

/** A local notification (newly assigned conversations). */
export interface LocalNotice {
  title: string;
  body: string;
  conversationId: string;
}

/** What a signed-in app runs on. */
export interface AppServices {
  client: GoutongClient;
  store: LocalStore;
  api: ServerApi;
  files: FileVault;
  network: NetworkMonitor;
  /** A new UUIDv7 (command ids fixed before the outbox sees the command). */
  newId(): string;
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
  /** [accounts] With `mfa`: the second step of a two-factor login (the first threw core's MfaRequiredError). */
  login(serverUrl: string, email: string, password: string, mfa?: { token: string; code: string }): Promise<SavedSession>;
  /** Opens the local database and starts the client for a saved session. */
  connect(saved: SavedSession, hooks: { onSession(session: Session): void; onSessionExpired(): void }): Promise<AppServices>;
  /** Opens the phone's dialer. */
  makePhoneCall(phoneNumber: string): Promise<void>;
  /** Photos (and videos where the platform allows) from the camera or the gallery; [] when cancelled. */
  chooseMedia(source: 'camera' | 'album'): Promise<PickedFile[]>;
  /**
   * Shows a system notification when the platform can (app-plus: uni.createPushMessage; H5: the
   * Notification API once permitted); false when it cannot, and the app shows its own banner.
   */
  notify(notice: LocalNotice): Promise<boolean>;
  /** Asks for permission to notify (H5: must run in a user gesture); whether notices can be shown. */
  requestNotifyPermission?(): Promise<boolean>;
  /** Runs `fn` when the app comes back to the foreground (after a call in the dialer). */
  onForeground?(fn: () => void): () => void;
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

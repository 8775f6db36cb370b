// A Device for store tests: core's TestWorld (reference server, seeded network, fake clock) in
// place of uni's network and storage, with fakes for the REST API beside sync (canned responses,
// attachment uploads), the file vault, the media picker and notifications.
import { TransportError, Uuidv7Generator, type Attachment, type CannedResponse, type Macro } from '@goutong/core';
import type { TestClient, TestWorld } from '@goutong/core/testing';
import { mobileUploadPorts } from '../src/attachments/uploads';
import type { AppServices, Device, FileVault, LocalFile, LocalNotice, PickedFile, SavedSession, ServerApi } from '../src/app/services';

/** What the fake server behind the REST seam holds and saw. */
export interface FakeRest {
  canned: CannedResponse[];
  macros: Macro[];
  uploads: Attachment[];
  /** Number of GETs of the canned responses. */
  cannedFetches: number;
  /** Makes every call fail with this error until cleared. */
  failWith: TransportError | null;
  /** [trust] The privacy number X the fake server binds (null: no provider, 409 no_privacy_number). */
  privacyNumber: string | null;
  /** The bodies of `POST /api/v1/voice/privacy-bindings`. */
  privacyRequests: unknown[];
}

export interface TestDevice extends Device {
  readonly calls: string[];
  readonly settingsData: Map<string, string>;
  readonly rest: FakeRest;
  /** Files in the fake vault, by ref. */
  readonly vault: Map<string, LocalFile>;
  /** What chooseMedia returns next. */
  picked: PickedFile[];
  /** Notifications shown by the "system"; `systemNotifications` false makes notify() refuse. */
  readonly notices: LocalNotice[];
  systemNotifications: boolean;
  /** Fires the foreground hooks (the agent comes back from the dialer). */
  foreground(): void;
  /** The TestClient behind the current sign-in. */
  phone(): TestClient;
}

export function createTestDevice(world: TestWorld, clientId: string, settingsData = new Map<string, string>()): TestDevice {
  const calls: string[] = [];
  let current: TestClient | null = null;
  const rest: FakeRest = { canned: [], macros: [], uploads: [], cannedFetches: 0, failWith: null, privacyNumber: null, privacyRequests: [] };
  const vault = new Map<string, LocalFile>();
  const notices: LocalNotice[] = [];
  const foregroundHooks = new Set<() => void>();
  let refs = 0;
  let bytes = 0;
  const ids = new Uuidv7Generator(
    () => world.clock.now(),
    (n) => Uint8Array.from({ length: n }, () => (bytes = (bytes * 73 + 41) % 256)),
  );

  const files: FileVault = {
    async keep(f) {
      const file = { ref: `ref-${++refs}`, name: f.name, mime: f.mime, size: f.size };
      vault.set(file.ref, file);
      return file;
    },
    async displayUrl(ref) {
      return vault.has(ref) ? `blob:test/${ref}` : null;
    },
    async remove(ref) {
      vault.delete(ref);
    },
  };

  const online = () => current?.monitor.isOnline() ?? false;
  const api: ServerApi = {
    async getJson(path) {
      if (!online()) throw new TransportError('network', 'cannot reach the server: offline');
      if (rest.failWith) throw rest.failWith;
      if (path === '/api/v1/canned-responses') {
        rest.cannedFetches++;
        return { items: structuredClone(rest.canned) };
      }
      if (path === '/api/v1/macros') return { items: structuredClone(rest.macros) };
      throw new TransportError('http', `${path}: HTTP 404`, 404);
    },
    async postJson(path, body) {
      if (!online()) throw new TransportError('network', 'cannot reach the server: offline');
      if (rest.failWith) throw rest.failWith;
      if (path === '/api/v1/voice/privacy-bindings') {
        rest.privacyRequests.push(structuredClone(body));
        if (!rest.privacyNumber) throw new TransportError('http', `${path}: no privacy-number provider`, 409, 'no_privacy_number');
        return { id: `pb-${rest.privacyRequests.length}`, virtualNumber: rest.privacyNumber, display: '138****0001', expiresAt: world.clock.now() + 600_000, inboxId: 'inbox-voice' };
      }
      throw new TransportError('http', `${path}: HTTP 404`, 404);
    },
    async uploadAttachment(file) {
      if (!online()) throw new TransportError('network', 'cannot reach the server: offline');
      if (rest.failWith) throw rest.failWith;
      if (!vault.has(file.ref)) throw new TransportError('protocol', `${file.name} is no longer on this device`);
      const n = rest.uploads.length + 1;
      const a: Attachment = { id: `att-${n}`, name: file.name, mime: file.mime, size: file.size, sha256: n.toString(16).padStart(64, '0'), url: `/api/v1/attachments/att-${n}` };
      rest.uploads.push(a);
      // The upload lands in the server's attachment store, where the reply's decision finds it.
      world.server.addUpload(world.tenantId, a);
      return a;
    },
    async attachmentUrl(a) {
      return `blob:test/${a.id}`;
    },
  };

  const device: TestDevice = {
    calls,
    settingsData,
    rest,
    vault,
    picked: [],
    notices,
    systemNotifications: true,
    foreground() {
      for (const fn of [...foregroundHooks]) fn();
    },
    phone() {
      if (!current) throw new Error('not connected');
      return current;
    },
    settings: {
      get: (k) => settingsData.get(k) ?? null,
      set: (k, v) => void settingsData.set(k, v),
      remove: (k) => void settingsData.delete(k),
    },
    now: () => world.clock.now(),
    async login(serverUrl, email, password): Promise<SavedSession> {
      const id = email.split('@')[0]!;
      const agent = world.server.agent(id);
      if (!agent || password !== 'secret') throw new Error('invalid email or password');
      return {
        serverUrl,
        session: { accessToken: `at-${id}`, refreshToken: `rt-${id}`, expiresAt: world.clock.now() + 3_600_000 },
        agent,
        tenant: { id: world.tenantId, slug: world.tenantId, name: 'ACME' },
      };
    },
    async connect(saved): Promise<AppServices> {
      const tc = current && current.agentId === saved.agent.id ? current : await world.addClient(saved.agent.id, { clientId, device: 'mobile', uploads: mobileUploadPorts(files, api) });
      if (current === tc) await tc.restart();
      current = tc;
      return {
        client: tc.client,
        store: tc.store,
        api,
        files,
        network: tc.monitor,
        newId: () => ids.next(),
        storageKind: 'memory',
        workingSet: () => null,
        dispose: () => tc.client.stop(),
      };
    },
    async makePhoneCall(phoneNumber) {
      calls.push(phoneNumber);
    },
    async chooseMedia() {
      const p = device.picked;
      device.picked = [];
      return p;
    },
    async notify(n) {
      if (!device.systemNotifications) return false;
      notices.push(n);
      return true;
    },
    async requestNotifyPermission() {
      return device.systemNotifications;
    },
    onForeground(fn) {
      foregroundHooks.add(fn);
      return () => foregroundHooks.delete(fn);
    },
  };
  return device;
}

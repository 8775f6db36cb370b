// A signed-in app without a server: core's client over a MemoryStore, offline (the outbox keeps
// every intent), with facts written straight into the store. Used by store and component tests.
import { GoutongClient, Uuidv7Generator, type Clock, type FactBatch, type Transport, type UploadPorts } from '@goutong/core';
import type { ServerApi } from '../../src/renderer/platform/serverApi';
import { desktopUploadPorts } from '../../src/renderer/attachments/uploads';
import { memoryVault } from '../../src/renderer/attachments/vault';
import { MemoryStore, makeAgent, makeConversation, makeInbox, seededRandom } from '@goutong/core/testing';
import { setHost, type Host, type SavedSession } from '../../src/renderer/platform/host';
import { setServiceFactory, setServices, type AppServices } from '../../src/renderer/platform/services';

export const ME = makeAgent({ id: 'agent-me', tenantId: 'tenant-1', name: 'Me 我', email: 'me@example.com', role: 'agent', teamIds: ['team-a'] });
export const OTHER = makeAgent({ id: 'agent-other', tenantId: 'tenant-1', name: 'Other 他', email: 'other@example.com', role: 'agent', teamIds: ['team-a'] });

export function testHost(): Host & { notes: Array<{ title: string; body: string }>; unread: number; saved: SavedSession | null } {
  const prefs = new Map<string, string>();
  const h = {
    kind: 'web' as const,
    notes: [] as Array<{ title: string; body: string }>,
    unread: 0,
    saved: null as SavedSession | null,
    defaultServerUrl: () => 'http://127.0.0.1:8787',
    loadSession: async () => h.saved,
    saveSession: async (s: SavedSession) => void (h.saved = s),
    clearSession: async () => void (h.saved = null),
    notify: async (n: { title: string; body: string }) => (h.notes.push(n), true),
    setUnread: (n: number) => void (h.unread = n),
    onOpenConversation: () => () => {},
    openExternal: () => {},
    prefs: { get: (k: string) => prefs.get(k) ?? null, set: (k: string, v: string) => void prefs.set(k, v) },
  };
  return h;
}

const offlineTransport: Transport = {
  pull: () => Promise.reject(new Error('offline')),
  push: () => Promise.reject(new Error('offline')),
  messages: () => Promise.reject(new Error('offline')),
  openSocket: () => {
    throw new Error('offline');
  },
};

/** Uploads in unit tests: a fake server API, whether it is reachable, the client's clock. */
export interface TestUploads {
  api?: () => Pick<ServerApi, 'uploadAttachment'> | undefined;
  isOnline?: () => boolean;
  clock?: Clock;
}

export async function offlineServices(batch: Partial<FactBatch> = {}, up: TestUploads = {}): Promise<AppServices & { store: MemoryStore; files: ReturnType<typeof memoryVault> }> {
  const store = new MemoryStore();
  await store.applyFacts(
    {
      conversations: batch.conversations ?? [],
      messages: batch.messages ?? [],
      contacts: batch.contacts ?? [],
      inboxes: batch.inboxes ?? [makeInbox({ id: 'inbox-1', tenantId: 'tenant-1', teamIds: ['team-a'] })],
      agents: batch.agents ?? [ME, OTHER],
      teams: batch.teams ?? [],
    },
    1,
    'test',
  );
  const rnd = seededRandom(7);
  const files = memoryVault();
  const client = new GoutongClient({
    store,
    transport: offlineTransport,
    clock: up.clock ?? { now: () => Date.now(), setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>) },
    ids: new Uuidv7Generator(Date.now, (n) => Uint8Array.from({ length: n }, () => Math.floor(rnd() * 256))),
    random: rnd,
    logger: { debug() {}, info() {}, warn() {}, error() {} },
    network: { isOnline: () => false, subscribe: () => () => {} },
    agent: { id: ME.id, tenantId: ME.tenantId, name: ME.name },
    uploads: desktopUploadPorts({ vault: () => files, api: up.api ?? (() => undefined), ...(up.isOnline ? { isOnline: up.isOnline } : {}) }) as UploadPorts<unknown>,
  });
  await client.start();
  return { client, store, files, logout: async () => {}, dispose: () => client.stop() };
}

/** Signs the test app in over the given services (host and factory set). */
export function useTestApp(services: AppServices) {
  const host = testHost();
  setHost(host);
  setServiceFactory({
    login: async () => ({ serverUrl: 'http://127.0.0.1:8787', session: { accessToken: 'a', refreshToken: 'r', expiresAt: Date.now() + 60_000 }, agent: ME, tenant: { id: 'tenant-1', slug: 't', name: 'T' } }),
    connect: async () => services,
  });
  setServices(services);
  return host;
}

export function conversations(n: number, over: (i: number) => Partial<import('@goutong/core').Conversation> = () => ({})) {
  return Array.from({ length: n }, (_, i) =>
    makeConversation({ id: `c${String(i).padStart(4, '0')}`, tenantId: 'tenant-1', inboxId: 'inbox-1', contactName: `Contact ${i}`, lastMessageAt: 1_700_000_000_000 + i * 60_000, seq: i + 1, ...over(i) }),
  );
}

export const flush = () => new Promise((r) => setTimeout(r, 80));

/** Plays the end of the session's first pull on the offline client (what follows is news, not history). */
export function markSynced(client: GoutongClient): void {
  const state = (client as unknown as { state: { value: object; set(v: object): void } }).state;
  state.set({ ...state.value, lastSyncedAt: Date.now() });
}

/** The workspace's selects (GtSelect, Element Plus) under `w`, once their lazy chunk has loaded. */
export function gtSelects(w: import('@vue/test-utils').VueWrapper | import('@vue/test-utils').DOMWrapper<Element>): Array<import('@vue/test-utils').VueWrapper> {
  return (w.findAllComponents({ name: 'GtSelect' }) as Array<import('@vue/test-utils').VueWrapper>).filter((c) => propsOf(c).options !== undefined);
}

/** A mounted component's props, by name. */
export function propsOf(c: import('@vue/test-utils').VueWrapper): Record<string, unknown> {
  return c.props() as Record<string, unknown>;
}

/** The GtSelect labelled `label` under `w` (waits for the lazy chunk). */
export async function gtSelect(w: import('@vue/test-utils').VueWrapper | import('@vue/test-utils').DOMWrapper<Element>, label: string): Promise<import('@vue/test-utils').VueWrapper> {
  for (let i = 0; i < 50; i++) {
    const found = gtSelects(w).find((c) => propsOf(c).label === label);
    if (found) return found;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`no select labelled "${label}"; there are: ${gtSelects(w).map((c) => String(propsOf(c).label)).join(', ')}`);
}

/** Chooses `value` in the GtSelect labelled `label`, as a click on its option would. */
export async function choose(w: import('@vue/test-utils').VueWrapper | import('@vue/test-utils').DOMWrapper<Element>, label: string, value: string | string[]): Promise<void> {
  const s = await gtSelect(w, label);
  s.vm.$emit('update:modelValue', value);
  s.vm.$emit('change', value);
  await new Promise((r) => setTimeout(r, 0));
}

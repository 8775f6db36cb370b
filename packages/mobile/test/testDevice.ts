// A Device for store tests: core's TestWorld (reference server, seeded network, fake clock) in
// place of uni's network and storage.
import type { TestClient, TestWorld } from '@goutong/core/testing';
import type { AppServices, Device, SavedSession } from '../src/app/services';

export interface TestDevice extends Device {
  readonly calls: string[];
  readonly settingsData: Map<string, string>;
  /** The TestClient behind the current sign-in. */
  phone(): TestClient;
}

export function createTestDevice(world: TestWorld, clientId: string, settingsData = new Map<string, string>()): TestDevice {
  const calls: string[] = [];
  let current: TestClient | null = null;
  return {
    calls,
    settingsData,
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
      const tc = current && current.agentId === saved.agent.id ? current : await world.addClient(saved.agent.id, { clientId, device: 'mobile' });
      if (current === tc) await tc.restart();
      current = tc;
      return {
        client: tc.client,
        store: tc.store,
        storageKind: 'memory',
        workingSet: () => null,
        dispose: () => tc.client.stop(),
      };
    },
    async makePhoneCall(phoneNumber) {
      calls.push(phoneNumber);
    },
  };
}

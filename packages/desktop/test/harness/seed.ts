// Test and benchmark harness (never shipped: dist/harness is served to Chromium only through
// request interception). It writes a large local database the way the app would find it after a
// long sync: conversations, directory rows and a saved web session, on the app's own origin.
import * as storage from '@goutong/storage-rxdb';
import { makeAgent, makeInbox, makeTeam, generateConversations } from '@goutong/core/testing';
import { CHANNELS } from '@goutong/core';
import { databaseName } from '../../src/renderer/platform/services';
import { sanitizeEmailHtml } from '../../src/renderer/util/sanitize';
import { webHost, type SavedSession } from '../../src/renderer/platform/host';
import { openLocalStore } from '../../src/renderer/platform/localStore';

export interface SeedOptions {
  count: number;
  seed?: number;
  serverUrl: string;
  chunk?: number;
}

export const HARNESS_AGENT = { id: 'agent-1', tenantId: 'tenant-1' };

async function seed(o: SeedOptions): Promise<{ ms: number; name: string }> {
  const t0 = performance.now();
  const agentIds = Array.from({ length: 8 }, (_, i) => `agent-${i + 1}`);
  const agents = agentIds.map((id, i) =>
    makeAgent({ id, tenantId: 'tenant-1', email: `agent${i + 1}@example.com`, name: i === 0 ? '测试坐席 Test Agent' : `Agent ${i + 1}`, role: i === 0 ? 'admin' : 'agent', teamIds: ['team-a'] }),
  );
  const saved: SavedSession = {
    serverUrl: o.serverUrl,
    session: { accessToken: 'offline-test', refreshToken: 'offline-test', expiresAt: Date.now() + 3_600_000 },
    agent: agents[0]!,
    tenant: { id: 'tenant-1', slug: 'test', name: 'Test 测试' },
  };
  const name = databaseName(saved);
  // The app's own opener: the database is encrypted with the browser's device key, as the app finds it.
  const store = await openLocalStore(storage, name, webHost());
  const rows = generateConversations(o.count, { seed: o.seed ?? 1, agentIds, timeSpreadMinutes: o.count * 2 });
  const inboxes = CHANNELS.map((channel) => makeInbox({ id: `inbox-${channel}`, tenantId: 'tenant-1', name: `${channel} inbox`, channel, teamIds: ['team-a'] }));
  const teams = ['team-a', 'team-b', 'team-c'].map((id) => makeTeam({ id, tenantId: 'tenant-1', name: id.toUpperCase() }));
  const chunk = o.chunk ?? 5_000;
  await store.applyFacts({ conversations: [], messages: [], contacts: [], inboxes, agents, teams }, 0, 'harness');
  for (let i = 0; i < rows.length; i += chunk) {
    await store.applyFacts({ conversations: rows.slice(i, i + chunk), messages: [], contacts: [], inboxes: [], agents: [], teams: [] }, i + chunk, 'harness');
  }
  await store.close();
  localStorage.setItem('goutong.session', JSON.stringify(saved));
  return { ms: performance.now() - t0, name };
}

(globalThis as { goutongHarness?: unknown }).goutongHarness = { seed, sanitizeEmailHtml };
document.getElementById('state')!.textContent = 'ready';

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { PROTOCOL_VERSION, silentLogger } from '@goutong/core';
import { loadConfig } from '../src/config.js';
import { startServer, type RunningServer } from '../src/server.js';
import { createInbox, createTenant } from '../src/seed.js';
import { api, eventually, loginToken } from './support/agentClient.js';
import { createTestDatabase } from './support/pg.js';

/**
 * Two servers on one PostgreSQL database (two ops buses, two pools): conversations arriving on both
 * at once are routed round robin with one durable pointer; no turn is handed out twice.
 */
describe('round robin across two servers on PostgreSQL', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  const servers: RunningServer[] = [];
  const dirs: string[] = [];
  const sockets: WebSocket[] = [];

  beforeAll(async () => {
    database = await createTestDatabase('gtroute2');
    for (let i = 0; i < 2; i++) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'goutong-route-'));
      dirs.push(dir);
      const config = loadConfig({
        PORT: '0', GOUTONG_DATA_DIR: dir, GOUTONG_DEMO: '0', GOUTONG_LOG: 'silent', GOUTONG_OPS_INTERVAL_MS: '20',
        GOUTONG_SECRET: 'routing-two-servers-secret-0123456789abcdef', DATABASE_URL: database.url,
      });
      servers.push(await startServer({ config, logger: silentLogger }));
    }
  }, 60_000);

  afterAll(async () => {
    for (const ws of sockets) ws.close();
    for (const s of servers) await s.close();
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
    await database?.drop();
  });

  it('spreads conversations arriving on both servers evenly over three online agents', async () => {
    const [a, b] = servers as [RunningServer, RunningServer];
    const t = await createTenant(a.workspace, {
      slug: 'rr2', name: 'rr2', teams: ['Support'],
      agents: [
        { email: 'admin@rr2.test', name: 'Admin', role: 'admin', teams: [], password: 'pw-routing-2' },
        ...[1, 2, 3].map((i) => ({ email: `a${i}@rr2.test`, name: `A${i}`, role: 'agent' as const, teams: ['Support'], password: 'pw-routing-2' })),
      ],
    });
    const inboxId = await createInbox(a.workspace, a.secret, { tenantId: t.tenantId, name: 'Web', channel: 'api', teamIds: [t.teamIds.Support!] });
    const admin = api(a.url, await loginToken(a.url, 'admin@rr2.test', 'pw-routing-2'));
    expect((await admin('PATCH', `/api/v1/inboxes/${inboxId}`, { routing: { strategy: 'round_robin' } })).status).toBe(200);
    // One device per agent, on either server.
    for (const [i, s] of [[1, a], [2, b], [3, a]] as const) {
      const token = await loginToken(s.url, `a${i}@rr2.test`, 'pw-routing-2');
      const ws = new WebSocket(`${s.url.replace('http', 'ws')}/sync`);
      sockets.push(ws);
      await new Promise<void>((resolve, reject) => {
        ws.on('open', () => ws.send(JSON.stringify({ t: 'auth', token, v: PROTOCOL_VERSION })));
        ws.on('message', (d, bin) => !bin && JSON.parse(d.toString()).t === 'ready' && resolve());
        ws.on('error', reject);
      });
    }
    await eventually(async () => (await admin('GET', '/api/v1/agents')).body.items.filter((x: any) => x.availability === 'online').length === 3, 'three online');
    // Twelve customers write at once, half through each server.
    const ids = await Promise.all(
      Array.from({ length: 12 }, async (_, i) => {
        const s = i % 2 === 0 ? a : b;
        const inbox = (await s.workspace.inbox(t.tenantId, inboxId))!;
        return (await s.workspace.ingestInbound(inbox, { externalId: `rr2-${i}`, from: { identifier: `+8613${i}` }, text: `hi ${i}` })).conversation.id;
      }),
    );
    const assignees = await eventually(async () => {
      const got = await Promise.all(ids.map(async (id) => (await admin('GET', `/api/v1/conversations/${id}`)).body.assigneeId as string | null));
      return got.every(Boolean) && (got as string[]);
    }, 'all twelve routed');
    const counts = new Map<string, number>();
    for (const x of assignees) counts.set(x, (counts.get(x) ?? 0) + 1);
    expect([...counts.values()]).toEqual([4, 4, 4]);
    // Each routed once: one routing event per conversation.
    for (const id of ids) {
      const msgs = (await admin('GET', `/api/v1/conversations/${id}/messages?limit=50`)).body.items as { text: string }[];
      expect(msgs.filter((m) => m.text.startsWith('routed')).length).toBe(1);
    }
  }, 90_000);
});

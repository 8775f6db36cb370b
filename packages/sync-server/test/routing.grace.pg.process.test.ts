import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { PROTOCOL_VERSION } from '@goutong/core';
import { ServerProcess } from './support/serverProcess.js';
import { api, eventually, loginToken } from './support/agentClient.js';
import { createTestDatabase } from './support/pg.js';

/**
 * Two real server processes on one PostgreSQL database and one test clock: an agent's only device
 * disconnects; after the grace period (5 minutes, moved on the shared clock) each of their open
 * conversations is released back to the queue exactly once, whichever process fires the timer.
 */
describe('grace release on PostgreSQL across two server processes', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let a: ServerProcess;
  let b: ServerProcess;
  const clockDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gt-grace-clock-'));
  const env = {
    GOUTONG_DEMO: '1',
    GOUTONG_SECRET: 'routing-grace-two-processes-secret-0123456789',
    GOUTONG_TEST_CLOCK: path.join(clockDir, 'clock'),
    GOUTONG_OPS_INTERVAL_MS: '50',
    GOUTONG_ROUTING_GRACE_MS: String(5 * 60_000),
    GOUTONG_PRESENCE_HEARTBEAT_MS: '300',
  };

  beforeAll(async () => {
    database = await createTestDatabase('gtgrace2p');
    a = new ServerProcess({ databaseUrl: database.url, env });
    await a.start();
    b = new ServerProcess({ databaseUrl: database.url, env });
    await b.start();
  }, 90_000);

  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    a?.cleanup();
    b?.cleanup();
    await database?.drop();
    fs.rmSync(clockDir, { recursive: true, force: true });
  });

  it('an agent going offline has their conversations re-queued after the grace period, exactly once', async () => {
    const adminA = api(a.url, await loginToken(a.url, 'admin@demo.goutong'));
    const adminB = api(b.url, await loginToken(b.url, 'admin@demo.goutong'));
    const inboxId = (await adminA('GET', '/api/v1/inboxes')).body.items[0].id;
    expect((await adminA('PATCH', `/api/v1/inboxes/${inboxId}`, { routing: { strategy: 'least_loaded' } })).status).toBe(200);
    const agents = (await adminA('GET', '/api/v1/agents')).body.items as { id: string; email: string; availability: string }[];
    const zhang = agents.find((x) => x.email === 'zhang.san@demo.goutong')!;

    // Zhang's one device connects to process A: online, and the waiting queue is offered to them.
    const token = await loginToken(a.url, 'zhang.san@demo.goutong');
    const ws = new WebSocket(`${a.url.replace('http', 'ws')}/sync`);
    await new Promise<void>((resolve, reject) => {
      ws.on('open', () => ws.send(JSON.stringify({ t: 'auth', token, v: PROTOCOL_VERSION })));
      ws.on('message', (d, bin) => !bin && JSON.parse(d.toString()).t === 'ready' && resolve());
      ws.on('error', reject);
    });
    const mine = async () => (await adminB('GET', `/api/v1/conversations?assigneeId=${zhang.id}&status=open,pending&limit=100`)).body.items as { id: string }[];
    const held = await eventually(async () => {
      const items = await mine();
      return items.length >= 2 && items;
    }, 'the queue offered to zhang (online)');
    expect((await adminB('GET', '/api/v1/agents')).body.items.find((x: any) => x.id === zhang.id).availability).toBe('online');

    // The device goes away: offline at once, the conversations stay until the grace period ends.
    await new Promise<void>((r) => {
      ws.on('close', () => r());
      ws.close();
    });
    await eventually(async () => (await adminB('GET', '/api/v1/agents')).body.items.find((x: any) => x.id === zhang.id).availability === 'offline', 'zhang offline');
    expect((await adminA('POST', '/api/v1/test/clock', { advanceMs: 4 * 60_000 })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 500));
    expect((await mine()).map((c) => c.id).sort()).toEqual(held.map((c) => c.id).sort());

    await adminA('POST', '/api/v1/test/clock', { advanceMs: 2 * 60_000 });
    await eventually(async () => (await mine()).length === 0, 'zhang\'s conversations released');
    // Each released conversation: unassigned, back in its team's queue, one release event (not two).
    for (const c of held) {
      const conv = (await adminA('GET', `/api/v1/conversations/${c.id}`)).body;
      expect(conv).toMatchObject({ assigneeId: null });
      expect(conv.teamId).not.toBeNull();
      await new Promise((r) => setTimeout(r, 100));
      const msgs = (await adminB('GET', `/api/v1/conversations/${c.id}/messages?limit=200`)).body.items as { text: string; kind: string; authorType: string }[];
      expect(msgs.filter((m) => m.kind === 'event' && m.text === 'released: agent offline')).toEqual([expect.objectContaining({ authorType: 'system' })]);
    }
    const queues = (await adminB('GET', '/api/v1/queues')).body.items.filter((q: any) => q.inboxId === inboxId);
    const waiting = queues.flatMap((q: any) => q.unassigned.map((u: any) => u.id));
    for (const c of held) expect(waiting).toContain(c.id);
  }, 120_000);

  it('a process that dies with an agent\'s only socket: another process notices (stale presence), the agent goes offline and is released after the grace period', async () => {
    const adminA = api(a.url, await loginToken(a.url, 'admin@demo.goutong'));
    const alice = ((await adminA('GET', '/api/v1/agents')).body.items as { id: string; email: string }[]).find((x) => x.email === 'alice@demo.goutong')!;
    // A third process that will crash holds alice's socket.
    const c = new ServerProcess({ databaseUrl: database.url, env });
    await c.start();
    try {
      const token = await loginToken(c.url, 'alice@demo.goutong');
      const ws = new WebSocket(`${c.url.replace('http', 'ws')}/sync`);
      ws.on('error', () => undefined);
      await new Promise<void>((resolve, reject) => {
        ws.on('open', () => ws.send(JSON.stringify({ t: 'auth', token, v: PROTOCOL_VERSION })));
        ws.on('message', (d, bin) => !bin && JSON.parse(d.toString()).t === 'ready' && resolve());
        ws.on('error', reject);
      });
      const availability = async () => (await adminA('GET', '/api/v1/agents')).body.items.find((x: any) => x.id === alice.id).availability;
      await eventually(async () => (await availability()) === 'online', 'alice online');
      // Online, alice is offered the queue (zhang's released conversations).
      const mine = async () => (await adminA('GET', `/api/v1/conversations?assigneeId=${alice.id}&status=open,pending&limit=100`)).body.items as { id: string }[];
      const held = await eventually(async () => {
        const items = await mine();
        return items.length > 0 && items;
      }, 'the queue offered to alice');
      await c.kill();
      await eventually(async () => (await availability()) === 'offline', 'alice offline after her process died', 30_000);
      // Within the grace period nothing is released (routing may have offered alice more of the queue
      // after the first one arrived, so she holds at least what she held then).
      const stillHeld = await mine();
      expect(stillHeld.length).toBeGreaterThanOrEqual(held.length);
      for (const h of held) expect(stillHeld.map((x) => x.id)).toContain(h.id);
      await adminA('POST', '/api/v1/test/clock', { advanceMs: 6 * 60_000 });
      await eventually(async () => (await mine()).length === 0, 'alice released');
      for (const h of stillHeld) expect((await adminA('GET', `/api/v1/conversations/${h.id}`)).body.assigneeId).toBeNull();
    } finally {
      await c.kill();
      c.cleanup();
    }
  }, 120_000);
});

// [push] Facts pushed over /sync (protocol 1.1) by the real server, on SQLite, on PostgreSQL, and
// across two server processes over Redis: a socket that asked for pushes receives the committed
// facts of its scope without pulling, masked for a role without pii.view (no clear value in the
// frame), nothing outside its scope; a 1.0 socket keeps getting pokes; pulls are gzip when
// accepted, and the socket negotiates permessage-deflate.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { webcrypto } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  FactsFrame,
  GoutongClient,
  HttpTransport,
  login,
  PROTOCOL_VERSION,
  ServerFrame,
  silentLogger,
  Uuidv7Generator,
  type FetchLike,
  type WebSocketLike,
} from '@goutong/core';
import { MemoryStore } from '@goutong/core/testing';
import { loadConfig } from '../src/config.js';
import { startServer, type RunningServer } from '../src/server.js';
import { api, eventually, loginToken, realClock, Switch } from './support/agentClient.js';
import { createTestDatabase } from './support/pg.js';
import { ServerProcess } from './support/serverProcess.js';

const REDIS_URL = process.env.GOUTONG_TEST_REDIS ?? 'redis://127.0.0.1:6379';

/** A raw socket that records every text frame (parsed with the wire schema). */
interface Listener {
  ws: WebSocket;
  frames: ServerFrame[];
  texts: string[];
  close(): void;
}

async function listen(baseUrl: string, email: string, push: boolean): Promise<Listener> {
  const token = await loginToken(baseUrl, email);
  const ws = new WebSocket(`${baseUrl.replace('http', 'ws')}/sync`);
  const frames: ServerFrame[] = [];
  const texts: string[] = [];
  await new Promise<void>((resolve, reject) => {
    ws.on('open', () => ws.send(JSON.stringify({ t: 'auth', token, v: PROTOCOL_VERSION, ...(push ? { push: true } : {}) })));
    ws.on('message', (d, bin) => {
      if (bin) return;
      const text = d.toString();
      texts.push(text);
      const f = ServerFrame.parse(JSON.parse(text));
      frames.push(f);
      if (f.t === 'ready') resolve();
    });
    ws.on('error', reject);
  });
  return { ws, frames, texts, close: () => ws.close() };
}

const factsOf = (l: Listener) => l.frames.filter((f): f is FactsFrame => f.t === 'facts');

/** A GoutongClient whose fetch counts the pulls it makes. */
async function countingClient(baseUrl: string, email: string) {
  const counts = { pulls: 0 };
  const f: FetchLike = async (url, init) => {
    if (url.endsWith('/api/v1/sync/pull')) counts.pulls++;
    return fetch(url, init);
  };
  const session = await login({ baseUrl, fetch: f, now: Date.now }, email, 'goutong-demo');
  const me = (await (await fetch(`${baseUrl}/api/v1/me`, { headers: { authorization: `Bearer ${session.accessToken}` } })).json()) as { agent: { id: string; tenantId: string; name: string } };
  const store = new MemoryStore();
  const client = new GoutongClient({
    store,
    transport: new HttpTransport({ baseUrl, fetch: f, webSocket: (u) => new WebSocket(u) as unknown as WebSocketLike, session, now: Date.now }),
    clock: realClock,
    ids: new Uuidv7Generator(Date.now, (n) => webcrypto.getRandomValues(new Uint8Array(n))),
    random: Math.random,
    logger: silentLogger,
    network: new Switch(),
    agent: me.agent,
  });
  await client.start();
  return { client, store, counts };
}

/**
 * The checks, against `write` (where the inbound arrives) and `read` (where the sockets are; the
 * same server, or another process over Redis).
 */
function pushSuite(servers: () => { write: string; read: string }) {
  it('pushes committed facts to each scope, masked for agents, without a pull', async () => {
    const { write, read } = servers();
    const admin = await listen(read, 'admin@demo.goutong', true);
    const agent = await listen(read, 'zhang.san@demo.goutong', true);
    const outside = await listen(read, 'bob@demo.goutong', true); // Sales: the demo inbox is Support's
    const old = await listen(read, 'alice@demo.goutong', false); // a 1.0 client
    const device = await countingClient(read, 'zhang.san@demo.goutong');
    try {
      await eventually(() => device.client.connectivity.value.status === 'online' && device.counts.pulls > 0, 'the device synced');
      await eventually(async () => (await device.store.getCheckpoint()).checkpoint > 0, 'first pull applied');
      const pullsBefore = device.counts.pulls;
      const adminApi = api(write, await loginToken(write, 'admin@demo.goutong'));
      const inbox = (await adminApi('GET', '/api/v1/inboxes')).body.items.find((i: { name: string }) => i.name === 'Demo API');
      const phone = `+86139${String(Date.now()).slice(-8)}`;
      const r = await adminApi('POST', `/api/v1/inboxes/${inbox.id}/inbound`, { externalId: `push-${phone}`, from: { identifier: phone, name: '王小明' }, text: `请回电 ${phone}` });
      expect(r.status).toBeLessThan(300);
      const convId = r.body.conversationId as string;
      const has = (l: Listener) => factsOf(l).some((f) => f.conversations.some((c) => c.id === convId));
      await eventually(() => has(admin) && has(agent), 'pushed to the admin and the agent');
      await eventually(() => old.frames.some((f) => f.t === 'poke'), 'the 1.0 socket was poked');

      // The admin (pii.view) gets clear values; the agent's frame has none of them.
      const adminText = admin.texts.filter((t) => t.includes(convId)).join('\n');
      const agentText = agent.texts.filter((t) => t.includes(convId)).join('\n');
      expect(adminText).toContain(phone);
      expect(agentText).not.toContain(phone);
      expect(agentText).not.toContain(phone.slice(-8));
      const agentFrame = factsOf(agent).find((f) => f.conversations.some((c) => c.id === convId))!;
      expect(agentFrame.messages.some((m) => m.conversationId === convId)).toBe(true);
      expect(agentFrame.to).toBeGreaterThan(agentFrame.from);
      // Scope: the Sales agent's sockets carry nothing of the Support inbox.
      expect(outside.texts.some((t) => t.includes(convId))).toBe(false);
      expect(factsOf(outside).every((f) => f.conversations.every((c) => c.inboxId !== inbox.id))).toBe(true);
      // Old clients get no facts frames at all.
      expect(factsOf(old)).toEqual([]);
      // Frames of one socket follow each other without a hole.
      for (const l of [admin, agent, outside]) {
        const fs_ = factsOf(l);
        for (let i = 1; i < fs_.length; i++) expect(fs_[i]!.from).toBe(fs_[i - 1]!.to);
      }

      // The device applied the push without pulling: masked, and at the frame's checkpoint.
      await eventually(async () => (await device.store.getMessages({ conversationId: convId, limit: 5 })).length > 0, 'the device has the message');
      expect(device.counts.pulls).toBe(pullsBefore);
      const stored = (await device.store.getMessages({ conversationId: convId, limit: 5 }))[0]!;
      expect(stored.text).not.toContain(phone.slice(-8));
      const contact = await device.store.getContact(r.body.contactId ?? (await device.store.getConversation(convId))!.contactId);
      expect(JSON.stringify(contact)).not.toContain(phone.slice(-8));
    } finally {
      for (const l of [admin, agent, outside, old]) l.close();
      await device.client.stop();
    }
  });
}

function leanPullSuite(server: () => string) {
  it('compresses pulls for clients that accept gzip and negotiates permessage-deflate', async () => {
    const base = server();
    const token = await loginToken(base, 'admin@demo.goutong');
    const post = (headers: Record<string, string>) =>
      new Promise<{ encoding: string | undefined; body: Buffer }>((resolve, reject) => {
        const u = new URL(`${base}/api/v1/sync/pull`);
        // node:http (fetch would decompress on its own and hide the header).
        void import('node:http').then((http) => {
          const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers } }, (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => resolve({ encoding: res.headers['content-encoding'], body: Buffer.concat(chunks) }));
          });
          req.on('error', reject);
          req.end(JSON.stringify({ checkpoint: 0, limit: 500 }));
        });
      });
    const gz = await post({ 'accept-encoding': 'gzip, deflate' });
    const plain = await post({});
    const refused = await post({ 'accept-encoding': 'gzip;q=0, identity' });
    expect(gz.encoding).toBe('gzip');
    expect(plain.encoding).toBeUndefined();
    expect(refused.encoding).toBeUndefined();
    const unzipped = JSON.parse(zlib.gunzipSync(gz.body).toString('utf8'));
    expect(unzipped).toEqual(JSON.parse(plain.body.toString('utf8')));
    expect(unzipped.conversations.length).toBeGreaterThan(0);
    expect(gz.body.length).toBeLessThan(plain.body.length / 2);

    const l = await listen(base, 'admin@demo.goutong', true);
    try {
      expect(l.ws.extensions).toContain('permessage-deflate');
    } finally {
      l.close();
    }
  });
}

describe('pushed facts on SQLite', () => {
  let server: RunningServer;
  let dir: string;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'goutong-push-'));
    server = await startServer({ config: loadConfig({ PORT: '0', HOST: '127.0.0.1', GOUTONG_DATA_DIR: dir, GOUTONG_DEMO: '1', GOUTONG_LOG: 'silent' }), logger: silentLogger });
  });
  afterAll(async () => {
    await server?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  pushSuite(() => ({ write: server.url, read: server.url }));
  leanPullSuite(() => server.url);
});

describe('pushed facts on PostgreSQL', () => {
  let server: RunningServer;
  let dir: string;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    const db = await createTestDatabase('gtpush');
    drop = db.drop;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'goutong-push-pg-'));
    server = await startServer({ config: loadConfig({ PORT: '0', HOST: '127.0.0.1', GOUTONG_DATA_DIR: dir, GOUTONG_DEMO: '1', GOUTONG_LOG: 'silent', DATABASE_URL: db.url }), logger: silentLogger });
  }, 60_000);
  afterAll(async () => {
    await server?.close();
    fs.rmSync(dir, { recursive: true, force: true });
    await drop?.();
  });
  pushSuite(() => ({ write: server.url, read: server.url }));
});

describe('pushed facts across two server processes over Redis', () => {
  let one: ServerProcess;
  let two: ServerProcess;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    const db = await createTestDatabase('gtpushx');
    drop = db.drop;
    const env = { GOUTONG_DEMO: '1', REDIS_URL, GOUTONG_SECRET: 'push-scale-out-secret-0123456789abcdef' };
    one = new ServerProcess({ databaseUrl: db.url, env });
    await one.start();
    two = new ServerProcess({ databaseUrl: db.url, env });
    await two.start();
  }, 60_000);
  afterAll(async () => {
    await one?.stop();
    await two?.stop();
    one?.cleanup();
    two?.cleanup();
    await drop?.();
  });
  // The inbound commits on process two; the sockets are on process one.
  pushSuite(() => ({ write: two.url, read: one.url }));
});

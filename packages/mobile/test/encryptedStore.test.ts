// [trust] The app's SQLite database (plus.sqlite stand-in on a real SQLite file) is encrypted at rest:
// after a real sync from the real server, no personal data is readable in the database file; the key
// lives in the keeper (uni storage here), a wipe forgets it; and the encrypted store behaves exactly
// like the others (core's storage conformance suite).
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { GoutongClient, HttpTransport, login, silentLogger, Uuidv7Generator, type WebSocketLike } from '@goutong/core';
import { runStorageConformance } from '@goutong/core/testing';
import { ServerProcess } from '../../sync-server/test/support/serverProcess';
import { api, eventually, loginToken, realClock, Switch } from '../../sync-server/test/support/agentClient';
import { openDeviceStore } from '../src/storage';
import { deviceKeyFor, uniStorageKeeper } from '../src/storage/deviceKey';
import { localCipher } from '../src/storage/localCipher';
import { PlusSqliteStore } from '../src/storage/plusSqliteStore';
import { createPlusSqliteStandIn } from './plusSqliteStandIn';
import { createUniStorageStub } from './uniStorageStub';

const roots: string[] = [];
function freshRoot(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'goutong-enc-'));
  roots.push(root);
  return root;
}
afterAll(() => {
  for (const r of roots) fs.rmSync(r, { recursive: true, force: true });
});
// The server's package has `ws` (this one does not: the app uses uni's socket).
const WebSocket = createRequire(new URL('../../sync-server/package.json', import.meta.url))('ws') as new (url: string) => unknown;
const random = (n: number) => new Uint8Array(crypto.randomBytes(n));

/** Every file SQLite keeps for the database (the file, and a journal or WAL if any), as bytes. */
function databaseBytes(root: string): Buffer {
  const dir = path.join(root, 'doc');
  return Buffer.concat(fs.readdirSync(dir).map((f) => fs.readFileSync(path.join(dir, f))));
}

let standInRoot = '';
/** The keeper's storage: one per store, kept across a reopen. */
const reopenKeys = new Map<string, unknown>();
let api0: ReturnType<typeof createPlusSqliteStandIn>;
runStorageConformance(
  'plus.sqlite encrypted (XChaCha20-Poly1305, stand-in on better-sqlite3)',
  async ({ reopen }) => {
    if (!reopen) {
      standInRoot = freshRoot();
      api0 = createPlusSqliteStandIn({ root: standInRoot });
      reopenKeys.clear();
    }
    // The same key on reopen, as the keeper would give it back.
    const uni = createUniStorageStub(undefined, reopenKeys);
    const key = deviceKeyFor('conf', [uniStorageKeeper(uni)], random);
    return PlusSqliteStore.open({ api: api0, cipher: localCipher(key.key, random), freshKey: key.fresh });
  },
  { describe, it, expect, beforeEach, afterEach },
  { persistent: true, timeout: 30_000 },
);

describe('the app database after a sync from the real server', () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = new ServerProcess();
    await server.start();
  });
  afterAll(async () => server?.stop());

  it('holds no clear personal data in the file; reads, searches and wipes', { timeout: 60_000 }, async () => {
    const adminToken = await loginToken(server.url, 'admin@demo.goutong');
    const admin = api(server.url, adminToken);
    const demoInbox = (await admin('GET', '/api/v1/inboxes')).body.items.find((i: { name: string }) => i.name === 'Demo API').id as string;
    const pii = {
      name: '欧阳娜娜',
      phone: '13987654321',
      email: 'ouyang.nana@example.com',
      id: '11010519491231002X',
      card: '6222020200112233445',
    };
    const posted = await admin('POST', `/api/v1/inboxes/${demoInbox}/inbound`, {
      externalId: 'enc-1',
      from: { identifier: `+86${pii.phone}`, name: pii.name },
      text: `我是${pii.name}，电话 ${pii.phone}，邮箱 ${pii.email}，身份证 ${pii.id}，卡号 ${pii.card}`,
    });
    expect(posted.status).toBe(201);

    // The admin's phone (pii.view: the server sends clear values, the strongest case for the file).
    const root = freshRoot();
    const sqlite = createPlusSqliteStandIn({ root });
    const uni = createUniStorageStub();
    const net = new Switch();
    const session = await login({ baseUrl: server.url, fetch, now: Date.now }, 'admin@demo.goutong', 'goutong-demo');
    const me = (await admin('GET', '/api/v1/me')).body.agent as { id: string; tenantId: string; name: string };
    const opened = await openDeviceStore({ platform: 'app', agentId: me.id, uni, sqlite, deviceKeys: { keepers: [uniStorageKeeper(uni)], random } });
    expect(opened.kind).toBe('sqlite');
    expect(opened.keyKind).toBe('uni-storage');
    const store = opened.store as PlusSqliteStore;
    expect(store.encrypted).toBe(true);
    const f: typeof fetch = async (url, init) => {
      if (!net.isOnline()) throw new TypeError('fetch failed: offline');
      return fetch(url, init);
    };
    const client = new GoutongClient({
      store,
      transport: new HttpTransport({ baseUrl: server.url, fetch: f, webSocket: (u) => new WebSocket(u) as unknown as WebSocketLike, session, now: Date.now }),
      clock: realClock,
      ids: new Uuidv7Generator(Date.now, random),
      random: Math.random,
      logger: silentLogger,
      network: net,
      agent: me,
      device: 'mobile',
    });
    await client.start();
    const conv = await eventually(() => store.getConversation(posted.body.conversationId as string), 'the conversation synced');
    expect(conv.contactName).toBe(pii.name);
    await client.loadMessagesFromServer(conv.id);
    const msgs = await store.getMessages({ conversationId: conv.id, limit: 50 });
    expect(msgs.some((m) => m.text.includes(pii.id))).toBe(true);
    // A reply with personal data waits in the outbox (offline).
    net.set(false);
    await client.dispatch({ type: 'send_reply', conversationId: conv.id, text: `已记录您的电话 ${pii.phone}` });
    expect((await store.outboxList()).length).toBeGreaterThan(0);
    // Reads and the inbox search work on the sealed rows.
    expect((await store.queryConversations({ sort: 'lastActivity', limit: 10, text: pii.name })).map((c) => c.id)).toEqual([conv.id]);
    expect(await store.countConversations({ text: pii.name })).toBe(1);
    expect(await store.countConversations({ text: 'nobody-like-this' })).toBe(0);
    await client.stop();
    await store.close();

    const bytes = databaseBytes(root);
    expect(bytes.includes(Buffer.from(conv.id)), 'the scan reads the database').toBe(true);
    for (const [what, value] of Object.entries(pii)) {
      expect(bytes.includes(Buffer.from(value, 'utf8')), `${what} in clear`).toBe(false);
      expect(bytes.includes(Buffer.from(value.toLowerCase(), 'utf8')), `${what} in clear (search text)`).toBe(false);
    }
    expect(bytes.includes(Buffer.from('已记录您的电话')), 'the outbox reply in clear').toBe(false);
    expect(bytes.includes(Buffer.from(`我是${pii.name}`))).toBe(false);

    // The same key opens it again (the keeper gives it back) …
    const again = await openDeviceStore({ platform: 'app', agentId: me.id, uni, sqlite, deviceKeys: { keepers: [uniStorageKeeper(uni)], random } });
    expect((await again.store.getConversation(conv.id))?.contactName).toBe(pii.name);
    expect([...uni.data.keys()].some((k) => k.startsWith('goutong.dbkey.'))).toBe(true);
    // … and sign-out's wipe empties it and forgets the key.
    await again.store.wipe!();
    expect([...uni.data.keys()].some((k) => k.startsWith('goutong.dbkey.'))).toBe(false);
    const after = databaseBytes(root);
    expect(after.includes(Buffer.from(conv.id)), 'rows are gone after the wipe').toBe(false);
    const fresh = await openDeviceStore({ platform: 'app', agentId: me.id, uni, sqlite, deviceKeys: { keepers: [uniStorageKeeper(uni)], random } });
    expect(await fresh.store.getConversation(conv.id)).toBeNull();
    expect((await fresh.store.getCheckpoint()).checkpoint).toBe(0);
    await fresh.store.close();
  });

  it('a database sealed under a lost key starts over instead of failing', async () => {
    const root = freshRoot();
    const sqlite = createPlusSqliteStandIn({ root });
    const uni = createUniStorageStub();
    const keys = { keepers: [uniStorageKeeper(uni)], random };
    const a = await openDeviceStore({ platform: 'app', agentId: 'agent-1', uni, sqlite, deviceKeys: keys });
    await a.store.setMeta('m', { secret: 'x' });
    await a.store.close();
    uni.data.clear(); // the key is gone (storage cleared by the OS or the user)
    const b = await openDeviceStore({ platform: 'app', agentId: 'agent-1', uni, sqlite, deviceKeys: keys });
    expect(await b.store.getMeta('m')).toBeNull();
    await b.store.setMeta('m', 1);
    expect(await b.store.getMeta('m')).toBe(1);
    await b.store.close();
  });
});

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import * as syncProtocol from 'y-protocols/sync';
import * as encoding from 'lib0/encoding';
import { silentLogger } from '@goutong/core';
import { openSqlite, type Db } from '../src/db/db.js';
import { migrate } from '../src/db/migrations.js';
import { DocManager, type DocPeer } from '../src/sync/docs.js';
import { eventually } from './support/agentClient.js';

function updateFrame(update: Uint8Array): Uint8Array {
  const e = encoding.createEncoder();
  syncProtocol.writeUpdate(e, update);
  return encoding.toUint8Array(e);
}

describe('Yjs document persistence', () => {
  let dir: string;
  let db: Db;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'goutong-docs-'));
    db = openSqlite(path.join(dir, 'db.sqlite'));
    await migrate(db);
  });
  afterAll(async () => {
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('appends every update, compacts by re-encoding, and reloads the same content', async () => {
    const docs = new DocManager(db, silentLogger, { unloadAfterMs: 10 });
    const got: Uint8Array[] = [];
    const peer: DocPeer = { id: 'p1', send: (d) => got.push(d) };
    await docs.join('t1', 'conv:x', peer);
    const client = new Y.Doc();
    const text = client.getText('reply:a1');
    client.on('update', (u: Uint8Array) => docs.handle('t1', 'conv:x', peer, 0, updateFrame(u)));
    for (let i = 0; i < 450; i++) text.insert(text.length, i % 10 === 0 ? '字' : 'a');
    await docs.flush();
    const rows = await db.all<{ n: number }>("SELECT COUNT(*) AS n FROM yjs_updates WHERE tenant_id = 't1' AND doc = 'conv:x'");
    expect(Number(rows[0]!.n)).toBeLessThan(250); // compacted at least once
    docs.leave('t1', 'conv:x', peer);
    await eventually(() => docs.loadedCount === 0, 'the document is unloaded after the last peer left');
    // A fresh manager (a restarted server) loads the same text.
    const again = new DocManager(db, silentLogger);
    const frames: Uint8Array[] = [];
    const p2: DocPeer = { id: 'p2', send: (d) => frames.push(d) };
    await again.join('t1', 'conv:x', p2);
    const fresh = new Y.Doc();
    // Ask for everything (an empty state vector): the answer is step 2 with the whole document.
    const e = encoding.createEncoder();
    syncProtocol.writeSyncStep1(e, fresh);
    frames.length = 0;
    again.handle('t1', 'conv:x', p2, 0, encoding.toUint8Array(e));
    const { decodeFrame } = await import('@goutong/core');
    const f = decodeFrame(frames.at(-1)!);
    const dec = (await import('lib0/decoding')).createDecoder(f.payload);
    syncProtocol.readSyncMessage(dec, encoding.createEncoder(), fresh, 'server');
    expect(fresh.getText('reply:a1').toString()).toBe(text.toString());
    expect(text.length).toBe(450);
    await again.closeAll();
    await docs.closeAll();
  });
});

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import * as syncProtocol from 'y-protocols/sync';
import * as encoding from 'lib0/encoding';
import { silentLogger } from '@goutong/core';
import { openSqlite, openPostgres, type Db } from '../src/db/db.js';
import { migrate } from '../src/db/migrations.js';
import { loadDocUpdates } from '../src/domain/drafts.js';
import { DocManager, type DocPeer } from '../src/sync/docs.js';
import { createTestDatabase } from './support/pg.js';

function updateFrame(update: Uint8Array): Uint8Array {
  const e = encoding.createEncoder();
  syncProtocol.writeUpdate(e, update);
  return encoding.toUint8Array(e);
}

/** Updates of many documents arriving together are stored in one transaction (group commit), in order. */
describe.each([['sqlite'], ['postgres']] as const)('draft updates group commit on %s', (dialect) => {
  let dir: string;
  let db: Db;
  let drop: (() => Promise<void>) | null = null;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'goutong-docs-group-'));
    if (dialect === 'postgres') {
      const t = await createTestDatabase('gtdocs');
      drop = t.drop;
      db = openPostgres(t.url);
    } else db = openSqlite(path.join(dir, 'db.sqlite'));
    await migrate(db);
  });
  afterAll(async () => {
    await db.close();
    await drop?.();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('stores the updates of 50 documents in few transactions, compacts in order, and reloads the same text', async () => {
    const docs = new DocManager(db, silentLogger);
    const clients: { doc: Y.Doc; name: string }[] = [];
    for (let i = 0; i < 50; i++) {
      const name = `conv:g${i}`;
      const peer: DocPeer = { id: `p${i}`, send: () => undefined };
      await docs.join('t1', name, peer);
      const doc = new Y.Doc();
      doc.on('update', (u: Uint8Array) => docs.handle('t1', name, peer, 0, updateFrame(u)));
      clients.push({ doc, name });
    }
    const before = { ...docs.writeStats };
    // 50 documents × 250 keystrokes in one turn: past the compaction threshold for every one.
    for (let k = 0; k < 250; k++) for (const c of clients) c.doc.getText('reply:a').insert(k, String.fromCharCode(97 + (k % 26)));
    await docs.flush();
    const writes = docs.writeStats.writes - before.writes;
    const txs = docs.writeStats.transactions - before.transactions;
    expect(writes).toBeGreaterThanOrEqual(50 * 250); // every update, plus the compactions
    expect(txs).toBeLessThan(writes / 100);
    for (const c of clients) {
      const rows = await loadDocUpdates(db, 't1', c.name);
      expect(rows.length).toBeLessThanOrEqual(201); // compacted
      const back = new Y.Doc();
      for (const r of rows) Y.applyUpdate(back, r);
      expect(back.getText('reply:a').toString()).toBe(c.doc.getText('reply:a').toString());
    }
    await docs.closeAll();
  });
});

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateConversations, makeConversation, makeFactBatch, makeMessage, runStorageConformance } from '@goutong/core/testing';
import { runQuery } from '@goutong/core';
import { PlusSqliteStore, YJS_PART_CHARS } from '../src/storage/plusSqliteStore';
import { createPlusSqliteStandIn, type PlusSqliteStandIn } from './plusSqliteStandIn';

const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

function freshRoot(): string {
  const root = mkdtempSync(join(tmpdir(), 'goutong-plus-sqlite-'));
  roots.push(root);
  return root;
}

let api: PlusSqliteStandIn;
runStorageConformance(
  'plus.sqlite (stand-in on better-sqlite3)',
  async ({ reopen }) => {
    if (!reopen) api = createPlusSqliteStandIn({ root: freshRoot() });
    return PlusSqliteStore.open({ api });
  },
  { describe, it, expect, beforeEach, afterEach },
  { persistent: true, timeout: 30_000 },
);

describe('PlusSqliteStore specifics', () => {
  let sql: { kind: string; text: string }[];
  let standIn: PlusSqliteStandIn;
  let store: PlusSqliteStore;

  beforeEach(async () => {
    sql = [];
    standIn = createPlusSqliteStandIn({ root: freshRoot(), onSql: (kind, text) => sql.push({ kind, text }) });
    store = await PlusSqliteStore.open({ api: standIn, name: 'test', path: '_doc/test.db' });
    sql.length = 0; // the schema set-up is not part of what a test looks at
  });

  afterEach(async () => {
    await store.close().catch(() => undefined);
  });

  it('opens the file under _doc and creates the schema once (reopen keeps data)', async () => {
    expect(standIn.connections.get('test')?.path).toBe('_doc/test.db');
    await store.setMeta('k', 1);
    await store.close();
    sql = [];
    store = await PlusSqliteStore.open({ api: standIn, name: 'test', path: '_doc/test.db' });
    expect(await store.getMeta('k')).toBe(1);
    expect(sql.filter((s) => s.text.startsWith('INSERT INTO goutong_schema'))).toEqual([]);
  });

  it('sends one statement per string and wraps fact batches in begin/commit', async () => {
    const rows = generateConversations(250, { seed: 11 });
    await store.applyFacts(makeFactBatch({ conversations: rows, messages: [makeMessage({ id: 'm1', conversationId: rows[0]!.id })] }), 3, 's');
    const tx = sql.filter((s) => s.kind === 'transaction').map((s) => s.text);
    expect(tx).toEqual(['BEGIN', 'COMMIT']);
    // Multi-row inserts keep the number of statements small.
    expect(sql.filter((s) => s.text.startsWith('INSERT OR REPLACE INTO conversations')).length).toBe(3);
  });

  it('rolls a failed batch back: neither facts nor the checkpoint change', async () => {
    await store.applyFacts(makeFactBatch({ conversations: [makeConversation({ id: 'c0' })] }), 1, 's');
    standIn.failNext('executeSql');
    await expect(store.applyFacts(makeFactBatch({ conversations: [makeConversation({ id: 'c1' })] }), 2, 's')).rejects.toThrow(/executeSql failed/);
    expect(sql.filter((s) => s.kind === 'transaction').map((s) => s.text).slice(-2)).toEqual(['BEGIN', 'ROLLBACK']);
    expect(await store.getCheckpoint()).toEqual({ checkpoint: 1, scope: 's' });
    expect(await store.getConversation('c1')).toBeNull();
    // The store keeps working after a failure.
    await store.applyFacts(makeFactBatch({ conversations: [makeConversation({ id: 'c1' })] }), 2, 's');
    expect(await store.countConversations({})).toBe(2);
  });

  it('rejects a batch with a value SQL cannot hold before touching the database', async () => {
    await expect(store.applyFacts(makeFactBatch(), Number.NaN, 's')).rejects.toThrow(/finite/);
    expect(sql.filter((s) => s.kind === 'transaction')).toEqual([]);
  });

  it('stores quotes, NUL, lone surrogates, emoji and SQL-looking text verbatim', async () => {
    const nasty = `O'Brien "x" \u0000 end \ud800 lone 😀 '); DROP TABLE conversations; --`;
    const conv = makeConversation({ id: "c'1", contactName: nasty, subject: nasty, labels: [nasty] });
    await store.applyFacts(makeFactBatch({ conversations: [conv] }), 1, nasty);
    expect(await store.getConversation("c'1")).toEqual(JSON.parse(JSON.stringify(conv)));
    expect((await store.getCheckpoint()).scope).toBe(nasty.replace('\ud800', '\ufffd'));
    expect(await store.countConversations({ label: nasty })).toBe(1);
    expect(await store.countConversations({ text: "o'brien" })).toBe(1);
    expect(await store.countConversations({ text: '😀' })).toBe(1);
    await store.setMeta(nasty, { v: nasty });
    expect(await store.getMeta(nasty)).toEqual({ v: nasty });
  });

  it('keeps binary meta values and splits large Yjs updates into parts', async () => {
    const bin = new Uint8Array([0, 1, 2, 250, 255]);
    await store.setMeta('bin', { bin });
    expect(await store.getMeta('bin')).toEqual({ bin });
    const big = new Uint8Array(YJS_PART_CHARS).map((_, i) => (i * 7) & 255); // base64 is 4/3 of this: 2 parts
    await store.yjsAppend('doc', big);
    const inserts = sql.filter((s) => s.text.startsWith('INSERT INTO yjs_updates'));
    expect(inserts).toHaveLength(2);
    expect(inserts.every((s) => s.text.length < YJS_PART_CHARS + 200)).toBe(true);
    const [loaded] = await store.yjsLoad('doc');
    expect(Buffer.from(loaded!).equals(Buffer.from(big))).toBe(true);
  });

  it('serialises concurrent writers and readers (no statement slips into another transaction)', async () => {
    const rows = generateConversations(120, { seed: 2 });
    const work: Promise<unknown>[] = [];
    for (let i = 0; i < 6; i++) {
      work.push(store.applyFacts(makeFactBatch({ conversations: rows.slice(i * 20, i * 20 + 20) }), i + 1, 's'));
      work.push(store.setMeta(`k${i}`, i));
      work.push(store.queryConversations({ sort: 'priority', limit: 5 }));
    }
    await Promise.all(work);
    let depth = 0;
    for (const s of sql) {
      if (s.text === 'BEGIN') {
        expect(depth).toBe(0);
        depth++;
      } else if (s.text === 'COMMIT' || s.text === 'ROLLBACK') depth--;
    }
    expect(await store.countConversations({})).toBe(120);
    const q = { status: ['open' as const], sort: 'waitingLongest' as const, limit: 30 };
    expect(await store.queryConversations(q)).toEqual(runQuery(rows, q));
  });

  it('fails every call after close', async () => {
    await store.close();
    await expect(store.getMeta('k')).rejects.toThrow(/closed/);
    await expect(store.applyFacts(makeFactBatch(), 1, 's')).rejects.toThrow(/closed/);
  });

  it('reports open failures', async () => {
    const other = createPlusSqliteStandIn({ root: freshRoot() });
    other.failNext('openDatabase');
    await expect(PlusSqliteStore.open({ api: other })).rejects.toThrow(/openDatabase failed/);
  });
});

import type { Db } from '../db/db.js';

/** Stored Yjs updates of the draft documents (one document per conversation). */

export async function loadDocUpdates(db: Db, tenantId: string, doc: string): Promise<Uint8Array[]> {
  const rows = await db.all<{ data: Uint8Array }>('SELECT data FROM yjs_updates WHERE tenant_id = ? AND doc = ? ORDER BY id', [tenantId, doc]);
  return rows.map((r) => new Uint8Array(r.data));
}

export async function appendDocUpdate(db: Db, tenantId: string, doc: string, update: Uint8Array, now: number): Promise<void> {
  await db.run('INSERT INTO yjs_updates (tenant_id, doc, data, created_at) VALUES (?, ?, ?, ?)', [tenantId, doc, update, now]);
}

/** Replaces a document's updates with one state, in one transaction. */
export async function replaceDocUpdates(db: Db, tenantId: string, doc: string, state: Uint8Array, now: number): Promise<void> {
  await db.tx(async (q) => {
    await q.run('DELETE FROM yjs_updates WHERE tenant_id = ? AND doc = ?', [tenantId, doc]);
    await q.run('INSERT INTO yjs_updates (tenant_id, doc, data, created_at) VALUES (?, ?, ?, ?)', [tenantId, doc, state, now]);
  });
}

/**
 * One change of the stored updates: an update appended, or a document replaced by one state (its
 * compaction). `state` is read when the write runs, inside the transaction, so it holds every
 * update applied to the document until then.
 */
export type DocWrite =
  | { kind: 'append'; tenantId: string; doc: string; update: Uint8Array }
  | { kind: 'replace'; tenantId: string; doc: string; state: () => Uint8Array };

/** Rows per multi-row INSERT of appended updates. */
const APPEND_ROWS = 100;

/**
 * Group commit of the draft documents: many documents' writes in ONE transaction (one fsync), in the
 * order given. Returns, per write, the bytes it stored (a replace: its state's size).
 */
export async function writeDocBatch(db: Db, writes: readonly DocWrite[], now: number): Promise<number[]> {
  return db.tx(async (q) => {
    const sizes: number[] = [];
    // Consecutive appends go in multi-row INSERTs (rows keep their order: ids ascend).
    let run: Extract<DocWrite, { kind: 'append' }>[] = [];
    const insertRun = async () => {
      for (let i = 0; i < run.length; i += APPEND_ROWS) {
        const part = run.slice(i, i + APPEND_ROWS);
        await q.run(`INSERT INTO yjs_updates (tenant_id, doc, data, created_at) VALUES ${part.map(() => '(?, ?, ?, ?)').join(', ')}`, part.flatMap((w) => [w.tenantId, w.doc, w.update, now]));
      }
      run = [];
    };
    for (const w of writes) {
      switch (w.kind) {
        case 'append':
          run.push(w);
          sizes.push(w.update.length);
          break;
        case 'replace': {
          await insertRun();
          const state = w.state();
          await q.run('DELETE FROM yjs_updates WHERE tenant_id = ? AND doc = ?', [w.tenantId, w.doc]);
          await q.run('INSERT INTO yjs_updates (tenant_id, doc, data, created_at) VALUES (?, ?, ?, ?)', [w.tenantId, w.doc, state, now]);
          sizes.push(state.length);
          break;
        }
      }
    }
    await insertRun();
    return sizes;
  });
}

/** Bytes of stored updates of one document (what its quota counts). */
export async function storedDocBytes(db: Db, tenantId: string, doc: string): Promise<number> {
  const r = await db.one<{ n: number | string | null }>('SELECT SUM(LENGTH(data)) AS n FROM yjs_updates WHERE tenant_id = ? AND doc = ?', [tenantId, doc]);
  return Number(r?.n ?? 0);
}

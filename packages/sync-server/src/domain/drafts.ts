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

/** Bytes of stored updates of one document (what its quota counts). */
export async function storedDocBytes(db: Db, tenantId: string, doc: string): Promise<number> {
  const r = await db.one<{ n: number | string | null }>('SELECT SUM(LENGTH(data)) AS n FROM yjs_updates WHERE tenant_id = ? AND doc = ?', [tenantId, doc]);
  return Number(r?.n ?? 0);
}

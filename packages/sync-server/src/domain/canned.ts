import { CannedResponse } from '@goutong/core';
import type { Db, Queryable, Row } from '../db/db.js';
import { conflict, notFound } from '../errors.js';
import { insertAudit, type AuditActor } from './audit.js';

/** What an editor sets on a canned response. */
export type CannedInput = Pick<CannedResponse, 'shortCode' | 'title' | 'body'>;

/** Database rows cross a boundary too: parsed into the core schema. */
export const toCanned = (r: Row): CannedResponse =>
  CannedResponse.parse({ id: r.id, tenantId: r.tenant_id, shortCode: r.short_code, title: r.title, body: r.body, createdAt: Number(r.created_at), updatedAt: Number(r.updated_at) });

async function cannedRow(q: Queryable, tenantId: string, id: string): Promise<CannedResponse | null> {
  const r = await q.one('SELECT * FROM canned_responses WHERE id = ? AND tenant_id = ?', [id, tenantId]);
  return r ? toCanned(r) : null;
}

async function assertShortCodeFree(q: Queryable, tenantId: string, shortCode: string, exceptId: string | null): Promise<void> {
  const other = await q.one<{ id: string }>('SELECT id FROM canned_responses WHERE tenant_id = ? AND short_code = ?', [tenantId, shortCode]);
  if (other && other.id !== exceptId) throw conflict(`short code /${shortCode} exists`);
}

/**
 * Canned responses of a workspace. Every change commits with its audit row (one transaction).
 */
export class CannedResponses {
  constructor(private readonly db: Db, private readonly now: () => number = Date.now) {}

  async list(tenantId: string): Promise<CannedResponse[]> {
    return (await this.db.all('SELECT * FROM canned_responses WHERE tenant_id = ? ORDER BY short_code', [tenantId])).map(toCanned);
  }

  async create(actor: AuditActor, id: string, input: CannedInput): Promise<CannedResponse> {
    const now = this.now();
    return this.db.tx(async (q) => {
      await assertShortCodeFree(q, actor.tenantId, input.shortCode, null);
      await q.run('INSERT INTO canned_responses (id, tenant_id, short_code, title, body, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)', [
        id, actor.tenantId, input.shortCode, input.title, input.body, now, now,
      ]);
      await insertAudit(q, actor, { action: 'canned.create', target: id, details: { shortCode: input.shortCode } }, now);
      return (await cannedRow(q, actor.tenantId, id))!;
    });
  }

  async update(actor: AuditActor, id: string, patch: Partial<CannedInput>): Promise<CannedResponse> {
    const now = this.now();
    return this.db.tx(async (q) => {
      const cur = await cannedRow(q, actor.tenantId, id);
      if (!cur) throw notFound(`canned response ${id} not found`);
      const next = { shortCode: patch.shortCode ?? cur.shortCode, title: patch.title ?? cur.title, body: patch.body ?? cur.body };
      if (next.shortCode !== cur.shortCode) await assertShortCodeFree(q, actor.tenantId, next.shortCode, id);
      await q.run('UPDATE canned_responses SET short_code = ?, title = ?, body = ?, updated_at = ? WHERE id = ? AND tenant_id = ?', [
        next.shortCode, next.title, next.body, now, id, actor.tenantId,
      ]);
      await insertAudit(q, actor, { action: 'canned.update', target: id, details: { fields: Object.keys(patch) } }, now);
      return (await cannedRow(q, actor.tenantId, id))!;
    });
  }

  async remove(actor: AuditActor, id: string): Promise<void> {
    const now = this.now();
    await this.db.tx(async (q) => {
      const r = await q.run('DELETE FROM canned_responses WHERE id = ? AND tenant_id = ?', [id, actor.tenantId]);
      if (r.changes === 0) throw notFound(`canned response ${id} not found`);
      await insertAudit(q, actor, { action: 'canned.delete', target: id, details: {} }, now);
    });
  }

  /** Adds responses whose short code is not taken yet (the demo seed; resumable). */
  async seed(tenantId: string, items: readonly (CannedInput & { id: string })[]): Promise<void> {
    const now = this.now();
    await this.db.tx(async (q) => {
      for (const c of items) {
        await q.run('INSERT INTO canned_responses (id, tenant_id, short_code, title, body, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING', [
          c.id, tenantId, c.shortCode, c.title, c.body, now, now,
        ]);
      }
    });
  }
}

import { SavedView, mayEditSavedView, savedViewVisibleTo, sortSavedViews, type Agent, type SavedViewInput } from '@goutong/core';
import type { Db, Queryable, Row } from '../db/db.js';
import { jsonColumn } from '../db/db.js';
import { conflict, forbidden, notFound } from '../errors.js';
import { insertAudit } from './audit.js';

const json = jsonColumn;
/** An agent keeps at most this many views of their own. */
export const MAX_OWN_VIEWS = 50;

/** Database rows cross a boundary too: parsed into the core schema. */
export const toSavedView = (r: Row): SavedView =>
  SavedView.parse({
    id: r.id, tenantId: r.tenant_id, name: r.name, filters: json(r.filters), ownerId: r.owner_id ?? null,
    createdAt: Number(r.created_at), updatedAt: Number(r.updated_at),
  });

async function viewRow(q: Queryable, tenantId: string, id: string): Promise<SavedView | null> {
  const r = await q.one('SELECT * FROM saved_views WHERE id = ? AND tenant_id = ?', [id, tenantId]);
  return r ? toSavedView(r) : null;
}

async function assertNameFree(q: Queryable, tenantId: string, ownerId: string | null, name: string, exceptId: string | null): Promise<void> {
  const other = ownerId === null
    ? await q.one<{ id: string }>('SELECT id FROM saved_views WHERE tenant_id = ? AND owner_id IS NULL AND name = ?', [tenantId, name])
    : await q.one<{ id: string }>('SELECT id FROM saved_views WHERE tenant_id = ? AND owner_id = ? AND name = ?', [tenantId, ownerId, name]);
  if (other && other.id !== exceptId) throw conflict(`a view named "${name}" exists`);
}

/**
 * Saved views: named inbox filters kept on the server so they follow the agent to every device;
 * admins may share one with the workspace. Every change commits with its audit row.
 */
export class SavedViews {
  constructor(private readonly db: Db, private readonly now: () => number = Date.now) {}

  /** The views an agent sees: their own, then the shared ones (core `sortSavedViews`). */
  async list(agent: Pick<Agent, 'id' | 'tenantId'>): Promise<SavedView[]> {
    const rows = await this.db.all('SELECT * FROM saved_views WHERE tenant_id = ? AND (owner_id IS NULL OR owner_id = ?)', [agent.tenantId, agent.id]);
    return sortSavedViews(rows.map(toSavedView));
  }

  async create(agent: Agent, id: string, input: SavedViewInput): Promise<SavedView> {
    const ownerId = input.shared ? null : agent.id;
    if (!mayEditSavedView(agent, { tenantId: agent.tenantId, ownerId })) throw forbidden('shared views need the settings.manage permission');
    const now = this.now();
    return this.db.tx(async (q) => {
      if (ownerId !== null) {
        const n = await q.one<{ n: number }>('SELECT COUNT(*) AS n FROM saved_views WHERE tenant_id = ? AND owner_id = ?', [agent.tenantId, ownerId]);
        if (Number(n?.n ?? 0) >= MAX_OWN_VIEWS) throw conflict(`at most ${MAX_OWN_VIEWS} saved views per agent`);
      }
      await assertNameFree(q, agent.tenantId, ownerId, input.name, null);
      await q.run('INSERT INTO saved_views (id, tenant_id, owner_id, name, filters, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)', [
        id, agent.tenantId, ownerId, input.name, JSON.stringify(input.filters), now, now,
      ]);
      await insertAudit(q, { tenantId: agent.tenantId, agentId: agent.id }, { action: 'saved_view.create', target: id, details: { name: input.name, shared: input.shared } }, now);
      return (await viewRow(q, agent.tenantId, id))!;
    });
  }

  async update(agent: Agent, id: string, patch: Partial<SavedViewInput>): Promise<SavedView> {
    const now = this.now();
    return this.db.tx(async (q) => {
      const cur = await viewRow(q, agent.tenantId, id);
      if (!cur || !savedViewVisibleTo(cur, agent)) throw notFound(`saved view ${id} not found`);
      const ownerId = patch.shared === undefined ? cur.ownerId : patch.shared ? null : agent.id;
      if (!mayEditSavedView(agent, cur) || !mayEditSavedView(agent, { tenantId: agent.tenantId, ownerId })) throw forbidden('shared views need the settings.manage permission');
      const next = { name: patch.name ?? cur.name, filters: patch.filters ?? cur.filters };
      await assertNameFree(q, agent.tenantId, ownerId, next.name, id);
      await q.run('UPDATE saved_views SET name = ?, filters = ?, owner_id = ?, updated_at = ? WHERE id = ? AND tenant_id = ?', [
        next.name, JSON.stringify(next.filters), ownerId, now, id, agent.tenantId,
      ]);
      await insertAudit(q, { tenantId: agent.tenantId, agentId: agent.id }, { action: 'saved_view.update', target: id, details: { fields: Object.keys(patch) } }, now);
      return (await viewRow(q, agent.tenantId, id))!;
    });
  }

  async remove(agent: Agent, id: string): Promise<void> {
    const now = this.now();
    await this.db.tx(async (q) => {
      const cur = await viewRow(q, agent.tenantId, id);
      if (!cur || !savedViewVisibleTo(cur, agent)) throw notFound(`saved view ${id} not found`);
      if (!mayEditSavedView(agent, cur)) throw forbidden('shared views need the settings.manage permission');
      await q.run('DELETE FROM saved_views WHERE id = ? AND tenant_id = ?', [id, agent.tenantId]);
      await insertAudit(q, { tenantId: agent.tenantId, agentId: agent.id }, { action: 'saved_view.delete', target: id, details: { name: cur.name } }, now);
    });
  }
}

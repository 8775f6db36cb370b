import { Macro, macroProblem, mayEditMacro, macroVisibleTo, type Agent, type MacroInput } from '@goutong/core';
import type { Db, Queryable, Row } from '../db/db.js';
import { jsonColumn } from '../db/db.js';
import { badRequest, conflict, forbidden, notFound } from '../errors.js';
import { insertAudit } from './audit.js';

const json = jsonColumn;

/** Database rows cross a boundary too: parsed into the core schema. */
export const toMacro = (r: Row): Macro =>
  Macro.parse({
    id: r.id, tenantId: r.tenant_id, name: r.name, actions: json(r.actions), ownerId: r.owner_id ?? null,
    createdAt: Number(r.created_at), updatedAt: Number(r.updated_at),
  });

async function macroRow(q: Queryable, tenantId: string, id: string): Promise<Macro | null> {
  const r = await q.one('SELECT * FROM macros WHERE id = ? AND tenant_id = ?', [id, tenantId]);
  return r ? toMacro(r) : null;
}

/** A macro's problems the schema cannot see: core's rule, then its agents and teams must exist in the workspace. */
async function assertValid(q: Queryable, tenantId: string, input: Pick<MacroInput, 'actions'>): Promise<void> {
  const problem = macroProblem(input);
  if (problem) throw badRequest(problem);
  for (const a of input.actions) {
    if (a.type === 'assign_agent' && a.agentId !== 'me' && !(await q.one('SELECT id FROM agents WHERE id = ? AND tenant_id = ? AND active = 1', [a.agentId, tenantId]))) {
      throw badRequest(`agent ${a.agentId} not found (or deactivated)`);
    }
    if (a.type === 'assign_team' && !(await q.one('SELECT id FROM teams WHERE id = ? AND tenant_id = ?', [a.teamId, tenantId]))) throw badRequest(`team ${a.teamId} not found`);
  }
}

async function assertNameFree(q: Queryable, tenantId: string, ownerId: string | null, name: string, exceptId: string | null): Promise<void> {
  const other = ownerId === null
    ? await q.one<{ id: string }>('SELECT id FROM macros WHERE tenant_id = ? AND owner_id IS NULL AND name = ?', [tenantId, name])
    : await q.one<{ id: string }>('SELECT id FROM macros WHERE tenant_id = ? AND owner_id = ? AND name = ?', [tenantId, ownerId, name]);
  if (other && other.id !== exceptId) throw conflict(`a macro named "${name}" exists`);
}

/**
 * Macros: shared ones (agents with `canned.manage` edit them) and each agent's own. Applying one is
 * the client's work (core `macroIntents` → the normal commands); the server stores the configuration.
 * Every change commits with its audit row.
 */
export class Macros {
  constructor(private readonly db: Db, private readonly now: () => number = Date.now) {}

  /** The macros an agent sees: the shared ones and their own (shared first, then by name). */
  async list(agent: Pick<Agent, 'id' | 'tenantId'>): Promise<Macro[]> {
    const rows = await this.db.all('SELECT * FROM macros WHERE tenant_id = ? AND (owner_id IS NULL OR owner_id = ?) ORDER BY name, id', [agent.tenantId, agent.id]);
    const all = rows.map(toMacro);
    return [...all.filter((m) => m.ownerId === null), ...all.filter((m) => m.ownerId !== null)];
  }

  async get(agent: Pick<Agent, 'id' | 'tenantId'>, id: string): Promise<Macro> {
    const m = await macroRow(this.db, agent.tenantId, id);
    if (!m || !macroVisibleTo(m, agent)) throw notFound(`macro ${id} not found`);
    return m;
  }

  async create(agent: Agent, id: string, input: MacroInput): Promise<Macro> {
    const ownerId = input.shared ? null : agent.id;
    if (!mayEditMacro(agent, { tenantId: agent.tenantId, ownerId })) throw forbidden('shared macros need the canned.manage permission');
    const now = this.now();
    return this.db.tx(async (q) => {
      await assertValid(q, agent.tenantId, input);
      await assertNameFree(q, agent.tenantId, ownerId, input.name, null);
      await q.run('INSERT INTO macros (id, tenant_id, owner_id, name, actions, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)', [
        id, agent.tenantId, ownerId, input.name, JSON.stringify(input.actions), now, now,
      ]);
      await insertAudit(q, { tenantId: agent.tenantId, agentId: agent.id }, { action: 'macro.create', target: id, details: { name: input.name, shared: input.shared } }, now);
      return (await macroRow(q, agent.tenantId, id))!;
    });
  }

  async update(agent: Agent, id: string, patch: Partial<MacroInput>): Promise<Macro> {
    const now = this.now();
    return this.db.tx(async (q) => {
      const cur = await macroRow(q, agent.tenantId, id);
      if (!cur || !macroVisibleTo(cur, agent)) throw notFound(`macro ${id} not found`);
      if (!mayEditMacro(agent, cur)) throw forbidden('shared macros need the canned.manage permission');
      const ownerId = patch.shared === undefined ? cur.ownerId : patch.shared ? null : agent.id;
      if (!mayEditMacro(agent, { tenantId: agent.tenantId, ownerId })) throw forbidden('shared macros need the canned.manage permission');
      const next = { name: patch.name ?? cur.name, actions: patch.actions ?? cur.actions };
      await assertValid(q, agent.tenantId, next);
      await assertNameFree(q, agent.tenantId, ownerId, next.name, id);
      await q.run('UPDATE macros SET name = ?, actions = ?, owner_id = ?, updated_at = ? WHERE id = ? AND tenant_id = ?', [
        next.name, JSON.stringify(next.actions), ownerId, now, id, agent.tenantId,
      ]);
      await insertAudit(q, { tenantId: agent.tenantId, agentId: agent.id }, { action: 'macro.update', target: id, details: { fields: Object.keys(patch) } }, now);
      return (await macroRow(q, agent.tenantId, id))!;
    });
  }

  async remove(agent: Agent, id: string): Promise<void> {
    const now = this.now();
    await this.db.tx(async (q) => {
      const cur = await macroRow(q, agent.tenantId, id);
      if (!cur || !macroVisibleTo(cur, agent)) throw notFound(`macro ${id} not found`);
      if (!mayEditMacro(agent, cur)) throw forbidden('shared macros need the canned.manage permission');
      await q.run('DELETE FROM macros WHERE id = ? AND tenant_id = ?', [id, agent.tenantId]);
      await insertAudit(q, { tenantId: agent.tenantId, agentId: agent.id }, { action: 'macro.delete', target: id, details: { name: cur.name } }, now);
    });
  }
}

// Custom roles (permission sets admins define) and the resolution of an agent's permission set.
// The rules themselves live in core (rules/permissions.ts); this is their storage.
import crypto from 'node:crypto';
import { z } from 'zod';
import { CustomRole, PermissionSet, decideRoleGrant, type Agent } from '@goutong/core';
import type { Db, Queryable, Row } from '../db/db.js';
import { ApiError, forbidden, notFound } from '../errors.js';
import { insertAudit } from './audit.js';
import { nextSeq, toAgent } from './rows.js';

/** An agent with the permission set of its custom role attached (rules read `permissions`). */
export type Principal = Agent & { permissions?: PermissionSet };

export const RoleBody = z.object({ name: z.string().trim().min(1).max(100), permissions: PermissionSet }).strict();
export const RolePatch = z.object({ name: z.string().trim().min(1).max(100).optional(), permissions: PermissionSet.optional() }).strict();

function toRole(r: Row): CustomRole {
  return CustomRole.parse({
    id: r.id, tenantId: r.tenant_id, name: r.name, permissions: JSON.parse(String(r.permissions)), createdAt: Number(r.created_at), updatedAt: Number(r.updated_at),
  });
}

export async function roleById(q: Queryable, tenantId: string, id: string): Promise<CustomRole | null> {
  const r = await q.one('SELECT * FROM roles WHERE id = ? AND tenant_id = ?', [id, tenantId]);
  return r ? toRole(r) : null;
}

/** The agent with its custom role's permission set, when it has one (a role deleted since: no permissions at all). */
export async function withPermissions(q: Queryable, agent: Agent): Promise<Principal> {
  if (!agent.roleId) return agent;
  const role = await roleById(q, agent.tenantId, agent.roleId);
  return { ...agent, permissions: role?.permissions ?? { actions: [], scope: { kind: 'listed', inboxIds: [], teamIds: [] } } };
}

export async function listRoles(q: Queryable, tenantId: string): Promise<CustomRole[]> {
  return (await q.all('SELECT * FROM roles WHERE tenant_id = ? ORDER BY name, id', [tenantId])).map(toRole);
}

function grantOrThrow(actor: Principal, wanted: PermissionSet): void {
  const g = decideRoleGrant(actor, wanted);
  if (!g.ok) throw forbidden(g.message);
}

export async function createRole(db: Db, actor: Principal, body: z.infer<typeof RoleBody>, now: number): Promise<CustomRole> {
  grantOrThrow(actor, body.permissions);
  const role: CustomRole = { id: crypto.randomUUID(), tenantId: actor.tenantId, name: body.name, permissions: body.permissions, createdAt: now, updatedAt: now };
  return db.tx(async (q) => {
    if (await q.one('SELECT id FROM roles WHERE tenant_id = ? AND name = ?', [actor.tenantId, role.name])) throw new ApiError('conflict', `a role named ${role.name} exists`);
    await q.run('INSERT INTO roles (id, tenant_id, name, permissions, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)', [role.id, role.tenantId, role.name, JSON.stringify(role.permissions), now, now]);
    await insertAudit(q, { tenantId: actor.tenantId, agentId: actor.id }, { action: 'role.create', target: role.id, details: { before: null, after: { name: role.name, permissions: role.permissions } } }, now);
    return role;
  });
}

export async function updateRole(db: Db, actor: Principal, id: string, patch: z.infer<typeof RolePatch>, now: number): Promise<CustomRole> {
  if (patch.permissions) grantOrThrow(actor, patch.permissions);
  else grantOrThrow(actor, { actions: [], scope: { kind: 'teams' } });
  return db.tx(async (q) => {
    const before = await roleById(q, actor.tenantId, id);
    if (!before) throw notFound(`role ${id} not found`);
    const after: CustomRole = { ...before, ...(patch.name ? { name: patch.name } : {}), ...(patch.permissions ? { permissions: patch.permissions } : {}), updatedAt: now };
    await q.run('UPDATE roles SET name = ?, permissions = ?, updated_at = ? WHERE id = ? AND tenant_id = ?', [after.name, JSON.stringify(after.permissions), now, id, actor.tenantId]);
    await insertAudit(q, { tenantId: actor.tenantId, agentId: actor.id }, {
      action: 'role.update', target: id, details: { before: { name: before.name, permissions: before.permissions }, after: { name: after.name, permissions: after.permissions } },
    }, now);
    // Agents of the role: their scope key changes (scope.ts), so their devices pull again.
    await bumpAgentsOfRole(q, actor.tenantId, id);
    return after;
  });
}

export async function deleteRole(db: Db, actor: Principal, id: string, now: number): Promise<void> {
  grantOrThrow(actor, { actions: [], scope: { kind: 'teams' } });
  await db.tx(async (q) => {
    const before = await roleById(q, actor.tenantId, id);
    if (!before) throw notFound(`role ${id} not found`);
    const members = await q.one<{ n: number }>('SELECT COUNT(*) AS n FROM agents WHERE tenant_id = ? AND role_id = ?', [actor.tenantId, id]);
    if (Number(members?.n ?? 0) > 0) throw new ApiError('conflict', 'agents still have this role; give them another role first');
    await q.run('DELETE FROM roles WHERE id = ? AND tenant_id = ?', [id, actor.tenantId]);
    await insertAudit(q, { tenantId: actor.tenantId, agentId: actor.id }, { action: 'role.delete', target: id, details: { before: { name: before.name, permissions: before.permissions }, after: null } }, now);
  });
}

/** Gives an agent a custom role (or back to its built-in role with null). */
export async function setAgentRole(db: Db, actor: Principal, agentId: string, roleId: string | null, now: number): Promise<Agent> {
  grantOrThrow(actor, { actions: [], scope: { kind: 'teams' } });
  return db.tx(async (q) => {
    const row = await q.one('SELECT * FROM agents WHERE id = ? AND tenant_id = ?', [agentId, actor.tenantId]);
    if (!row) throw notFound(`agent ${agentId} not found`);
    const before = toAgent(row);
    if (roleId !== null) {
      const role = await roleById(q, actor.tenantId, roleId);
      if (!role) throw notFound(`role ${roleId} not found`);
      grantOrThrow(actor, role.permissions);
    }
    const seq = await nextSeq(q, actor.tenantId);
    await q.run('UPDATE agents SET role_id = ?, seq = ? WHERE id = ? AND tenant_id = ?', [roleId, seq, agentId, actor.tenantId]);
    await insertAudit(q, { tenantId: actor.tenantId, agentId: actor.id }, { action: 'agent.role', target: agentId, details: { before: { roleId: before.roleId ?? null }, after: { roleId } } }, now);
    return toAgent((await q.one('SELECT * FROM agents WHERE id = ?', [agentId]))!);
  });
}

async function bumpAgentsOfRole(q: Queryable, tenantId: string, roleId: string): Promise<void> {
  const any = await q.one('SELECT id FROM agents WHERE tenant_id = ? AND role_id = ? LIMIT 1', [tenantId, roleId]);
  if (!any) return;
  const seq = await nextSeq(q, tenantId);
  await q.run('UPDATE agents SET seq = ? WHERE tenant_id = ? AND role_id = ?', [seq, tenantId, roleId]);
}

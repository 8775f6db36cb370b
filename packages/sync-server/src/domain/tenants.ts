import type { Agent, Role } from '@goutong/core';
import type { Queryable } from '../db/db.js';
import { encryptSecret, hashPassword, randomToken } from '../auth/crypto.js';
import { insertAudit } from './audit.js';
import { insertInbox, nextSeq, toAgent } from './rows.js';
import type { Workspace } from './workspace.js';

export interface Tenant {
  id: string;
  slug: string;
  name: string;
}

export interface CreateTenantInput {
  slug: string;
  name: string;
  teams: string[];
  agents: { email: string; name: string; role: Role; teams: string[]; password: string }[];
}

const toTenant = (r: { id: unknown; slug: unknown; name: unknown }): Tenant => ({ id: String(r.id), slug: String(r.slug), name: String(r.name) });

export async function tenantById(q: Queryable, id: string): Promise<Tenant | null> {
  const r = await q.one<{ id: string; slug: string; name: string }>('SELECT id, slug, name FROM tenants WHERE id = ?', [id]);
  return r ? toTenant(r) : null;
}

export async function tenantBySlug(q: Queryable, slug: string): Promise<Tenant | null> {
  const r = await q.one<{ id: string; slug: string; name: string }>('SELECT id, slug, name FROM tenants WHERE slug = ?', [slug]);
  return r ? toTenant(r) : null;
}

/** Every workspace, by slug (maintenance commands that run over all of them). */
export async function allTenants(q: Queryable): Promise<Tenant[]> {
  return (await q.all<{ id: string; slug: string; name: string }>('SELECT id, slug, name FROM tenants ORDER BY slug')).map(toTenant);
}

/**
 * Creates a tenant with teams and agents (the demo seed, tests and the CLI), in one transaction;
 * with `audit`, the audit row of the creation commits with it.
 */
export async function createTenant(
  ws: Workspace,
  input: CreateTenantInput,
  audit?: { agentId: string | null; action: string; details: Record<string, unknown> },
): Promise<{ tenantId: string; teamIds: Record<string, string>; agents: Record<string, Agent> }> {
  const now = Date.now();
  const tenantId = ws.ids.next();
  const teamIds: Record<string, string> = {};
  for (const t of input.teams) teamIds[t] = ws.ids.next();
  const hashes = await Promise.all(input.agents.map((a) => hashPassword(a.password)));
  const agentIds = input.agents.map(() => ws.ids.next());
  const created = await ws.db.tx(async (q) => {
    await q.run('INSERT INTO tenants (id, slug, name, created_at) VALUES (?, ?, ?, ?)', [tenantId, input.slug, input.name, now]);
    await q.run('INSERT INTO tenant_seq (tenant_id, seq) VALUES (?, ?)', [tenantId, 1]);
    for (const t of input.teams) await q.run('INSERT INTO teams (id, tenant_id, name, seq) VALUES (?, ?, ?, 1)', [teamIds[t]!, tenantId, t]);
    for (const [i, a] of input.agents.entries()) {
      await q.run('INSERT INTO agents (id, tenant_id, email, name, role, team_ids, password_hash, active, created_at, seq) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, 1)', [
        agentIds[i]!, tenantId, a.email.toLowerCase(), a.name, a.role, JSON.stringify(a.teams.map((t) => teamIds[t]!)), hashes[i]!, now,
      ]);
    }
    if (audit) await insertAudit(q, { tenantId, agentId: audit.agentId }, { action: audit.action, target: tenantId, details: audit.details }, now);
    const out: Agent[] = [];
    for (const id of agentIds) out.push(toAgent((await q.one('SELECT * FROM agents WHERE id = ?', [id]))!));
    return out;
  });
  const agents: Record<string, Agent> = {};
  for (const a of created) agents[a.email] = a;
  return { tenantId, teamIds, agents };
}

/** Creates an inbox directly (seed and tests); the API path is InboxAdmin.create. */
export async function createInbox(
  ws: Workspace,
  serverSecret: string,
  i: { tenantId: string; name: string; channel: string; provider?: string; teamIds: string[]; config?: Record<string, unknown>; secrets?: Record<string, string> },
): Promise<string> {
  const id = ws.ids.next();
  const secrets = i.secrets ?? (i.channel === 'api' ? { secret: randomToken(24) } : {});
  await ws.db.tx(async (q) =>
    insertInbox(q, {
      id, tenantId: i.tenantId, name: i.name, channel: i.channel, provider: i.provider ?? i.channel, teamIds: i.teamIds, config: i.config ?? {},
      sealedSecrets: encryptSecret(serverSecret, JSON.stringify(secrets)), createdAt: Date.now(), seq: await nextSeq(q, i.tenantId),
    }),
  );
  return id;
}

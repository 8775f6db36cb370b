import {
  DEFAULT_LIFECYCLE_SETTINGS,
  LifecycleSettings,
  SlaPolicy,
  SlaPolicyInput,
  policyFor,
  slaPolicyProblem,
  teamSupervisor,
  type Agent,
  type Calendar,
  type Conversation,
  type OpsCause,
  type SlaEvent,
} from '@goutong/core';
import type { Db, Queryable, Row } from '../db/db.js';
import { badRequest, conflict, notFound } from '../errors.js';
import { insertAudit, type AuditActor } from './audit.js';
import { businessHoursById, teamCalendarOf } from './businessHours.js';
import { toAgent, toConversation } from './rows.js';
import { insertEvents } from './opsJobs.js';

/** Database rows cross a boundary too: parsed into the core schema. */
export function toSlaPolicy(r: Row): SlaPolicy {
  const body = (typeof r.body === 'string' ? JSON.parse(r.body) : r.body) as Record<string, unknown>;
  return SlaPolicy.parse({ ...body, id: r.id, tenantId: r.tenant_id, createdAt: Number(r.created_at), updatedAt: Number(r.updated_at) });
}

export async function slaPoliciesOf(q: Queryable, tenantId: string): Promise<SlaPolicy[]> {
  return (await q.all('SELECT * FROM sla_policies WHERE tenant_id = ? ORDER BY created_at, id', [tenantId])).map(toSlaPolicy);
}

/** The tenant's lifecycle settings (defaults until an admin sets them). */
export async function lifecycleSettingsOf(q: Queryable, tenantId: string): Promise<LifecycleSettings> {
  const r = await q.one<{ body: string }>('SELECT body FROM lifecycle_settings WHERE tenant_id = ?', [tenantId]);
  if (!r) return DEFAULT_LIFECYCLE_SETTINGS;
  return LifecycleSettings.parse({ ...DEFAULT_LIFECYCLE_SETTINGS, ...(JSON.parse(String(r.body)) as object) });
}

/** What the SLA rules read for a conversation: the policy its clocks run under, that policy's calendar, and the team's supervisor. */
export interface SlaState {
  policy: SlaPolicy | null;
  calendar: Calendar | null;
  supervisor: Agent | null;
}

/**
 * Loads the SLA state of a conversation. Clocks already running stay under their policy (null when
 * it was deleted); a conversation without clocks, or `repick` (moved to another team), takes the
 * policy that applies now (core policyFor).
 */
export async function loadSlaState(q: Queryable, conv: Conversation, o: { repick?: boolean } = {}): Promise<SlaState> {
  const policies = await slaPoliciesOf(q, conv.tenantId);
  const policy = conv.sla && !o.repick ? (policies.find((p) => p.id === conv.sla!.policyId) ?? null) : policyFor(policies, conv);
  const calendar = policy?.businessHoursId ? await businessHoursById(q, conv.tenantId, policy.businessHoursId) : null;
  let supervisor: Agent | null = null;
  if (conv.teamId && policy && (policy.escalation.reassignToSupervisor || policy.escalation.notify)) {
    const named = (await teamCalendarOf(q, conv.tenantId, conv.teamId)).supervisorId;
    const agents = (await q.all('SELECT * FROM agents WHERE tenant_id = ?', [conv.tenantId])).map(toAgent);
    supervisor = teamSupervisor(conv, agents, named);
  }
  return { policy, calendar, supervisor };
}

export async function conversationById(q: Queryable, id: string): Promise<Conversation | null> {
  const r = await q.one('SELECT * FROM conversations WHERE id = ?', [id]);
  return r ? toConversation(r) : null;
}

/** SLA policies and lifecycle settings of a workspace; every change commits with its audit row. */
export class SlaAdmin {
  constructor(private readonly db: Db, private readonly now: () => number = Date.now) {}

  list(tenantId: string): Promise<SlaPolicy[]> {
    return slaPoliciesOf(this.db, tenantId);
  }

  async get(tenantId: string, id: string): Promise<SlaPolicy> {
    const r = await this.db.one('SELECT * FROM sla_policies WHERE id = ? AND tenant_id = ?', [id, tenantId]);
    if (!r) throw notFound(`SLA policy ${id} not found`);
    return toSlaPolicy(r);
  }

  private async check(q: Queryable, tenantId: string, input: SlaPolicyInput, exceptId: string | null): Promise<void> {
    const ids = async (sql: string) => new Set((await q.all<{ id: string }>(sql, [tenantId])).map((r) => String(r.id)));
    const otherDefault = (await q.all<{ id: string }>('SELECT id FROM sla_policies WHERE tenant_id = ? AND is_default = 1', [tenantId])).some((r) => r.id !== exceptId);
    const problem = slaPolicyProblem(input, {
      inboxIds: await ids('SELECT id FROM inboxes WHERE tenant_id = ?'),
      teamIds: await ids('SELECT id FROM teams WHERE tenant_id = ?'),
      businessHoursIds: await ids('SELECT id FROM business_hours WHERE tenant_id = ?'),
      otherDefault,
    });
    if (problem) throw badRequest(`invalid SLA policy: ${problem}`);
  }

  private async write(q: Queryable, actor: AuditActor, id: string, input: SlaPolicyInput, now: number, isNew: boolean): Promise<void> {
    const body = JSON.stringify(input);
    try {
      if (isNew) {
        await q.run('INSERT INTO sla_policies (id, tenant_id, name, body, is_default, business_hours_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)', [
          id, actor.tenantId, input.name, body, input.isDefault ? 1 : 0, input.businessHoursId, now, now,
        ]);
      } else {
        await q.run('UPDATE sla_policies SET name = ?, body = ?, is_default = ?, business_hours_id = ?, updated_at = ? WHERE id = ? AND tenant_id = ?', [
          input.name, body, input.isDefault ? 1 : 0, input.businessHoursId, now, id, actor.tenantId,
        ]);
      }
    } catch (e) {
      if (/unique|duplicate/i.test(String(e))) throw conflict('another policy is the default already (at most one default policy)');
      throw e;
    }
  }

  async create(actor: AuditActor, id: string, input: SlaPolicyInput): Promise<SlaPolicy> {
    const now = this.now();
    return this.db.tx(async (q) => {
      await this.check(q, actor.tenantId, input, null);
      await this.write(q, actor, id, input, now, true);
      await insertAudit(q, actor, { action: 'sla_policy.create', target: id, details: { name: input.name } }, now);
      return toSlaPolicy((await q.one('SELECT * FROM sla_policies WHERE id = ?', [id]))!);
    });
  }

  async update(actor: AuditActor, id: string, patch: Record<string, unknown>): Promise<SlaPolicy> {
    const now = this.now();
    return this.db.tx(async (q) => {
      const r = await q.one('SELECT * FROM sla_policies WHERE id = ? AND tenant_id = ?', [id, actor.tenantId]);
      if (!r) throw notFound(`SLA policy ${id} not found`);
      const { id: _i, tenantId: _t, createdAt: _c, updatedAt: _u, ...cur } = toSlaPolicy(r);
      const parsed = SlaPolicyInput.safeParse({ ...cur, ...patch });
      if (!parsed.success) throw badRequest(`invalid SLA policy: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'policy'}: ${i.message}`).join('; ')}`);
      await this.check(q, actor.tenantId, parsed.data, id);
      await this.write(q, actor, id, parsed.data, now, false);
      await insertAudit(q, actor, { action: 'sla_policy.update', target: id, details: { fields: Object.keys(patch) } }, now);
      return toSlaPolicy((await q.one('SELECT * FROM sla_policies WHERE id = ?', [id]))!);
    });
  }

  async remove(actor: AuditActor, id: string): Promise<void> {
    const now = this.now();
    await this.db.tx(async (q) => {
      const r = await q.run('DELETE FROM sla_policies WHERE id = ? AND tenant_id = ?', [id, actor.tenantId]);
      if (r.changes === 0) throw notFound(`SLA policy ${id} not found`);
      await insertAudit(q, actor, { action: 'sla_policy.delete', target: id, details: {} }, now);
    });
  }

  lifecycle(tenantId: string): Promise<LifecycleSettings> {
    return lifecycleSettingsOf(this.db, tenantId);
  }

  async setLifecycle(actor: AuditActor, patch: Partial<LifecycleSettings>): Promise<LifecycleSettings> {
    const now = this.now();
    return this.db.tx(async (q) => {
      const next = LifecycleSettings.parse({ ...(await lifecycleSettingsOf(q, actor.tenantId)), ...patch });
      await q.run(
        'INSERT INTO lifecycle_settings (tenant_id, body, updated_at) VALUES (?, ?, ?) ON CONFLICT (tenant_id) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at',
        [actor.tenantId, JSON.stringify(next), now],
      );
      await insertAudit(q, actor, { action: 'lifecycle.update', target: null, details: patch }, now);
      return next;
    });
  }
}

/** The contact's latest resolved conversation in an inbox (a customer writing again may reopen it). */
export async function latestResolvedOf(q: Queryable, inboxId: string, contactId: string): Promise<Conversation | null> {
  const r = await q.one("SELECT * FROM conversations WHERE inbox_id = ? AND contact_id = ? AND status = 'resolved' ORDER BY updated_at DESC, id DESC LIMIT 1", [inboxId, contactId]);
  return r ? toConversation(r) : null;
}

/** SLA warnings and breaches as ops events (automation rules react to them), in the timer's transaction. */
export async function emitSlaEvents(q: Queryable, tenantId: string, events: readonly SlaEvent[], o: { at: number; cause: OpsCause; newId: () => string }): Promise<void> {
  if (events.length) await insertEvents(q, tenantId, events, { at: o.at, actorId: null, cause: o.cause, newId: o.newId });
}

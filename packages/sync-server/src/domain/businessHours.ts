import { BusinessHours, calendarProblem, type BusinessHoursInput } from '@goutong/core';
import type { Db, Queryable, Row } from '../db/db.js';
import { badRequest, conflict, notFound } from '../errors.js';
import { insertAudit, type AuditActor } from './audit.js';
import { toInbox } from './rows.js';

/** Database rows cross a boundary too: parsed into the core schema. */
export const toBusinessHours = (r: Row): BusinessHours =>
  BusinessHours.parse({
    id: r.id, tenantId: r.tenant_id, name: r.name, timeZone: r.time_zone,
    weekly: typeof r.weekly === 'string' ? JSON.parse(r.weekly) : r.weekly,
    holidays: typeof r.holidays === 'string' ? JSON.parse(r.holidays) : r.holidays,
    createdAt: Number(r.created_at), updatedAt: Number(r.updated_at),
  });

/** One calendar of a tenant, or null. */
export async function businessHoursById(q: Queryable, tenantId: string, id: string): Promise<BusinessHours | null> {
  const r = await q.one('SELECT * FROM business_hours WHERE id = ? AND tenant_id = ?', [id, tenantId]);
  return r ? toBusinessHours(r) : null;
}

/** A team's calendar and supervisor (PUT /api/v1/teams/{id}/calendar). */
export interface TeamCalendar {
  teamId: string;
  businessHoursId: string | null;
  supervisorId: string | null;
}

export async function teamCalendarOf(q: Queryable, tenantId: string, teamId: string): Promise<TeamCalendar> {
  const r = await q.one('SELECT * FROM team_calendars WHERE team_id = ? AND tenant_id = ?', [teamId, tenantId]);
  return { teamId, businessHoursId: (r?.business_hours_id as string | null | undefined) ?? null, supervisorId: (r?.supervisor_id as string | null | undefined) ?? null };
}

/**
 * The calendar that applies to a conversation of an inbox and team (auto-replies, routing and SLA
 * read it through this function): the team's calendar wins over the inbox's; null: always open.
 */
export async function calendarFor(q: Queryable, tenantId: string, where: { inboxId: string | null; teamId: string | null }): Promise<BusinessHours | null> {
  if (where.teamId) {
    const t = await teamCalendarOf(q, tenantId, where.teamId);
    if (t.businessHoursId) {
      const cal = await businessHoursById(q, tenantId, t.businessHoursId);
      if (cal) return cal;
    }
  }
  if (where.inboxId) {
    const r = await q.one('SELECT * FROM inboxes WHERE id = ? AND tenant_id = ?', [where.inboxId, tenantId]);
    const id = r ? (toInbox(r).ops?.businessHoursId ?? null) : null;
    if (id) return businessHoursById(q, tenantId, id);
  }
  return null;
}

/** Why an input cannot be stored: the core rule's answer as a 400. */
function check(input: BusinessHoursInput): void {
  const problem = calendarProblem(input);
  if (problem) throw badRequest(`invalid business hours: ${problem}`, [{ path: ['timeZone'], message: problem }]);
}

/** What refers to a calendar (inboxes, teams, SLA policies): a delete is refused while anything does. */
export async function calendarReferences(q: Queryable, tenantId: string, id: string): Promise<string[]> {
  const out: string[] = [];
  for (const r of await q.all('SELECT * FROM inboxes WHERE tenant_id = ?', [tenantId])) {
    const inbox = toInbox(r);
    if (inbox.ops?.businessHoursId === id) out.push(`inbox ${inbox.name} (${inbox.id})`);
  }
  for (const r of await q.all('SELECT team_id FROM team_calendars WHERE tenant_id = ? AND business_hours_id = ?', [tenantId, id])) out.push(`team ${String(r.team_id)}`);
  for (const r of await q.all('SELECT id, name FROM sla_policies WHERE tenant_id = ? AND business_hours_id = ?', [tenantId, id])) out.push(`SLA policy ${String(r.name)} (${String(r.id)})`);
  return out;
}

/** Business-hours calendars of a workspace; every change commits with its audit row. */
export class BusinessHoursStore {
  constructor(private readonly db: Db, private readonly now: () => number = Date.now) {}

  async list(tenantId: string): Promise<BusinessHours[]> {
    return (await this.db.all('SELECT * FROM business_hours WHERE tenant_id = ? ORDER BY name, id', [tenantId])).map(toBusinessHours);
  }

  async get(tenantId: string, id: string): Promise<BusinessHours> {
    const b = await businessHoursById(this.db, tenantId, id);
    if (!b) throw notFound(`business hours ${id} not found`);
    return b;
  }

  async create(actor: AuditActor, id: string, input: BusinessHoursInput): Promise<BusinessHours> {
    check(input);
    const now = this.now();
    return this.db.tx(async (q) => {
      await q.run('INSERT INTO business_hours (id, tenant_id, name, time_zone, weekly, holidays, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)', [
        id, actor.tenantId, input.name, input.timeZone, JSON.stringify(input.weekly), JSON.stringify(input.holidays), now, now,
      ]);
      await insertAudit(q, actor, { action: 'business_hours.create', target: id, details: { name: input.name, timeZone: input.timeZone } }, now);
      return (await businessHoursById(q, actor.tenantId, id))!;
    });
  }

  async update(actor: AuditActor, id: string, patch: Partial<BusinessHoursInput>): Promise<BusinessHours> {
    const now = this.now();
    return this.db.tx(async (q) => {
      const cur = await businessHoursById(q, actor.tenantId, id);
      if (!cur) throw notFound(`business hours ${id} not found`);
      const next: BusinessHoursInput = {
        name: patch.name ?? cur.name, timeZone: patch.timeZone ?? cur.timeZone, weekly: patch.weekly ?? cur.weekly, holidays: patch.holidays ?? cur.holidays,
      };
      check(next);
      await q.run('UPDATE business_hours SET name = ?, time_zone = ?, weekly = ?, holidays = ?, updated_at = ? WHERE id = ? AND tenant_id = ?', [
        next.name, next.timeZone, JSON.stringify(next.weekly), JSON.stringify(next.holidays), now, id, actor.tenantId,
      ]);
      await insertAudit(q, actor, { action: 'business_hours.update', target: id, details: { fields: Object.keys(patch) } }, now);
      return (await businessHoursById(q, actor.tenantId, id))!;
    });
  }

  async remove(actor: AuditActor, id: string): Promise<void> {
    const now = this.now();
    await this.db.tx(async (q) => {
      if (q.dialect === 'pg') await q.run('SELECT id FROM business_hours WHERE id = ? FOR UPDATE', [id]);
      if (!(await businessHoursById(q, actor.tenantId, id))) throw notFound(`business hours ${id} not found`);
      const refs = await calendarReferences(q, actor.tenantId, id);
      if (refs.length) throw conflict(`business hours ${id} are in use by ${refs.join(', ')}; point them elsewhere first`);
      await q.run('DELETE FROM business_hours WHERE id = ? AND tenant_id = ?', [id, actor.tenantId]);
      await insertAudit(q, actor, { action: 'business_hours.delete', target: id, details: {} }, now);
    });
  }

  /** A team's calendar and supervisor (404 for an unknown team). */
  async teamCalendar(tenantId: string, teamId: string): Promise<TeamCalendar> {
    if (!(await this.db.one('SELECT id FROM teams WHERE id = ? AND tenant_id = ?', [teamId, tenantId]))) throw notFound(`team ${teamId} not found`);
    return teamCalendarOf(this.db, tenantId, teamId);
  }

  /** Sets a team's calendar and supervisor (ids checked against the tenant: 400 when unknown). */
  async setTeamCalendar(actor: AuditActor, teamId: string, input: { businessHoursId: string | null; supervisorId: string | null }): Promise<TeamCalendar> {
    const now = this.now();
    return this.db.tx(async (q) => {
      if (!(await q.one('SELECT id FROM teams WHERE id = ? AND tenant_id = ?', [teamId, actor.tenantId]))) throw notFound(`team ${teamId} not found`);
      if (input.businessHoursId && !(await businessHoursById(q, actor.tenantId, input.businessHoursId))) throw badRequest(`business hours ${input.businessHoursId} not found`);
      if (input.supervisorId && !(await q.one('SELECT id FROM agents WHERE id = ? AND tenant_id = ?', [input.supervisorId, actor.tenantId]))) throw badRequest(`agent ${input.supervisorId} not found`);
      await q.run(
        `INSERT INTO team_calendars (team_id, tenant_id, business_hours_id, supervisor_id, updated_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (team_id) DO UPDATE SET business_hours_id = excluded.business_hours_id, supervisor_id = excluded.supervisor_id, updated_at = excluded.updated_at`,
        [teamId, actor.tenantId, input.businessHoursId, input.supervisorId, now],
      );
      await insertAudit(q, actor, { action: 'team.calendar', target: teamId, details: input }, now);
      return teamCalendarOf(q, actor.tenantId, teamId);
    });
  }
}

/** Whether a calendar id exists in the tenant (PATCH /api/v1/inboxes/{id} checks `businessHoursId`). */
export async function businessHoursExists(q: Queryable, tenantId: string, id: string): Promise<boolean> {
  return (await q.one('SELECT id FROM business_hours WHERE id = ? AND tenant_id = ?', [id, tenantId])) !== null;
}

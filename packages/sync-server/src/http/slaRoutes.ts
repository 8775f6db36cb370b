import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { BusinessHoursInput, Id, LifecycleSettings, SlaPolicyInput } from '@goutong/core';
import type { AuthService } from '../auth/service.js';
import type { Workspace } from '../domain/workspace.js';
import { BusinessHoursStore } from '../domain/businessHours.js';
import { SlaAdmin } from '../domain/sla.js';
import { agentOf, parse, requireAgent, requireRole } from './app.js';

const IdParam = z.object({ id: Id });
export const TeamCalendarBody = z.object({ businessHoursId: Id.nullable().optional(), supervisorId: Id.nullable().optional() }).strict();
export const BusinessHoursPatch = BusinessHoursInput.partial().strict();
export const SlaPolicyPatch = z.record(z.string(), z.unknown());
export const LifecyclePatch = LifecycleSettings.partial().strict();

/**
 * Business hours, team calendars, SLA policies and lifecycle settings. Everyone signed in reads
 * (the apps show opening times and SLA targets); admins write.
 */
export function registerSlaRoutes(app: FastifyInstance, d: { auth: AuthService; workspace: Workspace; now?: () => number }): void {
  const ws = d.workspace;
  const hours = new BusinessHoursStore(ws.db, d.now);
  const sla = new SlaAdmin(ws.db, d.now);
  const authed = { preHandler: requireAgent(d.auth) };
  const admin = (req: Parameters<typeof agentOf>[0]) => {
    const a = agentOf(req);
    requireRole(a, ['admin']);
    return { tenantId: a.tenantId, agentId: a.id };
  };

  app.get('/api/v1/business-hours', authed, async (req) => ({ items: await hours.list(agentOf(req).tenantId) }));
  app.get('/api/v1/business-hours/:id', authed, async (req) => hours.get(agentOf(req).tenantId, parse(IdParam, req.params, 'path').id));
  app.post('/api/v1/business-hours', authed, async (req, reply) => {
    const actor = admin(req);
    return reply.status(201).send(await hours.create(actor, ws.ids.next(), parse(BusinessHoursInput.strict(), req.body, 'business hours')));
  });
  app.patch('/api/v1/business-hours/:id', authed, async (req) => {
    const actor = admin(req);
    return hours.update(actor, parse(IdParam, req.params, 'path').id, parse(BusinessHoursPatch, req.body, 'business hours'));
  });
  app.delete('/api/v1/business-hours/:id', authed, async (req, reply) => {
    const actor = admin(req);
    await hours.remove(actor, parse(IdParam, req.params, 'path').id);
    return reply.status(204).send();
  });

  app.get('/api/v1/teams/:id/calendar', authed, async (req) => {
    return hours.teamCalendar(agentOf(req).tenantId, parse(IdParam, req.params, 'path').id);
  });
  app.patch('/api/v1/teams/:id/calendar', authed, async (req) => {
    const actor = admin(req);
    const body = parse(TeamCalendarBody, req.body ?? {}, 'team calendar');
    const { id } = parse(IdParam, req.params, 'path');
    const cur = await hours.teamCalendar(actor.tenantId, id);
    return hours.setTeamCalendar(actor, id, { businessHoursId: body.businessHoursId !== undefined ? body.businessHoursId : cur.businessHoursId, supervisorId: body.supervisorId !== undefined ? body.supervisorId : cur.supervisorId });
  });

  app.get('/api/v1/sla-policies', authed, async (req) => ({ items: await sla.list(agentOf(req).tenantId) }));
  app.get('/api/v1/sla-policies/:id', authed, async (req) => sla.get(agentOf(req).tenantId, parse(IdParam, req.params, 'path').id));
  app.post('/api/v1/sla-policies', authed, async (req, reply) => {
    const actor = admin(req);
    return reply.status(201).send(await sla.create(actor, ws.ids.next(), parse(SlaPolicyInput, req.body, 'SLA policy')));
  });
  app.patch('/api/v1/sla-policies/:id', authed, async (req) => {
    const actor = admin(req);
    return sla.update(actor, parse(IdParam, req.params, 'path').id, parse(SlaPolicyPatch, req.body, 'SLA policy'));
  });
  app.delete('/api/v1/sla-policies/:id', authed, async (req, reply) => {
    const actor = admin(req);
    await sla.remove(actor, parse(IdParam, req.params, 'path').id);
    return reply.status(204).send();
  });

  app.get('/api/v1/lifecycle-settings', authed, async (req) => sla.lifecycle(agentOf(req).tenantId));
  app.patch('/api/v1/lifecycle-settings', authed, async (req) => {
    const actor = admin(req);
    return sla.setLifecycle(actor, parse(LifecyclePatch, req.body, 'lifecycle settings'));
  });
}

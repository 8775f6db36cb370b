import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ContactFieldInput, ContactFieldPatch, Id, OfferInput, OfferPatch, ReportQuery, SegmentInput, toCsv } from '@goutong/core';
import type { AuthService } from '../auth/service.js';
import type { Workspace } from '../domain/workspace.js';
import { ContactFields, Offers, Segments, offerUsage } from '../domain/contactFields.js';
import { insertAudit } from '../domain/audit.js';
import { maskerFor } from '../domain/masking.js';
import { requirePermission } from '../auth/request.js';
import { agentOf, parse, requireAgent } from './app.js';
import { sendCsv, wantsCsv } from './reportRoutes.js';

const IdParam = z.object({ id: Id });
const PageQuery = z.object({ limit: z.coerce.number().int().min(1).max(200).default(50), offset: z.coerce.number().int().min(0).max(100_000).default(0) });
const SegmentPatch = SegmentInput.partial().strict();

/**
 * [fields] Custom contact fields, segments and targeted offers. Every agent reads the three lists
 * (the apps cache them for offline use, like canned responses); admins (settings.manage) change
 * them. The offers report (reports.view; CSV with data.export) counts the replies that used an offer.
 */
export function registerFieldRoutes(app: FastifyInstance, d: { auth: AuthService; workspace: Workspace; now?: () => number }): void {
  const ws = d.workspace;
  const now = d.now ?? Date.now;
  const fields = new ContactFields(ws.db, now);
  const segments = new Segments(ws.db, now);
  const offers = new Offers(ws.db, now);
  const authed = { preHandler: requireAgent(d.auth) };
  const admin = (req: FastifyRequest) => {
    const agent = agentOf(req);
    requirePermission(agent, 'settings.manage');
    return { tenantId: agent.tenantId, agentId: agent.id };
  };

  // ----- custom contact fields -----
  app.get('/api/v1/contact-fields', authed, async (req) => ({ items: await fields.list(agentOf(req).tenantId) }));
  app.post('/api/v1/contact-fields', authed, async (req, reply) => {
    const actor = admin(req);
    return reply.status(201).send(await fields.create(actor, ws.ids.next(), parse(ContactFieldInput, req.body, 'contact field')));
  });
  app.patch('/api/v1/contact-fields/:id', authed, async (req) => {
    const actor = admin(req);
    const { id } = parse(IdParam, req.params, 'path');
    return fields.update(actor, id, parse(ContactFieldPatch, req.body, 'contact field'));
  });
  app.delete('/api/v1/contact-fields/:id', authed, async (req, reply) => {
    const actor = admin(req);
    const { id } = parse(IdParam, req.params, 'path');
    await fields.remove(actor, id);
    return reply.status(204).send();
  });

  // ----- segments -----
  app.get('/api/v1/segments', authed, async (req) => ({ items: await segments.list(agentOf(req).tenantId) }));
  app.post('/api/v1/segments', authed, async (req, reply) => {
    const actor = admin(req);
    return reply.status(201).send(await segments.create(actor, ws.ids.next(), parse(SegmentInput, req.body, 'segment')));
  });
  app.patch('/api/v1/segments/:id', authed, async (req) => {
    const actor = admin(req);
    const { id } = parse(IdParam, req.params, 'path');
    return segments.update(actor, id, parse(SegmentPatch, req.body, 'segment'));
  });
  app.delete('/api/v1/segments/:id', authed, async (req, reply) => {
    const actor = admin(req);
    const { id } = parse(IdParam, req.params, 'path');
    await segments.remove(actor, id);
    return reply.status(204).send();
  });
  app.get('/api/v1/segments/:id/contacts', authed, async (req) => {
    const agent = agentOf(req);
    const { id } = parse(IdParam, req.params, 'path');
    const page = parse(PageQuery, req.query, 'segment contacts query');
    const segment = await segments.get(agent.tenantId, id);
    const r = await segments.contacts(agent, await ws.scope(agent), segment, page.limit, page.offset);
    const mask = await maskerFor(ws.db, agent);
    return { items: r.items.map((c) => mask.contact(c)), nextOffset: r.more ? page.offset + page.limit : null };
  });

  // ----- offers -----
  app.get('/api/v1/offers', authed, async (req) => ({ items: await offers.list(agentOf(req).tenantId) }));
  app.post('/api/v1/offers', authed, async (req, reply) => {
    const actor = admin(req);
    return reply.status(201).send(await offers.create(actor, ws.ids.next(), parse(OfferInput, req.body, 'offer')));
  });
  app.patch('/api/v1/offers/:id', authed, async (req) => {
    const actor = admin(req);
    const { id } = parse(IdParam, req.params, 'path');
    return offers.update(actor, id, parse(OfferPatch, req.body, 'offer'));
  });
  app.delete('/api/v1/offers/:id', authed, async (req, reply) => {
    const actor = admin(req);
    const { id } = parse(IdParam, req.params, 'path');
    await offers.remove(actor, id);
    return reply.status(204).send();
  });

  // ----- the offers report -----
  app.get('/api/v1/reports/offers', authed, async (req, reply) => {
    const agent = agentOf(req);
    requirePermission(agent, 'reports.view');
    const rq = parse(ReportQuery, req.query, 'report query');
    const items = await offerUsage(ws.db, agent.tenantId, rq);
    if (wantsCsv(req)) {
      requirePermission(agent, 'data.export');
      await insertAudit(ws.db, { tenantId: agent.tenantId, agentId: agent.id }, { action: 'report.export', target: 'offers', details: { from: rq.from, to: rq.to } }, now());
      return sendCsv(reply, 'offers', toCsv(['offerId', 'title', 'uses', 'conversations', 'agents'], items.map((r) => [r.offerId, r.title, r.uses, r.conversations, r.agents])));
    }
    return { from: rq.from, to: rq.to, items, total: items.reduce((n, r) => n + r.uses, 0) };
  });
}

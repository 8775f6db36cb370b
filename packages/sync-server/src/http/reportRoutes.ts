import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import {
  bucketOfStarts,
  bucketsOf,
  COST_GROUPS,
  distribution,
  Id,
  Pricing,
  previousPeriod,
  ReportQuery,
  REPORT_INTERVALS,
  summarizeConversation,
  TIMESERIES_METRICS,
  VOLUME_GROUPS,
  toCsv,
  type Distribution,
  type Message,
} from '@goutong/core';
import type { AuthService } from '../auth/service.js';
import type { Workspace } from '../domain/workspace.js';
import { insertAudit } from '../domain/audit.js';
import { agentReport, budgetStatus, costBreakdown, liveBoardOf, durationPoints, pricingOf, reportOverview, rollupTotals, savePricingAudited, type CsatLookup, type Overview } from '../domain/reports.js';
import { volumeReport } from '../domain/reportVolume.js';
import { csatReportOf } from '../domain/csat.js';
import { Suggestions } from '../insight/suggestions.js';
import { maskerFor } from '../domain/masking.js';
import { scopeHas } from '../domain/scope.js';
import { requirePermission } from '../auth/request.js';
import { agentOf, parse, requireAgent } from './app.js';

const TimeseriesQuery = z.object({ metric: z.enum(TIMESERIES_METRICS), interval: z.enum(REPORT_INTERVALS).default('day') });
const PickBody = z.object({ key: z.string().min(1).max(200) }).strict();
const CostQuery = z.object({ groupBy: z.enum(COST_GROUPS).default('conversation'), limit: z.coerce.number().int().min(1).max(1000).default(50) });
const IdParam = z.object({ id: Id });
const VolumeQuery = z.object({ groupBy: z.enum(VOLUME_GROUPS).default('channel') });
/** How much history a summary reads (newest first). */
const SUMMARY_HISTORY = 500;

export const wantsCsv = (req: FastifyRequest): boolean =>
  (req.headers.accept ?? '').includes('text/csv') || (req.query as Record<string, unknown> | undefined)?.['format'] === 'csv';

export function sendCsv(reply: FastifyReply, name: string, csv: string): FastifyReply {
  return reply.header('content-type', 'text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${name}.csv"`).send(`\uFEFF${csv}`);
}

const dist = (label: string, d: Distribution): Array<[string, number | null]> => [
  [`${label}.count`, d.count],
  [`${label}.medianS`, d.medianS],
  [`${label}.p90S`, d.p90S],
];

function overviewRows(o: Overview): Array<[string, string | number | null]> {
  return [
    ['conversations.opened', o.conversations.opened],
    ['conversations.resolved', o.conversations.resolved],
    ['conversations.reopened', o.conversations.reopened],
    ['conversations.transfers', o.conversations.transfers],
    ['messages.in', o.messages.in],
    ['messages.out', o.messages.out],
    ...dist('firstResponse', o.firstResponse),
    ...dist('nextResponse', o.nextResponse),
    ...dist('resolution', o.resolution),
    ['rates.resolution', o.rates.resolution],
    ['rates.reopen', o.rates.reopen],
    ['rates.transfer', o.rates.transfer],
    ['calls.total', o.calls.total],
    ['calls.missed', o.calls.missed],
    ['calls.abandoned', o.calls.abandoned],
    ...dist('calls.handle', o.calls.handle),
    ['csat.responses', o.csat?.responses ?? null],
    ['csat.average', o.csat?.average ?? null],
    ['cost.total', o.cost.total],
    ['cost.currency', o.cost.currency],
    ...Object.entries(o.cost.byChannel).map(([k, v]) => [`cost.byChannel.${k}`, v] as [string, number]),
    ['cost.perResolved', o.cost.perResolved],
    ['cost.perConversation', o.cost.perConversation],
    ['cost.perContact', o.cost.perContact],
    ['sla.resolved', o.sla?.resolved ?? null],
    ['sla.met', o.sla?.met ?? null],
    ['sla.compliance', o.sla?.compliance ?? null],
    ['sla.breaches.first_response', o.sla?.breaches.first_response ?? null],
    ['sla.breaches.next_response', o.sla?.breaches.next_response ?? null],
    ['sla.breaches.resolution', o.sla?.breaches.resolution ?? null],
  ];
}

/**
 * Reports (supervisors and admins): overview, timeseries and per-agent figures from the rollups,
 * any range and time zone, compared with the previous period, as JSON or CSV (`Accept: text/csv`
 * or `format=csv`); pricing and budget; reply suggestions for every agent.
 */
export function registerReportRoutes(app: FastifyInstance, d: { auth: AuthService; workspace: Workspace; now?: () => number; csatOf?: CsatLookup }): void {
  const ws = d.workspace;
  const now = d.now ?? Date.now;
  const authed = { preHandler: requireAgent(d.auth) };
  const suggestions = new Suggestions(ws, 60_000, now);
  const supervisor = (req: FastifyRequest) => {
    const agent = agentOf(req);
    requirePermission(agent, 'reports.view');
    return agent;
  };

  app.get('/api/v1/reports/overview', authed, async (req, reply) => {
    const agent = supervisor(req);
    const rq = parse(ReportQuery, req.query, 'report query');
    const current = await reportOverview(ws.db, agent.tenantId, rq, d.csatOf);
    const prev = rq.compare === 'previous' ? await reportOverview(ws.db, agent.tenantId, { ...rq, ...previousPeriod(rq.from, rq.to) }, d.csatOf) : null;
    if (wantsCsv(req)) {
      requirePermission(agent, 'data.export');
      await insertAudit(ws.db, { tenantId: agent.tenantId, agentId: agent.id }, { action: 'report.export', target: 'overview', details: { from: rq.from, to: rq.to } }, now());
      const p = prev ? new Map(overviewRows(prev)) : null;
      return sendCsv(reply, 'overview', toCsv(p ? ['metric', 'value', 'previous'] : ['metric', 'value'], overviewRows(current).map(([k, v]) => (p ? [k, v, p.get(k) ?? null] : [k, v]))));
    }
    return { ...current, previous: prev };
  });

  app.get('/api/v1/reports/timeseries', authed, async (req, reply) => {
    const agent = supervisor(req);
    const rq = parse(ReportQuery, req.query, 'report query');
    const ts = parse(TimeseriesQuery, req.query, 'timeseries query');
    const buckets = bucketsOf(rq.from, rq.to, ts.interval, rq.tz);
    const values = new Map<number, number>(buckets.map((b) => [b, 0]));
    if (ts.metric === 'first_response_median' || ts.metric === 'resolution_median') {
      const points = await durationPoints(ws.db, agent.tenantId, rq, ts.metric === 'first_response_median' ? 'first_response' : 'resolution');
      const per = new Map<number, number[]>();
      for (const [at, s] of points) {
        const b = bucketOfStarts(buckets, at);
        if (b === null) continue;
        const list = per.get(b);
        if (list) list.push(s);
        else per.set(b, [s]);
      }
      for (const b of buckets) values.set(b, distribution(per.get(b) ?? []).medianS ?? 0);
    } else {
      const col = ({ conversations_opened: 'opened', conversations_resolved: 'resolved', messages_in: 'msgs_in', messages_out: 'msgs_out', reopened: 'reopened', transfers: 'transfers', cost: 'cost_micros' } as const)[ts.metric];
      for (const r of await rollupTotals(ws.db, agent.tenantId, rq, 'hour', [col])) {
        const b = bucketOfStarts(buckets, Number(r.key));
        if (b === null) continue;
        values.set(b, (values.get(b) ?? 0) + r[col]);
      }
      if (ts.metric === 'cost') for (const [b, v] of values) values.set(b, Math.round(v / 10_000) / 100);
    }
    const points = buckets.map((t) => ({ t, v: values.get(t) ?? 0 }));
    if (wantsCsv(req)) requirePermission(agent, 'data.export');
    if (wantsCsv(req)) return sendCsv(reply, `timeseries-${ts.metric}`, toCsv(['time', ts.metric], points.map((p) => [new Date(p.t).toISOString(), p.v])));
    return { metric: ts.metric, interval: ts.interval, tz: rq.tz, points };
  });

  app.get('/api/v1/reports/agents', authed, async (req, reply) => {
    const agent = supervisor(req);
    const rq = parse(ReportQuery, req.query, 'report query');
    const rows = await agentReport(ws.db, agent.tenantId, rq);
    const names = new Map((await ws.agents(agent.tenantId)).map((a) => [a.id, a.name]));
    const items = rows.map((r) => ({ ...r, name: names.get(r.agentId) ?? r.agentId }));
    if (wantsCsv(req)) {
      requirePermission(agent, 'data.export');
      return sendCsv(reply, 'agents', toCsv(
        ['agent', 'opened', 'resolved', 'messagesOut', 'transfers', 'calls', 'handleSeconds', 'firstResponseMedianS', 'firstResponseP90S'],
        items.map((r) => [r.name, r.opened, r.resolved, r.messagesOut, r.transfers, r.calls, r.handleSeconds, r.firstResponse.medianS, r.firstResponse.p90S]),
      ));
    }
    return { items };
  });

  // [insight] Conversations, messages and calls by channel, inbox, team, agent or local hour of day.
  app.get('/api/v1/reports/volume', authed, async (req, reply) => {
    const agent = supervisor(req);
    const rq = parse(ReportQuery, req.query, 'report query');
    const vq = parse(VolumeQuery, req.query, 'volume query');
    const items = await volumeReport(ws.db, agent.tenantId, rq, vq.groupBy);
    if (wantsCsv(req)) {
      requirePermission(agent, 'data.export');
      await insertAudit(ws.db, { tenantId: agent.tenantId, agentId: agent.id }, { action: 'report.export', target: `volume.${vq.groupBy}`, details: { from: rq.from, to: rq.to } }, now());
      return sendCsv(reply, `volume-${vq.groupBy}`, toCsv(
        [vq.groupBy, 'name', 'conversationsOpened', 'conversationsResolved', 'messagesIn', 'messagesOut', 'calls', 'missedCalls'],
        items.map((r) => [r.key, r.label, r.conversationsOpened, r.conversationsResolved, r.messagesIn, r.messagesOut, r.calls, r.missedCalls]),
      ));
    }
    return { groupBy: vq.groupBy, tz: rq.tz, items };
  });

  // [insight] The CSAT dashboard: average, 1–5 distribution, response rate, per agent, latest comments.
  app.get('/api/v1/reports/csat', authed, async (req, reply) => {
    const agent = supervisor(req);
    const rq = parse(ReportQuery, req.query, 'report query');
    const r = await csatReportOf(ws.db, agent.tenantId, rq);
    const masker = await maskerFor(ws.db, agent);
    if (wantsCsv(req)) {
      requirePermission(agent, 'data.export');
      await insertAudit(ws.db, { tenantId: agent.tenantId, agentId: agent.id }, { action: 'report.export', target: 'csat', details: { from: rq.from, to: rq.to } }, now());
      return sendCsv(reply, 'csat', toCsv(['agent', 'responses', 'average', 'satisfied'], r.agents.map((a) => [a.name ?? a.agentId ?? '', a.responses, a.average, a.satisfied])));
    }
    return masker.json(r);
  });

  // [insight] What each conversation, contact, inbox, team or channel cost in the period (top `limit`).
  app.get('/api/v1/reports/costs', authed, async (req, reply) => {
    const agent = supervisor(req);
    const rq = parse(ReportQuery, req.query, 'report query');
    const cq = parse(CostQuery, req.query, 'cost query');
    const items = await costBreakdown(ws.db, agent.tenantId, rq, cq.groupBy, cq.limit);
    const currency = (await pricingOf(ws.db, agent.tenantId)).currency;
    const masker = await maskerFor(ws.db, agent);
    if (wantsCsv(req)) {
      requirePermission(agent, 'data.export');
      await insertAudit(ws.db, { tenantId: agent.tenantId, agentId: agent.id }, { action: 'report.export', target: `costs.${cq.groupBy}`, details: { from: rq.from, to: rq.to } }, now());
      return sendCsv(reply, `costs-${cq.groupBy}`, toCsv([cq.groupBy, 'name', `cost (${currency})`, 'items'], masker.json(items).map((r) => [r.key, r.label, r.cost, r.items])));
    }
    return masker.json({ groupBy: cq.groupBy, currency, items });
  });

  // [insight] The live board (core liveBoard, the figures supervisors' devices compute from synced facts).
  app.get('/api/v1/reports/live', authed, async (req) => {
    const agent = supervisor(req);
    const scope = await ws.scope(agent);
    return liveBoardOf(ws.db, agent.tenantId, now(), (inboxId) => scopeHas(scope, inboxId));
  });

  app.get('/api/v1/reports/budget', authed, async (req) => budgetStatus(ws.db, supervisor(req).tenantId, now()));

  app.get('/api/v1/settings/pricing', authed, async (req) => pricingOf(ws.db, supervisor(req).tenantId));
  app.put('/api/v1/settings/pricing', authed, async (req) => {
    const agent = agentOf(req);
    requirePermission(agent, 'settings.manage');
    const p = parse(Pricing, req.body, 'pricing');
    await savePricingAudited(ws.db, { tenantId: agent.tenantId, agentId: agent.id }, p, now());
    return p;
  });

  app.get('/api/v1/conversations/:id/suggestions', authed, async (req) => {
    const { id } = parse(IdParam, req.params, 'path');
    const agent = agentOf(req);
    return (await maskerFor(ws.db, agent)).json(await suggestions.forConversation(agent, id));
  });
  // [insight] A short extractive summary of the conversation (core summarizeConversation) over its
  // latest SUMMARY_HISTORY messages, for whoever takes it over; masked like every other answer.
  app.get('/api/v1/conversations/:id/summary', authed, async (req) => {
    const { id } = parse(IdParam, req.params, 'path');
    const agent = agentOf(req);
    const messages: Message[] = [];
    let cursor: string | undefined;
    do {
      const page = await ws.listMessages(agent, id, cursor, 200);
      messages.push(...page.items);
      cursor = page.nextCursor ?? undefined;
    } while (cursor && messages.length < SUMMARY_HISTORY);
    return (await maskerFor(ws.db, agent)).json(summarizeConversation(messages));
  });
  app.post('/api/v1/conversations/:id/suggestions/pick', authed, async (req, reply) => {
    const { id } = parse(IdParam, req.params, 'path');
    await ws.visibleConversation(agentOf(req), id);
    await suggestions.picked(agentOf(req), parse(PickBody, req.body, 'pick').key);
    return reply.status(204).send();
  });
}

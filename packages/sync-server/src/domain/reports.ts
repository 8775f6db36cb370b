// Reports' rows: hourly rollups and durations maintained as facts commit (the ops bus's "reports"
// listener), and the queries that read them. Figures come from these rows only, never from a scan
// of messages, so a report over a year answers from at most 24 × 366 rows per dimension.
import {
  answeredQuestions,
  liveBoard,
  MICROS,
  businessMillisBetween,
  callCostMicros,
  callFigures,
  distribution,
  fromMicros,
  monthOf,
  hourOf,
  messageRateMicros,
  Pricing,
  responseOf,
  toMicros,
  type Calendar,
  type Conversation,
  type Message,
  type AgentReportRow,
  type CostGroup,
  type CostRow,
  type LiveBoard,
  type Distribution,
  type ReportOverview,
  type OpsEnvelope,
  type ReportQuery,
} from '@goutong/core';
import type { Db, Queryable } from '../db/db.js';
import { insertAudit, type AuditActor } from './audit.js';
import { csatSummary } from './csat.js';
import { recordOfferUse } from './contactFields.js';
import { toAgent, toConversation, toMessage } from './rows.js';
import { directReportWriter, type ReportWriter } from '../db/reportWrites.js';
import { addDurationToHistograms, distributionOf, histogramDistributions, type Wanted } from './reportHistograms.js';

const COUNTERS = [
  'opened', 'resolved', 'reopened', 'msgs_in', 'msgs_out', 'transfers', 'calls', 'calls_missed', 'calls_abandoned', 'handle_seconds', 'cost_micros',
  'sla_resolved', 'sla_resolved_breached', 'sla_breach_first', 'sla_breach_next', 'sla_breach_resolution',
] as const;
export type Counter = (typeof COUNTERS)[number];

/** The counters also kept per label (report_hourly_labels); "opened" is counted once per conversation and label. */
const LABEL_COUNTERS = ['resolved', 'msgs_in', 'msgs_out', 'calls', 'calls_missed'] as const;

interface Dims {
  tenantId: string;
  channel: string;
  inboxId: string;
  teamId: string;
  agentId: string;
  /** The conversation's labels when the event is folded. */
  labels: readonly string[];
}

const dimsOf = (c: Conversation): Dims => ({ tenantId: c.tenantId, channel: c.channel, inboxId: c.inboxId, teamId: c.teamId ?? '', agentId: c.assigneeId ?? '', labels: c.labels });

const hourKey = (d: Dims, at: number) => ({ tenant_id: d.tenantId, hour: hourOf(at), channel: d.channel, inbox_id: d.inboxId, team_id: d.teamId, agent_id: d.agentId });

function bumpLabel(w: ReportWriter, d: Dims, label: string, at: number, add: Partial<Record<Counter, number>>): Promise<void> {
  return w.add('report_hourly_labels', { ...hourKey(d, at), label }, add as Record<string, number>);
}

/**
 * [volume by label] A conversation enters labels (opened with them, or given them later): "opened"
 * under each label, once per conversation and label however often it is taken off and put back.
 */
async function enterLabels(w: ReportWriter, d: Dims, conversationId: string, labels: readonly string[], at: number): Promise<void> {
  for (const label of labels) {
    if (await w.markLabel(d.tenantId, conversationId, label)) await bumpLabel(w, d, label, at, { opened: 1 });
  }
}

/** What a conversation (and so its contact) cost, per hour: the cost breakdown's rows. */
async function addCost(w: ReportWriter, conv: Conversation, d: Dims, at: number, micros: number): Promise<void> {
  if (micros <= 0) return;
  const hour = hourOf(at);
  const dims = { channel: d.channel, inbox_id: d.inboxId, team_id: d.teamId, agent_id: d.agentId };
  await w.add('report_costs', { tenant_id: conv.tenantId, conversation_id: conv.id, hour }, { cost_micros: micros, items: 1 }, { contact_id: conv.contactId, ...dims });
  // The first and last hour each head (the conversation, its contact) cost anything in, overall and per dimensions.
  for (const [kind, head] of [['conversation', conv.id], ['contact', conv.contactId]] as const) {
    const span = { first_hour: hour, last_hour: hour };
    await w.add('report_cost_spans', { tenant_id: conv.tenantId, kind, scope: 'all', head_id: head, channel: '', inbox_id: '', team_id: '', agent_id: '' }, span);
    await w.add('report_cost_spans', { tenant_id: conv.tenantId, kind, scope: 'dims', head_id: head, ...dims }, span);
  }
}

async function bump(w: ReportWriter, d: Dims, at: number, add: Partial<Record<Counter, number>>, costOf?: Conversation): Promise<void> {
  if (costOf && add.cost_micros) await addCost(w, costOf, d, at, add.cost_micros);
  const counters = Object.fromEntries(COUNTERS.filter((c) => add[c]).map((c) => [c, add[c]!]));
  if (Object.keys(counters).length === 0) return;
  await w.add('report_hourly', hourKey(d, at), counters);
  await w.add('report_hourly_channels', { tenant_id: d.tenantId, hour: hourOf(at), channel: d.channel }, counters);
  const labelAdd = Object.fromEntries(LABEL_COUNTERS.filter((c) => add[c]).map((c) => [c, add[c]!]));
  if (Object.keys(labelAdd).length === 0) return;
  for (const label of new Set(d.labels)) await bumpLabel(w, d, label, at, labelAdd);
}

export type DurationKind = 'first_response' | 'next_response' | 'resolution' | 'handle';

async function duration(q: Queryable, w: ReportWriter, id: string, d: Dims, kind: DurationKind, conversationId: string, at: number, seconds: number, businessSeconds: number): Promise<void> {
  const fresh = await w.insertDuration({ id, tenantId: d.tenantId, kind, conversationId, channel: d.channel, inboxId: d.inboxId, teamId: d.teamId, agentId: d.agentId, at, seconds, businessSeconds });
  // [reports] Its hour's histograms, with the row and only when the row is new (a fold runs exactly once).
  if (fresh && w.histogramsWithRows) await addDurationToHistograms(q, d, kind, at, seconds, businessSeconds);
}

export async function pricingOf(q: Queryable, tenantId: string): Promise<Pricing> {
  const r = await q.one<{ value: string }>('SELECT value FROM tenant_pricing WHERE tenant_id = ?', [tenantId]);
  return Pricing.parse(r ? JSON.parse(String(r.value)) : {});
}

export async function savePricing(q: Queryable, tenantId: string, p: Pricing, now: number): Promise<void> {
  await q.run(
    'INSERT INTO tenant_pricing (tenant_id, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (tenant_id) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at',
    [tenantId, JSON.stringify(p), now],
  );
}

const costMicrosOf = (meta: Record<string, unknown>): number | null => {
  const c = meta['cost'] as { amount?: unknown } | undefined;
  return c && typeof c.amount === 'number' ? toMicros(c.amount) : null;
};

/**
 * Rows the caller has read already (the rollup rebuild reads them page by page): used instead of
 * reading them again, and only when they are the event's own.
 */
export interface KnownRows {
  conversation?: Conversation;
  messages?: ReadonlyMap<string, Message>;
  pricing?: Pricing;
}

/** Where a business-hours calendar of a conversation comes from (null: counted in wall time). */
export type CalendarLookup = (q: Queryable, conversation: Conversation) => Promise<Calendar | null>;

/**
 * Folds one committed event into the rollups (inside the listener's transaction: exactly once).
 * Dimensions are the conversation's at the time of the event (its channel, inbox, team, assignee).
 */
export async function foldReportEvent(q: Queryable, env: OpsEnvelope, calendarOf: CalendarLookup, known: KnownRows = {}, w: ReportWriter = directReportWriter(q)): Promise<void> {
  const e = env.event;
  let conv = known.conversation?.id === e.conversationId ? known.conversation : null;
  if (!conv) {
    const r = await q.one('SELECT * FROM conversations WHERE id = ? AND tenant_id = ?', [e.conversationId, env.tenantId]);
    if (!r) return;
    conv = toConversation(r);
  }
  const messageById = async (id: string): Promise<Message | null> => {
    const m = known.messages?.get(id);
    if (m) return m;
    const mr = await q.one('SELECT * FROM messages WHERE id = ?', [id]);
    return mr ? toMessage(mr) : null;
  };
  const pricingOfTenant = () => (known.pricing ? Promise.resolve(known.pricing) : pricingOf(q, env.tenantId));
  const d = dimsOf(conv);
  const at = env.at;
  switch (e.type) {
    case 'conversation_created':
      await bump(w, d, at, { opened: 1 });
      return enterLabels(w, d, conv.id, conv.labels, at);
    case 'labels_changed':
      return enterLabels(w, d, conv.id, e.added, at);
    case 'message_received':
    case 'agent_replied': {
      const m = await messageById(e.messageId);
      if (!m) return;
      if (m.kind === 'call') {
        const call = callFigures(m.meta);
        const pricing = await pricingOfTenant();
        const cost = costMicrosOf(m.meta) ?? (call.answered ? callCostMicros(call.seconds, toMicros(pricing.voicePerMinute)) : 0);
        await bump(w, d, at, { calls: 1, calls_missed: call.missed ? 1 : 0, calls_abandoned: call.abandoned ? 1 : 0, handle_seconds: call.seconds, cost_micros: cost }, conv);
        if (call.seconds > 0) await duration(q, w, `${m.id}:handle`, d, 'handle', conv.id, at, call.seconds, call.seconds);
        return;
      }
      if (e.type === 'message_received') return bump(w, d, at, { msgs_in: 1, cost_micros: costMicrosOf(m.meta) ?? 0 }, conv);
      await bump(w, { ...d, agentId: m.authorId ?? d.agentId }, at, { msgs_out: 1 });
      // [offers] A reply that used a targeted offer counts one use.
      if (m.meta['offerId'] !== undefined) {
        await recordOfferUse(q, env.tenantId, { offerId: m.meta['offerId'], messageId: m.id, conversationId: conv.id, contactId: conv.contactId, agentId: m.authorId ?? d.agentId, channel: d.channel, inboxId: d.inboxId, teamId: d.teamId, at });
      }
      // The response this reply makes (server time of acceptance; the device time stays on the message).
      // What the reply answered, as the writer saw it in the reply's transaction.
      const resp = responseOf({ firstReply: e.firstReply, waitingSince: e.waitingSince, replyAt: e.serverTime });
      if (!resp) return;
      const cal = await calendarOf(q, conv);
      const business = Math.round(businessMillisBetween(cal, e.waitingSince!, e.serverTime) / 1000);
      return duration(q, w, `${m.id}:response`, { ...d, agentId: m.authorId ?? d.agentId }, resp.kind === 'first' ? 'first_response' : 'next_response', conv.id, at, resp.seconds, business);
    }
    case 'status_changed': {
      if (e.to === 'resolved' || (e.to === 'closed' && e.from !== 'resolved')) {
        // Under an SLA policy: resolved within every target, or not (the conversation's breaches so far).
        const sla = conv.sla ? { sla_resolved: 1, sla_resolved_breached: conv.sla.breached.length > 0 ? 1 : 0 } : {};
        await bump(w, d, at, { resolved: 1, ...sla });
        const cal = await calendarOf(q, conv);
        const secs = Math.max(0, Math.round((at - conv.createdAt) / 1000));
        await duration(q, w, `${env.id}:resolution`, d, 'resolution', conv.id, at, secs, Math.round(businessMillisBetween(cal, conv.createdAt, at) / 1000));
      }
      if ((e.from === 'resolved' || e.from === 'closed') && (e.to === 'open' || e.to === 'pending')) await bump(w, d, at, { reopened: 1 });
      return;
    }
    case 'assigned':
      if (e.from !== null && e.to !== null && e.from !== e.to) await bump(w, d, at, { transfers: 1 });
      return;
    case 'message_status': {
      if (e.status !== 'accepted') return;
      const m = await messageById(e.messageId);
      if (!m) return;
      const pricing = await pricingOfTenant();
      const cost = e.cost ? toMicros(e.cost.amount) : messageRateMicros(pricing, conv.channel);
      // The reply's own dimensions: its author when an agent wrote it.
      return bump(w, { ...d, agentId: m.authorType === 'agent' && m.authorId ? m.authorId : d.agentId }, at, { cost_micros: cost }, conv);
    }
    case 'sla_breached':
      return bump(w, d, at, { [({ first_response: 'sla_breach_first', next_response: 'sla_breach_next', resolution: 'sla_breach_resolution' } as const)[e.metric]]: 1 });
    case 'priority_changed':
      return;
    default:
      return;
  }
}

function filters(rq: Pick<ReportQuery, 'inboxId' | 'teamId' | 'agentId' | 'channel'>): { sql: string; params: string[] } {
  const parts: string[] = [];
  const params: string[] = [];
  const add = (column: string, value: string | undefined) => {
    if (!value) return;
    parts.push(`${column} = ?`);
    params.push(value);
  };
  add('inbox_id', rq.inboxId);
  add('team_id', rq.teamId);
  add('agent_id', rq.agentId);
  add('channel', rq.channel);
  return { sql: parts.map((p) => ` AND ${p}`).join(''), params };
}

export type Totals = Record<Counter, number>;

/** Counter sums over [from, to) (whole hours), optionally grouped; `only` some counters (the others read 0). */
export async function rollupTotals(
  q: Queryable,
  tenantId: string,
  rq: ReportQuery,
  groupBy: 'none' | 'channel' | 'inbox_id' | 'team_id' | 'agent_id' | 'hour',
  only: readonly Counter[] = COUNTERS,
): Promise<Array<Totals & { key: string }>> {
  const f = filters(rq);
  const key = groupBy === 'none' ? "''" : groupBy;
  // Without an inbox, team or agent in the filter or the grouping, the rows per hour and channel are
  // the same sums from far fewer rows (at most one per channel and hour however many agents).
  const byChannel = !rq.inboxId && !rq.teamId && !rq.agentId && (groupBy === 'none' || groupBy === 'channel' || groupBy === 'hour');
  const rows = await q.all(
    `SELECT ${key} AS k, ${only.map((c) => `SUM(${c}) AS ${c}`).join(', ')} FROM ${byChannel ? 'report_hourly_channels' : 'report_hourly'}
     WHERE tenant_id = ? AND hour >= ? AND hour < ?${f.sql}${groupBy === 'none' ? '' : ` GROUP BY ${key}`}`,
    [tenantId, hourOf(rq.from), rq.to, ...f.params],
  );
  return rows
    .filter((r) => groupBy !== 'none' || r[only[0]!] !== null)
    .map((r) => ({ key: String(r.k ?? ''), ...(Object.fromEntries(COUNTERS.map((c) => [c, Number(r[c] ?? 0)])) as Totals) }));
}

/** [volume by label] The label rollups' sums per label over the range (the report's filters apply). */
export async function labelTotals(q: Queryable, tenantId: string, rq: ReportQuery): Promise<Array<Record<(typeof LABEL_COUNTERS)[number] | 'opened', number> & { key: string }>> {
  const f = filters(rq);
  const cols = ['opened', ...LABEL_COUNTERS] as const;
  const rows = await q.all(
    `SELECT label AS k, ${cols.map((c) => `SUM(${c}) AS ${c}`).join(', ')} FROM report_hourly_labels
     WHERE tenant_id = ? AND hour >= ? AND hour < ?${f.sql} GROUP BY label`,
    [tenantId, hourOf(rq.from), rq.to, ...f.params],
  );
  return rows.map((r) => ({ key: String(r.k), ...(Object.fromEntries(cols.map((c) => [c, Number(r[c] ?? 0)])) as Record<(typeof cols)[number], number>) }));
}

/**
 * Percentiles of a duration kind over [from, to), in wall or business seconds, exact, from every duration
 * row of the period (what the overview read before the histograms; kept as the benchmark's baseline and
 * the tests' reference).
 */
export async function durations(q: Queryable, tenantId: string, rq: ReportQuery, kind: DurationKind, business: boolean): Promise<Distribution> {
  const f = filters(rq);
  const rows = await q.all<{ s: number }>(
    `SELECT ${business ? 'business_seconds' : 'seconds'} AS s FROM report_durations WHERE tenant_id = ? AND kind = ? AND at >= ? AND at < ?${f.sql}`,
    [tenantId, kind, rq.from, rq.to, ...f.params],
  );
  return distribution(rows.map((r) => Number(r.s)));
}

/** Durations per bucket (for the median timeseries): [at, seconds] pairs. */
export async function durationPoints(q: Queryable, tenantId: string, rq: ReportQuery, kind: DurationKind): Promise<Array<[number, number]>> {
  const f = filters(rq);
  const rows = await q.all<{ at: number; s: number }>(`SELECT at, seconds AS s FROM report_durations WHERE tenant_id = ? AND kind = ? AND at >= ? AND at < ?${f.sql}`, [tenantId, kind, rq.from, rq.to, ...f.params]);
  return rows.map((r) => [Number(r.at), Number(r.s)]);
}


// ----- reply suggestions' sources -------------------------------------------------------

export interface PastAnswer {
  messageId: string;
  inboxId: string;
  question: string;
  answer: string;
}

/**
 * The workspace's recent agent answers, each with the customer message it answered (the last
 * inbound text before it in its conversation), newest first, at most `limit`.
 */
export async function pastAnswers(q: Queryable, tenantId: string, limit: number): Promise<PastAnswer[]> {
  const rows = await q.all<{ id: string; conversation_id: string; inbox_id: string; direction: string; author_type: string; kind: string; text: string; server_time: number }>(
    `SELECT id, conversation_id, inbox_id, direction, author_type, kind, text, server_time FROM messages
     WHERE tenant_id = ? AND kind IN ('text', 'email') AND (direction = 'in' OR author_type = 'agent') ORDER BY server_time DESC, id DESC LIMIT ?`,
    [tenantId, limit * 3],
  );
  const byConv = new Map<string, typeof rows>();
  for (const r of rows) {
    const list = byConv.get(String(r.conversation_id)) ?? [];
    list.push(r);
    byConv.set(String(r.conversation_id), list);
  }
  const out: Array<PastAnswer & { at: number }> = [];
  for (const list of byConv.values()) {
    list.sort((a, b) => Number(a.server_time) - Number(b.server_time));
    const messages = list.map((m) => ({ direction: m.direction === 'in' ? ('in' as const) : ('out' as const), authorType: String(m.author_type), kind: String(m.kind), text: String(m.text), row: m }));
    for (const { question, answer } of answeredQuestions(messages)) {
      out.push({ messageId: String(answer.row.id), inboxId: String(answer.row.inbox_id), question, answer: answer.text, at: Number(answer.row.server_time) });
    }
  }
  return out.sort((a, b) => b.at - a.at).slice(0, limit).map(({ at: _at, ...a }) => a);
}

export async function suggestionPicks(q: Queryable, tenantId: string): Promise<Map<string, number>> {
  const rows = await q.all<{ pick_key: string; picks: number }>('SELECT pick_key, picks FROM suggestion_picks WHERE tenant_id = ?', [tenantId]);
  return new Map(rows.map((r) => [String(r.pick_key), Number(r.picks)]));
}

export async function recordSuggestionPick(q: Queryable, tenantId: string, key: string): Promise<void> {
  await q.run(
    'INSERT INTO suggestion_picks (tenant_id, pick_key, picks) VALUES (?, ?, 1) ON CONFLICT (tenant_id, pick_key) DO UPDATE SET picks = suggestion_picks.picks + 1',
    [tenantId, key],
  );
}

/** The customer's latest messages in a conversation (what a suggestion answers), oldest first. */
export async function latestCustomerText(q: Queryable, conversationId: string, count = 2): Promise<string> {
  const rows = await q.all<{ text: string }>(
    "SELECT text FROM messages WHERE conversation_id = ? AND direction = 'in' AND kind NOT IN ('note', 'event') ORDER BY server_time DESC, id DESC LIMIT ?",
    [conversationId, count],
  );
  return rows.map((r) => String(r.text)).reverse().join('\n');
}

// ----- report answers ---------------------------------------------------------------------

const ratio = (a: number, b: number): number | null => (b > 0 ? Math.round((a / b) * 10_000) / 10_000 : null);
const money = (micros: number): number => fromMicros(micros);

export type Overview = ReportOverview;

/** The overview's seven distributions, in this order (first, next, resolution in business then wall seconds, handle). */
const OVERVIEW_WANTED: Wanted[] = [
  { kind: 'first_response', clock: 'business' },
  { kind: 'next_response', clock: 'business' },
  { kind: 'resolution', clock: 'business' },
  { kind: 'first_response', clock: 'wall' },
  { kind: 'next_response', clock: 'wall' },
  { kind: 'resolution', clock: 'wall' },
  { kind: 'handle', clock: 'wall' },
];

/**
 * The overview's distributions: from the histograms (hourly, daily, monthly rows; one read; median and P90 within 2.5 %, exact
 * counts; see reportHistograms.ts), or `exact` from every duration row (seven reads; the old path).
 */
export async function overviewDistributions(q: Queryable, tenantId: string, rq: ReportQuery, o: { exact?: boolean } = {}): Promise<OverviewDistributions> {
  if (o.exact) return (await Promise.all(OVERVIEW_WANTED.map((w) => durations(q, tenantId, rq, w.kind, w.clock === 'business')))) as OverviewDistributions;
  const groups = await histogramDistributions(q, tenantId, rq, OVERVIEW_WANTED);
  return OVERVIEW_WANTED.map((w) => distributionOf(groups, '', w)) as OverviewDistributions;
}
type OverviewDistributions = [Distribution, Distribution, Distribution, Distribution, Distribution, Distribution, Distribution];

/** Optional figures other modules own (CSAT answers), when they exist. */
export type CsatLookup = (q: Queryable, tenantId: string, rq: ReportQuery) => Promise<{ responses: number; average: number | null } | null>;

export async function reportOverview(q: Queryable, tenantId: string, rq: ReportQuery, csatOf: CsatLookup = csatSummary): Promise<Overview> {
  const [total] = await rollupTotals(q, tenantId, rq, 'none');
  const t = total ?? (Object.fromEntries(COUNTERS.map((c) => [c, 0])) as Totals);
  const byChannel = await rollupTotals(q, tenantId, rq, 'channel');
  const pricing = await pricingOf(q, tenantId);
  const [fr, nr, res, frW, nrW, resW, handle] = await overviewDistributions(q, tenantId, rq);
  return {
    from: rq.from,
    to: rq.to,
    tz: rq.tz,
    conversations: { opened: t.opened, resolved: t.resolved, reopened: t.reopened, transfers: t.transfers },
    messages: { in: t.msgs_in, out: t.msgs_out },
    firstResponse: fr,
    nextResponse: nr,
    resolution: res,
    wallClock: { firstResponse: frW, nextResponse: nrW, resolution: resW },
    rates: { resolution: ratio(t.resolved, t.opened), reopen: ratio(t.reopened, t.resolved), transfer: ratio(t.transfers, t.opened) },
    calls: { total: t.calls, missed: t.calls_missed, abandoned: t.calls_abandoned, handle },
    csat: await csatOf(q, tenantId, rq),
    sla:
      t.sla_resolved > 0 || t.sla_breach_first + t.sla_breach_next + t.sla_breach_resolution > 0
        ? {
            resolved: t.sla_resolved,
            met: t.sla_resolved - t.sla_resolved_breached,
            compliance: ratio(t.sla_resolved - t.sla_resolved_breached, t.sla_resolved),
            breaches: { first_response: t.sla_breach_first, next_response: t.sla_breach_next, resolution: t.sla_breach_resolution },
          }
        : null,
    cost: {
      total: money(t.cost_micros),
      currency: pricing.currency,
      byChannel: Object.fromEntries(byChannel.filter((c) => c.cost_micros > 0).map((c) => [c.key, money(c.cost_micros)])),
      perResolved: t.resolved > 0 ? money(Math.round(t.cost_micros / t.resolved)) : null,
      ...(await costPerHead(q, tenantId, rq, t.cost_micros)),
    },
  };
}

/** Cost over the conversations (and contacts) that cost anything in the period. */
export async function costPerHead(q: Queryable, tenantId: string, rq: ReportQuery, costMicros: number): Promise<{ perConversation: number | null; perContact: number | null }> {
  const [conversations, contacts] = await Promise.all([costHeads(q, tenantId, rq, 'conversation'), costHeads(q, tenantId, rq, 'contact')]);
  return {
    perConversation: conversations > 0 ? money(Math.round(costMicros / conversations)) : null,
    perContact: contacts > 0 ? money(Math.round(costMicros / contacts)) : null,
  };
}

/**
 * How many conversations (or contacts) have a cost row in the period, matching the filters: the
 * distinct count over report_costs, counted from the spans instead (one row per head without filters,
 * one per head and dimensions with). A span whose first or last hour falls in the period has a row in
 * it; one that encloses the period (costs before and after it) has one only if a row falls between,
 * which the cost rows' index answers for those heads, one probe each (PostgreSQL: a lateral probe,
 * never the hashed scan of every cost row in the period it would plan for an EXISTS).
 */
export async function costHeads(q: Queryable, tenantId: string, rq: ReportQuery, kind: 'conversation' | 'contact'): Promise<number> {
  const f = filters(rq);
  const scope = f.params.length > 0 ? 'dims' : 'all';
  const from = hourOf(rq.from);
  const head = kind === 'conversation' ? 'conversation_id' : 'contact_id';
  const sameDims = scope === 'dims' ? ' AND c.channel = s.channel AND c.inbox_id = s.inbox_id AND c.team_id = s.team_id AND c.agent_id = s.agent_id' : '';
  const probe = `SELECT 1 AS one FROM report_costs c WHERE c.tenant_id = s.tenant_id AND c.${head} = s.head_id AND c.hour >= ? AND c.hour < ?${sameDims}`;
  const overlaps = `s.tenant_id = ? AND s.kind = ? AND s.scope = ? AND s.first_hour < ? AND s.last_hour >= ?${f.sql}`;
  const overlapParams = [tenantId, kind, scope, rq.to, from, ...f.params];
  const enclosing =
    q.dialect === 'pg'
      ? { sql: `FROM report_cost_spans s CROSS JOIN LATERAL (${probe} LIMIT 1) x WHERE ${overlaps} AND s.first_hour < ? AND s.last_hour >= ?`, params: [from, rq.to, ...overlapParams, from, rq.to] }
      : { sql: `FROM report_cost_spans s WHERE ${overlaps} AND s.first_hour < ? AND s.last_hour >= ? AND EXISTS (${probe})`, params: [...overlapParams, from, rq.to, from, rq.to] };
  // Without filters each head has one span, in one of the two parts: a count; with filters, distinct heads.
  const r = await q.one<{ n: number }>(
    `SELECT COUNT(${scope === 'all' ? '*' : 'DISTINCT head_id'}) AS n FROM (
       SELECT s.head_id FROM report_cost_spans s WHERE ${overlaps} AND (s.first_hour >= ? OR s.last_hour < ?)
       UNION ALL
       SELECT s.head_id ${enclosing.sql}
     ) heads`,
    [...overlapParams, from, rq.to, ...enclosing.params],
  );
  return Number(r?.n ?? 0);
}

/** The distinct count costHeads replaces (every cost row of the period): the tests' and the benchmark's reference. */
export async function costHeadsByScan(q: Queryable, tenantId: string, rq: ReportQuery, kind: 'conversation' | 'contact'): Promise<number> {
  const f = filters(rq);
  const r = await q.one<{ n: number }>(
    `SELECT COUNT(DISTINCT ${kind === 'conversation' ? 'conversation_id' : 'contact_id'}) AS n FROM report_costs WHERE tenant_id = ? AND hour >= ? AND hour < ?${f.sql}`,
    [tenantId, hourOf(rq.from), rq.to, ...f.params],
  );
  return Number(r?.n ?? 0);
}

const COST_GROUP_COLUMN: Record<CostGroup, string> = { conversation: 'conversation_id', contact: 'contact_id', inbox: 'inbox_id', team: 'team_id', channel: 'channel' };
/** Where a cost row's readable name comes from (channels are named by the apps). */
const COST_GROUP_NAME: Record<CostGroup, { table: string; name: string } | null> = {
  conversation: { table: 'conversations', name: 'COALESCE(subject, contact_name)' },
  contact: { table: 'contacts', name: 'name' },
  inbox: { table: 'inboxes', name: 'name' },
  team: { table: 'teams', name: 'name' },
  channel: null,
};

/** The cost breakdown of a period by conversation, contact, inbox, team or channel, most expensive first. */
export async function costBreakdown(q: Queryable, tenantId: string, rq: ReportQuery, group: CostGroup, limit: number): Promise<CostRow[]> {
  const f = filters(rq);
  const col = COST_GROUP_COLUMN[group];
  const rows = await q.all<{ k: string; c: number; n: number }>(
    `SELECT ${col} AS k, SUM(cost_micros) AS c, SUM(items) AS n FROM report_costs WHERE tenant_id = ? AND hour >= ? AND hour < ?${f.sql}
     GROUP BY ${col} ORDER BY SUM(cost_micros) DESC, ${col} LIMIT ?`,
    [tenantId, hourOf(rq.from), rq.to, ...f.params, limit],
  );
  const keys = rows.map((r) => String(r.k)).filter((k) => k !== '');
  const labels = new Map<string, string>();
  const named = COST_GROUP_NAME[group];
  if (keys.length > 0 && named) {
    const names = await q.all<{ id: string; name: string }>(
      `SELECT id, ${named.name} AS name FROM ${named.table} WHERE tenant_id = ? AND id IN (${keys.map(() => '?').join(', ')})`,
      [tenantId, ...keys],
    );
    for (const n of names) labels.set(String(n.id), String(n.name));
  }
  // Exact to the micro-unit: one conversation's few messages may cost less than a fen (0.045 CNY an SMS).
  return rows.map((r) => ({ key: String(r.k), label: labels.get(String(r.k)) ?? null, cost: Number(r.c) / MICROS, items: Number(r.n) }));
}

export type AgentRow = AgentReportRow;

/** Per-agent figures (the agent a conversation was assigned to; replies by their author). */
export async function agentReport(q: Queryable, tenantId: string, rq: ReportQuery): Promise<AgentRow[]> {
  const rows = await rollupTotals(q, tenantId, rq, 'agent_id');
  // Every agent's first responses in one read of the histograms (by agent).
  const firstResponse: Wanted = { kind: 'first_response', clock: 'business' };
  const byAgent = await histogramDistributions(q, tenantId, rq, [firstResponse], { byAgent: true });
  const out: AgentRow[] = [];
  for (const r of rows.filter((x) => x.key !== '')) {
    out.push({
      agentId: r.key,
      opened: r.opened,
      resolved: r.resolved,
      messagesOut: r.msgs_out,
      transfers: r.transfers,
      calls: r.calls,
      handleSeconds: r.handle_seconds,
      firstResponse: distributionOf(byAgent, r.key, firstResponse),
    });
  }
  return out.sort((a, b) => b.resolved - a.resolved || (a.agentId < b.agentId ? -1 : 1));
}

/** Spending of the month that contains `now` against the budget. */
export async function budgetStatus(q: Queryable, tenantId: string, now: number): Promise<{ currency: string; monthly: number | null; spent: number; exceeded: boolean; from: number; to: number }> {
  const pricing = await pricingOf(q, tenantId);
  const m = monthOf(now, pricing.timeZone);
  const r = await q.one<{ c: number | null }>('SELECT SUM(cost_micros) AS c FROM report_hourly WHERE tenant_id = ? AND hour >= ? AND hour < ?', [tenantId, hourOf(m.from), m.to]);
  const spent = Number(r?.c ?? 0);
  const limit = pricing.monthlyBudget === null ? null : toMicros(pricing.monthlyBudget);
  return { currency: pricing.currency, monthly: pricing.monthlyBudget, spent: money(spent), exceeded: limit !== null && spent > limit, from: m.from, to: m.to };
}

/** Saves the workspace's prices with the audit row of the change (one transaction). */
export async function savePricingAudited(db: Db, actor: AuditActor, p: Pricing, now: number): Promise<void> {
  await db.tx(async (q) => {
    const before = await pricingOf(q, actor.tenantId);
    await savePricing(q, actor.tenantId, p, now);
    await insertAudit(q, actor, { action: 'pricing.update', target: actor.tenantId, details: { before, after: p } }, now);
  });
}

/** The supervisors' live board (core liveBoard) over the working conversations the caller may see. */
export async function liveBoardOf(q: Queryable, tenantId: string, now: number, visibleInbox: (inboxId: string) => boolean): Promise<LiveBoard> {
  const convs = (await q.all("SELECT * FROM conversations WHERE tenant_id = ? AND status IN ('open', 'pending', 'snoozed')", [tenantId]))
    .map(toConversation)
    .filter((c) => visibleInbox(c.inboxId));
  const agents = (await q.all('SELECT * FROM agents WHERE tenant_id = ?', [tenantId])).map(toAgent);
  return liveBoard(convs, agents, now);
}

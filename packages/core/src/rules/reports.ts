import { z } from 'zod';
import { isValidTimeZone, localTime, zonedTime } from './businessHours.js';
import { csvLine } from '../util/csv.js';
import { Message, type Conversation } from '../domain/model.js';
import type { OpsEvent } from './opsEvents.js';

/**
 * Report arithmetic, once: percentiles, money in integer micro-units, period and bucket boundaries in
 * a time zone. The server's rollups and its report queries use these; nothing else computes them.
 */

/** Money as integer millionths of the currency unit: sums never drift (0.045 CNY = 45_000). */
export const MICROS = 1_000_000;
export const toMicros = (amount: number): number => Math.round(amount * MICROS);
/** Micro-units as an amount rounded to the cent/fen (display, CSV). */
export const fromMicros = (micros: number): number => Math.round(micros / 10_000) / 100;

/**
 * Nearest-rank percentile of ascending values: the smallest value with at least p% of the values at
 * or below it (median = p50, so [1,2,3,4] has median 2). Null for no values.
 */
export function percentile(sortedAsc: readonly number[], p: number): number | null {
  if (sortedAsc.length === 0) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * sortedAsc.length));
  return sortedAsc[Math.min(rank, sortedAsc.length) - 1]!;
}

export interface Distribution {
  count: number;
  medianS: number | null;
  p90S: number | null;
}

/** GET /api/v1/reports/overview (the server computes it from rollups; the dashboards show it). */
export interface ReportOverview {
  from: number;
  to: number;
  tz: string;
  conversations: { opened: number; resolved: number; reopened: number; transfers: number };
  messages: { in: number; out: number };
  /** Response and resolution times in seconds, counted in business hours where a calendar applies. */
  firstResponse: Distribution;
  nextResponse: Distribution;
  resolution: Distribution;
  /** The same in wall-clock seconds. */
  wallClock: { firstResponse: Distribution; nextResponse: Distribution; resolution: Distribution };
  rates: { resolution: number | null; reopen: number | null; transfer: number | null };
  /** Calls; `missed`: inbound ones nobody answered, of which `abandoned`: the caller hung up waiting in a queue. */
  calls: { total: number; missed: number; abandoned: number; handle: Distribution };
  csat: { responses: number; average: number | null } | null;
  /**
   * SLA compliance: of the conversations under an SLA policy resolved in the period, how many met
   * every target (null when none was); and the breaches of each target that fell in the period.
   */
  sla: { resolved: number; met: number; compliance: number | null; breaches: { first_response: number; next_response: number; resolution: number } } | null;
  cost: {
    total: number; currency: string; byChannel: Record<string, number>; perResolved: number | null;
    /** Total over the conversations that cost anything in the period, and over their contacts. */
    perConversation: number | null; perContact: number | null;
  };
}

/** GET /api/v1/reports/costs: what each conversation, contact, inbox, team or channel cost in a period. */
export const COST_GROUPS = ['conversation', 'contact', 'inbox', 'team', 'channel'] as const;
export type CostGroup = (typeof COST_GROUPS)[number];
export interface CostRow {
  key: string;
  /** A readable name (contact name, inbox name…) when there is one. */
  label: string | null;
  cost: number;
  /** Billed items (messages and calls) that made up the cost. */
  items: number;
}

/** One row of GET /api/v1/reports/agents. */
export interface AgentReportRow {
  agentId: string;
  opened: number;
  resolved: number;
  messagesOut: number;
  transfers: number;
  calls: number;
  handleSeconds: number;
  firstResponse: Distribution;
}

export function distribution(values: readonly number[]): Distribution {
  const sorted = [...values].sort((a, b) => a - b);
  return { count: sorted.length, medianS: percentile(sorted, 50), p90S: percentile(sorted, 90) };
}

export const HOUR_MS = 3_600_000;
/** The UTC hour a moment falls in (the rollups' bucket). */
export const hourOf = (at: number): number => Math.floor(at / HOUR_MS) * HOUR_MS;

export const REPORT_INTERVALS = ['hour', 'day'] as const;
export type ReportInterval = (typeof REPORT_INTERVALS)[number];

/** The start of the hour or local day (in `tz`) that `at` falls in. */
export function bucketStart(at: number, interval: ReportInterval, tz: string): number {
  if (interval === 'hour') return hourOf(at);
  const l = localTime(at, tz);
  return zonedTime(l.year, l.month, l.day, 0, tz);
}

/** The bucket starts covering [from, to), in order. */
export function bucketsOf(from: number, to: number, interval: ReportInterval, tz: string): number[] {
  const out: number[] = [];
  let b = bucketStart(from, interval, tz);
  for (let guard = 0; b < to && guard < 100_000; guard += 1) {
    out.push(b);
    const next = interval === 'hour' ? b + HOUR_MS : bucketStart(b + 26 * HOUR_MS, 'day', tz);
    b = next > b ? next : b + HOUR_MS;
  }
  return out;
}

/**
 * The bucket of a time among bucket starts from `bucketsOf` (in order): the last start at or before it,
 * by binary search, so a year of hourly rows is placed in local days without a time-zone computation
 * per row. Null before the first bucket.
 */
export function bucketOfStarts(starts: readonly number[], at: number): number | null {
  let lo = 0;
  let hi = starts.length - 1;
  if (hi < 0 || at < starts[0]!) return null;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= at) lo = mid;
    else hi = mid - 1;
  }
  return starts[lo]!;
}

/** The period just before [from, to), of the same length (compare with the previous period). */
export const previousPeriod = (from: number, to: number): { from: number; to: number } => ({ from: from - (to - from), to: from });

const When = z.union([
  z.coerce.number().int().nonnegative(),
  z.string().datetime({ offset: true }).transform((s) => Date.parse(s)),
]);

/** A report's query string: `from`/`to` (ms or ISO 8601), `tz` (IANA), optional filters. */
export const ReportQuery = z
  .object({
    from: When,
    to: When,
    tz: z.string().default('UTC').refine(isValidTimeZone, 'unknown time zone (use an IANA name such as Asia/Shanghai)'),
    inboxId: z.string().min(1).max(128).optional(),
    teamId: z.string().min(1).max(128).optional(),
    agentId: z.string().min(1).max(128).optional(),
    channel: z.string().min(1).max(32).optional(),
    compare: z.enum(['previous', 'none']).default('none'),
  })
  .refine((q) => q.to > q.from, 'to must be after from')
  .refine((q) => q.to - q.from <= 3 * 366 * 86_400_000, 'a report spans at most three years');
export type ReportQuery = z.infer<typeof ReportQuery>;

export const TIMESERIES_METRICS = ['conversations_opened', 'conversations_resolved', 'messages_in', 'messages_out', 'reopened', 'transfers', 'cost', 'first_response_median', 'resolution_median'] as const;
export type TimeseriesMetric = (typeof TIMESERIES_METRICS)[number];

/**
 * The response a reply makes: the conversation's first agent reply is its first response, a later
 * one a next response, each measured from when the customer started waiting (the first customer
 * message since the previous agent reply). Null when no customer message waited for it.
 */
export function responseOf(o: { firstReply: boolean; waitingSince: number | null; replyAt: number }): { kind: 'first' | 'next'; seconds: number } | null {
  if (o.waitingSince === null || o.waitingSince > o.replyAt) return null;
  return { kind: o.firstReply ? 'first' : 'next', seconds: Math.round((o.replyAt - o.waitingSince) / 1000) };
}

/** What one call message counts in the reports (core's one reading of a call's `meta`). */
export interface CallFigures {
  answered: boolean;
  /** An inbound call nobody answered. */
  missed: boolean;
  /** A missed call whose caller hung up while waiting in a queue (the IVR's queue outcome `hangup`). */
  abandoned: boolean;
  /** Talk time of an answered call (handle time), whole seconds. */
  seconds: number;
}

/**
 * A call message's figures: answered (or transferred) calls count their seconds as handle time; an
 * inbound call that was not is missed; a missed call that waited in a call queue until the caller hung
 * up is also abandoned (the queue's `hangup`; a caller who asked for a callback did not abandon).
 */
export function callFigures(meta: Readonly<Record<string, unknown>>): CallFigures {
  const call = (meta['call'] ?? {}) as { direction?: unknown; outcome?: unknown; durationSeconds?: unknown };
  const seconds = Math.max(0, Math.round(Number(call.durationSeconds ?? 0) || 0));
  const answered = call.outcome === 'answered' || call.outcome === 'transferred';
  const missed = call.direction === 'in' && !answered;
  const ivr = meta['ivr'] as { queue?: { result?: unknown } } | undefined;
  return { answered, missed, abandoned: missed && ivr?.queue?.result === 'hangup', seconds: answered ? seconds : 0 };
}

/** A call's cost: started minutes at the per-minute rate (micro-units). */
export const callCostMicros = (durationSeconds: number, perMinuteMicros: number): number => Math.ceil(Math.max(0, durationSeconds) / 60) * perMinuteMicros;

/** CSV of a header and rows (RFC 4180, CRLF line ends; cells as `csvCell` writes them). */
export function toCsv(header: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number | null>>): string {
  return [header, ...rows].map(csvLine).join('\r\n') + '\r\n';
}

/**
 * A workspace's prices (amounts in the currency's units, e.g. 0.05 CNY). SMS is priced per segment
 * in each SMS inbox's settings; a provider's own reported cost wins over these rates.
 */
export const Pricing = z.object({
  currency: z.string().regex(/^[A-Z]{3}$/, 'an ISO 4217 code such as CNY').default('CNY'),
  emailPerMessage: z.number().nonnegative().max(1000).default(0),
  imPerMessage: z.number().nonnegative().max(1000).default(0),
  apiPerMessage: z.number().nonnegative().max(1000).default(0),
  voicePerMinute: z.number().nonnegative().max(1000).default(0),
  transcriptionPerSecond: z.number().nonnegative().max(1000).default(0),
  /** Spending per calendar month (in the tenant's report time zone) above which admins are warned. */
  monthlyBudget: z.number().nonnegative().max(1e12).nullable().default(null),
  /** The time zone months and days are counted in. */
  timeZone: z.string().default('Asia/Shanghai').refine(isValidTimeZone, 'unknown time zone'),
});
export type Pricing = z.infer<typeof Pricing>;

/** The configured per-message rate of a channel (micro-units), for messages whose provider reports no cost. */
export function messageRateMicros(p: Pricing, channel: string): number {
  switch (channel) {
    case 'email':
      return toMicros(p.emailPerMessage);
    case 'im':
      return toMicros(p.imPerMessage);
    case 'api':
      return toMicros(p.apiPerMessage);
    default:
      return 0;
  }
}

/** The start of the calendar month (in `tz`) that `at` falls in, and of the next one. */
export function monthOf(at: number, tz: string): { from: number; to: number } {
  const l = localTime(at, tz);
  const from = zonedTime(l.year, l.month, 1, 0, tz);
  const to = l.month === 12 ? zonedTime(l.year + 1, 1, 1, 0, tz) : zonedTime(l.year, l.month + 1, 1, 0, tz);
  return { from, to };
}

/** A stored message as the rollup rebuild reads it. */
export type ReplayMessage = Pick<Message, 'id' | 'direction' | 'kind' | 'authorType' | 'authorId' | 'status' | 'createdAt' | 'serverTime' | 'deviceTime' | 'meta'>;

/** An event the rollup rebuild re-derives from stored facts, with its commit time and a stable id. */
export interface ReplayEvent {
  id: string;
  at: number;
  event: OpsEvent;
}

/**
 * [reports] The events a conversation's stored facts stand for, for rebuilding the rollups of a history
 * whose events were never folded (a database older than the rollups): its creation, each customer
 * message and agent reply in server order, with the wait each reply answered (the conversation
 * summary's rule, `withMessage`: the first customer message since the previous agent reply; automatic
 * replies answer nobody), the acceptance of each outgoing message (its provider cost when stored), and
 * its resolution when `resolvedAt` is given. What only events knew (reopens, transfers, SLA breaches,
 * the exact resolution time) is not in the facts; the rebuild keeps those counters as they are.
 * `messages` must be in server order (server time, then id).
 */
export function reportReplayOf(
  conv: Pick<Conversation, 'id' | 'status' | 'createdAt'>,
  messages: readonly ReplayMessage[],
  o: { resolvedAt: number | null },
): ReplayEvent[] {
  const out: ReplayEvent[] = [{ id: `replay:${conv.id}:created`, at: conv.createdAt, event: { type: 'conversation_created', conversationId: conv.id, messageId: messages[0]?.id ?? null } }];
  let waitingSince: number | null = null;
  let replied = false;
  for (const m of messages) {
    if (m.kind === 'note' || m.kind === 'event') continue;
    if (m.direction === 'in') {
      out.push({ id: `replay:${m.id}`, at: m.serverTime, event: { type: 'message_received', conversationId: conv.id, messageId: m.id } });
      waitingSince = waitingSince ?? m.createdAt;
      continue;
    }
    if (m.authorType === 'agent') {
      out.push({
        id: `replay:${m.id}`,
        at: m.serverTime,
        event: { type: 'agent_replied', conversationId: conv.id, messageId: m.id, kind: m.kind, agentId: m.authorId, deviceTime: m.deviceTime, serverTime: m.serverTime, waitingSince, firstReply: !replied },
      });
      replied = true;
      waitingSince = null;
    }
    if (m.status === 'accepted' || m.status === 'delivered') {
      const c = m.meta['cost'] as { amount?: unknown; currency?: unknown } | undefined;
      const cost = c && typeof c.amount === 'number' && typeof c.currency === 'string' ? { amount: c.amount, currency: c.currency } : null;
      out.push({ id: `replay:${m.id}:accepted`, at: m.serverTime, event: { type: 'message_status', conversationId: conv.id, messageId: m.id, status: 'accepted', cost } });
    }
  }
  if (o.resolvedAt !== null && (conv.status === 'resolved' || conv.status === 'closed')) {
    out.push({ id: `replay:${conv.id}:resolved`, at: o.resolvedAt, event: { type: 'status_changed', conversationId: conv.id, from: 'open', to: conv.status } });
  }
  return out;
}

const SummaryDistribution = z.object({ count: z.number(), medianS: z.number().nullable(), p90S: z.number().nullable() });
/** [contacts] The parts of GET /reports/overview a compact summary shows (the mobile app parses the answer with it). */
export const OverviewSummary = z.object({
  conversations: z.object({ opened: z.number(), resolved: z.number() }),
  firstResponse: SummaryDistribution,
  csat: z.object({ responses: z.number(), average: z.number().nullable() }).nullable(),
  sla: z.object({ compliance: z.number().nullable() }).nullable(),
  cost: z.object({ total: z.number(), currency: z.string() }),
});
export type OverviewSummary = z.infer<typeof OverviewSummary>;
/** [contacts] The totals of GET /reports/live a compact summary shows. */
export const LiveSummary = z.object({ totals: z.object({ open: z.number(), awaitingReply: z.number(), unassigned: z.number(), longestWaitMs: z.number() }) });
export type LiveSummary = z.infer<typeof LiveSummary>;
/** [contacts] A contact timeline page as GET /contacts/{id}/timeline answers it. */
export const ContactTimelinePage = z.object({
  items: z.array(z.object({ conversationId: z.string(), channel: z.string(), inboxId: z.string(), ticketStatus: z.string(), message: Message })),
  nextBefore: z.number().nullable(),
});

/** Today in a time zone: from its local midnight to `now` (inclusive). */
export function todayIn(now: number, tz: string): { from: number; to: number } {
  const l = localTime(now, tz);
  return { from: zonedTime(l.year, l.month, l.day, 0, tz), to: now + 1 };
}

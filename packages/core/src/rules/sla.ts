import { z } from 'zod';
import {
  Id,
  Millis,
  PRIORITIES,
  SLA_METRICS,
  type Agent,
  type Conversation,
  type ConversationSla,
  type ConversationStatus,
  type Message,
  type Priority,
  type SlaMetric,
} from '../domain/model.js';
import { addBusinessMillis, businessMillisBetween, openIntervals, type Calendar } from './businessHours.js';
import type { EventContext } from './eventRules.js';
import type { Fact } from './facts.js';
import type { OpsEnvelope, OpsEvent } from './opsEvents.js';
import { assertNever } from '../util/assert.js';

/**
 * SLA policies: response and resolution targets per priority, counted in business time, with
 * warnings before a breach and escalations at the breach. Everything that decides an SLA clock is
 * here; the server's listeners (ops/sla.ts) load state, call these functions and write their facts.
 *
 * Clocks: first response runs from the customer's first message until an agent's reply (a note or a
 * system auto-reply does not count; a reply written offline counts at the time the server accepted
 * it, its device time is kept beside it); next response runs from each customer message after a
 * reply until the next reply; resolution runs from the start until resolved. While the
 * conversation is pending or snoozed the clocks pause: their due dates move on by the business time
 * that passed while paused.
 */

const Seconds = z.number().int().min(1).max(366 * 86_400);

/** Targets of one priority, in seconds of business time (absent or null: no target). */
export const SlaTargets = z.object({
  firstResponseSeconds: Seconds.nullable().optional(),
  nextResponseSeconds: Seconds.nullable().optional(),
  resolutionSeconds: Seconds.nullable().optional(),
}).strict();
export type SlaTargets = z.infer<typeof SlaTargets>;

/** When to warn: at a percentage of the target, or N minutes (of business time) before the due date. */
export const SlaWarning = z
  .object({ percent: z.number().int().min(1).max(99).optional(), minutesBefore: z.number().int().min(1).max(366 * 1440).optional() })
  .strict()
  .refine((w) => (w.percent === undefined) !== (w.minutesBefore === undefined), 'give either percent or minutesBefore');
export type SlaWarning = z.infer<typeof SlaWarning>;

/** What happens at a breach, besides the breach fact itself. */
export const SlaEscalation = z.object({
  /** Raise the conversation's priority one step (low → normal → high → urgent). */
  raisePriority: z.boolean().default(false),
  /** An event message in the conversation naming whom to notify (assignee and team supervisor). */
  notify: z.boolean().default(true),
  /** Re-assign the conversation to its team's supervisor. */
  reassignToSupervisor: z.boolean().default(false),
}).strict();
export type SlaEscalation = z.infer<typeof SlaEscalation>;

/** What an admin writes (POST/PATCH /api/v1/sla-policies). */
export const SlaPolicyInput = z.object({
  name: z.string().trim().min(1).max(200),
  /** The default policy applies where no inbox or team policy does (at most one per tenant). */
  isDefault: z.boolean().default(false),
  inboxIds: z.array(Id).max(500).default([]),
  teamIds: z.array(Id).max(500).default([]),
  /** Targets count business time of this calendar; null: wall-clock time (24/7). */
  businessHoursId: Id.nullable().default(null),
  targets: z.object({ urgent: SlaTargets.optional(), high: SlaTargets.optional(), normal: SlaTargets.optional(), low: SlaTargets.optional() }).strict(),
  warning: SlaWarning.default({ percent: 80 }),
  escalation: SlaEscalation.default({ raisePriority: false, notify: true, reassignToSupervisor: false }),
  active: z.boolean().default(true),
}).strict();
export type SlaPolicyInput = z.infer<typeof SlaPolicyInput>;

export const SlaPolicy = SlaPolicyInput.extend({ id: Id, tenantId: Id, createdAt: Millis, updatedAt: Millis });
export type SlaPolicy = z.infer<typeof SlaPolicy>;

/** Why a policy cannot be stored (null: it can). `known` are the tenant's ids. */
export function slaPolicyProblem(
  p: SlaPolicyInput,
  known: { inboxIds: ReadonlySet<string>; teamIds: ReadonlySet<string>; businessHoursIds: ReadonlySet<string>; otherDefault: boolean },
): string | null {
  const inbox = p.inboxIds.find((id) => !known.inboxIds.has(id));
  if (inbox) return `inbox ${inbox} not found`;
  const team = p.teamIds.find((id) => !known.teamIds.has(id));
  if (team) return `team ${team} not found`;
  if (p.businessHoursId !== null && !known.businessHoursIds.has(p.businessHoursId)) return `business hours ${p.businessHoursId} not found`;
  if (p.isDefault && known.otherDefault) return 'another policy is the default already (at most one default policy)';
  if (!p.isDefault && p.inboxIds.length === 0 && p.teamIds.length === 0) return 'a policy applies to inboxes, teams, or is the default (isDefault: true)';
  const any = PRIORITIES.some((pr) => {
    const t = p.targets[pr];
    return Boolean(t && (t.firstResponseSeconds || t.nextResponseSeconds || t.resolutionSeconds));
  });
  if (!any) return 'give at least one target (firstResponseSeconds, nextResponseSeconds or resolutionSeconds) for a priority';
  return null;
}

/**
 * The policy of a conversation: an active policy naming its team wins, then one naming its inbox,
 * then the default policy; among equals the oldest. Null: no SLA.
 */
export function policyFor(policies: readonly SlaPolicy[], conv: Pick<Conversation, 'inboxId' | 'teamId'>): SlaPolicy | null {
  const active = policies.filter((p) => p.active).sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
  return (
    (conv.teamId !== null ? active.find((p) => p.teamIds.includes(conv.teamId!)) : undefined) ??
    active.find((p) => p.inboxIds.includes(conv.inboxId)) ??
    active.find((p) => p.isDefault) ??
    null
  );
}

/** Whether an outgoing message answers the customer for SLA purposes: an agent's reply or call, not a note, an event or a system auto-reply. */
export function countsAsResponse(m: Pick<Message, 'direction' | 'kind' | 'authorType'>): boolean {
  return m.direction === 'out' && m.authorType === 'agent' && (m.kind === 'text' || m.kind === 'email' || m.kind === 'voice' || m.kind === 'call');
}

/** What moved an SLA clock (mapped from the ops events by slaTriggerOf). */
export type SlaTrigger =
  | { type: 'created' }
  | { type: 'customer_message'; at: number }
  | { type: 'agent_reply'; serverTime: number; deviceTime: number | null }
  | { type: 'status'; from: ConversationStatus; to: ConversationStatus }
  | { type: 'priority'; from: Priority; to: Priority }
  | { type: 'scope' };

/** The rule id SLA facts are written under (their cause); events caused by it do not move the clocks again. */
export const SLA_RULE_ID = 'sla';

const TARGET_KEY: Record<SlaMetric, keyof SlaTargets> = {
  first_response: 'firstResponseSeconds',
  next_response: 'nextResponseSeconds',
  resolution: 'resolutionSeconds',
};
const DUE_KEY = { first_response: 'firstResponseDueAt', next_response: 'nextResponseDueAt', resolution: 'resolutionDueAt' } as const satisfies Record<SlaMetric, keyof ConversationSla>;

const PAUSED: readonly ConversationStatus[] = ['pending', 'snoozed'];
const STOPPED: readonly ConversationStatus[] = ['resolved', 'closed'];

function targetMs(policy: SlaPolicy, priority: Priority, m: SlaMetric): number | null {
  const s = policy.targets[priority]?.[TARGET_KEY[m]];
  return typeof s === 'number' && s > 0 ? s * 1000 : null;
}

/** The instant `amount` ms of business time before `to` (the mirror of addBusinessMillis). */
export function subtractBusinessMillis(cal: Calendar | null, to: number, amount: number): number | null {
  if (amount <= 0) return to;
  if (!cal) return to - amount;
  const DAY = 86_400_000;
  let left = amount;
  for (let b = to; b > to - 400 * DAY; b -= 14 * DAY) {
    const list = openIntervals(cal, b - 14 * DAY, b);
    for (let i = list.length - 1; i >= 0; i -= 1) {
      const [s, e] = list[i]!;
      if (e - s >= left) return e - left;
      left -= e - s;
    }
  }
  return null;
}

/** The warning instant of a clock due at `due` whose target is `target` ms. */
function warnFor(policy: SlaPolicy, cal: Calendar | null, due: number, target: number): number | null {
  const before = policy.warning.percent !== undefined ? Math.round((target * (100 - policy.warning.percent)) / 100) : (policy.warning.minutesBefore ?? 0) * 60_000;
  if (before <= 0 || before >= target) return null;
  return subtractBusinessMillis(cal, due, before);
}

function start(sla: ConversationSla, policy: SlaPolicy, cal: Calendar | null, priority: Priority, m: SlaMetric, from: number): ConversationSla {
  const target = targetMs(policy, priority, m);
  const due = target === null ? null : addBusinessMillis(cal, from, target);
  return {
    ...sla,
    [DUE_KEY[m]]: due,
    warnAt: { ...sla.warnAt, [m]: due === null || target === null ? null : warnFor(policy, cal, due, target) },
    warned: sla.warned.filter((x) => x !== m),
    fired: sla.fired.filter((x) => x !== m),
  };
}

function stop(sla: ConversationSla, m: SlaMetric): ConversationSla {
  return { ...sla, [DUE_KEY[m]]: null, warnAt: { ...sla.warnAt, [m]: null } };
}

/** Moves every running due date (and warning) on by the business time that passed while paused. */
function resume(sla: ConversationSla, cal: Calendar | null, now: number): ConversationSla {
  if (sla.pausedAt === null) return sla;
  const pausedAt = sla.pausedAt;
  const shift = (t: number | null | undefined): number | null => {
    if (t === null || t === undefined) return null;
    if (t <= pausedAt) return t;
    return addBusinessMillis(cal, now, businessMillisBetween(cal, pausedAt, t)) ?? t;
  };
  const out: ConversationSla = { ...sla, pausedAt: null, warnAt: {} };
  for (const m of SLA_METRICS) {
    if (!sla.fired.includes(m)) out[DUE_KEY[m]] = shift(sla[DUE_KEY[m]]);
    out.warnAt[m] = shift(sla.warnAt[m]);
  }
  return out;
}

/** An empty clock set of a policy. */
function fresh(policy: SlaPolicy, priority: Priority): ConversationSla {
  return {
    policyId: policy.id, firstResponseDueAt: null, nextResponseDueAt: null, resolutionDueAt: null, breached: [], warnAt: {}, warned: [], fired: [],
    pausedAt: null, firstResponseAt: null, firstResponseDeviceTime: null, priority, stoppedAt: null,
  };
}

/**
 * The SLA clocks of a conversation after a trigger. `conv` is the conversation as it is now (its
 * status, priority, team); `policy`/`calendar` are what applies to it (policyFor and the policy's
 * calendar). Returns the new clocks (null: no SLA), or `conv.sla` itself when nothing changes.
 */
export function nextSla(conv: Conversation, trigger: SlaTrigger, policy: SlaPolicy | null, cal: Calendar | null, now: number): ConversationSla | null {
  const cur = conv.sla ?? null;
  // A policy removed later leaves the clocks as they are (the timer finds no policy and fires nothing).
  if (!policy) return cur;
  let sla: ConversationSla;
  if (cur === null || cur.policyId !== policy.id) {
    if (cur !== null && trigger.type !== 'scope') return cur;
    // Clocks start: from the conversation's start for a new one, otherwise now (a policy added later).
    const from = trigger.type === 'created' ? conv.createdAt : now;
    sla = fresh(policy, conv.priority);
    if (cur) sla = { ...sla, breached: cur.breached, firstResponseAt: cur.firstResponseAt, firstResponseDeviceTime: cur.firstResponseDeviceTime };
    if (STOPPED.includes(conv.status)) return { ...sla, stoppedAt: now };
    if (conv.waitingSince !== null && sla.firstResponseAt === null) sla = start(sla, policy, cal, conv.priority, 'first_response', trigger.type === 'created' ? conv.waitingSince : now);
    else if (conv.waitingSince !== null) sla = start(sla, policy, cal, conv.priority, 'next_response', now);
    sla = start(sla, policy, cal, conv.priority, 'resolution', from);
    if (PAUSED.includes(conv.status)) sla = { ...sla, pausedAt: now };
    return sla;
  }
  sla = cur;
  const priority = sla.priority ?? conv.priority;
  // The status decides whether the clocks run, whatever order the events arrive in.
  if (STOPPED.includes(conv.status)) {
    if (sla.stoppedAt !== null) return cur;
    let out: ConversationSla = { ...sla, stoppedAt: now, pausedAt: null };
    for (const m of SLA_METRICS) out = stop(out, m);
    return out;
  }
  if (sla.stoppedAt !== null) {
    // Reopened: resolution runs again from now; the customer's message starts a next response below.
    sla = start({ ...sla, stoppedAt: null, pausedAt: null }, policy, cal, priority, 'resolution', now);
    if (conv.waitingSince !== null && sla.firstResponseAt !== null) sla = start(sla, policy, cal, priority, 'next_response', now);
    else if (conv.waitingSince !== null) sla = start(sla, policy, cal, priority, 'first_response', now);
  }
  if (PAUSED.includes(conv.status)) {
    if (sla.pausedAt === null) sla = { ...sla, pausedAt: now };
  } else if (sla.pausedAt !== null) sla = resume(sla, cal, now);
  switch (trigger.type) {
    case 'created':
    case 'scope':
    case 'status':
      break;
    case 'customer_message':
      if (sla.firstResponseAt === null) {
        if (sla.firstResponseDueAt === null && !sla.fired.includes('first_response')) sla = start(sla, policy, cal, priority, 'first_response', trigger.at);
      } else if (sla.nextResponseDueAt === null) {
        // The first customer message after a reply starts the next-response clock; more messages keep it.
        sla = start(sla, policy, cal, priority, 'next_response', trigger.at);
      }
      break;
    case 'agent_reply':
      if (sla.firstResponseAt === null) {
        sla = stop({ ...sla, firstResponseAt: trigger.serverTime, firstResponseDeviceTime: trigger.deviceTime }, 'first_response');
      }
      sla = stop(sla, 'next_response');
      break;
    case 'priority': {
      const from = sla.priority ?? trigger.from;
      if (from === trigger.to) break;
      let out: ConversationSla = { ...sla, priority: trigger.to };
      for (const m of SLA_METRICS) {
        const due = sla[DUE_KEY[m]];
        if (due === null || sla.fired.includes(m)) continue;
        const oldT = targetMs(policy, from, m);
        const newT = targetMs(policy, trigger.to, m);
        if (newT === null) {
          out = stop(out, m);
          continue;
        }
        const delta = newT - (oldT ?? newT);
        const base = sla.pausedAt ?? now;
        const left = Math.max(0, businessMillisBetween(cal, base, due) + delta);
        const nextDue = due <= base ? due : (addBusinessMillis(cal, base, left) ?? due);
        out = { ...out, [DUE_KEY[m]]: nextDue, warnAt: { ...out.warnAt, [m]: warnFor(policy, cal, nextDue, newT) } };
      }
      sla = { ...out, warned: out.warned.filter((m) => out.warnAt[m] !== null && (out.warnAt[m] ?? 0) <= now) };
      break;
    }
    default: {
      const never: never = trigger;
      throw new Error(`unknown SLA trigger ${JSON.stringify(never)}`);
    }
  }
  return sameSla(sla, cur) ? cur : sla;
}

/** Equal clocks (key order and absent-vs-null warnings do not count as a change, so nothing is rewritten for nothing). */
function sameSla(a: ConversationSla, b: ConversationSla): boolean {
  const norm = (x: ConversationSla) =>
    JSON.stringify([
      x.policyId, x.firstResponseDueAt, x.nextResponseDueAt, x.resolutionDueAt, x.breached, SLA_METRICS.map((m) => x.warnAt[m] ?? null),
      x.warned, x.fired, x.pausedAt, x.firstResponseAt, x.firstResponseDeviceTime, x.priority ?? null, x.stoppedAt,
    ]);
  return norm(a) === norm(b);
}

/** When the next warning or breach of the clocks is due (null: nothing to watch; paused or stopped clocks watch nothing). */
export function nextSlaCheck(sla: ConversationSla | null | undefined): number | null {
  if (!sla || sla.pausedAt !== null || sla.stoppedAt !== null) return null;
  let next: number | null = null;
  const consider = (t: number | null | undefined) => {
    if (t !== null && t !== undefined && (next === null || t < next)) next = t;
  };
  for (const m of SLA_METRICS) {
    const due = sla[DUE_KEY[m]];
    if (due === null || sla.fired.includes(m)) continue;
    consider(due);
    if (!sla.warned.includes(m)) consider(sla.warnAt[m]);
  }
  return next;
}

/** An SLA warning or breach as an ops event (automation rules react to them). */
export type SlaEvent = Extract<OpsEvent, { type: 'sla_warning' | 'sla_breached' }>;

/**
 * What an ops event does to the SLA clocks (null: nothing). Events the SLA rule caused itself (its
 * escalations) move nothing; a reply counts at the time the server accepted it (the event's commit
 * time), with the device time it was written at kept beside it.
 */
export function slaTriggerOf(env: Pick<OpsEnvelope, 'at' | 'cause' | 'event'>): SlaTrigger | null {
  if (env.cause?.ruleId === SLA_RULE_ID) return null;
  const e = env.event;
  switch (e.type) {
    case 'conversation_created':
      return { type: 'created' };
    case 'message_received':
      return { type: 'customer_message', at: env.at };
    case 'agent_replied':
      return countsAsResponse({ direction: 'out', kind: e.kind, authorType: 'agent' }) ? { type: 'agent_reply', serverTime: env.at, deviceTime: e.deviceTime } : null;
    case 'status_changed':
      return { type: 'status', from: e.from, to: e.to };
    case 'priority_changed':
      return { type: 'priority', from: e.from, to: e.to };
    case 'assigned':
      return e.teamFrom !== e.teamTo ? { type: 'scope' } : null;
    case 'sla_warning':
    case 'sla_breached':
    case 'message_status':
    case 'labels_changed':
      return null;
    default:
      return assertNever(e, 'ops event');
  }
}

export const SLA_METRIC_LABEL: Record<SlaMetric, { en: string; 'zh-CN': string }> = {
  first_response: { en: 'first response', 'zh-CN': '首次响应' },
  next_response: { en: 'next response', 'zh-CN': '下次响应' },
  resolution: { en: 'resolution', 'zh-CN': '解决' },
};

const RAISE: Record<Priority, Priority> = { low: 'normal', normal: 'high', high: 'urgent', urgent: 'urgent' };

/** The supervisor of a conversation's team: the team's named supervisor if active, else its first active supervisor/admin. */
export function teamSupervisor(conv: Pick<Conversation, 'teamId'>, agents: readonly Agent[], named: string | null): Agent | null {
  if (conv.teamId === null) return null;
  const inTeam = agents.filter((a) => a.active && a.teamIds.includes(conv.teamId!));
  const byName = named ? agents.find((a) => a.id === named && a.active) : undefined;
  return byName ?? inTeam.filter((a) => a.role === 'supervisor').sort((a, b) => a.id.localeCompare(b.id))[0] ?? null;
}

/**
 * The warnings and breaches due at `now` (the SLA timer): each fires once per run of its clock. A
 * breach adds the metric to `breached`, writes an event message, and runs the policy's escalations
 * (raise the priority, notify, re-assign to the team's supervisor). Returns no facts when nothing is due.
 */
export function decideSlaTimer(
  conv: Conversation,
  policy: SlaPolicy | null,
  s: { supervisor: Agent | null },
  ctx: EventContext,
): { facts: Fact[]; events: SlaEvent[]; conversation: Conversation } {
  const sla = conv.sla;
  const none = { facts: [], events: [], conversation: conv };
  if (!sla || !policy || sla.policyId !== policy.id || sla.pausedAt !== null || sla.stoppedAt !== null) return none;
  let next: ConversationSla = sla;
  const events: SlaEvent[] = [];
  const messages: Fact[] = [];
  let priority = conv.priority;
  let assigneeId = conv.assigneeId;
  const event = (meta: Record<string, unknown>, text: string): Fact => ({
    kind: 'message', inboxId: conv.inboxId, externalId: null,
    message: {
      id: ctx.ids.next('event'), tenantId: conv.tenantId, conversationId: conv.id, direction: 'out', kind: 'event', authorType: 'system', authorId: null,
      text, subject: null, attachments: [], status: null, statusReason: null, deviceTime: null, serverTime: ctx.now, createdAt: ctx.now, meta, seq: ctx.seq,
    },
  });
  for (const m of SLA_METRICS) {
    const due = next[DUE_KEY[m]];
    if (due === null || next.fired.includes(m)) continue;
    const label = SLA_METRIC_LABEL[m];
    if (due <= ctx.now) {
      next = { ...next, fired: [...next.fired, m], warned: next.warned.includes(m) ? next.warned : [...next.warned, m], breached: next.breached.includes(m) ? next.breached : [...next.breached, m] };
      events.push({ type: 'sla_breached', conversationId: conv.id, metric: m, dueAt: due });
      const notify = policy.escalation.notify ? [...new Set([assigneeId, s.supervisor?.id ?? null].filter((x): x is string => x !== null))] : [];
      const actions: string[] = [];
      if (policy.escalation.raisePriority && RAISE[priority] !== priority) {
        priority = RAISE[priority];
        actions.push(`priority:${priority}`);
      }
      if (policy.escalation.reassignToSupervisor && s.supervisor && s.supervisor.id !== assigneeId) {
        assigneeId = s.supervisor.id;
        actions.push(`assign:${assigneeId}`);
      }
      messages.push(event(
        { action: 'sla', sla: 'breached', metric: m, dueAt: due, policyId: policy.id, notify, escalations: actions },
        `SLA breached: ${label.en} / SLA 已违约：${label['zh-CN']}`,
      ));
      continue;
    }
    const warnAt = next.warnAt[m];
    if (warnAt !== null && warnAt !== undefined && warnAt <= ctx.now && !next.warned.includes(m)) {
      next = { ...next, warned: [...next.warned, m] };
      events.push({ type: 'sla_warning', conversationId: conv.id, metric: m, dueAt: due });
      messages.push(event(
        { action: 'sla', sla: 'warning', metric: m, dueAt: due, policyId: policy.id, notify: policy.escalation.notify ? [assigneeId].filter((x) => x !== null) : [] },
        `SLA warning: ${label.en} due soon / SLA 预警：${label['zh-CN']}即将到期`,
      ));
    }
  }
  if (events.length === 0) return none;
  const conversation: Conversation = { ...conv, priority, assigneeId, sla: next, messageCount: conv.messageCount, updatedAt: ctx.now, seq: ctx.seq };
  const facts: Fact[] = [...messages];
  if (priority !== conv.priority || assigneeId !== conv.assigneeId) facts.push({ kind: 'conversation', conversation, isNew: false });
  facts.push({ kind: 'conversation_sla', conversationId: conv.id, sla: next, seq: ctx.seq });
  return { facts, events, conversation };
}

/** The SLA clocks of a conversation written as a fact (only the `sla` field changes, with a new seq). */
export function slaFact(conv: Conversation, sla: ConversationSla | null, seq: number): Fact {
  return { kind: 'conversation_sla', conversationId: conv.id, sla, seq };
}

/** How the apps show a conversation's SLA (badge and countdown): the most urgent running target. */
export interface SlaStatus {
  state: 'ok' | 'warning' | 'breached' | 'paused' | 'done';
  /** The target shown (null when nothing runs). */
  metric: SlaMetric | null;
  dueAt: number | null;
  /** ms until the due date (negative: overdue); null when nothing runs. */
  remainingMs: number | null;
}

/**
 * The SLA state of a conversation at `now` (device clock): breached (red) when a running target is
 * past due, warning (amber) once its warning time passed, paused while pending or snoozed, done when
 * the clocks stopped or nothing runs (a breach stays visible as `breached` with no running target).
 */
export function slaStatus(sla: ConversationSla | null | undefined, now: number): SlaStatus | null {
  if (!sla) return null;
  const running = SLA_METRICS.map((m) => ({ m, due: sla[DUE_KEY[m]] })).filter((x): x is { m: SlaMetric; due: number } => x.due !== null).sort((a, b) => a.due - b.due);
  const first = running[0];
  if (!first) return { state: sla.breached.length ? 'breached' : 'done', metric: null, dueAt: null, remainingMs: null };
  const base = { metric: first.m, dueAt: first.due, remainingMs: first.due - (sla.pausedAt ?? now) };
  if (sla.pausedAt !== null) return { state: 'paused', ...base };
  if (first.due <= now || sla.fired.includes(first.m)) return { state: 'breached', ...base };
  const warnAt = sla.warnAt[first.m];
  if (sla.warned.includes(first.m) || (warnAt !== null && warnAt !== undefined && warnAt <= now)) return { state: 'warning', ...base };
  return { state: 'ok', ...base };
}

/** The SLA notice the apps show over an agent's conversations: breached ones, then those in warning, most urgent first. */
export interface SlaNotice {
  breached: Conversation[];
  warning: Conversation[];
}

/**
 * Which of these conversations (the caller passes the agent's own, not finished) need attention for
 * their SLA at `now` (device clock), by slaStatus: breached (a running target past due, or one the
 * server breached) and warning (its warning time passed). Each list is ordered by due date.
 */
export function slaNotice(conversations: readonly Conversation[], now: number): SlaNotice {
  const rows = conversations
    .map((c) => ({ c, s: slaStatus(c.sla, now) }))
    .filter((x): x is { c: Conversation; s: SlaStatus } => x.s !== null && x.s.dueAt !== null)
    .sort((a, b) => a.s.dueAt! - b.s.dueAt! || (a.c.id < b.c.id ? -1 : 1));
  return { breached: rows.filter((x) => x.s.state === 'breached').map((x) => x.c), warning: rows.filter((x) => x.s.state === 'warning').map((x) => x.c) };
}

/** The inbox's SLA filter (a saved view can keep it): `due` = due soon (the warning time passed), `breached`. */
export const SLA_FILTERS = ['due', 'breached'] as const;
export type SlaFilter = (typeof SLA_FILTERS)[number];

/** Whether a conversation's SLA is in the state a filter asks for at `now` (slaStatus: `due` is `warning`). */
export function matchesSlaFilter(sla: ConversationSla | null | undefined, filter: SlaFilter, now: number): boolean {
  const state = slaStatus(sla, now)?.state;
  switch (filter) {
    case 'due':
      return state === 'warning';
    case 'breached':
      return state === 'breached';
    default:
      return assertNever(filter, 'SLA filter');
  }
}

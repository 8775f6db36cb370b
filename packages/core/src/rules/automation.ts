import { z } from 'zod';
import {
  Channel,
  ConversationStatus,
  Id,
  Label,
  Millis,
  Priority,
  Sentiment,
  type Agent,
  type Contact,
  type Conversation,
  type Inbox,
  type Message,
  type Team,
} from '../domain/model.js';
import { assertNever } from '../util/assert.js';
import { matchesSegment, type Segment } from './segments.js';
import { isOptedOut, MAX_LABELS, type IdSource } from './commandRules.js';
import { decideSystemReply } from './eventRules.js';
import { isOpen, type Calendar } from './businessHours.js';
import type { Fact } from './facts.js';
import { customerLanguage, renderTemplate, type MessageTemplate } from './templates.js';

/** The bus events a rule can be triggered by. */
export const AUTOMATION_EVENTS = [
  'conversation_created', 'message_received', 'status_changed', 'assigned', 'priority_changed', 'sla_warning', 'sla_breached',
] as const;
export const AutomationEvent = z.enum(AUTOMATION_EVENTS);
export type AutomationEvent = z.infer<typeof AutomationEvent>;

/** Rules stop at this cause depth: a rule's action that triggers rules that trigger rules… ends here. */
export const MAX_AUTOMATION_DEPTH = 3;

const Keyword = z.string().trim().min(1).max(200);

export const AutomationCondition = z.discriminatedUnion('field', [
  z.object({ field: z.literal('channel'), in: z.array(Channel).min(1) }),
  z.object({ field: z.literal('inbox'), in: z.array(Id).min(1) }),
  z.object({ field: z.literal('team'), in: z.array(Id).min(1) }),
  /** The triggering message's text (else the subject and last preview) contains any of the keywords. */
  z.object({ field: z.literal('text'), containsAny: z.array(Keyword).min(1).max(100) }),
  z.object({
    field: z.literal('contact_attribute'), key: z.string().trim().min(1).max(64), op: z.enum(['equals', 'contains', 'present', 'absent']),
    value: z.string().max(2000).optional(),
  }),
  z.object({ field: z.literal('business_hours'), state: z.enum(['open', 'closed']) }),
  z.object({ field: z.literal('priority'), in: z.array(Priority).min(1) }),
  z.object({ field: z.literal('status'), in: z.array(ConversationStatus).min(1) }),
  z.object({ field: z.literal('label'), op: z.enum(['has', 'lacks']), label: Label }),
  /** [insight] The triggering customer message's sentiment (else the conversation's latest). */
  z.object({ field: z.literal('sentiment'), in: z.array(Sentiment).min(1) }),
  /** [segments] The customer is (or is not) in any of these segments (core `matchesSegment`). */
  z.object({ field: z.literal('segment'), op: z.enum(['in', 'not_in']), segmentIds: z.array(Id).min(1).max(20) }),
]);
export type AutomationCondition = z.infer<typeof AutomationCondition>;

export const AutomationConditions = z.object({ match: z.enum(['all', 'any']).default('all'), items: z.array(AutomationCondition).max(50).default([]) });
export type AutomationConditions = z.infer<typeof AutomationConditions>;

export const AutomationAction = z.discriminatedUnion('type', [
  z.object({ type: z.literal('assign_team'), teamId: Id }),
  z.object({ type: z.literal('assign_agent'), agentId: Id }),
  z.object({ type: z.literal('set_priority'), priority: Priority }),
  z.object({ type: z.literal('add_label'), label: Label }),
  z.object({ type: z.literal('remove_label'), label: Label }),
  z.object({ type: z.literal('send_template'), templateId: Id }),
  z.object({ type: z.literal('snooze'), until: Millis.optional(), forMinutes: z.number().int().min(1).max(60 * 24 * 365).optional() })
    .refine((a) => (a.until === undefined) !== (a.forMinutes === undefined), 'snooze needs until or forMinutes (one of them)'),
  z.object({ type: z.literal('resolve') }),
  z.object({ type: z.literal('webhook'), url: z.string().url().max(2000).refine((u) => /^https?:\/\//i.test(u), 'http(s) URLs only'), secret: z.string().min(8).max(200).optional() }),
]);
export type AutomationAction = z.infer<typeof AutomationAction>;

/** What an admin saves. */
export const AutomationRuleInput = z.object({
  name: z.string().trim().min(1).max(200),
  event: AutomationEvent,
  conditions: AutomationConditions.default({ match: 'all', items: [] }),
  actions: z.array(AutomationAction).min(1).max(20),
  enabled: z.boolean().default(true),
  position: z.number().int().min(0).max(1_000_000).optional(),
});
export type AutomationRuleInput = z.infer<typeof AutomationRuleInput>;

export const AutomationRule = z.object({
  id: Id,
  tenantId: Id,
  name: z.string(),
  event: AutomationEvent,
  conditions: AutomationConditions,
  actions: z.array(AutomationAction),
  enabled: z.boolean(),
  position: z.number().int(),
  /** Why the server disabled the rule (a team/agent/template it uses was deleted), or null. */
  disabledReason: z.string().nullable(),
  createdAt: Millis,
  updatedAt: Millis,
});
export type AutomationRule = z.infer<typeof AutomationRule>;

/** What the references of a rule are checked against when it is saved. */
export interface AutomationRefs {
  teamIds: ReadonlySet<string>;
  agentIds: ReadonlySet<string>;
  templateIds: ReadonlySet<string>;
  inboxIds: ReadonlySet<string>;
}

/** The teams, agents, templates and inboxes a rule names. */
export function ruleReferences(rule: Pick<AutomationRuleInput, 'conditions' | 'actions'>): { teams: string[]; agents: string[]; templates: string[]; inboxes: string[] } {
  const out = { teams: [] as string[], agents: [] as string[], templates: [] as string[], inboxes: [] as string[] };
  for (const c of rule.conditions.items) {
    if (c.field === 'team') out.teams.push(...c.in);
    if (c.field === 'inbox') out.inboxes.push(...c.in);
  }
  for (const a of rule.actions) {
    if (a.type === 'assign_team') out.teams.push(a.teamId);
    if (a.type === 'assign_agent') out.agents.push(a.agentId);
    if (a.type === 'send_template') out.templates.push(a.templateId);
  }
  return out;
}

/** Why a rule cannot be saved (it names a team/agent/template/inbox that does not exist), or null. */
export function automationRuleProblem(rule: Pick<AutomationRuleInput, 'conditions' | 'actions'>, refs: AutomationRefs): string | null {
  const r = ruleReferences(rule);
  const missing = (kind: string, ids: string[], have: ReadonlySet<string>) => {
    const gone = ids.filter((id) => !have.has(id));
    return gone.length ? `unknown ${kind} ${gone.join(', ')}` : null;
  };
  return missing('team', r.teams, refs.teamIds) ?? missing('agent', r.agents, refs.agentIds) ?? missing('template', r.templates, refs.templateIds) ?? missing('inbox', r.inboxes, refs.inboxIds);
}

/** Full-width → half-width (NFKC), lower case, runs of spaces collapsed: "ＲＥＦＵＮＤ  退款" ≈ "refund 退款". */
export function normalizeText(text: string): string {
  return text.normalize('NFKC').toLowerCase().replace(/\s+/g, ' ').trim();
}

/** Whether a text contains any of the keywords (normalised, case-insensitive; Chinese by substring). */
export function containsKeyword(text: string, keywords: readonly string[]): boolean {
  const hay = normalizeText(text);
  return keywords.some((k) => {
    const n = normalizeText(k);
    return n.length > 0 && hay.includes(n);
  });
}

/** The cause of an event: which rule wrote it, how deep in a chain, and (optionally) every rule of the chain. */
export interface AutomationCause {
  ruleId: string;
  depth: number;
  /** The rules that already ran for the root event (loop protection); absent: just `ruleId`. */
  chain?: readonly string[] | undefined;
}

/** What the rules of one event see. */
export interface AutomationState {
  event: AutomationEvent;
  cause: AutomationCause | null;
  conversation: Conversation;
  inbox: Inbox;
  contact: Contact | null;
  /** The triggering message (message_received, conversation_created), when there is one. */
  message: Message | null;
  calendar: Calendar | null;
  /** The tenant's rules, any order (they run by position, then id). */
  rules: readonly AutomationRule[];
  teams: ReadonlyMap<string, Team>;
  agents: ReadonlyMap<string, Agent>;
  templates: ReadonlyMap<string, MessageTemplate>;
  /** [segments] The tenant's segments (for `segment` conditions; absent: none). */
  segments?: readonly Pick<Segment, 'id' | 'rule'>[];
  /** [segments] The latest activity of the contact's conversations (absent: this conversation's). */
  lastContactedAt?: number | null;
}

export interface AutomationContext {
  now: number;
  seq: number;
  ids: IdSource;
}

/** One rule's effect: its facts, written with cause `{ruleId, depth, chain}`. */
export interface RuleApplication {
  rule: Pick<AutomationRule, 'id' | 'name'>;
  cause: Required<AutomationCause>;
  facts: Fact[];
  /** The outgoing message of a send_template action (the caller announces its relay job). */
  relayMessageIds: string[];
  /** webhook actions: what to post (the caller queues a durable job). */
  webhooks: { url: string; secret: string | null; body: Record<string, unknown> }[];
}

/** Whether a rule's conditions hold. */
export function conditionsHold(c: AutomationConditions, s: Pick<AutomationState, 'conversation' | 'contact' | 'message' | 'calendar' | 'segments' | 'lastContactedAt'>, now: number): boolean {
  if (c.items.length === 0) return true;
  const test = (x: AutomationCondition): boolean => {
    const conv = s.conversation;
    switch (x.field) {
      case 'channel':
        return x.in.includes(conv.channel);
      case 'inbox':
        return x.in.includes(conv.inboxId);
      case 'team':
        return conv.teamId !== null && x.in.includes(conv.teamId);
      case 'text': {
        const text = s.message ? `${s.message.subject ?? ''}\n${s.message.text}` : `${conv.subject ?? ''}\n${conv.lastMessagePreview}`;
        return containsKeyword(text, x.containsAny);
      }
      case 'contact_attribute': {
        const v = s.contact?.attributes[x.key];
        const op = x.op;
        switch (op) {
          case 'present':
            return v !== undefined && v !== '';
          case 'absent':
            return v === undefined || v === '';
          case 'equals':
            return v !== undefined && normalizeText(v) === normalizeText(x.value ?? '');
          case 'contains':
            return v !== undefined && normalizeText(v).includes(normalizeText(x.value ?? ''));
          default:
            return assertNever(op, 'attribute op');
        }
      }
      case 'segment': {
        const contact = s.contact;
        const lastContactedAt = s.lastContactedAt === undefined ? conv.lastMessageAt : s.lastContactedAt;
        const member = contact !== null && x.segmentIds.some((id) => {
          const seg = s.segments?.find((g) => g.id === id);
          return seg !== undefined && matchesSegment(seg.rule, { contact, lastContactedAt, now });
        });
        return x.op === 'in' ? member : !member;
      }
      case 'business_hours':
        return isOpen(s.calendar, now) === (x.state === 'open');
      case 'priority':
        return x.in.includes(conv.priority);
      case 'status':
        return x.in.includes(conv.status);
      case 'label':
        return conv.labels.includes(x.label) === (x.op === 'has');
      case 'sentiment': {
        const m = s.message?.meta['sentiment'];
        const sentiment = typeof m === 'string' ? m : (conv.sentiment ?? null);
        return sentiment !== null && (x.in as readonly string[]).includes(sentiment);
      }
      default:
        return assertNever(x, 'condition');
    }
  };
  return c.match === 'all' ? c.items.every(test) : c.items.some(test);
}

/** The rules that may run for an event with this cause (loop protection), in order. */
export function runnableRules(rules: readonly AutomationRule[], event: AutomationEvent, cause: AutomationCause | null): AutomationRule[] {
  const depth = cause?.depth ?? 0;
  if (depth >= MAX_AUTOMATION_DEPTH) return [];
  const ran = new Set(cause ? (cause.chain ?? [cause.ruleId]) : []);
  return [...rules]
    .filter((r) => r.enabled && r.event === event && !ran.has(r.id))
    .sort((a, b) => a.position - b.position || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** The event message of a rule's action: "Rule X set priority to high" (zh in meta for the apps). */
function actionText(ruleName: string, a: AutomationAction, s: Pick<AutomationState, 'teams' | 'agents' | 'templates'>, until?: number): string {
  switch (a.type) {
    case 'assign_team':
      return `Rule ${ruleName} assigned team ${s.teams.get(a.teamId)?.name ?? a.teamId}`;
    case 'assign_agent':
      return `Rule ${ruleName} assigned ${s.agents.get(a.agentId)?.name ?? a.agentId}`;
    case 'set_priority':
      return `Rule ${ruleName} set priority to ${a.priority}`;
    case 'add_label':
      return `Rule ${ruleName} added label ${a.label}`;
    case 'remove_label':
      return `Rule ${ruleName} removed label ${a.label}`;
    case 'send_template':
      return `Rule ${ruleName} sent template ${s.templates.get(a.templateId)?.name ?? a.templateId}`;
    case 'snooze':
      return `Rule ${ruleName} snoozed until ${new Date(until ?? 0).toISOString()}`;
    case 'resolve':
      return `Rule ${ruleName} resolved the conversation`;
    case 'webhook':
      return `Rule ${ruleName} called a webhook`;
    default:
      return assertNever(a, 'action');
  }
}

/**
 * The automation rules of one event: every enabled rule for the event, in position order, whose
 * conditions hold on the conversation as the previous rules left it, applies its actions. Each
 * rule's facts carry it as their author (an event message per action with meta.ruleId, written with
 * cause {ruleId, depth + 1}). Loop protection: nothing runs at depth MAX_AUTOMATION_DEPTH, and a rule
 * already in the cause's chain never runs again for the same root event.
 */
export function decideAutomation(s: AutomationState, ctx: AutomationContext): RuleApplication[] {
  const out: RuleApplication[] = [];
  let conv = s.conversation;
  const depth = (s.cause?.depth ?? 0) + 1;
  const chainBefore = s.cause ? [...(s.cause.chain ?? [s.cause.ruleId])] : [];
  // Rules that ran earlier for this same event are in the chain of the later ones' events too.
  const ranNow: string[] = [];
  for (const rule of runnableRules(s.rules, s.event, s.cause)) {
    if (!conditionsHold(rule.conditions, { ...s, conversation: conv }, ctx.now)) continue;
    const app: RuleApplication = {
      rule: { id: rule.id, name: rule.name }, cause: { ruleId: rule.id, depth, chain: [...chainBefore, ...ranNow, rule.id] }, facts: [], relayMessageIds: [], webhooks: [],
    };
    let next = conv;
    const events: { text: string; change: Record<string, unknown> }[] = [];
    const outgoing: Fact[] = [];
    for (const a of rule.actions) {
      switch (a.type) {
        case 'assign_team':
          if (!s.teams.has(a.teamId) || next.teamId === a.teamId) continue;
          next = { ...next, teamId: a.teamId };
          break;
        case 'assign_agent': {
          const agent = s.agents.get(a.agentId);
          if (!agent || !agent.active || next.assigneeId === a.agentId) continue;
          next = { ...next, assigneeId: a.agentId };
          break;
        }
        case 'set_priority':
          if (next.priority === a.priority) continue;
          next = { ...next, priority: a.priority };
          break;
        case 'add_label':
          if (next.labels.includes(a.label) || next.labels.length >= MAX_LABELS) continue;
          next = { ...next, labels: [...next.labels, a.label] };
          break;
        case 'remove_label':
          if (!next.labels.includes(a.label)) continue;
          next = { ...next, labels: next.labels.filter((l) => l !== a.label) };
          break;
        case 'send_template': {
          const t = s.templates.get(a.templateId);
          if (!t || next.status === 'closed' || (s.contact && isOptedOut(s.contact))) continue;
          const lang = customerLanguage(s.contact, s.message?.text ?? next.lastMessagePreview);
          const r = renderTemplate(t, lang, {
            contact: s.contact, conversation: next, inbox: s.inbox, ticket: { number: next.ticketNumber ?? null },
            agent: next.assigneeId ? s.agents.get(next.assigneeId) ?? null : null,
          });
          const subject = r.subject ?? (next.channel === 'email' && next.subject ? `Re: ${next.subject.replace(/^Re:\s*/i, '')}` : null);
          const d = decideSystemReply(next, { text: r.text, subject, meta: { automation: { ruleId: rule.id, ruleName: rule.name, templateId: t.id } } }, ctx);
          outgoing.push(...d.facts.filter((f) => f.kind !== 'conversation'));
          next = { ...next, messageCount: next.messageCount + 1 };
          app.relayMessageIds.push(d.message.id);
          break;
        }
        case 'snooze': {
          const until = a.until ?? ctx.now + (a.forMinutes ?? 0) * 60_000;
          if (until <= ctx.now || next.status === 'closed') continue;
          next = { ...next, status: 'snoozed', snoozedUntil: until };
          events.push({ text: actionText(rule.name, a, s, until), change: { status: 'snoozed', snoozedUntil: until } });
          continue;
        }
        case 'resolve':
          if (next.status === 'resolved' || next.status === 'closed') continue;
          next = { ...next, status: 'resolved', snoozedUntil: null, waitingSince: null };
          break;
        case 'webhook':
          app.webhooks.push({
            url: a.url, secret: a.secret ?? null,
            body: { event: s.event, ruleId: rule.id, ruleName: rule.name, conversation: next, message: s.message, at: ctx.now },
          });
          break;
        default:
          assertNever(a, 'action');
      }
      events.push({ text: actionText(rule.name, a, s), change: actionChange(a) });
    }
    if (events.length === 0) continue;
    for (const e of events) {
      app.facts.push({
        kind: 'message', inboxId: next.inboxId, externalId: null,
        message: {
          id: ctx.ids.next('event'), tenantId: next.tenantId, conversationId: next.id, direction: 'out', kind: 'event', authorType: 'system', authorId: null,
          text: e.text, subject: null, attachments: [], status: null, statusReason: null, deviceTime: null, serverTime: ctx.now, createdAt: ctx.now,
          meta: { action: 'automation', ruleId: rule.id, ruleName: rule.name, ...e.change }, seq: ctx.seq,
        },
      });
    }
    app.facts.push(...outgoing);
    // Timeline events are not counted as messages (like an agent's status change); a sent template is.
    next = { ...next, updatedAt: ctx.now, seq: ctx.seq };
    app.facts.push({ kind: 'conversation', conversation: next, isNew: false });
    conv = next;
    ranNow.push(rule.id);
    out.push(app);
  }
  return out;
}

function actionChange(a: AutomationAction): Record<string, unknown> {
  switch (a.type) {
    case 'assign_team':
      return { teamId: a.teamId };
    case 'assign_agent':
      return { assigneeId: a.agentId };
    case 'set_priority':
      return { priority: a.priority };
    case 'add_label':
    case 'remove_label':
      return { [a.type === 'add_label' ? 'labelAdded' : 'labelRemoved']: a.label };
    case 'send_template':
      return { templateId: a.templateId };
    case 'snooze':
      return { status: 'snoozed' };
    case 'resolve':
      return { status: 'resolved' };
    case 'webhook':
      return { webhook: a.url.replace(/[?#].*$/, '') };
    default:
      return assertNever(a, 'action');
  }
}

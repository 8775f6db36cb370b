import {
  AUTOMATION_EVENTS,
  CSAT_LINK_TTL_MS,
  CSAT_REPLY_WINDOW_MS,
  DEFAULT_LIFECYCLE_SETTINGS,
  LIFECYCLE_TIMERS,
  SLA_RULE_ID,
  automationRuleProblem,
  decideAutoReply,
  decideAutoResolve,
  decideAutomation,
  decideCsatSurvey,
  decideSlaTimer,
  decideSnoozeWake,
  lifecycleTimers,
  nextSla,
  nextSlaCheck,
  opsEventsOf,
  parseCsatReply,
  policyFor,
  slaTriggerOf,
  teamSupervisor,
  withCsatAnswer,
  type AutomationEvent,
  type AutomationRule,
  type BusinessHours,
  type Calendar,
  type CsatAnswer,
  type EventContext,
  type Fact,
  type LifecycleSettings,
  type MessageTemplate,
  type OpsCause,
  type OpsEnvelope,
  type OpsEvent,
  type OpsEventState,
  type SlaEvent,
  type SlaPolicy,
  type SlaTrigger,
} from '../rules/index.js';
import { InboxOps, type Agent, type Contact, type Conversation, type Inbox, type Message, type Team, type Tenant } from '../domain/model.js';
import type { Clock, TimerHandle } from '../ports/platform.js';

/**
 * [ops] The reference server's service operations: the in-memory counterpart of the server's ops bus
 * (sync-server/src/ops/) for one tenant. It holds no rule: every event comes from core's
 * `opsEventsOf` over the facts the reference server stores, every listener and timer loads the state
 * its core decision needs (automation, auto-reply, SLA, lifecycle, CSAT; in the server's order) and
 * writes the facts it returns through the host, each listener in a commit of its own. Timers are
 * durable rows here too (one per name and subject), fired by the host's clock (the FakeClock).
 */

/** What the ops read of a tenant (the reference server's maps). */
export interface OpsTenantView {
  tenant: Tenant;
  teams: Map<string, Team>;
  agents: Map<string, Agent>;
  inboxes: Map<string, Inbox>;
  contacts: Map<string, Contact>;
  conversations: Map<string, Conversation>;
  messages: Map<string, Message>;
  messageOrder: Map<string, string[]>;
}

/** A group of facts one ops transaction writes under one cause (automation writes one group per rule). */
export interface OpsWrite {
  facts: Fact[];
  cause: OpsCause | null;
}

export interface OpsHost {
  now(): number;
  /** Where durable timers are armed (null: only `runDueTimers` fires them). */
  timers: Pick<Clock, 'setTimeout' | 'clearTimeout'> | null;
  /**
   * One ops transaction. `decide` is called with seq 0 first (a probe, as the server's listeners
   * decide before they take a tenant seq); when it writes nothing, nothing commits and null is
   * returned; otherwise it is called again with the commit's context and its groups are stored.
   */
  write(decide: (ctx: EventContext) => OpsWrite[]): number | null;
}

/** A CSAT survey row (csat_surveys). */
export interface ReferenceSurvey {
  token: string;
  conversationId: string;
  inboxId: string;
  contactId: string;
  agentId: string | null;
  mode: 'reply' | 'link';
  messageId: string;
  sentAt: number;
  expiresAt: number;
  rating: number | null;
  comment: string | null;
  answeredAt: number | null;
}

export interface ReferenceTimer {
  name: string;
  subjectId: string;
  dueAt: number;
  payload: Record<string, unknown>;
}

/** What the ops did (tests assert the generators reach them). */
export interface OpsStats {
  events: number;
  autoReplies: number;
  automationRuns: number;
  slaChanges: number;
  slaWarnings: number;
  slaBreaches: number;
  snoozeWakes: number;
  autoResolved: number;
  surveys: number;
  answers: number;
  timersFired: number;
}

const SLA_TIMER = 'sla.check';
const LIFECYCLE_CAUSE: OpsCause = { ruleId: 'lifecycle', depth: 1 };
const SLA_CAUSE: OpsCause = { ruleId: SLA_RULE_ID, depth: 1 };
const AUTOMATION: ReadonlySet<string> = new Set(AUTOMATION_EVENTS);
const timerKey = (name: string, subjectId: string) => `${name}\u0000${subjectId}`;

/** Readable ids of an ops commit: `op-<seq>.<n>`, distinct within the commit (a decision may write several events). */
export function opsIdSource(seq: number): EventContext['ids'] {
  let n = 0;
  return { next: () => `op-${seq}.${++n}` };
}

export class TenantOps {
  lifecycle: LifecycleSettings;
  readonly calendars = new Map<string, BusinessHours>();
  readonly slaPolicies: SlaPolicy[] = [];
  readonly rules: AutomationRule[] = [];
  readonly templates = new Map<string, MessageTemplate>();
  /** Surveys by conversation id (one per conversation). */
  readonly surveys = new Map<string, ReferenceSurvey>();
  /** Posted webhook bodies of automation rules (there is no network here). */
  readonly webhooks: { ruleId: string; url: string; body: Record<string, unknown> }[] = [];
  readonly stats: OpsStats = { events: 0, autoReplies: 0, automationRuns: 0, slaChanges: 0, slaWarnings: 0, slaBreaches: 0, snoozeWakes: 0, autoResolved: 0, surveys: 0, answers: 0, timersFired: 0 };
  private readonly timers = new Map<string, ReferenceTimer & { handle: TimerHandle | null }>();
  private readonly queue: OpsEnvelope[] = [];
  private draining = false;
  private nextEvent = 0;
  /** Who the facts being stored now are by (set by the host for each commit and each ops group). */
  actorId: string | null = null;
  cause: OpsCause | null = null;

  constructor(private readonly host: OpsHost, private readonly t: OpsTenantView, lifecycle: Partial<LifecycleSettings> = {}) {
    this.lifecycle = { ...DEFAULT_LIFECYCLE_SETTINGS, ...lifecycle };
  }

  // ----- events: recorded with the facts, delivered after the commit ------------------------

  /** What opsEventsOf needs, read before the facts are stored (as the server's writer reads it). */
  eventState(facts: readonly Fact[]): OpsEventState {
    const before = new Map<string, Conversation | null>();
    const messageConversation = new Map<string, string>();
    const repliedBefore = new Set<string>();
    for (const f of facts) {
      if (f.kind === 'conversation' && !f.isNew && !before.has(f.conversation.id)) before.set(f.conversation.id, this.t.conversations.get(f.conversation.id) ?? null);
      if (f.kind === 'message_status') {
        const m = this.t.messages.get(f.messageId);
        if (m) messageConversation.set(f.messageId, m.conversationId);
      }
      if (f.kind === 'message') {
        const m = f.message;
        if (m.direction === 'out' && m.authorType === 'agent' && m.kind !== 'note' && m.kind !== 'event' && this.hasAgentReply(m.conversationId)) repliedBefore.add(m.conversationId);
      }
    }
    return { before, messageConversation, repliedBefore };
  }

  /** The events of stored facts join the queue (the server's insertEvents, in the facts' transaction). */
  record(facts: readonly Fact[], state: OpsEventState): void {
    this.enqueue(opsEventsOf(facts, state), this.actorId, this.cause);
  }

  private enqueue(events: readonly OpsEvent[], actorId: string | null, cause: OpsCause | null): void {
    for (const event of events) {
      this.queue.push({ id: `opsev-${++this.nextEvent}`, tenantId: this.t.tenant.id, at: this.host.now(), actorId, cause, event });
    }
  }

  /** Delivers queued events to every listener in the server's order, follow-on events included. */
  drain(): void {
    if (this.draining) return;
    this.draining = true;
    try {
      for (let env = this.queue.shift(); env; env = this.queue.shift()) {
        this.stats.events++;
        this.automation(env);
        this.autoReply(env);
        this.sla(env);
        this.lifecycleListener(env);
        this.csat(env);
      }
    } finally {
      this.draining = false;
    }
  }

  // ----- state the decisions read (the server's domain queries, over the maps) -------------

  private messagesOf(conversationId: string): Message[] {
    return (this.t.messageOrder.get(conversationId) ?? []).map((id) => this.t.messages.get(id)!).filter((m) => m.conversationId === conversationId);
  }

  private hasAgentReply(conversationId: string): boolean {
    return this.messagesOf(conversationId).some((m) => m.direction === 'out' && m.authorType === 'agent' && m.kind !== 'note' && m.kind !== 'event');
  }

  private context(conversationId: string): { conversation: Conversation; inbox: Inbox; contact: Contact | null } | null {
    const conversation = this.t.conversations.get(conversationId);
    const inbox = conversation ? this.t.inboxes.get(conversation.inboxId) : undefined;
    if (!conversation || !inbox) return null;
    return { conversation, inbox, contact: this.t.contacts.get(conversation.contactId) ?? null };
  }

  private calendar(id: string | null | undefined): Calendar | null {
    return id ? (this.calendars.get(id) ?? null) : null;
  }

  private byCreated(a: Message, b: Message): number {
    return a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  }

  /** The SLA state of a conversation (domain/sla.ts loadSlaState): running clocks keep their policy; `repick` takes the one that applies now. */
  private slaState(conv: Conversation, repick = false): { policy: SlaPolicy | null; calendar: Calendar | null; supervisor: Agent | null } {
    const policy = conv.sla && !repick ? (this.slaPolicies.find((p) => p.id === conv.sla!.policyId) ?? null) : policyFor(this.slaPolicies, conv);
    const supervisor = conv.teamId && policy && (policy.escalation.reassignToSupervisor || policy.escalation.notify) ? teamSupervisor(conv, [...this.t.agents.values()], null) : null;
    return { policy, calendar: this.calendar(policy?.businessHoursId), supervisor };
  }

  // ----- timers --------------------------------------------------------------------------

  scheduleTimer(name: string, subjectId: string, dueAt: number, payload: Record<string, unknown> = {}): void {
    this.cancelTimer(name, subjectId);
    const key = timerKey(name, subjectId);
    const handle = this.host.timers ? this.host.timers.setTimeout(() => this.fire(key), Math.max(0, dueAt - this.host.now())) : null;
    this.timers.set(key, { name, subjectId, dueAt, payload, handle });
  }

  cancelTimer(name: string, subjectId: string): void {
    const key = timerKey(name, subjectId);
    const cur = this.timers.get(key);
    if (!cur) return;
    if (cur.handle !== null && this.host.timers) this.host.timers.clearTimeout(cur.handle);
    this.timers.delete(key);
  }

  /** The timers waiting (inspection). */
  pendingTimers(): ReferenceTimer[] {
    return [...this.timers.values()].map(({ name, subjectId, dueAt, payload }) => ({ name, subjectId, dueAt, payload: { ...payload } })).sort((a, b) => a.dueAt - b.dueAt);
  }

  /** Fires every timer due now (for hosts without a clock). */
  runDueTimers(): number {
    let n = 0;
    for (;;) {
      const due = [...this.timers.entries()].filter(([, x]) => x.dueAt <= this.host.now()).sort((a, b) => a[1].dueAt - b[1].dueAt)[0];
      if (!due) return n;
      this.fire(due[0]);
      n++;
    }
  }

  private fire(key: string): void {
    const timer = this.timers.get(key);
    if (!timer) return;
    // Completed first (as the bus completes a timer in its handler's transaction): a handler may re-arm it.
    this.timers.delete(key);
    this.stats.timersFired++;
    switch (timer.name) {
      case SLA_TIMER:
        this.slaTimer(timer);
        break;
      case LIFECYCLE_TIMERS.snooze:
        this.snoozeTimer(timer);
        break;
      case LIFECYCLE_TIMERS.pending:
        this.pendingTimer(timer);
        break;
      default:
        throw new Error(`no handler for ops timer ${timer.name}`);
    }
    this.drain();
  }

  // ----- listeners (sync-server/src/ops/*.ts, in memory) -----------------------------------

  /** ops/automation.ts runAutomation. */
  private automation(env: OpsEnvelope): void {
    const type = env.event.type as string;
    if (!AUTOMATION.has(type) || !('conversationId' in env.event)) return;
    const rules = this.rules.filter((r) => r.enabled && r.event === type);
    if (rules.length === 0) return;
    const cc = this.context(env.event.conversationId);
    if (!cc) return;
    const refs = {
      teamIds: new Set(this.t.teams.keys()), agentIds: new Set([...this.t.agents.values()].filter((a) => a.active).map((a) => a.id)),
      templateIds: new Set(this.templates.keys()), inboxIds: new Set([cc.inbox.id]),
    };
    const runnable: AutomationRule[] = [];
    for (const r of rules) {
      const problem = automationRuleProblem({ conditions: { match: r.conditions.match, items: r.conditions.items.filter((c) => c.field !== 'inbox') }, actions: r.actions }, refs);
      if (problem) {
        const i = this.rules.indexOf(r);
        this.rules[i] = { ...r, enabled: false, disabledReason: `refers to ${problem}`, updatedAt: this.host.now() };
      } else runnable.push(r);
    }
    const messageId = 'messageId' in env.event ? env.event.messageId : null;
    const message = typeof messageId === 'string' ? (this.t.messages.get(messageId) ?? null) : null;
    const state = {
      event: type as AutomationEvent, cause: env.cause, conversation: cc.conversation, inbox: cc.inbox, contact: cc.contact, message,
      calendar: this.calendar(cc.inbox.ops?.businessHoursId), rules: runnable, teams: this.t.teams, agents: this.t.agents, templates: this.templates,
    };
    let apps: ReturnType<typeof decideAutomation> = [];
    const seq = this.host.write((ctx) => {
      apps = decideAutomation(state, ctx);
      return apps.map((a) => ({ facts: a.facts, cause: { ruleId: a.cause.ruleId, depth: a.cause.depth, chain: [...a.cause.chain] } }));
    });
    if (seq === null) return;
    this.stats.automationRuns += apps.length;
    for (const a of apps) for (const w of a.webhooks) this.webhooks.push({ ruleId: a.rule.id, url: w.url, body: w.body });
  }

  /** ops/autoreply.ts runAutoReply (without the legacy provider-config text: the reference server has no provider config). */
  private autoReply(env: OpsEnvelope): void {
    if (env.event.type !== 'message_received') return;
    const message = this.t.messages.get(env.event.messageId);
    if (!message) return;
    const cc = this.context(env.event.conversationId);
    if (!cc) return;
    const ops = cc.inbox.ops ?? InboxOps.parse({});
    if (!ops.autoReply.acknowledge && !ops.autoReply.outOfHours) return;
    const msgs = this.messagesOf(cc.conversation.id);
    const firstIn = msgs.filter((m) => m.direction === 'in').sort((a, b) => this.byCreated(a, b))[0];
    const autoReplies = msgs.filter((m) => m.authorType === 'system' && m.meta['autoReply'] === true).map((m) => m.createdAt);
    const state = {
      inbox: cc.inbox, ops, calendar: this.calendar(ops.businessHoursId), conversation: cc.conversation, contact: cc.contact, message,
      firstContact: firstIn?.id === message.id, lastAutoReplyAt: autoReplies.length ? Math.max(...autoReplies) : null, templates: this.templates,
    };
    const seq = this.host.write((ctx) => {
      const d = decideAutoReply(state, ctx);
      return d.send ? [{ facts: d.facts, cause: null }] : [];
    });
    if (seq !== null) this.stats.autoReplies++;
  }

  /** ops/sla.ts: every conversation event moves the clocks; the timer follows them. */
  private sla(env: OpsEnvelope): void {
    const trigger = slaTriggerOf(env);
    if (!trigger) return;
    this.applySlaTrigger(env.event.conversationId, trigger);
  }

  private applySlaTrigger(conversationId: string, trigger: SlaTrigger): void {
    const conv = this.t.conversations.get(conversationId);
    if (!conv) return;
    const st = this.slaState(conv, trigger.type === 'scope');
    const sla = nextSla(conv, trigger, st.policy, st.calendar, this.host.now());
    if (sla === (conv.sla ?? null)) return;
    const seq = this.host.write((ctx) => [{ facts: [{ kind: 'conversation_sla', conversationId, sla, seq: ctx.seq }], cause: SLA_CAUSE }]);
    if (seq === null) return;
    this.stats.slaChanges++;
    this.followSla(conversationId, nextSlaCheck(sla));
  }

  private followSla(conversationId: string, dueAt: number | null): void {
    if (dueAt === null) this.cancelTimer(SLA_TIMER, conversationId);
    else this.scheduleTimer(SLA_TIMER, conversationId, dueAt);
  }

  private slaTimer(timer: ReferenceTimer): void {
    const conv = this.t.conversations.get(timer.subjectId);
    if (!conv || !conv.sla) return;
    const st = this.slaState(conv);
    let d: ReturnType<typeof decideSlaTimer> = { facts: [], events: [], conversation: conv };
    const seq = this.host.write((ctx) => {
      d = decideSlaTimer(conv, st.policy, { supervisor: st.supervisor }, ctx);
      return d.facts.length ? [{ facts: d.facts, cause: SLA_CAUSE }] : [];
    });
    if (seq !== null) {
      const events: SlaEvent[] = d.events;
      this.stats.slaWarnings += events.filter((e) => e.type === 'sla_warning').length;
      this.stats.slaBreaches += events.filter((e) => e.type === 'sla_breached').length;
      this.enqueue(events, null, SLA_CAUSE);
    }
    const next = st.policy ? nextSlaCheck(d.conversation.sla) : null;
    this.followSla(conv.id, next !== null && next > this.host.now() ? next : null);
  }

  /** ops/lifecycle.ts: status changes (and messages) schedule or cancel the snooze wake-up and the pending auto-resolve. */
  private lifecycleListener(env: OpsEnvelope): void {
    const e = env.event;
    if (e.type !== 'status_changed' && e.type !== 'agent_replied' && e.type !== 'message_received') return;
    const conv = this.t.conversations.get(e.conversationId);
    if (conv) this.followLifecycle(conv, env.at);
  }

  private followLifecycle(conv: Conversation, since: number): void {
    const t = lifecycleTimers(conv, this.lifecycle, since);
    if (t.snooze === null) this.cancelTimer(LIFECYCLE_TIMERS.snooze, conv.id);
    else this.scheduleTimer(LIFECYCLE_TIMERS.snooze, conv.id, t.snooze);
    if (t.pending === null) this.cancelTimer(LIFECYCLE_TIMERS.pending, conv.id);
    else this.scheduleTimer(LIFECYCLE_TIMERS.pending, conv.id, t.pending, { since });
  }

  private snoozeTimer(timer: ReferenceTimer): void {
    const conv = this.t.conversations.get(timer.subjectId);
    if (!conv) return;
    const seq = this.host.write((ctx) => {
      const facts = decideSnoozeWake(conv, ctx);
      return facts ? [{ facts, cause: LIFECYCLE_CAUSE }] : [];
    });
    if (seq !== null) this.stats.snoozeWakes++;
    else if (conv.status === 'snoozed' && conv.snoozedUntil !== null && conv.snoozedUntil > this.host.now()) this.scheduleTimer(LIFECYCLE_TIMERS.snooze, conv.id, conv.snoozedUntil);
  }

  private pendingTimer(timer: ReferenceTimer): void {
    const conv = this.t.conversations.get(timer.subjectId);
    if (!conv) return;
    const since = typeof timer.payload['since'] === 'number' ? timer.payload['since'] : 0;
    const seq = this.host.write((ctx) => {
      const facts = decideAutoResolve(conv, this.lifecycle, since, ctx);
      return facts ? [{ facts, cause: LIFECYCLE_CAUSE }] : [];
    });
    if (seq !== null) {
      this.stats.autoResolved++;
      return;
    }
    const due = lifecycleTimers(conv, this.lifecycle, since).pending;
    if (due !== null && due > this.host.now()) this.scheduleTimer(LIFECYCLE_TIMERS.pending, conv.id, due, { since });
  }

  /** ops/csat.ts runCsat: the survey after resolution, once per conversation. */
  private csat(env: OpsEnvelope): void {
    if (env.event.type !== 'status_changed' || env.event.to !== 'resolved') return;
    const cc = this.context(env.event.conversationId);
    const settings = cc?.inbox.ops?.csat;
    if (!cc || !settings?.enabled) return;
    const token = `csat-${cc.conversation.id}`;
    const link = `${(settings.baseUrl ?? '').replace(/\/+$/, '')}/csat/${token}`;
    const lastIn = this.messagesOf(cc.conversation.id).filter((m) => m.direction === 'in').sort((a, b) => this.byCreated(b, a))[0];
    const state = {
      inbox: cc.inbox, settings, conversation: cc.conversation, contact: cc.contact, alreadySent: this.surveys.has(cc.conversation.id),
      template: settings.templateId ? (this.templates.get(settings.templateId) ?? null) : null, link, lastInboundText: lastIn?.text ?? '',
    };
    let d: ReturnType<typeof decideCsatSurvey> = null;
    const seq = this.host.write((ctx) => {
      d = decideCsatSurvey(state, ctx);
      return d ? [{ facts: d.facts, cause: null }] : [];
    });
    const sent = d as ReturnType<typeof decideCsatSurvey>;
    if (seq === null || !sent) return;
    const now = this.host.now();
    this.stats.surveys++;
    this.surveys.set(cc.conversation.id, {
      token, conversationId: cc.conversation.id, inboxId: cc.inbox.id, contactId: cc.conversation.contactId, agentId: cc.conversation.assigneeId, mode: sent.mode,
      messageId: sent.messageId, sentAt: now, expiresAt: now + (sent.mode === 'reply' ? CSAT_REPLY_WINDOW_MS : CSAT_LINK_TTL_MS), rating: null, comment: null, answeredAt: null,
    });
  }

  // ----- the inbound side (domain/workspace.ts ingestInbound, domain/csat.ts) --------------------

  /**
   * What an inbound message joins besides the contact's open conversation: a 1-5 answer to the
   * contact's pending SMS survey joins the surveyed conversation (csatReplyRouting); otherwise, with
   * no open conversation, the contact's latest resolved one with the tenant's reopen window.
   */
  inboundTarget(inbox: Inbox, contact: Contact | null, text: string, open: Conversation | null):
    | { kind: 'csat'; survey: ReferenceSurvey; answer: CsatAnswer; conversation: Conversation }
    | { kind: 'resolved'; conversation: Conversation; reopenWindowMs: number | null }
    | null {
    if (!contact) return null;
    if (inbox.channel === 'sms') {
      const answer = parseCsatReply(text);
      const now = this.host.now();
      const survey = answer
        ? [...this.surveys.values()]
          .filter((s) => s.inboxId === inbox.id && s.contactId === contact.id && s.mode === 'reply' && s.answeredAt === null && s.expiresAt > now)
          .sort((a, b) => b.sentAt - a.sentAt)[0]
        : undefined;
      const conversation = survey ? this.t.conversations.get(survey.conversationId) : undefined;
      if (answer && survey && conversation) return { kind: 'csat', survey, answer, conversation };
    }
    if (open) return null;
    const resolved = [...this.t.conversations.values()]
      .filter((c) => c.inboxId === inbox.id && c.contactId === contact.id && c.status === 'resolved')
      .sort((a, b) => b.updatedAt - a.updatedAt || (a.id < b.id ? 1 : -1))[0];
    if (!resolved) return null;
    const w = this.lifecycle.reopenWindowSeconds;
    return { kind: 'resolved', conversation: resolved, reopenWindowMs: w === null ? null : w * 1000 };
  }

  /** recordCsatAnswer: the survey answered once, and the conversation's `csat` fact (null: answered already). */
  answerFacts(survey: ReferenceSurvey, answer: CsatAnswer, ctx: Pick<EventContext, 'now' | 'seq'>): Fact[] | null {
    const cur = this.surveys.get(survey.conversationId);
    if (!cur || cur.token !== survey.token || cur.answeredAt !== null) return null;
    const conv = this.t.conversations.get(survey.conversationId);
    if (!conv) return null;
    this.surveys.set(cur.conversationId, { ...cur, rating: answer.rating, comment: answer.comment, answeredAt: ctx.now });
    this.stats.answers++;
    return [withCsatAnswer(conv, answer, ctx)];
  }

  surveyByToken(token: string): ReferenceSurvey | null {
    return [...this.surveys.values()].find((s) => s.token === token) ?? null;
  }
}

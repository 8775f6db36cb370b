import { AUTOMATION_EVENTS, automationRuleProblem, decideAutomation, type AutomationEvent, type OpsEnvelope } from '@goutong/core';
import {
  calendarOfInbox, claimWebhookJob, conversationContext, disableRule, enabledRulesFor, finishWebhookJob, messageById, queueWebhook, signWebhook, teamsAndAgents,
} from '../domain/automation.js';
import { templatesOf } from '../domain/templates.js';
import { segmentsOfTenant } from '../domain/contactFields.js';
import { egressFetch } from '../net/egress.js';
import type { OpsBus, OpsContext } from './bus.js';
import type { OpsDeps } from './index.js';

const EVENTS: ReadonlySet<string> = new Set(AUTOMATION_EVENTS);

/**
 * The "automation" listener: for every event a rule can watch, the tenant's enabled rules for it run
 * in order (core decideAutomation) and their facts are written in this delivery's transaction, each
 * rule's with cause {ruleId, depth, chain} so the events they cause carry it (loop protection).
 * A rule whose team/agent/template is gone is disabled with the reason instead of running.
 */
export async function runAutomation(env: OpsEnvelope, ctx: OpsContext): Promise<void> {
  const type = env.event.type as string;
  if (!EVENTS.has(type) || !('conversationId' in env.event)) return;
  const rules = await enabledRulesFor(ctx.q, env.tenantId, type);
  if (rules.length === 0) return;
  const cc = await conversationContext(ctx.q, env.tenantId, env.event.conversationId);
  if (!cc) return;
  const { teams, agents } = await teamsAndAgents(ctx.q, env.tenantId);
  const templates = await templatesOf(ctx.q, env.tenantId);
  const refs = {
    teamIds: new Set(teams.keys()), agentIds: new Set([...agents.values()].filter((a) => a.active).map((a) => a.id)), templateIds: new Set(templates.keys()),
    inboxIds: new Set([cc.inbox.id]),
  };
  const runnable = [];
  for (const r of rules) {
    // Inbox conditions may name other inboxes: only teams, agents and templates are checked here.
    const problem = automationRuleProblem({ conditions: { match: r.conditions.match, items: r.conditions.items.filter((c) => c.field !== 'inbox') }, actions: r.actions }, refs);
    if (problem) {
      await disableRule(ctx.q, r.id, `refers to ${problem}`, ctx.now);
      ctx.log.warn('automation: rule disabled', { ruleId: r.id, problem });
    } else runnable.push(r);
  }
  const messageId = 'messageId' in env.event ? env.event.messageId : null;
  const message = typeof messageId === 'string' ? await messageById(ctx.q, messageId) : null;
  const state = {
    event: type as AutomationEvent, cause: env.cause, conversation: cc.conversation, inbox: cc.inbox, contact: cc.contact, message,
    calendar: await calendarOfInbox(ctx.q, cc.inbox), rules: runnable, teams, agents, templates,
    // [segments] for `segment` conditions (read only when a rule has one)
    ...(runnable.some((r) => r.conditions.items.some((c) => c.field === 'segment')) ? { segments: await segmentsOfTenant(ctx.q, env.tenantId) } : {}),
  };
  // Decided once without a seq: when no rule applies, nothing takes a tenant seq.
  if (decideAutomation(state, { now: ctx.now, seq: 0, ids: { next: () => 'probe' } }).length === 0) return;
  const apps = decideAutomation(state, { now: ctx.now, seq: await ctx.nextSeq(), ids: { next: () => ctx.ws.ids.next() } });
  for (const app of apps) {
    await ctx.write(app.facts, { actorId: null, cause: { ruleId: app.cause.ruleId, depth: app.cause.depth, chain: [...app.cause.chain] } });
    for (const id of app.relayMessageIds) ctx.relay(id);
    for (const w of app.webhooks) {
      await queueWebhook(ctx.q, { id: ctx.ws.ids.next(), tenantId: env.tenantId, ruleId: app.rule.id, url: w.url, secret: w.secret, body: w.body }, ctx.now);
    }
  }
}

/** Posts due webhook jobs (outside any transaction, through the egress guard), signed when the action has a secret. */
export async function runWebhookJobs(deps: Pick<OpsDeps, 'workspace' | 'logger' | 'clock'>, fetchImpl: typeof egressFetch = egressFetch): Promise<number> {
  let n = 0;
  for (;;) {
    const job = await claimWebhookJob(deps.workspace.db, deps.clock.now(), 30_000);
    if (!job) return n;
    n += 1;
    const at = deps.clock.now();
    const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'Goutong-Automation/1', 'x-goutong-rule': job.ruleId, 'x-goutong-delivery': job.id };
    if (job.secret) headers['x-goutong-signature'] = signWebhook(job.secret, at, job.body);
    let outcome: { ok: true } | { ok: false; error: string };
    try {
      const res = await fetchImpl(job.url, { method: 'POST', headers, body: job.body, signal: AbortSignal.timeout(10_000) });
      outcome = res.ok ? { ok: true } : { ok: false, error: `HTTP ${res.status}` };
      await res.body?.cancel().catch(() => undefined);
    } catch (e) {
      outcome = { ok: false, error: String(e) };
    }
    await finishWebhookJob(deps.workspace.db, job, outcome, deps.clock.now());
    if (!outcome.ok) deps.logger.warn('automation: webhook failed', { job: job.id, attempts: job.attempts, error: outcome.error });
  }
}

export function register(bus: OpsBus, deps: OpsDeps): void {
  bus.listen('automation', runAutomation);
  // The webhook worker: a short poll, stopped with the bus (jobs are durable; another process may take them).
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<unknown> | null = null;
  let stopped = false;
  const tick = () => {
    if (stopped) return;
    running ??= runWebhookJobs(deps)
      .catch((e: unknown) => deps.logger.error('automation: webhook worker failed', { error: String(e) }))
      .finally(() => {
        running = null;
      });
    timer = setTimeout(tick, 500);
    timer.unref();
  };
  const start = bus.start.bind(bus);
  const stop = bus.stop.bind(bus);
  bus.start = () => {
    stopped = false;
    start();
    tick();
  };
  bus.stop = async () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    await running;
    await stop();
  };
}

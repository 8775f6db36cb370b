import { decideAutoResolve, decideSnoozeWake, LIFECYCLE_TIMERS, lifecycleTimers, type Conversation, type EventContext, type OpsCause } from '@goutong/core';
import { conversationById, lifecycleSettingsOf } from '../domain/sla.js';
import type { OpsBus, OpsContext } from './bus.js';
import type { OpsDeps } from './index.js';

/** The rule id lifecycle facts are written under (their cause). */
export const LIFECYCLE_RULE_ID = 'lifecycle';
const CAUSE: OpsCause = { ruleId: LIFECYCLE_RULE_ID, depth: 1 };

/** Schedules or cancels a conversation's lifecycle timers as core's lifecycleTimers says. */
async function follow(ctx: OpsContext, conv: Conversation, since: number): Promise<void> {
  const t = lifecycleTimers(conv, await lifecycleSettingsOf(ctx.q, conv.tenantId), since);
  if (t.snooze === null) await ctx.cancelTimer(LIFECYCLE_TIMERS.snooze, conv.id);
  else await ctx.scheduleTimer({ name: LIFECYCLE_TIMERS.snooze, subjectId: conv.id, dueAt: t.snooze });
  if (t.pending === null) await ctx.cancelTimer(LIFECYCLE_TIMERS.pending, conv.id);
  else await ctx.scheduleTimer({ name: LIFECYCLE_TIMERS.pending, subjectId: conv.id, dueAt: t.pending, payload: { since } });
}

async function decisionContext(ctx: OpsContext): Promise<EventContext> {
  return { now: ctx.now, seq: await ctx.nextSeq(), ids: { next: () => ctx.ws.ids.next() } };
}

/**
 * Lifecycle timers on the ops bus: a status change (or a reply while pending) schedules the snooze
 * wake-up and the pending auto-resolve, or cancels them; each fires once (bus timers), and does
 * nothing when the conversation moved on meanwhile.
 */
export function register(bus: OpsBus, _deps: OpsDeps): void {
  bus.listen('lifecycle', async (env, ctx) => {
    const e = env.event;
    if (e.type !== 'status_changed' && e.type !== 'agent_replied' && e.type !== 'message_received') return;
    const conv = await conversationById(ctx.q, e.conversationId);
    if (conv && conv.tenantId === ctx.tenantId) await follow(ctx, conv, env.at);
  });
  bus.onTimer(LIFECYCLE_TIMERS.snooze, async (timer, ctx) => {
    const d = await decisionContext(ctx); // the tenant seq first: it serialises writers, the row read next is current
    const conv = await conversationById(ctx.q, timer.subjectId);
    if (!conv) return;
    const facts = decideSnoozeWake(conv, d);
    if (facts) await ctx.write(facts, { actorId: null, cause: CAUSE });
    else if (conv.status === 'snoozed' && conv.snoozedUntil !== null && conv.snoozedUntil > ctx.now) {
      // Snoozed again for later: the timer moves with it.
      await ctx.scheduleTimer({ name: LIFECYCLE_TIMERS.snooze, subjectId: conv.id, dueAt: conv.snoozedUntil });
    }
  });
  bus.onTimer(LIFECYCLE_TIMERS.pending, async (timer, ctx) => {
    const d = await decisionContext(ctx);
    const conv = await conversationById(ctx.q, timer.subjectId);
    if (!conv) return;
    const since = typeof timer.payload['since'] === 'number' ? timer.payload['since'] : 0;
    const settings = await lifecycleSettingsOf(ctx.q, conv.tenantId);
    const facts = decideAutoResolve(conv, settings, since, d);
    if (facts) await ctx.write(facts, { actorId: null, cause: CAUSE });
    else {
      const due = lifecycleTimers(conv, settings, since).pending;
      if (due !== null && due > ctx.now) await ctx.scheduleTimer({ name: LIFECYCLE_TIMERS.pending, subjectId: conv.id, dueAt: due, payload: { since } });
    }
  });
}

import { decideSlaTimer, nextSla, nextSlaCheck, SLA_RULE_ID, slaTriggerOf, type Conversation, type OpsCause, type SlaTrigger } from '@goutong/core';
import { conversationById, emitSlaEvents, loadSlaState } from '../domain/sla.js';
import type { OpsBus, OpsContext } from './bus.js';
import type { OpsDeps } from './index.js';

/** The SLA timer: one per conversation, due at its next warning or breach (rules/sla.ts#nextSlaCheck). */
export const SLA_TIMER = 'sla.check';

/** The clocks of a conversation after a trigger, written as a fact when they change; the timer follows them. */
async function applyTrigger(ctx: OpsContext, conversationId: string, trigger: SlaTrigger): Promise<void> {
  const decide = async (conv: Conversation) => {
    // Running clocks stay under their policy; a move to another team (scope) re-picks it.
    const st = await loadSlaState(ctx.q, conv, { repick: trigger.type === 'scope' });
    return nextSla(conv, trigger, st.policy, st.calendar, ctx.now);
  };
  const first = await conversationById(ctx.q, conversationId);
  if (!first || first.tenantId !== ctx.tenantId) return;
  if ((await decide(first)) === (first.sla ?? null)) return;
  // Something changes: take the tenant's seq (it serialises writers), then decide again on the row as it is now.
  const seq = await ctx.nextSeq();
  const conv = (await conversationById(ctx.q, conversationId))!;
  const sla = await decide(conv);
  if (sla === (conv.sla ?? null)) return;
  await ctx.write([{ kind: 'conversation_sla', conversationId, sla, seq }], { actorId: null, cause: { ruleId: SLA_RULE_ID, depth: 1 } });
  await followTimer(ctx, conversationId, nextSlaCheck(sla));
}

async function followTimer(ctx: OpsContext, conversationId: string, dueAt: number | null): Promise<void> {
  if (dueAt === null) await ctx.cancelTimer(SLA_TIMER, conversationId);
  else await ctx.scheduleTimer({ name: SLA_TIMER, subjectId: conversationId, dueAt });
}

/** SLA clocks on the ops bus: every conversation event moves them; the timer fires warnings and breaches once each. */
export function register(bus: OpsBus, _deps: OpsDeps): void {
  bus.listen('sla', async (env, ctx) => {
    const trigger = slaTriggerOf(env);
    if (trigger) await applyTrigger(ctx, env.event.conversationId, trigger);
  });
  bus.onTimer(SLA_TIMER, async (timer, ctx) => {
    const seq = await ctx.nextSeq();
    const conv = await conversationById(ctx.q, timer.subjectId);
    if (!conv || !conv.sla) return;
    const st = await loadSlaState(ctx.q, conv);
    const d = decideSlaTimer(conv, st.policy, { supervisor: st.supervisor }, { now: ctx.now, seq, ids: { next: () => ctx.ws.ids.next() } });
    const cause: OpsCause = { ruleId: SLA_RULE_ID, depth: 1 };
    if (d.facts.length) {
      await ctx.write(d.facts, { actorId: null, cause });
      await emitSlaEvents(ctx.q, ctx.tenantId, d.events, { at: ctx.now, cause, newId: () => ctx.ws.ids.next() });
    }
    const next = st.policy ? nextSlaCheck(d.conversation.sla) : null;
    // Never re-arm for a time already past (nothing left to fire there).
    await followTimer(ctx, conv.id, next !== null && next > ctx.now ? next : null);
  });
}

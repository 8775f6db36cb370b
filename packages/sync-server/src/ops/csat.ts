import { CSAT_LINK_TTL_MS, CSAT_REPLY_WINDOW_MS, decideCsatSurvey, type OpsEnvelope } from '@goutong/core';
import { conversationContext, inboxPublicBaseUrl, lastInboundText } from '../domain/automation.js';
import { insertSurvey, newSurveyToken, surveyOfConversation } from '../domain/csat.js';
import { templateRow } from '../domain/templates.js';
import type { OpsBus, OpsContext } from './bus.js';
import type { OpsDeps } from './index.js';

export { CSAT_LINK_TTL_MS };

/**
 * The "csat" listener: when a conversation is resolved, its inbox's survey goes to the customer on
 * the same channel (core decideCsatSurvey: a 1-5 reply on SMS, a link to the public page elsewhere),
 * once per conversation (the survey row's unique conversation id), counted for the assignee at
 * resolution. Written through the system reply path in this delivery's transaction.
 */
export async function runCsat(env: OpsEnvelope, ctx: OpsContext): Promise<void> {
  if (env.event.type !== 'status_changed' || env.event.to !== 'resolved') return;
  const cc = await conversationContext(ctx.q, env.tenantId, env.event.conversationId);
  const settings = cc?.inbox.ops?.csat;
  if (!cc || !settings?.enabled) return;
  const already = (await surveyOfConversation(ctx.q, cc.conversation.id)) !== null;
  const token = newSurveyToken();
  // The survey link's server: the inbox's CSAT baseUrl, else the public URL its provider config names.
  const base = settings.baseUrl ?? (await inboxPublicBaseUrl(ctx.q, cc.inbox.id)) ?? '';
  const link = `${base.replace(/\/+$/, '')}/csat/${token}`;
  const state = {
    inbox: cc.inbox, settings, conversation: cc.conversation, contact: cc.contact, alreadySent: already,
    template: settings.templateId ? await templateRow(ctx.q, env.tenantId, settings.templateId) : null, link,
    lastInboundText: await lastInboundText(ctx.q, cc.conversation.id),
  };
  if (!decideCsatSurvey(state, { now: ctx.now, seq: 0, ids: { next: () => 'probe' } })) return;
  const d = decideCsatSurvey(state, { now: ctx.now, seq: await ctx.nextSeq(), ids: { next: () => ctx.ws.ids.next() } })!;
  const inserted = await insertSurvey(ctx.q, {
    token, tenantId: env.tenantId, conversationId: cc.conversation.id, inboxId: cc.inbox.id, contactId: cc.conversation.contactId, agentId: cc.conversation.assigneeId,
    channel: cc.conversation.channel, mode: d.mode, messageId: d.messageId, sentAt: ctx.now, expiresAt: ctx.now + (d.mode === 'reply' ? CSAT_REPLY_WINDOW_MS : CSAT_LINK_TTL_MS),
  });
  if (!inserted) return;
  await ctx.write(d.facts, { actorId: null, cause: null });
  ctx.relay(d.messageId);
}

export function register(bus: OpsBus, _deps: OpsDeps): void {
  bus.listen('csat', runCsat);
}

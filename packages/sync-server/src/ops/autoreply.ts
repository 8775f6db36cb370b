import { decideAutoReply, InboxOps, type OpsEnvelope } from '@goutong/core';
import { calendarOfInbox, conversationContext, isFirstInbound, lastAutoReplyAt, legacyAutoReply, messageById } from '../domain/automation.js';
import { templatesOf } from '../domain/templates.js';
import type { OpsBus, OpsContext } from './bus.js';
import type { OpsDeps } from './index.js';

/**
 * The "autoreply" listener (every channel; it replaces the email-only autoreply extension): an
 * inbound message gets the inbox's out-of-hours reply or first-contact acknowledgement as core
 * decideAutoReply says, written through the system reply path (message + relay job) in this
 * delivery's transaction. An inbox still configured the old way (provider config `autoReply.text`)
 * gets that text as its acknowledgement.
 */
export async function runAutoReply(env: OpsEnvelope, ctx: OpsContext): Promise<void> {
  if (env.event.type !== 'message_received') return;
  const message = await messageById(ctx.q, env.event.messageId);
  if (!message) return;
  const cc = await conversationContext(ctx.q, env.tenantId, env.event.conversationId);
  if (!cc) return;
  let ops = cc.inbox.ops ?? InboxOps.parse({});
  if (!ops.autoReply.acknowledge) {
    const legacy = await legacyAutoReply(ctx.q, cc.inbox.id);
    if (legacy) {
      ops = {
        ...ops,
        autoReply: {
          ...ops.autoReply,
          acknowledge: { text: { en: legacy.text, 'zh-CN': legacy.text }, ...(legacy.subject ? { subject: { en: legacy.subject, 'zh-CN': legacy.subject } } : {}) },
        },
      };
    }
  }
  if (!ops.autoReply.acknowledge && !ops.autoReply.outOfHours) return;
  const state = {
    inbox: cc.inbox, ops, calendar: await calendarOfInbox(ctx.q, cc.inbox), conversation: cc.conversation, contact: cc.contact, message,
    firstContact: await isFirstInbound(ctx.q, cc.conversation.id, message.id), lastAutoReplyAt: await lastAutoReplyAt(ctx.q, cc.conversation.id),
    templates: await templatesOf(ctx.q, env.tenantId),
  };
  // Decided once without a seq: most messages get no auto-reply, and those take no tenant seq.
  if (!decideAutoReply(state, { now: ctx.now, seq: 0, ids: { next: () => 'probe' } }).send) return;
  const d = decideAutoReply(state, { now: ctx.now, seq: await ctx.nextSeq(), ids: { next: () => ctx.ws.ids.next() } });
  if (!d.send) return;
  await ctx.write(d.facts, { actorId: null, cause: null });
  ctx.relay(d.message.id);
}

export function register(bus: OpsBus, _deps: OpsDeps): void {
  bus.listen('autoreply', runAutoReply);
}

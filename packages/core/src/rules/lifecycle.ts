import { z } from 'zod';
import type { Conversation, ConversationStatus, Message } from '../domain/model.js';
import type { EventContext } from './eventRules.js';
import type { Fact } from './facts.js';

/**
 * Lifecycle timers of a conversation: a snoozed conversation wakes at `snoozedUntil`; a pending
 * conversation resolves itself after a silence; a resolved one reopens when the customer writes
 * within the reopen window (decideInbound reads `reopenWindowMs`). `closed` is final.
 */

const DAY = 86_400;

/** Tenant settings (GET/PATCH /api/v1/lifecycle-settings). */
export const LifecycleSettings = z.object({
  /** A pending conversation nobody writes in resolves after this many seconds (null: never). */
  autoResolvePendingAfterSeconds: z.number().int().min(60).max(366 * DAY).nullable().default(7 * DAY),
  /** A customer writing within this many seconds after resolution reopens the conversation; later starts a new one (null: always a new one). */
  reopenWindowSeconds: z.number().int().min(0).max(366 * DAY).nullable().default(7 * DAY),
}).strict();
export type LifecycleSettings = z.infer<typeof LifecycleSettings>;
export const DEFAULT_LIFECYCLE_SETTINGS: LifecycleSettings = { autoResolvePendingAfterSeconds: 7 * DAY, reopenWindowSeconds: 7 * DAY };

/** Timer names of the lifecycle (bus timers, one per conversation each). */
export const LIFECYCLE_TIMERS = { snooze: 'lifecycle.snooze', pending: 'lifecycle.pending' } as const;

/**
 * The lifecycle timers a conversation needs now: the snooze wake-up at `snoozedUntil`, and the
 * auto-resolve of a pending conversation after its silence (from its last message, or from
 * `since`, when it became pending, if later). Null: no such timer (cancel it).
 */
export function lifecycleTimers(conv: Pick<Conversation, 'status' | 'snoozedUntil' | 'lastMessageAt'>, settings: LifecycleSettings, since: number): { snooze: number | null; pending: number | null } {
  const silence = settings.autoResolvePendingAfterSeconds;
  return {
    snooze: conv.status === 'snoozed' && conv.snoozedUntil !== null ? conv.snoozedUntil : null,
    pending: conv.status === 'pending' && silence !== null ? Math.max(conv.lastMessageAt, since) + silence * 1000 : null,
  };
}

function systemEvent(conv: Conversation, ctx: EventContext, text: string, meta: Record<string, unknown>): Fact {
  const message: Message = {
    id: ctx.ids.next('event'), tenantId: conv.tenantId, conversationId: conv.id, direction: 'out', kind: 'event', authorType: 'system', authorId: null,
    text, subject: null, attachments: [], status: null, statusReason: null, deviceTime: null, serverTime: ctx.now, createdAt: ctx.now, meta, seq: ctx.seq,
  };
  return { kind: 'message', message, inboxId: conv.inboxId, externalId: null };
}

function withStatus(conv: Conversation, status: ConversationStatus, ctx: EventContext): Conversation {
  return {
    ...conv, status, snoozedUntil: null, waitingSince: status === 'resolved' ? null : conv.waitingSince, updatedAt: ctx.now, seq: ctx.seq,
  };
}

/** The snooze timer: a conversation still snoozed until now or earlier wakes up (status open, a "woke up" event). Null: nothing to do. */
export function decideSnoozeWake(conv: Conversation, ctx: EventContext): Fact[] | null {
  if (conv.status !== 'snoozed' || conv.snoozedUntil === null || conv.snoozedUntil > ctx.now) return null;
  return [
    { kind: 'conversation', conversation: withStatus(conv, 'open', ctx), isNew: false },
    systemEvent(conv, ctx, 'Snooze ended: the conversation woke up / 稍后提醒到期：会话已重新打开', { action: 'status', status: 'open', reason: 'snooze_ended', snoozedUntil: conv.snoozedUntil }),
  ];
}

/**
 * The pending timer: a conversation pending and silent for the configured time resolves. Null when it
 * is not due (a message came in since, it is no longer pending, or auto-resolve is off).
 */
export function decideAutoResolve(conv: Conversation, settings: LifecycleSettings, since: number, ctx: EventContext): Fact[] | null {
  const due = lifecycleTimers(conv, settings, since).pending;
  if (due === null || due > ctx.now) return null;
  return [
    { kind: 'conversation', conversation: withStatus(conv, 'resolved', ctx), isNew: false },
    systemEvent(conv, ctx, 'Resolved automatically after a silence while pending / 等待中无回复，已自动解决', {
      action: 'status', status: 'resolved', reason: 'auto_resolved', silenceSeconds: settings.autoResolvePendingAfterSeconds,
    }),
  ];
}

/**
 * Whether a customer's message into this (latest) conversation of theirs joins it: open, pending and
 * snoozed ones always; a resolved one within the reopen window after it was resolved (its last
 * change, `updatedAt`); a closed one never.
 */
export function joinsConversation(conv: Pick<Conversation, 'status' | 'updatedAt'>, reopenWindowMs: number | null, now: number): boolean {
  switch (conv.status) {
    case 'open':
    case 'pending':
    case 'snoozed':
      return true;
    case 'resolved':
      return reopenWindowMs !== null && now - conv.updatedAt <= reopenWindowMs;
    case 'closed':
      return false;
    default: {
      const never: never = conv.status;
      throw new Error(`unknown status ${String(never)}`);
    }
  }
}

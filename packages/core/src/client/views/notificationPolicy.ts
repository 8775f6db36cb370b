import type { Conversation, Message } from '../../domain/model.js';

/** What the agent is told about. */
export const NOTICE_KINDS = ['new_conversation', 'customer_message', 'mention', 'assigned', 'sla'] as const;
export type NoticeKind = (typeof NOTICE_KINDS)[number];

export interface Notice {
  kind: NoticeKind;
  conversationId: string;
  /** Same key, same notice: shown once. */
  key: string;
  contactName: string;
  /** The message's text or the conversation's last message (one line, at most 140 characters). */
  text: string;
}

export interface NotifyAgent {
  id: string;
  name: string;
  email: string;
  teamIds: readonly string[];
}

export interface NotifyContext {
  me: NotifyAgent;
  /**
   * The log position the device had caught up to when this session first synced: facts at or
   * before it are history (a fresh sign-in, a reload) and never notify. Null until then.
   */
  baselineSeq: number | null;
  /** Conversations this agent acted on from this device lately (their assignment is not news). */
  ownActions: ReadonlySet<string>;
}

const ACTIVE = new Set(['open', 'pending']);

function line(s: string, max = 140): string {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

/** Whether a conversation is in the agent's queue: unassigned, active, and in one of their teams (or no team). */
export function inMyQueue(c: Conversation, me: Pick<NotifyAgent, 'teamIds'>): boolean {
  return c.assigneeId === null && ACTIVE.has(c.status) && (c.teamId === null || me.teamIds.includes(c.teamId));
}

/** Whether a conversation is the agent's: assigned to them and active. */
export function isMine(c: Conversation, me: Pick<NotifyAgent, 'id'>): boolean {
  return c.assigneeId === me.id && ACTIVE.has(c.status);
}

/** Whether an internal note mentions the agent: @Full Name, @first word of the name, or @email-local-part. */
export function mentions(text: string, agent: { name: string; email: string }): boolean {
  const names = new Set([agent.name, agent.name.split(/\s+/)[0] ?? '', agent.email.split('@')[0] ?? ''].filter((n) => n.length > 0).map((n) => n.toLowerCase()));
  const lower = text.toLowerCase();
  for (const n of names) {
    let i = lower.indexOf(`@${n}`);
    while (i >= 0) {
      const next = lower.charAt(i + 1 + n.length);
      if (!next || !/[\p{L}\p{N}_]/u.test(next) || /[\u4e00-\u9fff]/.test(n)) return true;
      i = lower.indexOf(`@${n}`, i + 1);
    }
  }
  return false;
}

/**
 * The notification policy for a conversation summary that changed (`before`: what the watcher
 * knew of it while it was the agent's or in their queue, null otherwise):
 *  - assigned: it became the agent's, not by their own action;
 *  - new_conversation: it entered the agent's queue;
 *  - customer_message: a new customer message in one of the agent's conversations.
 * Nothing before the session's first sync, nothing for history, nothing for the agent's own messages.
 */
export function conversationNotices(before: Conversation | null, after: Conversation, ctx: NotifyContext): Notice[] {
  if (ctx.baselineSeq === null || after.seq <= ctx.baselineSeq) return [];
  const base = { conversationId: after.id, contactName: after.contactName, text: line(after.lastMessagePreview) };
  const mineNow = isMine(after, ctx.me);
  const mineBefore = before !== null && isMine(before, ctx.me);
  if (mineNow && !mineBefore) {
    if (ctx.ownActions.has(after.id)) return [];
    return [{ ...base, kind: 'assigned', key: `assigned:${after.id}:${after.seq}` }];
  }
  if (mineNow && mineBefore && after.lastMessageDirection === 'in' && after.lastMessageAt > before.lastMessageAt) {
    return [{ ...base, kind: 'customer_message', key: `in:${after.id}:${after.lastMessageAt}` }];
  }
  if (inMyQueue(after, ctx.me) && !(before !== null && inMyQueue(before, ctx.me))) {
    return [{ ...base, kind: 'new_conversation', key: `queue:${after.id}:${after.seq}` }];
  }
  return [];
}

/** The policy for a message fact: a note mentioning the agent, or an SLA warning naming them (core decideSlaTimer's `notify`). */
export function messageNotice(m: Message, conversation: Pick<Conversation, 'id' | 'contactName'> | null, ctx: NotifyContext): Notice | null {
  if (ctx.baselineSeq === null || m.seq <= ctx.baselineSeq) return null;
  if (m.authorId === ctx.me.id) return null;
  const base = { conversationId: m.conversationId, contactName: conversation?.contactName ?? '', text: line(m.text) };
  if (m.kind === 'note' && mentions(m.text, ctx.me)) return { ...base, kind: 'mention', key: `mention:${m.id}` };
  const notify = (m.meta as { notify?: unknown }).notify;
  if (m.kind === 'event' && Array.isArray(notify) && notify.includes(ctx.me.id)) return { ...base, kind: 'sla', key: `sla:${m.id}` };
  return null;
}

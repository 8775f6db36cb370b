import type { Agent, Conversation, Inbox, Message, Role } from './model.js';

/**
 * Whether an agent may see (and act on) conversations of an inbox: managers see every inbox, agents
 * the inboxes of their teams, and everyone an inbox that belongs to no team (the admin form's promise).
 */
export function canAccessInbox(agent: Pick<Agent, 'role' | 'teamIds'>, inbox: Pick<Inbox, 'teamIds'>): boolean {
  if (agent.role === 'admin' || agent.role === 'supervisor') return true;
  if (inbox.teamIds.length === 0) return true;
  return inbox.teamIds.some((t) => agent.teamIds.includes(t));
}

export function isManager(role: Role): boolean {
  return role === 'admin' || role === 'supervisor';
}

/** Plain-text preview of a message for the conversation index. */
export function previewOf(message: Pick<Message, 'text' | 'kind' | 'subject'>): string {
  const base = message.text.trim() || message.subject || '';
  const oneLine = base.replace(/\s+/g, ' ');
  return oneLine.length > 200 ? `${oneLine.slice(0, 199)}…` : oneLine;
}

/** The conversation summary after a message was appended (pure, used by server and client alike). */
export function withMessage(
  conv: Conversation,
  message: Pick<Message, 'direction' | 'kind' | 'text' | 'subject' | 'createdAt'> & Partial<Pick<Message, 'authorType'>>,
): Conversation {
  if (message.kind === 'note' || message.kind === 'event') {
    return { ...conv, updatedAt: Math.max(conv.updatedAt, message.createdAt) };
  }
  // An automatic message (acknowledgement, out-of-hours reply, survey) answers nobody: the customer still waits.
  const waitingSince =
    message.direction === 'in' ? (conv.waitingSince ?? message.createdAt) : message.authorType === 'system' ? conv.waitingSince : null;
  return {
    ...conv,
    lastMessagePreview: previewOf(message),
    lastMessageDirection: message.direction,
    lastMessageAt: Math.max(conv.lastMessageAt, message.createdAt),
    waitingSince,
    messageCount: conv.messageCount + 1,
    updatedAt: Math.max(conv.updatedAt, message.createdAt),
  };
}

import { PRIORITY_RANK, type Conversation } from './model.js';
import type { ConversationQuery, ConversationSort } from '../ports/storage.js';
import { assertNever } from '../util/assert.js';
import { isTicketQuery, matchesTicket } from '../rules/tickets.js';
import { textMatches } from './searchMatch.js';
import { matchesSlaFilter } from '../rules/sla.js';

/** Whether a conversation satisfies every filter of a query (the sort and window are ignored). */
export function matchesQuery(c: Conversation, q: Omit<ConversationQuery, 'sort' | 'limit' | 'offset'>): boolean {
  if (q.status && !q.status.includes(c.status)) return false;
  if (q.assigneeId !== undefined && c.assigneeId !== q.assigneeId) return false;
  if (q.inboxIds && !q.inboxIds.includes(c.inboxId)) return false;
  if (q.teamId !== undefined && c.teamId !== q.teamId) return false;
  if (q.channels && !q.channels.includes(c.channel)) return false;
  if (q.priorities && !q.priorities.includes(c.priority)) return false;
  if (q.label !== undefined && !c.labels.includes(q.label)) return false;
  if (q.sla !== undefined && !matchesSlaFilter(c.sla, q.sla.state, q.sla.now)) return false;
  if (q.text !== undefined && q.text.trim() !== '') {
    const needle = q.text.trim().toLowerCase();
    // [search] one matching rule (domain/search.ts): full-width/half-width, case, phone digits
    const hit = textMatches(q.text, c.contactName, c.subject, c.lastMessagePreview, c.labels.join(' '));
    if (isTicketQuery(needle) ? !matchesTicket(c, needle) : !hit && !matchesTicket(c, needle)) return false;
  }
  return true;
}

/**
 * Total order of the index for a sort; ties broken by id so every adapter returns the same rows.
 *  - lastActivity: most recent message first;
 *  - waitingLongest: conversations waiting for an answer first, the longest wait first;
 *  - priority: urgent first, then most recent activity.
 */
export function compareConversations(sort: ConversationSort): (a: Conversation, b: Conversation) => number {
  const byId = (a: Conversation, b: Conversation) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
  switch (sort) {
    case 'lastActivity':
      return (a, b) => b.lastMessageAt - a.lastMessageAt || byId(a, b);
    case 'waitingLongest':
      return (a, b) => {
        const wa = a.waitingSince ?? Number.MAX_SAFE_INTEGER;
        const wb = b.waitingSince ?? Number.MAX_SAFE_INTEGER;
        return wa - wb || b.lastMessageAt - a.lastMessageAt || byId(a, b);
      };
    case 'priority':
      return (a, b) => PRIORITY_RANK[a.priority] - PRIORITY_RANK[b.priority] || b.lastMessageAt - a.lastMessageAt || byId(a, b);
    default:
      return assertNever(sort, 'sort');
  }
}

/** Reference implementation of a query over an array (the memory adapter and overlays use it). */
export function runQuery(rows: Iterable<Conversation>, q: ConversationQuery): Conversation[] {
  const out: Conversation[] = [];
  for (const c of rows) if (matchesQuery(c, q)) out.push(c);
  out.sort(compareConversations(q.sort));
  const offset = q.offset ?? 0;
  return out.slice(offset, offset + q.limit);
}

import type { Conversation, ConversationStatus, DeliveryStatus, MessageKind, Priority, SlaMetric } from '../domain/model.js';
import type { Fact } from './facts.js';

/**
 * What happened to a conversation, as the service-operations listeners (automation, routing,
 * auto-replies, SLA, CSAT) see it. The server's writer derives these from the facts it writes, in
 * the same transaction (`opsEventsOf`), so an event exists exactly when its fact does.
 */
export type OpsEvent =
  | { type: 'conversation_created'; conversationId: string; messageId: string | null }
  | { type: 'message_received'; conversationId: string; messageId: string }
  /**
   * An agent's outgoing message (reply or call; not a note, an event or an automatic reply), with
   * what it answered: since when the customer waited (null: nobody waited) and whether it is the
   * conversation's first agent reply (a first response) or a later one (a next response).
   */
  | {
      type: 'agent_replied';
      conversationId: string;
      messageId: string;
      kind: MessageKind;
      agentId: string | null;
      deviceTime: number | null;
      serverTime: number;
      waitingSince: number | null;
      firstReply: boolean;
    }
  | { type: 'status_changed'; conversationId: string; from: ConversationStatus; to: ConversationStatus }
  | { type: 'assigned'; conversationId: string; from: string | null; to: string | null; teamFrom: string | null; teamTo: string | null }
  | { type: 'priority_changed'; conversationId: string; from: Priority; to: Priority }
  /** Labels put on or taken off a conversation (each list sorted; at least one is not empty). */
  | { type: 'labels_changed'; conversationId: string; added: string[]; removed: string[] }
  /** A delivery status of an outgoing message changed; `cost` when the provider reported one. */
  | { type: 'message_status'; conversationId: string; messageId: string; status: DeliveryStatus | null; cost: { amount: number; currency: string } | null }
  /** An SLA target's warning, then its breach (rules/sla.ts; written by the SLA timer, once each per run of the clock). */
  | { type: 'sla_warning'; conversationId: string; metric: SlaMetric; dueAt: number }
  | { type: 'sla_breached'; conversationId: string; metric: SlaMetric; dueAt: number };

export type OpsEventType = OpsEvent['type'];

/** Why a fact was written when a rule wrote it: the rule, and how deep in a chain of rules (loop protection). */
export interface OpsCause {
  ruleId: string;
  depth: number;
  /** [automation] Every rule that already ran for the root event (a rule never runs twice for it). */
  chain?: string[];
}

/** An event as stored and delivered: one per fact-derived change. */
export interface OpsEnvelope {
  id: string;
  tenantId: string;
  /** Server time of the commit that made it. */
  at: number;
  /** The agent whose command caused it; null for customers, providers and the server itself. */
  actorId: string | null;
  cause: OpsCause | null;
  event: OpsEvent;
}

/**
 * The events of a batch of facts, given what the writer read before writing them.
 */
export interface OpsEventState {
  /** Each replaced conversation as it was before the facts (absent or null: new). */
  before: ReadonlyMap<string, Conversation | null>;
  /** The conversation of each message whose status the facts change. */
  messageConversation?: ReadonlyMap<string, string>;
  /** Conversations that had an agent reply before these facts. */
  repliedBefore?: ReadonlySet<string>;
}

export function opsEventsOf(facts: readonly Fact[], state: OpsEventState): OpsEvent[] {
  const before = state.before;
  const messageConversation = state.messageConversation ?? new Map<string, string>();
  const repliedBefore = state.repliedBefore ?? new Set<string>();
  const out: OpsEvent[] = [];
  const firstMessage = new Map<string, string>();
  for (const f of facts) {
    if (f.kind === 'message' && !firstMessage.has(f.message.conversationId)) firstMessage.set(f.message.conversationId, f.message.id);
  }
  for (const f of facts) {
    switch (f.kind) {
      case 'conversation': {
        const c = f.conversation;
        const prev = before.get(c.id) ?? null;
        if (f.isNew || !prev) {
          out.push({ type: 'conversation_created', conversationId: c.id, messageId: firstMessage.get(c.id) ?? null });
          break;
        }
        if (prev.status !== c.status) out.push({ type: 'status_changed', conversationId: c.id, from: prev.status, to: c.status });
        if (prev.assigneeId !== c.assigneeId || prev.teamId !== c.teamId) {
          out.push({ type: 'assigned', conversationId: c.id, from: prev.assigneeId, to: c.assigneeId, teamFrom: prev.teamId, teamTo: c.teamId });
        }
        if (prev.priority !== c.priority) out.push({ type: 'priority_changed', conversationId: c.id, from: prev.priority, to: c.priority });
        const added = c.labels.filter((l) => !prev.labels.includes(l)).sort();
        const removed = prev.labels.filter((l) => !c.labels.includes(l)).sort();
        if (added.length > 0 || removed.length > 0) out.push({ type: 'labels_changed', conversationId: c.id, added, removed });
        break;
      }
      case 'message': {
        const m = f.message;
        if (m.kind === 'note' || m.kind === 'event') break;
        if (m.direction === 'in') out.push({ type: 'message_received', conversationId: m.conversationId, messageId: m.id });
        else if (m.authorType === 'agent') {
          out.push({
            type: 'agent_replied', conversationId: m.conversationId, messageId: m.id, kind: m.kind, agentId: m.authorId, deviceTime: m.deviceTime,
            serverTime: m.serverTime, waitingSince: before.get(m.conversationId)?.waitingSince ?? null, firstReply: !repliedBefore.has(m.conversationId),
          });
        }
        break;
      }
      case 'message_status': {
        const conversationId = messageConversation.get(f.messageId);
        if (!conversationId) break;
        const c = f.meta['cost'];
        const cost =
          c && typeof c === 'object' && typeof (c as { amount?: unknown }).amount === 'number' && typeof (c as { currency?: unknown }).currency === 'string'
            ? { amount: (c as { amount: number }).amount, currency: (c as { currency: string }).currency }
            : null;
        out.push({ type: 'message_status', conversationId, messageId: f.messageId, status: f.status, cost });
        break;
      }
      default:
        break;
    }
  }
  // A new conversation's events come first: listeners see "created" before "received".
  return out.sort((a, b) => rank(a) - rank(b));
}

const rank = (e: OpsEvent): number => (e.type === 'conversation_created' ? 0 : 1);

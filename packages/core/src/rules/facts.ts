import type { Agent, Contact, Conversation, ConversationSla, DeliveryStatus, Message } from '../domain/model.js';

/**
 * What a decision asks its caller to write, in one transaction, exactly as returned. The server's
 * domain layer is the only writer of these facts; the reference server stores them in its maps.
 */
export type Fact =
  /** A new message (inbound, reply, note, call or timeline event). `externalId` is the provider's id of an inbound message. */
  | { kind: 'message'; message: Message; inboxId: string; externalId: string | null }
  /** A conversation summary, inserted (`isNew`) or replaced. */
  | { kind: 'conversation'; conversation: Conversation; isNew: boolean }
  /** A contact, inserted with its identities (`isNew`) or replaced. */
  | { kind: 'contact'; contact: Contact; isNew: boolean }
  /** The contact's name is denormalised into every conversation of the contact: refresh it (stamped with `seq`). */
  | { kind: 'contact_name'; contactId: string; name: string; seq: number }
  /** The transactional outbox row of an outgoing message. */
  | { kind: 'relay_job'; messageId: string; inboxId: string }
  /** An uploaded attachment now belongs to a message. */
  | { kind: 'attachment_bind'; attachmentId: string; messageId: string }
  /** A delivery status change of an outgoing message; the writer stamps the row with a new seq. */
  | {
      kind: 'message_status';
      messageId: string;
      status: DeliveryStatus | null;
      reason: string | null;
      providerMessageId: string | null;
      meta: Record<string, unknown>;
    }
  /** A message's transcript changed (meta.transcript); the writer stamps the row with a new seq. */
  | { kind: 'message_transcript'; messageId: string; meta: Record<string, unknown> }
  /** A conversation's SLA clocks (only that field; the row is stamped with `seq` so devices pull it). */
  | { kind: 'conversation_sla'; conversationId: string; sla: ConversationSla | null; seq: number }
  /** [automation] Every message of a conversation moves to another (a merge); the moved rows get the fact's seq. */
  | { kind: 'message_move'; fromConversationId: string; toConversationId: string; toInboxId: string }
  /** [accounts] Erasure: a message's personal content replaced (text, subject, attachments, meta); the writer stamps it with `seq`. */
  | { kind: 'message_redact'; messageId: string; text: string; subject: string | null; attachments: []; meta: Record<string, unknown>; seq: number }
  /** [accounts] Erasure: the contact's identity index rows go (the contact row itself is replaced by a `contact` fact). */
  | { kind: 'contact_identities_drop'; contactId: string }
  /** [accounts] Erasure or retention: an attachment row goes (its bytes are removed once no row names their hash). */
  | { kind: 'attachment_drop'; attachmentId: string }
  /** An audit row, written with what it records. */
  | { kind: 'audit'; agentId: string | null; action: string; target: string | null; details: Record<string, unknown> }
  /** [routing] An agent's routing fields (availability, chosen availability, capacity, skills, languages) replaced; the row carries the fact's seq. */
  | { kind: 'agent_routing'; agent: Agent; onCall?: boolean }
  /** [routing] Round robin's durable pointer of a routing scope moved to `agentId`, who was routed a conversation `at` (their idle time starts again). */
  | { kind: 'routing_pointer'; tenantId: string; scope: string; agentId: string; at: number }
  /** [search-read] An agent's read mark of a conversation moved forward to `readUpTo`; stamped with `seq`, pulled by that agent's devices only. */
  | { kind: 'read_mark'; agentId: string; conversationId: string; readUpTo: number; seq: number };

export type FactKind = Fact['kind'];

/** The error codes a decision answers with (the server maps them to 400/403/404/409). */
export type RejectionCode = 'bad_request' | 'forbidden' | 'not_found' | 'conflict';

export interface Rejection {
  code: RejectionCode;
  message: string;
}

/** Either the facts to write, or why not. */
export type Decision = { ok: true; facts: Fact[] } | { ok: false; rejection: Rejection };

export const accept = (facts: Fact[]): Decision => ({ ok: true, facts });
export const reject = (code: RejectionCode, message: string): Decision => ({ ok: false, rejection: { code, message } });

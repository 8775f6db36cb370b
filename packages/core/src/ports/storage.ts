import type { Agent, Contact, Conversation, ConversationStatus, Channel, Inbox, Message, Priority, Team } from '../domain/model.js';
import type { Command } from '../commands/commands.js';
import type { SlaFilter } from '../rules/sla.js';

export const CONVERSATION_SORTS = ['lastActivity', 'waitingLongest', 'priority'] as const;
export type ConversationSort = (typeof CONVERSATION_SORTS)[number];

/** A query over the local conversation index. Every field narrows; absent fields do not filter. */
export interface ConversationQuery {
  status?: readonly ConversationStatus[];
  /** An agent id, or null for unassigned conversations. */
  assigneeId?: string | null;
  inboxIds?: readonly string[];
  teamId?: string | null;
  channels?: readonly Channel[];
  priorities?: readonly Priority[];
  label?: string;
  /** Case-insensitive substring over contact name, subject, preview and labels. */
  text?: string;
  /** The SLA state at `now` (device clock): core's matchesSlaFilter. */
  sla?: { state: SlaFilter; now: number };
  sort: ConversationSort;
  limit: number;
  offset?: number;
}

/** Facts received in one pull, stored atomically together with the new checkpoint. */
export interface FactBatch {
  conversations: readonly Conversation[];
  messages: readonly Message[];
  contacts: readonly Contact[];
  inboxes: readonly Inbox[];
  agents: readonly Agent[];
  teams: readonly Team[];
}

export const OUTBOX_STATES = ['pending', 'inflight', 'failed', 'acked'] as const;
export type OutboxState = (typeof OUTBOX_STATES)[number];

/** A command persisted on the device until the server acknowledged it after its durable commit. */
export interface OutboxEntry {
  id: string;
  lane: string;
  command: Command;
  state: OutboxState;
  attempts: number;
  /** Device time when the next attempt may start. */
  nextAttemptAt: number;
  /** Insertion order on this device (FIFO within a lane). */
  order: number;
  error: { code: string; message: string } | null;
  /** Server sequence of the acknowledged commit; the entry is dropped once pulled facts reach it. */
  ackSeq: number | null;
  createdAt: number;
}

export interface MessagePageQuery {
  conversationId: string;
  /** Exclusive upper bound: messages strictly older than this (createdAt, id) pair. */
  before?: { createdAt: number; id: string };
  limit: number;
}

/**
 * The device's local database. Implemented by the memory adapter (tests), RxDB on Dexie
 * (browsers, Electron) and plus.sqlite (uni-app native). Every adapter passes the same
 * conformance suite in `@goutong/core/testing`.
 *
 * Facts are upserted only when the incoming `seq` is greater than or equal to the stored one,
 * so a late or repeated batch never rolls a row back.
 */
export interface LocalStore {
  /** Stores a pulled batch and the new checkpoint in one transaction. */
  applyFacts(batch: FactBatch, checkpoint: number, scope: string): Promise<void>;
  /** Stores messages loaded page by page (no checkpoint change). */
  putMessages(messages: readonly Message[]): Promise<void>;
  /** Drops every fact and the checkpoint (scope change); the outbox and Yjs updates stay. */
  clearFacts(): Promise<void>;
  getCheckpoint(): Promise<{ checkpoint: number; scope: string | null }>;

  getConversation(id: string): Promise<Conversation | null>;
  queryConversations(query: ConversationQuery): Promise<Conversation[]>;
  countConversations(query: Omit<ConversationQuery, 'sort' | 'limit' | 'offset'>): Promise<number>;
  /** Newest first. */
  getMessages(query: MessagePageQuery): Promise<Message[]>;
  getMessage(id: string): Promise<Message | null>;
  /** Deletes the cached messages of these conversations (the index rows stay). */
  evictMessages(conversationIds: readonly string[]): Promise<void>;
  /** Conversation ids that have cached messages. */
  conversationsWithMessages(): Promise<string[]>;
  getContact(id: string): Promise<Contact | null>;
  listInboxes(): Promise<Inbox[]>;
  listAgents(): Promise<Agent[]>;
  listTeams(): Promise<Team[]>;

  /** Small key/value settings (session, recently opened conversations, …). */
  getMeta<T = unknown>(key: string): Promise<T | null>;
  setMeta(key: string, value: unknown): Promise<void>;

  outboxPut(entry: OutboxEntry): Promise<void>;
  outboxList(): Promise<OutboxEntry[]>;
  outboxDelete(id: string): Promise<void>;

  /** Appends one Yjs update of a document (binary). */
  yjsAppend(doc: string, update: Uint8Array): Promise<void>;
  yjsLoad(doc: string): Promise<Uint8Array[]>;
  /** Replaces all stored updates of a document with one merged update (compaction). */
  yjsReplace(doc: string, update: Uint8Array): Promise<void>;

  close(): Promise<void>;

  /**
   * [accounts] Deletes the local messages the predicate picks (retention the server announced);
   * `channel` is the channel of the message's conversation when the device has it. Returns how many.
   */
  purgeMessages?(shouldPurge: (message: Message, channel: Channel | null) => boolean): Promise<number>;
  /** [accounts] Erases everything this store holds on the device (and its key, for an encrypted store). */
  wipe?(): Promise<void>;

  /**
   * [search] Stored messages a search predicate picks (the working set), newest first, at most `limit`.
   * Optional: without it, core's searchLocal reads the cached messages conversation by conversation.
   */
  findMessages?(pick: (message: Message) => boolean, limit: number): Promise<Message[]>;
  /** [search] Stored contacts a predicate picks, at most `limit`. Optional: without it, the contacts of the index are read one by one. */
  findContacts?(pick: (contact: Contact) => boolean, limit: number): Promise<Contact[]>;
}

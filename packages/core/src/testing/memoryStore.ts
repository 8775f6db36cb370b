import type { Agent, Channel, Contact, Conversation, Inbox, Message, Team } from '../domain/model.js';
import { matchesQuery, runQuery } from '../domain/query.js';
import type { ConversationQuery, FactBatch, LocalStore, MessagePageQuery, OutboxEntry } from '../ports/storage.js';

/**
 * Deep copy of the JSON-like values a store holds (plain objects, arrays, primitives) plus
 * Uint8Array (copied byte for byte). Platform-free: `structuredClone` is not in core's ES2022 lib.
 * Functions, class instances other than Uint8Array and cycles are not supported (a store never holds them).
 */
export function cloneValue<T>(value: T): T {
  return cloneAny(value) as T;
}

function cloneAny(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Uint8Array) return value.slice();
  if (Array.isArray(value)) return value.map(cloneAny);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = cloneAny(v);
  return out;
}

/** Whether a message is strictly older than the (createdAt, id) cursor in the newest-first order. */
export function isOlderThan(m: Pick<Message, 'createdAt' | 'id'>, before: { createdAt: number; id: string }): boolean {
  return m.createdAt < before.createdAt || (m.createdAt === before.createdAt && m.id < before.id);
}

/** Newest first; ties on createdAt broken by id (descending), the order of every adapter's getMessages. */
export function compareMessagesNewestFirst(a: Pick<Message, 'createdAt' | 'id'>, b: Pick<Message, 'createdAt' | 'id'>): number {
  return b.createdAt - a.createdAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
}

/**
 * The state behind a MemoryStore. Pass the same object to a new MemoryStore after `close()` to
 * simulate an app restart over a persistent database.
 */
export interface MemoryStoreData {
  conversations: Map<string, Conversation>;
  messages: Map<string, Message>;
  contacts: Map<string, Contact>;
  inboxes: Map<string, Inbox>;
  agents: Map<string, Agent>;
  teams: Map<string, Team>;
  meta: Map<string, unknown>;
  outbox: Map<string, OutboxEntry>;
  yjs: Map<string, Uint8Array[]>;
  checkpoint: { checkpoint: number; scope: string | null };
}

export function createMemoryStoreData(): MemoryStoreData {
  return {
    conversations: new Map(),
    messages: new Map(),
    contacts: new Map(),
    inboxes: new Map(),
    agents: new Map(),
    teams: new Map(),
    meta: new Map(),
    outbox: new Map(),
    yjs: new Map(),
    checkpoint: { checkpoint: 0, scope: null },
  };
}

export interface MemoryStoreOptions {
  /** Shared state, to reopen a closed store with its data (default: a fresh, empty state). */
  data?: MemoryStoreData;
}

type Seqd = { id: string; seq: number };

/** Upserts rows whose seq is >= the stored one into a staging map (later rows of one batch see earlier ones). */
function stageUpserts<T extends Seqd>(target: Map<string, T>, rows: readonly T[], staged: Map<string, T>): void {
  for (const row of rows) {
    const current = staged.get(row.id) ?? target.get(row.id);
    if (current === undefined || row.seq >= current.seq) staged.set(row.id, cloneValue(row));
  }
}

function byId<T extends { id: string }>(a: T, b: T): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * The in-memory LocalStore: plain Maps, values cloned on the way in and out, so callers can never
 * mutate stored rows by accident (the same behaviour as a real database).
 */
export class MemoryStore implements LocalStore {
  readonly data: MemoryStoreData;
  private closed = false;

  constructor(options: MemoryStoreOptions = {}) {
    this.data = options.data ?? createMemoryStoreData();
  }

  private check(): MemoryStoreData {
    if (this.closed) throw new Error('MemoryStore is closed');
    return this.data;
  }

  async applyFacts(batch: FactBatch, checkpoint: number, scope: string): Promise<void> {
    const d = this.check();
    // Stage everything first (cloning can throw on odd values), then commit: all or nothing.
    const conversations = new Map<string, Conversation>();
    const messages = new Map<string, Message>();
    const contacts = new Map<string, Contact>();
    const inboxes = new Map<string, Inbox>();
    const agents = new Map<string, Agent>();
    const teams = new Map<string, Team>();
    stageUpserts(d.conversations, batch.conversations, conversations);
    stageUpserts(d.messages, batch.messages, messages);
    stageUpserts(d.contacts, batch.contacts, contacts);
    stageUpserts(d.inboxes, batch.inboxes, inboxes);
    stageUpserts(d.agents, batch.agents, agents);
    stageUpserts(d.teams, batch.teams, teams);
    for (const [k, v] of conversations) d.conversations.set(k, v);
    for (const [k, v] of messages) d.messages.set(k, v);
    for (const [k, v] of contacts) d.contacts.set(k, v);
    for (const [k, v] of inboxes) d.inboxes.set(k, v);
    for (const [k, v] of agents) d.agents.set(k, v);
    for (const [k, v] of teams) d.teams.set(k, v);
    d.checkpoint = { checkpoint, scope };
  }

  async putMessages(messages: readonly Message[]): Promise<void> {
    const d = this.check();
    const staged = new Map<string, Message>();
    stageUpserts(d.messages, messages, staged);
    for (const [k, v] of staged) d.messages.set(k, v);
  }

  async clearFacts(): Promise<void> {
    const d = this.check();
    d.conversations.clear();
    d.messages.clear();
    d.contacts.clear();
    d.inboxes.clear();
    d.agents.clear();
    d.teams.clear();
    d.checkpoint = { checkpoint: 0, scope: null };
  }

  async getCheckpoint(): Promise<{ checkpoint: number; scope: string | null }> {
    return { ...this.check().checkpoint };
  }

  async getConversation(id: string): Promise<Conversation | null> {
    const c = this.check().conversations.get(id);
    return c === undefined ? null : cloneValue(c);
  }

  async queryConversations(query: ConversationQuery): Promise<Conversation[]> {
    return runQuery(this.check().conversations.values(), query).map(cloneValue);
  }

  async countConversations(query: Omit<ConversationQuery, 'sort' | 'limit' | 'offset'>): Promise<number> {
    let n = 0;
    for (const c of this.check().conversations.values()) if (matchesQuery(c, query)) n++;
    return n;
  }

  async getMessages(query: MessagePageQuery): Promise<Message[]> {
    const out: Message[] = [];
    const { before } = query;
    for (const m of this.check().messages.values()) {
      if (m.conversationId !== query.conversationId) continue;
      if (before !== undefined && !isOlderThan(m, before)) continue;
      out.push(m);
    }
    out.sort(compareMessagesNewestFirst);
    return out.slice(0, Math.max(0, query.limit)).map(cloneValue);
  }

  async getMessage(id: string): Promise<Message | null> {
    const m = this.check().messages.get(id);
    return m === undefined ? null : cloneValue(m);
  }

  async evictMessages(conversationIds: readonly string[]): Promise<void> {
    const d = this.check();
    const ids = new Set(conversationIds);
    for (const [id, m] of d.messages) if (ids.has(m.conversationId)) d.messages.delete(id);
  }

  /** [accounts] Retention on the device: deletes the messages the predicate picks. */
  async purgeMessages(shouldPurge: (message: Message, channel: Channel | null) => boolean): Promise<number> {
    const d = this.check();
    let n = 0;
    for (const [id, m] of d.messages) {
      if (shouldPurge(m, d.conversations.get(m.conversationId)?.channel ?? null)) {
        d.messages.delete(id);
        n++;
      }
    }
    return n;
  }

  /** [accounts] Remote wipe: everything goes (facts, outbox, drafts, metadata). */
  async wipe(): Promise<void> {
    const d = this.check();
    for (const m of [d.conversations, d.messages, d.contacts, d.inboxes, d.agents, d.teams, d.meta, d.outbox, d.yjs] as Map<string, unknown>[]) m.clear();
    d.checkpoint = { checkpoint: 0, scope: null };
  }

  /** [search] Stored messages a predicate picks, newest first. */
  async findMessages(pick: (message: Message) => boolean, limit: number): Promise<Message[]> {
    const out: Message[] = [];
    for (const m of this.check().messages.values()) if (pick(m)) out.push(m);
    return out.sort(compareMessagesNewestFirst).slice(0, Math.max(0, limit)).map(cloneValue);
  }

  /** [search] Stored contacts a predicate picks. */
  async findContacts(pick: (contact: Contact) => boolean, limit: number): Promise<Contact[]> {
    const out: Contact[] = [];
    for (const c of this.check().contacts.values()) if (out.length < limit && pick(c)) out.push(cloneValue(c));
    return out;
  }

  async conversationsWithMessages(): Promise<string[]> {
    const ids = new Set<string>();
    for (const m of this.check().messages.values()) ids.add(m.conversationId);
    return [...ids].sort();
  }

  async getContact(id: string): Promise<Contact | null> {
    const c = this.check().contacts.get(id);
    return c === undefined ? null : cloneValue(c);
  }

  async listInboxes(): Promise<Inbox[]> {
    return [...this.check().inboxes.values()].sort(byId).map(cloneValue);
  }

  async listAgents(): Promise<Agent[]> {
    return [...this.check().agents.values()].sort(byId).map(cloneValue);
  }

  async listTeams(): Promise<Team[]> {
    return [...this.check().teams.values()].sort(byId).map(cloneValue);
  }

  async getMeta<T = unknown>(key: string): Promise<T | null> {
    const d = this.check();
    if (!d.meta.has(key)) return null;
    return cloneValue(d.meta.get(key)) as T;
  }

  async setMeta(key: string, value: unknown): Promise<void> {
    this.check().meta.set(key, cloneValue(value));
  }

  async outboxPut(entry: OutboxEntry): Promise<void> {
    this.check().outbox.set(entry.id, cloneValue(entry));
  }

  async outboxList(): Promise<OutboxEntry[]> {
    return [...this.check().outbox.values()].sort((a, b) => a.order - b.order || byId(a, b)).map(cloneValue);
  }

  async outboxDelete(id: string): Promise<void> {
    this.check().outbox.delete(id);
  }

  async yjsAppend(doc: string, update: Uint8Array): Promise<void> {
    const d = this.check();
    const list = d.yjs.get(doc) ?? [];
    list.push(update.slice());
    d.yjs.set(doc, list);
  }

  async yjsLoad(doc: string): Promise<Uint8Array[]> {
    return (this.check().yjs.get(doc) ?? []).map((u) => u.slice());
  }

  async yjsReplace(doc: string, update: Uint8Array): Promise<void> {
    this.check().yjs.set(doc, [update.slice()]);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

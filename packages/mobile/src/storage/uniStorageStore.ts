// The core's LocalStore port on uni-app storage (uni.getStorageSync / setStorageSync), for where
// plus.sqlite is missing and for the WeChat mini program, whose storage allows 1 MB per key and
// 10 MB in all. One key per row; everything is read into memory when the store opens, queries run
// through core's `runQuery`, so results and order are the ones of every other adapter.
//
// uni storage has no transactions. A fact batch writes its rows first and the checkpoint last, so
// after a crash in between the rows are newer than the checkpoint, and the next pull re-applies
// the same rows (the seq rule makes that harmless): facts never fall behind their checkpoint.
//
// With `workingSet` the facts are kept under a byte budget: after each write the adapter drops
// what the user is least likely to need offline, in this order: messages of conversations outside
// the working set, then those conversations' index rows. The working set is the conversations
// opened recently on this device, the ones with commands in the outbox, and the ones assigned to
// the signed-in agent that are not resolved or closed. Outbox, Yjs drafts and meta are never dropped.

import { matchesQuery, runQuery } from '@goutong/core';
import type {
  Agent,
  Contact,
  Conversation,
  ConversationQuery,
  FactBatch,
  Inbox,
  LocalStore,
  Message,
  MessagePageQuery,
  OutboxEntry,
  Team,
} from '@goutong/core';
import { base64ToBytes, bytesToBase64 } from './codec';
import { UniKv, type UniStorageApi } from './uniKv';

export type { UniStorageApi } from './uniKv';

export interface WorkingSetOptions {
  /** Bytes that facts (conversation index, messages, contacts, directory) may take. */
  factBudgetBytes: number;
  /** The signed-in agent: their unresolved conversations stay. */
  agentId?: () => string | null;
  /** Meta key of the conversations opened on this device (id → time opened), kept by core's client. */
  recentKey?: string;
}

export interface UniStorageStoreOptions {
  uni: UniStorageApi;
  /** Key prefix (default "gt1:"). */
  prefix?: string;
  /** Largest value under one key (default 1 MB minus a margin, WeChat's limit). */
  maxValueBytes?: number;
  /** Keep only the working set of facts under a byte budget (WeChat mini program). */
  workingSet?: WorkingSetOptions;
}

/** WeChat: 1 MB per key, 10 MB in all. */
export const WEIXIN_MAX_VALUE_BYTES = 1024 * 1024;
export const WEIXIN_TOTAL_BYTES = 10 * 1024 * 1024;
/** Facts' share of WeChat's 10 MB: the rest is for the outbox, drafts, meta and uni's own keys. */
export const WEIXIN_FACT_BUDGET_BYTES = 6 * 1024 * 1024;

const K = {
  checkpoint: 'cp',
  conversation: 'c:',
  message: 'm:',
  contact: 'p:',
  directory: 'd:',
  meta: 'k:',
  outbox: 'o:',
  yjs: 'y:',
} as const;

type DirectoryKind = 'inbox' | 'agent' | 'team';
type Filters = Omit<ConversationQuery, 'sort' | 'limit' | 'offset'>;

const enc = encodeURIComponent;

function copy<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

function toJson(value: unknown): string {
  return JSON.stringify(value === undefined ? null : value, (_k, v: unknown) => (v instanceof Uint8Array ? { $u8: bytesToBase64(v) } : v)) ?? 'null';
}

function fromJson<T>(text: string): T {
  return JSON.parse(text, (_k, v: unknown) => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const o = v as Record<string, unknown>;
      const keys = Object.keys(o);
      if (keys.length === 1 && keys[0] === '$u8' && typeof o.$u8 === 'string') return base64ToBytes(o.$u8);
    }
    return v;
  }) as T;
}

function byId<T extends { id: string }>(a: T, b: T): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function isOlderThan(m: Message, before: { createdAt: number; id: string }): boolean {
  return m.createdAt < before.createdAt || (m.createdAt === before.createdAt && m.id < before.id);
}

function newestFirst(a: Message, b: Message): number {
  return b.createdAt - a.createdAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
}

/** What the settings screen shows about a working-set store. */
export interface WorkingSetInfo {
  budgetBytes: number;
  factBytes: number;
  /** Conversations whose index rows were dropped since the store opened. */
  droppedConversations: number;
  /** Conversations whose cached messages were dropped since the store opened. */
  droppedMessageSets: number;
}

export class UniStorageStore implements LocalStore {
  private readonly kv: UniKv;
  private closed = false;
  private checkpoint: { checkpoint: number; scope: string | null } = { checkpoint: 0, scope: null };
  private readonly conversations = new Map<string, Conversation>();
  private readonly messages = new Map<string, Message>();
  private readonly messagesByConversation = new Map<string, Set<string>>();
  private readonly contacts = new Map<string, Contact>();
  private readonly directory = { inbox: new Map<string, Inbox>(), agent: new Map<string, Agent>(), team: new Map<string, Team>() };
  private readonly meta = new Map<string, string>();
  private readonly outbox = new Map<string, OutboxEntry>();
  private readonly yjs = new Map<string, number>(); // doc → number of updates
  private dropped = { conversations: 0, messageSets: 0 };

  private constructor(private readonly o: UniStorageStoreOptions) {
    this.kv = new UniKv(o.uni, { prefix: o.prefix ?? 'gt1:', maxValueBytes: o.maxValueBytes ?? WEIXIN_MAX_VALUE_BYTES - 1024 });
  }

  /** Opens the store and reads every row into memory. */
  static async open(options: UniStorageStoreOptions): Promise<UniStorageStore> {
    const store = new UniStorageStore(options);
    store.load();
    return store;
  }

  private load(): void {
    for (const key of this.kv.scan()) {
      const text = this.kv.get(key);
      if (text === null) continue;
      if (key === K.checkpoint) this.checkpoint = fromJson(text);
      else if (key.startsWith(K.conversation)) this.cacheConversation(fromJson<Conversation>(text));
      else if (key.startsWith(K.message)) this.cacheMessage(fromJson<Message>(text));
      else if (key.startsWith(K.contact)) {
        const c = fromJson<Contact>(text);
        this.contacts.set(c.id, c);
      } else if (key.startsWith(K.directory)) {
        const kind = key.slice(K.directory.length).split(':', 1)[0] as DirectoryKind;
        const row = fromJson<Inbox & Agent & Team>(text);
        this.directory[kind]?.set(row.id, row);
      } else if (key.startsWith(K.meta)) this.meta.set(decodeURIComponent(key.slice(K.meta.length)), text);
      else if (key.startsWith(K.outbox)) {
        const e = fromJson<OutboxEntry>(text);
        this.outbox.set(e.id, e);
      } else if (key.startsWith(K.yjs)) {
        const [doc, n] = key.slice(K.yjs.length).split(':');
        if (doc !== undefined && n !== undefined) this.yjs.set(decodeURIComponent(doc), Math.max(this.yjs.get(decodeURIComponent(doc)) ?? 0, Number(n) + 1));
      }
    }
  }

  private check(): void {
    if (this.closed) throw new Error('UniStorageStore is closed');
  }

  private cacheConversation(c: Conversation): void {
    this.conversations.set(c.id, c);
  }

  private cacheMessage(m: Message): void {
    const old = this.messages.get(m.id);
    if (old && old.conversationId !== m.conversationId) this.messagesByConversation.get(old.conversationId)?.delete(m.id);
    this.messages.set(m.id, m);
    let set = this.messagesByConversation.get(m.conversationId);
    if (!set) this.messagesByConversation.set(m.conversationId, (set = new Set()));
    set.add(m.id);
  }

  private dropMessage(id: string): void {
    const m = this.messages.get(id);
    if (!m) return;
    this.kv.remove(K.message + enc(id));
    this.messages.delete(id);
    const set = this.messagesByConversation.get(m.conversationId);
    set?.delete(id);
    if (set && set.size === 0) this.messagesByConversation.delete(m.conversationId);
  }

  // ---- facts ---------------------------------------------------------------------------------

  /** Rows of a batch that win over the stored ones (seq >=); later rows see earlier ones. */
  private static winners<T extends { id: string; seq: number }>(stored: Map<string, T>, rows: readonly T[]): T[] {
    const staged = new Map<string, T>();
    for (const row of rows) {
      const current = staged.get(row.id) ?? stored.get(row.id);
      if (current === undefined || row.seq >= current.seq) staged.set(row.id, row);
    }
    return [...staged.values()].map(copy);
  }

  async applyFacts(batch: FactBatch, checkpoint: number, scope: string): Promise<void> {
    this.check();
    if (!Number.isFinite(checkpoint)) throw new Error(`checkpoint must be a finite number: ${checkpoint}`);
    // Stage (copies, seq rule) before writing anything.
    const conversations = UniStorageStore.winners(this.conversations, batch.conversations);
    const messages = UniStorageStore.winners(this.messages, batch.messages);
    const contacts = UniStorageStore.winners(this.contacts, batch.contacts);
    const inboxes = UniStorageStore.winners(this.directory.inbox, batch.inboxes);
    const agents = UniStorageStore.winners(this.directory.agent, batch.agents);
    const teams = UniStorageStore.winners(this.directory.team, batch.teams);
    for (const c of conversations) {
      this.kv.set(K.conversation + enc(c.id), toJson(c));
      this.cacheConversation(c);
    }
    this.writeMessages(messages);
    for (const c of contacts) {
      this.kv.set(K.contact + enc(c.id), toJson(c));
      this.contacts.set(c.id, c);
    }
    const dir = (kind: DirectoryKind, rows: (Inbox | Agent | Team)[]) => {
      for (const r of rows) {
        this.kv.set(`${K.directory}${kind}:${enc(r.id)}`, toJson(r));
        (this.directory[kind] as Map<string, Inbox | Agent | Team>).set(r.id, r);
      }
    };
    dir('inbox', inboxes);
    dir('agent', agents);
    dir('team', teams);
    this.checkpoint = { checkpoint, scope };
    this.kv.set(K.checkpoint, toJson(this.checkpoint));
    this.trim();
  }

  private writeMessages(messages: readonly Message[]): void {
    for (const m of messages) {
      this.kv.set(K.message + enc(m.id), toJson(m));
      this.cacheMessage(m);
    }
  }

  async putMessages(messages: readonly Message[]): Promise<void> {
    this.check();
    this.writeMessages(UniStorageStore.winners(this.messages, messages));
    this.trim();
  }

  async clearFacts(): Promise<void> {
    this.check();
    // Checkpoint first: if this is interrupted, the next start pulls everything again.
    this.kv.remove(K.checkpoint);
    this.checkpoint = { checkpoint: 0, scope: null };
    for (const id of this.conversations.keys()) this.kv.remove(K.conversation + enc(id));
    for (const id of this.messages.keys()) this.kv.remove(K.message + enc(id));
    for (const id of this.contacts.keys()) this.kv.remove(K.contact + enc(id));
    for (const kind of ['inbox', 'agent', 'team'] as const) for (const id of this.directory[kind].keys()) this.kv.remove(`${K.directory}${kind}:${enc(id)}`);
    this.conversations.clear();
    this.messages.clear();
    this.messagesByConversation.clear();
    this.contacts.clear();
    for (const kind of ['inbox', 'agent', 'team'] as const) this.directory[kind].clear();
  }

  async getCheckpoint(): Promise<{ checkpoint: number; scope: string | null }> {
    this.check();
    return { ...this.checkpoint };
  }

  // ---- reads ---------------------------------------------------------------------------------

  async getConversation(id: string): Promise<Conversation | null> {
    this.check();
    const c = this.conversations.get(id);
    return c ? copy(c) : null;
  }

  async queryConversations(query: ConversationQuery): Promise<Conversation[]> {
    this.check();
    return runQuery(this.conversations.values(), query).map(copy);
  }

  async countConversations(query: Filters): Promise<number> {
    this.check();
    let n = 0;
    for (const c of this.conversations.values()) if (matchesQuery(c, query)) n++;
    return n;
  }

  async getMessages(query: MessagePageQuery): Promise<Message[]> {
    this.check();
    const out: Message[] = [];
    for (const id of this.messagesByConversation.get(query.conversationId) ?? []) {
      const m = this.messages.get(id)!;
      if (query.before && !isOlderThan(m, query.before)) continue;
      out.push(m);
    }
    return out.sort(newestFirst).slice(0, Math.max(0, query.limit)).map(copy);
  }

  async getMessage(id: string): Promise<Message | null> {
    this.check();
    const m = this.messages.get(id);
    return m ? copy(m) : null;
  }

  async evictMessages(conversationIds: readonly string[]): Promise<void> {
    this.check();
    for (const cid of conversationIds) for (const id of [...(this.messagesByConversation.get(cid) ?? [])]) this.dropMessage(id);
  }

  async conversationsWithMessages(): Promise<string[]> {
    this.check();
    return [...this.messagesByConversation.keys()].sort();
  }

  async getContact(id: string): Promise<Contact | null> {
    this.check();
    const c = this.contacts.get(id);
    return c ? copy(c) : null;
  }

  async listInboxes(): Promise<Inbox[]> {
    this.check();
    return [...this.directory.inbox.values()].sort(byId).map(copy);
  }

  async listAgents(): Promise<Agent[]> {
    this.check();
    return [...this.directory.agent.values()].sort(byId).map(copy);
  }

  async listTeams(): Promise<Team[]> {
    this.check();
    return [...this.directory.team.values()].sort(byId).map(copy);
  }

  // ---- meta, outbox, Yjs ---------------------------------------------------------------------

  async getMeta<T = unknown>(key: string): Promise<T | null> {
    this.check();
    const text = this.meta.get(key);
    return text === undefined ? null : fromJson<T>(text);
  }

  async setMeta(key: string, value: unknown): Promise<void> {
    this.check();
    const text = toJson(value);
    this.kv.set(K.meta + enc(key), text);
    this.meta.set(key, text);
  }

  async outboxPut(entry: OutboxEntry): Promise<void> {
    this.check();
    const e = copy(entry);
    this.kv.set(K.outbox + enc(e.id), toJson(e));
    this.outbox.set(e.id, e);
  }

  async outboxList(): Promise<OutboxEntry[]> {
    this.check();
    return [...this.outbox.values()].sort((a, b) => a.order - b.order || byId(a, b)).map(copy);
  }

  async outboxDelete(id: string): Promise<void> {
    this.check();
    this.kv.remove(K.outbox + enc(id));
    this.outbox.delete(id);
  }

  private yjsKey(doc: string, n: number): string {
    return `${K.yjs}${enc(doc)}:${n}`;
  }

  async yjsAppend(doc: string, update: Uint8Array): Promise<void> {
    this.check();
    const n = this.yjs.get(doc) ?? 0;
    // "b" + base64: never an empty string, which uni storage cannot tell from a missing key.
    this.kv.set(this.yjsKey(doc, n), `b${bytesToBase64(update)}`);
    this.yjs.set(doc, n + 1);
  }

  async yjsLoad(doc: string): Promise<Uint8Array[]> {
    this.check();
    const out: Uint8Array[] = [];
    const count = this.yjs.get(doc) ?? 0;
    for (let n = 0; n < count; n++) {
      const text = this.kv.get(this.yjsKey(doc, n));
      if (text !== null) out.push(base64ToBytes(text.slice(1)));
    }
    return out;
  }

  async yjsReplace(doc: string, update: Uint8Array): Promise<void> {
    this.check();
    const count = this.yjs.get(doc) ?? 0;
    // Write the merged update under a new number first, then drop the old ones: an interruption
    // leaves old + merged (Yjs applies duplicates idempotently), never nothing.
    this.kv.set(this.yjsKey(doc, count), `b${bytesToBase64(update)}`);
    for (let n = 0; n < count; n++) this.kv.remove(this.yjsKey(doc, n));
    if (count > 0) {
      this.kv.set(this.yjsKey(doc, 0), `b${bytesToBase64(update)}`);
      this.kv.remove(this.yjsKey(doc, count));
    }
    this.yjs.set(doc, 1);
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  // ---- working set ---------------------------------------------------------------------------

  /** Bytes used by facts. */
  factBytes(): number {
    let n = this.kv.bytesOf(K.checkpoint);
    for (const id of this.conversations.keys()) n += this.kv.bytesOf(K.conversation + enc(id));
    for (const id of this.messages.keys()) n += this.kv.bytesOf(K.message + enc(id));
    for (const id of this.contacts.keys()) n += this.kv.bytesOf(K.contact + enc(id));
    for (const kind of ['inbox', 'agent', 'team'] as const) for (const id of this.directory[kind].keys()) n += this.kv.bytesOf(`${K.directory}${kind}:${enc(id)}`);
    return n;
  }

  workingSetInfo(): WorkingSetInfo | null {
    const ws = this.o.workingSet;
    if (!ws) return null;
    return { budgetBytes: ws.factBudgetBytes, factBytes: this.factBytes(), droppedConversations: this.dropped.conversations, droppedMessageSets: this.dropped.messageSets };
  }

  /** Conversations that stay whatever the budget (see the file comment). */
  private pinned(): Set<string> {
    const out = new Set<string>();
    const recentText = this.meta.get(this.o.workingSet?.recentKey ?? 'recentConversations');
    if (recentText) {
      const recent = fromJson<unknown>(recentText);
      if (Array.isArray(recent)) for (const id of recent) out.add(String(id));
      else if (recent && typeof recent === 'object') for (const id of Object.keys(recent)) out.add(id);
    }
    for (const e of this.outbox.values()) {
      const cid = (e.command as { conversationId?: unknown }).conversationId;
      if (typeof cid === 'string') out.add(cid);
    }
    const me = this.o.workingSet?.agentId?.() ?? null;
    if (me !== null) for (const c of this.conversations.values()) if (c.assigneeId === me && c.status !== 'resolved' && c.status !== 'closed') out.add(c.id);
    return out;
  }

  /** Drops facts outside the working set until they fit the budget (no-op without `workingSet`). */
  trim(): void {
    const ws = this.o.workingSet;
    if (!ws) return;
    let used = this.factBytes();
    if (used <= ws.factBudgetBytes) return;
    const pinned = this.pinned();
    const done = new Set(['resolved', 'closed']);
    // Least useful first: messages without an index row, then finished before active, older first.
    const rank = (id: string): [number, number] => {
      const c = this.conversations.get(id);
      if (!c) return [0, 0];
      return [done.has(c.status) ? 1 : 2, c.lastMessageAt];
    };
    const order = (ids: Iterable<string>) =>
      [...ids].filter((id) => !pinned.has(id)).sort((a, b) => {
        const [ra, ta] = rank(a);
        const [rb, tb] = rank(b);
        return ra - rb || ta - tb || (a < b ? -1 : a > b ? 1 : 0);
      });
    for (const cid of order(this.messagesByConversation.keys())) {
      if (used <= ws.factBudgetBytes) return;
      for (const id of [...(this.messagesByConversation.get(cid) ?? [])]) {
        used -= this.kv.bytesOf(K.message + enc(id));
        this.dropMessage(id);
      }
      this.dropped.messageSets++;
    }
    for (const cid of order(this.conversations.keys())) {
      if (used <= ws.factBudgetBytes) return;
      const key = K.conversation + enc(cid);
      used -= this.kv.bytesOf(key);
      this.kv.remove(key);
      this.conversations.delete(cid);
      this.dropped.conversations++;
    }
  }
}

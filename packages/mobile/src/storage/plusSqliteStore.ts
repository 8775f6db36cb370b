// The core's LocalStore port on SQLite through HTML5+ `plus.sqlite` (uni-app app-plus: Android, iOS).
//
// Every entity is stored whole as JSON; the columns the inbox filters and sorts on are copied next
// to it and indexed, so the conversation index is filtered, ordered and paged inside SQLite. The
// order is the total order of core's `compareConversations` (ties by id, descending), and every page
// is checked against core's `matchesQuery` and sorted with `compareConversations`, so this adapter
// returns exactly what the memory and browser adapters return. Ids are ASCII (core's `Id`), so
// SQLite's BINARY collation orders them as JavaScript does.
//
// Yjs updates are binary: they are stored as base64 text, split into parts so that no single SQL
// statement grows past SQLite's default 1 MB statement limit.

import { compareConversations, isTicketQuery, matchesQuery, PRIORITY_RANK } from '@goutong/core';
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
import { base64ToBytes, bytesToBase64, sqlList, sqlNumber, sqlString, sqlValue, utf8Length } from './codec';
import type { LocalCipher } from './localCipher';
import { PlusSqliteDb, type PlusSqliteApi, type SqlRunner } from './plusSqlite';

export const SCHEMA_VERSION = 1;

const SCHEMA: readonly string[] = [
  'CREATE TABLE IF NOT EXISTS goutong_schema (version INTEGER NOT NULL)',
  'CREATE TABLE IF NOT EXISTS sync_state (id INTEGER PRIMARY KEY CHECK (id = 1), checkpoint INTEGER NOT NULL, scope TEXT)',
  `CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY NOT NULL,
    seq INTEGER NOT NULL,
    status TEXT NOT NULL,
    assignee_id TEXT,
    inbox_id TEXT NOT NULL,
    team_id TEXT,
    channel TEXT NOT NULL,
    priority TEXT NOT NULL,
    priority_rank INTEGER NOT NULL,
    last_message_at INTEGER NOT NULL,
    waiting_since INTEGER,
    waiting_key INTEGER NOT NULL,
    search TEXT NOT NULL,
    json TEXT NOT NULL
  )`,
  'CREATE INDEX IF NOT EXISTS conversations_activity ON conversations (last_message_at DESC, id DESC)',
  'CREATE INDEX IF NOT EXISTS conversations_waiting ON conversations (waiting_key, last_message_at DESC, id DESC)',
  'CREATE INDEX IF NOT EXISTS conversations_priority ON conversations (priority_rank, last_message_at DESC, id DESC)',
  'CREATE INDEX IF NOT EXISTS conversations_status ON conversations (status, last_message_at DESC)',
  'CREATE INDEX IF NOT EXISTS conversations_assignee ON conversations (assignee_id, last_message_at DESC)',
  'CREATE INDEX IF NOT EXISTS conversations_inbox ON conversations (inbox_id)',
  'CREATE INDEX IF NOT EXISTS conversations_team ON conversations (team_id)',
  'CREATE INDEX IF NOT EXISTS conversations_channel ON conversations (channel)',
  'CREATE TABLE IF NOT EXISTS conversation_labels (conversation_id TEXT NOT NULL, label TEXT NOT NULL, PRIMARY KEY (conversation_id, label))',
  'CREATE INDEX IF NOT EXISTS conversation_labels_label ON conversation_labels (label)',
  `CREATE TABLE IF NOT EXISTS messages (
    id TEXT PRIMARY KEY NOT NULL,
    conversation_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    json TEXT NOT NULL
  )`,
  'CREATE INDEX IF NOT EXISTS messages_page ON messages (conversation_id, created_at DESC, id DESC)',
  'CREATE TABLE IF NOT EXISTS contacts (id TEXT PRIMARY KEY NOT NULL, seq INTEGER NOT NULL, json TEXT NOT NULL)',
  'CREATE TABLE IF NOT EXISTS directory (kind TEXT NOT NULL, id TEXT NOT NULL, seq INTEGER NOT NULL, json TEXT NOT NULL, PRIMARY KEY (kind, id))',
  'CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY NOT NULL, json TEXT NOT NULL)',
  'CREATE TABLE IF NOT EXISTS outbox (id TEXT PRIMARY KEY NOT NULL, ord REAL NOT NULL, state TEXT NOT NULL, json TEXT NOT NULL)',
  'CREATE INDEX IF NOT EXISTS outbox_order ON outbox (ord, id)',
  'CREATE TABLE IF NOT EXISTS yjs_updates (doc TEXT NOT NULL, n INTEGER NOT NULL, part INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY (doc, n, part))',
];

/** Rows per multi-row INSERT and the size a statement may reach before the next one starts. */
const ROWS_PER_INSERT = 100;
const STATEMENT_BYTES = 400_000;
/** Ids per `IN (…)` list. */
const IDS_PER_LIST = 400;
/** Base64 characters per stored part of a Yjs update (a multiple of 4). */
export const YJS_PART_CHARS = 256_000;

const NO_WAIT = Number.MAX_SAFE_INTEGER;

type DirectoryKind = 'inbox' | 'agent' | 'team';
type Filters = Omit<ConversationQuery, 'sort' | 'limit' | 'offset'>;

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** `INSERT OR REPLACE` statements for rows already rendered as `(v1, v2, …)` tuples. */
function inserts(head: string, tuples: readonly string[]): string[] {
  const out: string[] = [];
  let batch: string[] = [];
  let bytes = 0;
  for (const t of tuples) {
    const size = utf8Length(t);
    if (batch.length > 0 && (batch.length >= ROWS_PER_INSERT || bytes + size > STATEMENT_BYTES)) {
      out.push(`${head} VALUES ${batch.join(', ')}`);
      batch = [];
      bytes = 0;
    }
    batch.push(t);
    bytes += size;
  }
  if (batch.length > 0) out.push(`${head} VALUES ${batch.join(', ')}`);
  return out;
}

/** JSON that keeps Uint8Array values (meta may hold binary). */
function toJson(value: unknown): string {
  const text = JSON.stringify(value === undefined ? null : value, (_k, v: unknown) =>
    v instanceof Uint8Array ? { $u8: bytesToBase64(v) } : v,
  );
  return text ?? 'null';
}

function fromJson<T>(text: unknown): T {
  return JSON.parse(String(text), (_k, v: unknown) => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const o = v as Record<string, unknown>;
      const keys = Object.keys(o);
      if (keys.length === 1 && keys[0] === '$u8' && typeof o.$u8 === 'string') return base64ToBytes(o.$u8);
    }
    return v;
  }) as T;
}

/** The text `matchesQuery` searches, stored so SQLite can search the same string. */
export function searchText(c: Conversation): string {
  return `${c.contactName}\n${c.subject ?? ''}\n${c.lastMessagePreview}\n${c.labels.join(' ')}`.toLowerCase();
}

/** How a stored text column is written and read: clear, or sealed under the device key. */
interface Codec {
  readonly sealed: boolean;
  seal(text: string): string;
  open(stored: unknown): string;
}

const CLEAR_CODEC: Codec = { sealed: false, seal: (t) => t, open: (v) => String(v) };

function codecOf(cipher: LocalCipher | undefined): Codec {
  if (!cipher) return CLEAR_CODEC;
  return { sealed: true, seal: (t) => cipher.seal(t), open: (v) => cipher.open(String(v)) };
}

function conversationTuple(c: Conversation, codec: Codec): string {
  return `(${[
    sqlString(c.id),
    sqlNumber(c.seq),
    sqlString(c.status),
    sqlValue(c.assigneeId),
    sqlString(c.inboxId),
    sqlValue(c.teamId),
    sqlString(c.channel),
    sqlString(c.priority),
    sqlNumber(PRIORITY_RANK[c.priority]),
    sqlNumber(c.lastMessageAt),
    sqlValue(c.waitingSince),
    sqlNumber(c.waitingSince ?? NO_WAIT),
    // [trust] Encrypted: no search text in the file (the text filter runs on the opened rows).
    sqlString(codec.sealed ? '' : searchText(c)),
    sqlString(codec.seal(toJson(c))),
  ].join(', ')})`;
}

const CONVERSATION_INSERT =
  'INSERT OR REPLACE INTO conversations (id, seq, status, assignee_id, inbox_id, team_id, channel, priority, priority_rank, last_message_at, waiting_since, waiting_key, search, json)';

function messageTuple(m: Message, codec: Codec): string {
  return `(${[sqlString(m.id), sqlString(m.conversationId), sqlNumber(m.createdAt), sqlNumber(m.seq), sqlString(codec.seal(toJson(m)))].join(', ')})`;
}

function whereOf(q: Filters, withText = true): string {
  const w: string[] = [];
  if (q.status) w.push(q.status.length ? `status IN ${sqlList(q.status)}` : '0');
  if (q.assigneeId !== undefined) w.push(q.assigneeId === null ? 'assignee_id IS NULL' : `assignee_id = ${sqlString(q.assigneeId)}`);
  if (q.inboxIds) w.push(q.inboxIds.length ? `inbox_id IN ${sqlList(q.inboxIds)}` : '0');
  if (q.teamId !== undefined) w.push(q.teamId === null ? 'team_id IS NULL' : `team_id = ${sqlString(q.teamId)}`);
  if (q.channels) w.push(q.channels.length ? `channel IN ${sqlList(q.channels)}` : '0');
  if (q.priorities) w.push(q.priorities.length ? `priority IN ${sqlList(q.priorities)}` : '0');
  if (q.label !== undefined) w.push(`id IN (SELECT conversation_id FROM conversation_labels WHERE label = ${sqlString(q.label)})`);
  if (withText && q.text !== undefined && q.text.trim() !== '') {
    // [automation] A ticket (`#1234`) matches only its number; `1234` the number or the text (core matchesQuery).
    const needle = q.text.trim().toLowerCase();
    const ticket = /^#?(\d{1,12})$/.exec(needle);
    const byTicket = ticket ? `json_extract(json, '$.ticketNumber') = ${Number(ticket[1])}` : null;
    const byText = `instr(search, ${sqlString(needle)}) > 0`;
    w.push(isTicketQuery(needle) ? byTicket! : byTicket ? `(${byTicket} OR ${byText})` : byText);
  }
  return w.length ? `WHERE ${w.join(' AND ')}` : '';
}

function orderOf(sort: ConversationQuery['sort']): string {
  switch (sort) {
    case 'lastActivity':
      return 'ORDER BY last_message_at DESC, id DESC';
    case 'waitingLongest':
      return 'ORDER BY waiting_key ASC, last_message_at DESC, id DESC';
    case 'priority':
      return 'ORDER BY priority_rank ASC, last_message_at DESC, id DESC';
    default:
      throw new Error(`unknown sort: ${String(sort)}`);
  }
}

function windowOf(limit: number, offset: number | undefined): string {
  const l = Number.isFinite(limit) ? Math.max(0, Math.floor(limit)) : -1;
  const o = offset !== undefined && Number.isFinite(offset) ? Math.max(0, Math.floor(offset)) : 0;
  return `LIMIT ${l} OFFSET ${o}`;
}

export interface PlusSqliteStoreOptions {
  /** The `plus.sqlite` object (the global `plus.sqlite` on app-plus; a stand-in in tests). */
  api: PlusSqliteApi;
  /** Database name (the connection key of plus.sqlite). Default "goutong". */
  name?: string;
  /** Database file. Default "_doc/goutong.db" (the app's private documents folder). */
  path?: string;
  /**
   * [trust] Seals every stored document, outbox entry, meta value and Yjs update (encryption at rest);
   * without it the database holds clear JSON.
   */
  cipher?: LocalCipher;
  /** [trust] The cipher's key is new: records sealed under an earlier key (or none) are dropped at open. */
  freshKey?: boolean;
  /** [trust] Called by `wipe()` once the rows are gone (the host forgets the device key here). */
  onWipe?: () => void | Promise<void>;
}

const ALL_TABLES = ['conversations', 'conversation_labels', 'messages', 'contacts', 'directory', 'sync_state', 'meta', 'outbox', 'yjs_updates'] as const;

export class PlusSqliteStore implements LocalStore {
  private readonly codec: Codec;
  private constructor(
    private readonly db: PlusSqliteDb,
    private readonly options: PlusSqliteStoreOptions,
  ) {
    this.codec = codecOf(options.cipher);
  }

  /** Whether the records are sealed under a device key. */
  get encrypted(): boolean {
    return this.codec.sealed;
  }

  /** Opens (and creates or migrates) the database. */
  static async open(options: PlusSqliteStoreOptions): Promise<PlusSqliteStore> {
    const db = new PlusSqliteDb(options.api, options.name ?? 'goutong', options.path ?? '_doc/goutong.db');
    await db.openDatabase();
    await db.run(async (sql) => {
      await sql.transaction(async () => {
        await sql.exec(SCHEMA);
        const rows = await sql.select<{ version: unknown }>('SELECT version FROM goutong_schema');
        const version = rows.length ? Number(rows[0]!.version) : 0;
        if (version > SCHEMA_VERSION) throw new Error(`database schema ${version} is newer than this app (${SCHEMA_VERSION})`);
        if (rows.length === 0) await sql.exec(`INSERT INTO goutong_schema (version) VALUES (${SCHEMA_VERSION})`);
        else if (version < SCHEMA_VERSION) await sql.exec(`UPDATE goutong_schema SET version = ${SCHEMA_VERSION}`);
        // [trust] A new key cannot open what an earlier key (or none) wrote: start over (facts are pulled again).
        if (options.freshKey) await sql.exec(ALL_TABLES.map((t) => `DELETE FROM ${t}`));
      });
    });
    return new PlusSqliteStore(db, options);
  }

  // ---- facts ---------------------------------------------------------------------------------

  async applyFacts(batch: FactBatch, checkpoint: number, scope: string): Promise<void> {
    const cp = sqlNumber(checkpoint);
    const sc = sqlString(scope);
    await this.db.run((sql) =>
      sql.transaction(async () => {
        await this.upsertConversations(sql, batch.conversations);
        await this.upsertMessages(sql, batch.messages);
        await this.upsertSimple(sql, 'contacts', batch.contacts);
        await this.upsertDirectory(sql, 'inbox', batch.inboxes);
        await this.upsertDirectory(sql, 'agent', batch.agents);
        await this.upsertDirectory(sql, 'team', batch.teams);
        await sql.exec(`INSERT OR REPLACE INTO sync_state (id, checkpoint, scope) VALUES (1, ${cp}, ${sc})`);
      }),
    );
  }

  async putMessages(messages: readonly Message[]): Promise<void> {
    if (messages.length === 0) return;
    await this.db.run((sql) => sql.transaction(() => this.upsertMessages(sql, messages)));
  }

  async clearFacts(): Promise<void> {
    await this.db.run((sql) =>
      sql.transaction(() =>
        sql.exec([
          'DELETE FROM conversations',
          'DELETE FROM conversation_labels',
          'DELETE FROM messages',
          'DELETE FROM contacts',
          'DELETE FROM directory',
          'DELETE FROM sync_state',
        ]),
      ),
    );
  }

  async getCheckpoint(): Promise<{ checkpoint: number; scope: string | null }> {
    const rows = await this.db.run((sql) => sql.select('SELECT checkpoint, scope FROM sync_state WHERE id = 1'));
    const row = rows[0];
    if (!row) return { checkpoint: 0, scope: null };
    return { checkpoint: Number(row.checkpoint), scope: row.scope === null || row.scope === undefined ? null : String(row.scope) };
  }

  /** The stored seq of each id that exists (one query per IN-list chunk). */
  private async storedSeqs(sql: SqlRunner, table: string, ids: readonly string[], extraWhere = ''): Promise<Map<string, number>> {
    const seqs = new Map<string, number>();
    for (const part of chunks([...new Set(ids)], IDS_PER_LIST)) {
      const rows = await sql.select(`SELECT id, seq FROM ${table} WHERE ${extraWhere}id IN ${sqlList(part)}`);
      for (const r of rows) seqs.set(String(r.id), Number(r.seq));
    }
    return seqs;
  }

  /** Rows of a batch that win over the stored ones (seq >=); later rows of the batch see earlier ones. */
  private async winners<T extends { id: string; seq: number }>(sql: SqlRunner, table: string, rows: readonly T[], extraWhere = ''): Promise<T[]> {
    if (rows.length === 0) return [];
    const stored = await this.storedSeqs(sql, table, rows.map((r) => r.id), extraWhere);
    const staged = new Map<string, T>();
    for (const row of rows) {
      const current = staged.get(row.id)?.seq ?? stored.get(row.id);
      if (current === undefined || row.seq >= current) staged.set(row.id, row);
    }
    return [...staged.values()];
  }

  private async upsertConversations(sql: SqlRunner, rows: readonly Conversation[]): Promise<void> {
    const win = await this.winners(sql, 'conversations', rows);
    if (win.length === 0) return;
    const statements = inserts(CONVERSATION_INSERT, win.map((c) => conversationTuple(c, this.codec)));
    for (const part of chunks(win.map((c) => c.id), IDS_PER_LIST)) statements.push(`DELETE FROM conversation_labels WHERE conversation_id IN ${sqlList(part)}`);
    const labels = win.flatMap((c) => [...new Set(c.labels)].map((l) => `(${sqlString(c.id)}, ${sqlString(l)})`));
    statements.push(...inserts('INSERT OR IGNORE INTO conversation_labels (conversation_id, label)', labels));
    await sql.exec(statements);
  }

  private async upsertMessages(sql: SqlRunner, rows: readonly Message[]): Promise<void> {
    const win = await this.winners(sql, 'messages', rows);
    if (win.length === 0) return;
    await sql.exec(inserts('INSERT OR REPLACE INTO messages (id, conversation_id, created_at, seq, json)', win.map((m) => messageTuple(m, this.codec))));
  }

  private async upsertSimple(sql: SqlRunner, table: 'contacts', rows: readonly Contact[]): Promise<void> {
    const win = await this.winners(sql, table, rows);
    if (win.length === 0) return;
    const tuples = win.map((r) => `(${sqlString(r.id)}, ${sqlNumber(r.seq)}, ${sqlString(this.codec.seal(toJson(r)))})`);
    await sql.exec(inserts(`INSERT OR REPLACE INTO ${table} (id, seq, json)`, tuples));
  }

  private async upsertDirectory(sql: SqlRunner, kind: DirectoryKind, rows: readonly (Inbox | Agent | Team)[]): Promise<void> {
    const win = await this.winners(sql, 'directory', rows, `kind = ${sqlString(kind)} AND `);
    if (win.length === 0) return;
    const tuples = win.map((r) => `(${sqlString(kind)}, ${sqlString(r.id)}, ${sqlNumber(r.seq)}, ${sqlString(this.codec.seal(toJson(r)))})`);
    await sql.exec(inserts('INSERT OR REPLACE INTO directory (kind, id, seq, json)', tuples));
  }

  // ---- reads ---------------------------------------------------------------------------------

  private read<T>(stored: unknown): T {
    return fromJson<T>(this.codec.open(stored));
  }

  /** [trust] Sealed rows: the text filter (and a ticket number) is matched on the opened rows; so is an SLA filter (it depends on the time). */
  private async matchingOpened(sql: SqlRunner, query: Filters, order: string): Promise<Conversation[]> {
    const rows = await sql.select(`SELECT json FROM conversations ${whereOf(query, false)} ${order}`);
    return rows.map((r) => this.read<Conversation>(r.json)).filter((c) => matchesQuery(c, query));
  }

  async getConversation(id: string): Promise<Conversation | null> {
    const rows = await this.db.run((sql) => sql.select(`SELECT json FROM conversations WHERE id = ${sqlString(id)}`));
    return rows[0] ? this.read<Conversation>(rows[0].json) : null;
  }

  async queryConversations(query: ConversationQuery): Promise<Conversation[]> {
    const compare = compareConversations(query.sort);
    const order = orderOf(query.sort);
    return this.db.run(async (sql) => {
      if ((this.codec.sealed && query.text !== undefined && query.text.trim() !== '') || query.sla !== undefined) {
        const offset = query.offset ?? 0;
        return (await this.matchingOpened(sql, query, order)).sort(compare).slice(offset, offset + query.limit);
      }
      const rows = await sql.select(`SELECT json FROM conversations ${whereOf(query)} ${order} ${windowOf(query.limit, query.offset)}`);
      const page = rows.map((r) => this.read<Conversation>(r.json));
      if (page.every((c) => matchesQuery(c, query))) return page.sort(compare);
      // SQLite and core disagree on a row (text that does not survive UTF-8, say): core decides.
      const all = (await sql.select('SELECT json FROM conversations')).map((r) => this.read<Conversation>(r.json));
      const offset = query.offset ?? 0;
      return all.filter((c) => matchesQuery(c, query)).sort(compare).slice(offset, offset + query.limit);
    });
  }

  async countConversations(query: Filters): Promise<number> {
    if (this.codec.sealed && query.text !== undefined && query.text.trim() !== '') {
      return this.db.run(async (sql) => (await this.matchingOpened(sql, query, '')).length);
    }
    // The SLA state depends on the time asked: core's matchesQuery decides row by row.
    if (query.sla !== undefined) return this.db.run(async (sql) => (await this.matchingOpened(sql, query, '')).length);
    const rows = await this.db.run((sql) => sql.select(`SELECT COUNT(*) AS n FROM conversations ${whereOf(query)}`));
    return Number(rows[0]?.n ?? 0);
  }

  async getMessages(query: MessagePageQuery): Promise<Message[]> {
    const w = [`conversation_id = ${sqlString(query.conversationId)}`];
    if (query.before) {
      const at = sqlNumber(query.before.createdAt);
      w.push(`(created_at < ${at} OR (created_at = ${at} AND id < ${sqlString(query.before.id)}))`);
    }
    const limit = Number.isFinite(query.limit) ? Math.max(0, Math.floor(query.limit)) : -1;
    const rows = await this.db.run((sql) =>
      sql.select(`SELECT json FROM messages WHERE ${w.join(' AND ')} ORDER BY created_at DESC, id DESC LIMIT ${limit}`),
    );
    return rows.map((r) => this.read<Message>(r.json));
  }

  async getMessage(id: string): Promise<Message | null> {
    const rows = await this.db.run((sql) => sql.select(`SELECT json FROM messages WHERE id = ${sqlString(id)}`));
    return rows[0] ? this.read<Message>(rows[0].json) : null;
  }

  async evictMessages(conversationIds: readonly string[]): Promise<void> {
    if (conversationIds.length === 0) return;
    await this.db.run((sql) =>
      sql.transaction(() => sql.exec(chunks([...new Set(conversationIds)], IDS_PER_LIST).map((part) => `DELETE FROM messages WHERE conversation_id IN ${sqlList(part)}`))),
    );
  }

  async conversationsWithMessages(): Promise<string[]> {
    const rows = await this.db.run((sql) => sql.select('SELECT DISTINCT conversation_id AS id FROM messages ORDER BY conversation_id'));
    return rows.map((r) => String(r.id));
  }

  async getContact(id: string): Promise<Contact | null> {
    const rows = await this.db.run((sql) => sql.select(`SELECT json FROM contacts WHERE id = ${sqlString(id)}`));
    return rows[0] ? this.read<Contact>(rows[0].json) : null;
  }

  private async listDirectory<T>(kind: DirectoryKind): Promise<T[]> {
    const rows = await this.db.run((sql) => sql.select(`SELECT json FROM directory WHERE kind = ${sqlString(kind)} ORDER BY id`));
    return rows.map((r) => this.read<T>(r.json));
  }

  listInboxes(): Promise<Inbox[]> {
    return this.listDirectory<Inbox>('inbox');
  }

  listAgents(): Promise<Agent[]> {
    return this.listDirectory<Agent>('agent');
  }

  listTeams(): Promise<Team[]> {
    return this.listDirectory<Team>('team');
  }

  // ---- meta, outbox, Yjs ---------------------------------------------------------------------

  async getMeta<T = unknown>(key: string): Promise<T | null> {
    const rows = await this.db.run((sql) => sql.select(`SELECT json FROM meta WHERE key = ${sqlString(key)}`));
    return rows[0] ? this.read<T>(rows[0].json) : null;
  }

  async setMeta(key: string, value: unknown): Promise<void> {
    const statement = `INSERT OR REPLACE INTO meta (key, json) VALUES (${sqlString(key)}, ${sqlString(this.codec.seal(toJson(value)))})`;
    await this.db.run((sql) => sql.exec(statement));
  }

  async outboxPut(entry: OutboxEntry): Promise<void> {
    const statement = `INSERT OR REPLACE INTO outbox (id, ord, state, json) VALUES (${sqlString(entry.id)}, ${sqlNumber(entry.order)}, ${sqlString(entry.state)}, ${sqlString(this.codec.seal(toJson(entry)))})`;
    await this.db.run((sql) => sql.exec(statement));
  }

  async outboxList(): Promise<OutboxEntry[]> {
    const rows = await this.db.run((sql) => sql.select('SELECT json FROM outbox ORDER BY ord, id'));
    return rows.map((r) => this.read<OutboxEntry>(r.json));
  }

  async outboxDelete(id: string): Promise<void> {
    await this.db.run((sql) => sql.exec(`DELETE FROM outbox WHERE id = ${sqlString(id)}`));
  }

  private updateRows(doc: string, n: number, update: Uint8Array): string[] {
    const text = this.codec.sealed ? this.codec.seal(bytesToBase64(update)) : bytesToBase64(update);
    const parts: string[] = [];
    for (let i = 0; i === 0 || i < text.length; i += YJS_PART_CHARS) parts.push(text.slice(i, i + YJS_PART_CHARS));
    return parts.map(
      (data, part) => `INSERT INTO yjs_updates (doc, n, part, data) VALUES (${sqlString(doc)}, ${n}, ${part}, ${sqlString(data)})`,
    );
  }

  async yjsAppend(doc: string, update: Uint8Array): Promise<void> {
    const copy = update.slice();
    await this.db.run((sql) =>
      sql.transaction(async () => {
        const rows = await sql.select(`SELECT MAX(n) AS n FROM yjs_updates WHERE doc = ${sqlString(doc)}`);
        const last = rows[0]?.n;
        const n = last === null || last === undefined ? 0 : Number(last) + 1;
        await sql.exec(this.updateRows(doc, n, copy));
      }),
    );
  }

  async yjsLoad(doc: string): Promise<Uint8Array[]> {
    const rows = await this.db.run((sql) => sql.select(`SELECT n, data FROM yjs_updates WHERE doc = ${sqlString(doc)} ORDER BY n, part`));
    const out: Uint8Array[] = [];
    let current: number | null = null;
    let text = '';
    const bytes = (t: string) => base64ToBytes(this.codec.sealed ? this.codec.open(t) : t);
    for (const r of rows) {
      const n = Number(r.n);
      if (current !== null && n !== current) {
        out.push(bytes(text));
        text = '';
      }
      current = n;
      text += String(r.data);
    }
    if (current !== null) out.push(bytes(text));
    return out;
  }

  async yjsReplace(doc: string, update: Uint8Array): Promise<void> {
    const copy = update.slice();
    await this.db.run((sql) =>
      sql.transaction(() => sql.exec([`DELETE FROM yjs_updates WHERE doc = ${sqlString(doc)}`, ...this.updateRows(doc, 0, copy)])),
    );
  }

  async close(): Promise<void> {
    await this.db.close();
  }

  /**
   * [trust] Sign-out, deactivation, remote wipe: every row goes, the file is compacted (no freed
   * page keeps old records), the database closes and the host forgets the device key.
   */
  async wipe(): Promise<void> {
    await this.db.run(async (sql) => {
      await sql.transaction(() => sql.exec(ALL_TABLES.map((t) => `DELETE FROM ${t}`)));
      await sql.exec('VACUUM');
    });
    await this.db.close();
    await this.options.onWipe?.();
  }
}

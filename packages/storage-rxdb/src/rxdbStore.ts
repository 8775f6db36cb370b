import {
  addRxPlugin,
  createRxDatabase,
  normalizeMangoQuery,
  prepareQuery,
  type MangoQuerySelector,
  type RxCollection,
  type RxDatabase,
  type RxDocumentData,
  type RxStorage,
  type BulkWriteRow,
} from 'rxdb';
import { RxDBCleanupPlugin } from 'rxdb/plugins/cleanup';
import { getRxStorageDexie } from 'rxdb/plugins/storage-dexie';
import {
  CONVERSATION_STATUSES,
  matchesQuery,
  compareConversations,
  type Agent,
  type Channel,
  type Contact,
  type Conversation,
  type ConversationQuery,
  type ConversationSort,
  type FactBatch,
  type Inbox,
  type LocalStore,
  type Message,
  type MessagePageQuery,
  type OutboxEntry,
  type Team,
} from '@goutong/core';
import { base64ToBytes, bytesToBase64, conversationSortKey, messageKey } from './keys.js';
import { ConversationMirror, hasResidualFilter, type MirrorStats } from './mirror.js';
import { NOT_DELETED, countRanges, nativeTable, readByPrimaryKey, readRanges, type NativeTable, type RangeRead, type StoredRow } from './nativeIndex.js';
import type { DocCipher } from './encryption.js';
import {
  COLLECTIONS,
  type ConversationDoc,
  type DirectoryDoc,
  type DirectoryKind,
  type KvDoc,
  type KvKind,
  type MessageDoc,
  type YjsDoc,
} from './schemas.js';

export interface RxdbStoreOptions {
  /** Database name (one per signed-in tenant/agent, e.g. `goutong-${tenantId}-${agentId}`). */
  name: string;
  /** IndexedDB implementation; defaults to the global one (browsers, Electron). Tests pass fake-indexeddb. */
  indexedDB?: unknown;
  IDBKeyRange?: unknown;
  /**
   * Loads RxDB's dev-mode plugin (schema and query checks, deep-frozen documents, validated writes).
   * Tests only: available in development builds only (see DEV_BUILD); a production bundle does not
   * contain the plugin and `open` rejects with DevModeUnavailableError.
   */
  devMode?: boolean;
  /**
   * Share the database between tabs of one browser (RxDB multiInstance). Off by default: the desktop
   * renderer is one window, and this adapter serialises its writes within one JavaScript context only.
   */
  multiInstance?: boolean;
  /** How long deleted rows (evicted messages, replaced Yjs updates) stay as tombstones before they are purged. */
  purgeDeletedAfterMs?: number;
  /**
   * Keep an in-memory mirror of the conversation index (default: on). Always off with
   * `multiInstance`, where other tabs' writes would not reach it. It loads in the background after
   * open; until it is loaded, queries walk the IndexedDB indexes. See `mirrorLoaded`.
   */
  mirror?: boolean;
  /**
   * Conversations read per step while the mirror loads. Default: sized by time, so each read takes
   * about one slice of the frame budget (starting at 200 rows, between 50 and 4,000).
   */
  mirrorChunk?: number;
  /**
   * Tests only: awaited after each chunk the mirror loader read and before it is added to the mirror
   * (`rowsRead` counts the rows read so far), so a test can write in the middle of a load.
   */
  mirrorLoadHook?: (rowsRead: number) => Promise<void> | void;
  /** Tests only: load the mirror through RxDB queries (cursor steps) instead of IndexedDB getAll reads. */
  mirrorViaQuery?: boolean;
  /**
   * Tests only: `false` answers IndexedDB-path conversation queries and counts through RxDB's query
   * path (a cursor step per row) instead of the direct key-range reads (`getAll(range, count)`).
   */
  nativeReads?: boolean;
  /**
   * [accounts] Encrypts every document's `json` (and the Yjs updates) at rest (see encryption.ts);
   * without it documents are stored as plain JSON.
   */
  cipher?: DocCipher;
  /** [accounts] Called by `wipe()` after the database is removed (a host forgets the device key here). */
  onWipe?: () => Promise<void>;
}

/** Where queries are answered: `off` (mirror disabled or failed), `loading` (IndexedDB meanwhile) or `ready`. */
export type MirrorState = 'off' | 'loading' | 'ready';

export interface MirrorLoadStats {
  /** From the start of the load to ready (ms); 0 while loading. */
  ms: number;
  /** Turns given to the event loop. */
  steps: number;
  /** The longest the loader ran without giving the event loop a turn (ms). */
  longestStepMs: number;
}

type Collections = {
  conversations: RxCollection<ConversationDoc>;
  messages: RxCollection<MessageDoc>;
  directory: RxCollection<DirectoryDoc>;
  kv: RxCollection<KvDoc>;
  yjs: RxCollection<YjsDoc>;
};
type FactCollection = 'conversations' | 'messages' | 'directory';

const SORT_FIELD: Record<ConversationSort, 'kA' | 'kW' | 'kP'> = { lastActivity: 'kA', waitingLongest: 'kW', priority: 'kP' };
const CHECKPOINT_KEY = 'sys:checkpoint';
const WRITE_CONTEXT = 'goutong-local-store';
/**
 * Rows per step when walking an index range. Each step is a fresh cursor that starts after the last
 * key of the previous one, so no cursor runs long: IndexedDB cursors pay per step (one event per row
 * in browsers; fake-indexeddb in Node even walks from the range start on every continue()).
 */
const SCAN_BATCH = 100;
/** Rows per read when a filtered query walks an index range with direct reads (one getAll each). */
const NATIVE_BATCH = 250;
/** The mirror loader gives the event loop a turn after this much work (ms), so a UI thread stays responsive. */
const MIRROR_SLICE_MS = 8;
/** The mirror loader's first read (rows) when the chunk is sized by time, and its bounds. */
const MIRROR_FIRST_CHUNK = 200;
const MIRROR_MIN_CHUNK = 50;
const MIRROR_MAX_CHUNK = 4_000;
/** Rows added to the mirror between two looks at the clock. */
const MIRROR_PUT_STRIDE = 64;
/**
 * After open, the mirror loader starts once the first conversation read on IndexedDB has been answered
 * (the app's first page comes before any loading work), when someone waits for `mirrorLoaded`, or
 * after this long (ms), whichever comes first.
 */
const MIRROR_START_DELAY_MS = 1_000;

/**
 * The next read's size: as many rows as the last read took per slice of the frame budget (half-way
 * from the current size, so one slow read does not swing it).
 */
export function nextMirrorChunk(chunk: number, rows: number, readMs: number): number {
  if (rows <= 0) return chunk;
  const fit = (MIRROR_SLICE_MS * rows) / Math.max(readMs, 0.05);
  return Math.round(Math.min(MIRROR_MAX_CHUNK, Math.max(MIRROR_MIN_CHUNK, (chunk + fit) / 2)));
}

const now = (): number => (typeof performance !== 'undefined' ? performance.now() : Date.now());
const nextTask = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

/**
 * Whether this build may load RxDB's dev-mode and validation plugins: true under Vite's dev server and
 * vitest (`import.meta.env.DEV`), false in a production Vite build, which replaces the expression with
 * `false` so the bundler drops both plugins (no dev-mode or ajv chunk is emitted), and false in plain
 * Node (tsc output, no `import.meta.env`). Checked by packages/desktop/scripts/check-bundle.mjs.
 */
const DEV_BUILD: boolean = import.meta.env?.DEV === true;

// The part of Vite's `import.meta.env` typing used above (identical to vite/client's, so they merge).
// Written as `import.meta.env?.DEV` with no cast: Vite and vitest replace that exact expression.
declare global {
  interface ImportMetaEnv {
    DEV: boolean;
  }
  interface ImportMeta {
    readonly env: ImportMetaEnv;
  }
}

/** `devMode` was asked for in a build without dev-mode (a production bundle or plain Node). */
export class DevModeUnavailableError extends Error {
  constructor() {
    super('RxDB dev-mode is only available in development builds (Vite dev server or vitest); production bundles leave it out');
    this.name = 'DevModeUnavailableError';
  }
}

let devModeLoaded = false;
let cleanupAdded = false;

async function storageFor(options: RxdbStoreOptions): Promise<RxStorage<unknown, unknown>> {
  const settings: Record<string, unknown> = {};
  if (options.indexedDB !== undefined) settings.indexedDB = options.indexedDB;
  if (options.IDBKeyRange !== undefined) settings.IDBKeyRange = options.IDBKeyRange;
  const dexie = getRxStorageDexie(settings) as RxStorage<unknown, unknown>;
  if (!DEV_BUILD) {
    if (options.devMode) throw new DevModeUnavailableError();
    return dexie;
  }
  if (options.devMode && !devModeLoaded) {
    const dev = await import('rxdb/plugins/dev-mode');
    dev.disableWarnings();
    addRxPlugin(dev.RxDBDevModePlugin);
    devModeLoaded = true;
  }
  // Once dev-mode is on (it is process-wide), RxDB insists on a validating storage.
  if (devModeLoaded) {
    const { wrappedValidateAjvStorage } = await import('rxdb/plugins/validate-ajv');
    return wrappedValidateAjvStorage({ storage: dexie }) as RxStorage<unknown, unknown>;
  }
  return dexie;
}

function toConversationDoc(c: Conversation, json: string): ConversationDoc {
  return {
    id: c.id,
    s: c.status,
    a: c.assigneeId ?? '',
    kA: conversationSortKey(c, 'lastActivity'),
    kW: conversationSortKey(c, 'waitingLongest'),
    kP: conversationSortKey(c, 'priority'),
    seq: c.seq,
    json,
  };
}

function toMessageDoc(m: Message, json: string): MessageDoc {
  return { id: m.id, cid: m.conversationId, k: messageKey(m), seq: m.seq, json };
}

function toDirectoryDoc(kind: DirectoryKind, row: { id: string; seq: number }, json: string): DirectoryDoc {
  return { pk: `${kind}:${row.id}`, kind, seq: row.seq, json };
}

/**
 * LocalStore on RxDB 17 with the Dexie (IndexedDB) storage.
 *
 * Reads go straight to the collections' storage instances with prepared mango queries, so a query
 * walks exactly one IndexedDB index range per status and stops at the window; no RxQuery cache is
 * kept for one-off cursors. Writes go through RxDB's wrapped storage (revisions, change events) and
 * are serialised within this store.
 *
 * Atomicity: the Dexie storage keeps one IndexedDB database per collection, so a batch cannot commit
 * in one transaction. applyFacts writes the facts first and the checkpoint last: after a crash in
 * between, the old checkpoint makes the next pull repeat the batch, which the seq rule makes harmless.
 */
export class RxdbStore implements LocalStore {
  private writes: Promise<unknown> = Promise.resolve();
  /** Next append number per Yjs document (loaded on first use). */
  private readonly yjsNext = new Map<string, number>();
  private closed = false;

  /** The conversation mirror (loading or ready); null when disabled or failed. */
  private mirror: ConversationMirror | null = null;
  private mirrorReady = false;
  /** Bumped whenever the current mirror load must stop (clearFacts, close, a failed write). */
  private mirrorGen = 0;
  private mirrorTask: Promise<boolean> = Promise.resolve(false);
  /** The error that turned the mirror off, if any. */
  mirrorError: unknown = null;
  /** IndexedDB-path queries in flight; the mirror loader waits for them (the first page comes first). */
  private queriesInFlight = 0;
  private queriesIdle: (() => void)[] = [];
  private loadStats: MirrorLoadStats = { ms: 0, steps: 0, longestStepMs: 0 };
  /** Lets a load that waits to start (after open) begin; see MIRROR_START_DELAY_MS. */
  private mirrorGo: (() => void) | null = null;
  private mirrorGoTimer: ReturnType<typeof setTimeout> | null = null;
  /** Direct IndexedDB access per conversations collection (a new one after clearFacts); null: RxDB's query path. */
  private readonly natives = new WeakMap<object, Promise<NativeTable | null>>();

  private constructor(
    private readonly db: RxDatabase,
    private c: Collections,
    private readonly options: RxdbStoreOptions,
  ) {}

  static async open(options: RxdbStoreOptions): Promise<RxdbStore> {
    if (!cleanupAdded) {
      addRxPlugin(RxDBCleanupPlugin);
      cleanupAdded = true;
    }
    const storage = await storageFor(options);
    const db = await createRxDatabase({
      name: options.name,
      storage,
      multiInstance: options.multiInstance ?? false,
      eventReduce: true,
      cleanupPolicy: {
        minimumDeletedTime: options.purgeDeletedAfterMs ?? 60_000,
        minimumCollectionAge: 60_000,
        runEach: 5 * 60_000,
        awaitReplicationsInSync: false,
        waitForLeadership: true,
      },
    });
    try {
      const added = await db.addCollections({
        conversations: { schema: COLLECTIONS.conversations },
        messages: { schema: COLLECTIONS.messages },
        directory: { schema: COLLECTIONS.directory },
        kv: { schema: COLLECTIONS.kv },
        yjs: { schema: COLLECTIONS.yjs },
      });
      const store = new RxdbStore(db, added as unknown as Collections, options);
      if ((options.mirror ?? true) && !(options.multiInstance ?? false)) store.startMirror(false, true);
      return store;
    } catch (err) {
      await db.close();
      throw err;
    }
  }

  // ---------------------------------------------------------------- plumbing

  /** [accounts] The stored text of a value: JSON, encrypted when the store has a cipher. */
  private enc(value: unknown): Promise<string> {
    const json = JSON.stringify(value ?? null);
    return this.options.cipher ? this.options.cipher.encrypt(json) : Promise.resolve(json);
  }

  private async dec<T>(doc: { json: string }): Promise<T> {
    return JSON.parse(this.options.cipher ? await this.options.cipher.decrypt(doc.json) : doc.json) as T;
  }

  private decAll<T>(docs: readonly { json: string }[]): Promise<T[]> {
    return Promise.all(docs.map((d) => this.dec<T>(d)));
  }

  private check(): Collections {
    if (this.closed) throw new Error('RxdbStore is closed');
    return this.c;
  }

  /** Direct key-range reads of the conversations collection, or null when only RxDB's query path is available. */
  private nativeConversations(): Promise<NativeTable | null> {
    const collection = this.check().conversations;
    if (this.options.nativeReads === false) return Promise.resolve(null);
    let t = this.natives.get(collection);
    if (t === undefined) {
      t = nativeTable(collection.storageInstance, this.options.IDBKeyRange);
      this.natives.set(collection, t);
    }
    return t;
  }

  /**
   * Diagnostics: how conversation queries and counts read IndexedDB when the mirror does not answer
   * them: `native` (direct key-range reads) or `rxdb` (RxDB's query path, when the storage is not
   * shaped like RxDB's Dexie storage or `nativeReads: false`).
   */
  async indexedReadPath(): Promise<'native' | 'rxdb'> {
    return (await this.nativeConversations()) === null ? 'rxdb' : 'native';
  }

  // ---------------------------------------------------------------- mirror

  /** Where queries are answered now. */
  get mirrorState(): MirrorState {
    return this.mirror === null ? 'off' : this.mirrorReady ? 'ready' : 'loading';
  }

  /**
   * Resolves when the current mirror load ends: true once queries are answered from memory, false
   * when the mirror is off or the load stopped (closed, failed, or restarted; then ask again).
   */
  get mirrorLoaded(): Promise<boolean> {
    this.kickMirror();
    return this.mirrorTask;
  }

  /** Starts a load that waits to start, now. */
  private kickMirror(): void {
    const go = this.mirrorGo;
    this.mirrorGo = null;
    if (this.mirrorGoTimer !== null) clearTimeout(this.mirrorGoTimer);
    this.mirrorGoTimer = null;
    go?.();
  }

  /**
   * Diagnostics: rows and text size of the mirror, and how its last load went (time from open to
   * ready, steps, and the longest stretch the loader ran without giving the event loop a turn).
   * Null when there is no mirror.
   */
  mirrorStats(): (MirrorStats & { load: MirrorLoadStats }) | null {
    return this.mirror === null ? null : { ...this.mirror.stats(), load: { ...this.loadStats } };
  }

  /**
   * Starts a fresh mirror; `empty` when the conversations collection is known to be empty; `deferred`
   * (at open) waits for the first page before loading (MIRROR_START_DELAY_MS).
   */
  private startMirror(empty = false, deferred = false): void {
    this.kickMirror(); // a load still waiting to start finds itself stale and ends
    const gen = ++this.mirrorGen;
    const mirror = new ConversationMirror();
    this.mirror = mirror;
    this.mirrorReady = empty;
    this.loadStats = { ms: 0, steps: 0, longestStepMs: 0 };
    if (empty) {
      this.mirrorTask = Promise.resolve(true);
      return;
    }
    this.mirrorTask = this.loadMirror(mirror, gen, deferred).then(
      (loaded) => {
        if (loaded && gen === this.mirrorGen) this.mirrorReady = true;
        return loaded && gen === this.mirrorGen;
      },
      (err: unknown) => {
        if (gen === this.mirrorGen) {
          this.mirror = null;
          this.mirrorError = err;
        }
        return false;
      },
    );
  }

  /** Stops the current mirror: queries go back to IndexedDB and writes stop feeding it. */
  private stopMirror(): void {
    this.mirrorGen++;
    this.kickMirror();
    this.mirror = null;
    this.mirrorReady = false;
  }

  /**
   * Reads every conversation in primary-key order, in chunks, into `mirror`, then sorts it. Writes
   * meanwhile put their rows into the mirror themselves, and a loaded row never replaces one a write
   * put (it may be older), so nothing written during the load is lost.
   */
  private async loadMirror(mirror: ConversationMirror, gen: number, deferred: boolean): Promise<boolean> {
    const stale = () => this.closed || gen !== this.mirrorGen;
    // A chunk sized by time (the read of a chunk is one stretch the UI thread cannot interrupt).
    const byTime = this.options.mirrorChunk === undefined;
    let chunk = Math.max(1, this.options.mirrorChunk ?? MIRROR_FIRST_CHUNK);
    const started = now();
    const stats: MirrorLoadStats = { ms: 0, steps: 0, longestStepMs: 0 };
    this.loadStats = stats;
    let slice = now();
    /** Ends a stretch of synchronous work (before an await). */
    const endStep = () => {
      stats.steps++;
      stats.longestStepMs = Math.max(stats.longestStepMs, now() - slice);
    };
    const pause = async (): Promise<boolean> => {
      if (now() - slice >= MIRROR_SLICE_MS) {
        endStep();
        await nextTask();
        slice = now();
      }
      return stale();
    };
    if (deferred) {
      // Set before the first await, so the first read, `mirrorLoaded` or the timer can start it.
      await new Promise<void>((resolve) => {
        this.mirrorGo = resolve;
        this.mirrorGoTimer = setTimeout(() => this.kickMirror(), MIRROR_START_DELAY_MS);
      });
    }
    await nextTask(); // let open() return and the first page start
    const collection = this.c.conversations;
    const table = this.options.mirrorViaQuery ? null : await nativeTable(collection.storageInstance, this.options.IDBKeyRange);
    let after: string | undefined;
    let read = 0;
    for (;;) {
      await this.whenQueriesIdle();
      if (stale()) return false;
      let docs: { id: string; json: string; _deleted?: unknown }[];
      const readStart = now();
      if (table !== null) {
        docs = await readByPrimaryKey(table, after, chunk);
      } else {
        const selector: MangoQuerySelector<ConversationDoc> = after === undefined ? {} : { id: { $gt: after } };
        docs = await this.find(collection, selector, ['id'], ['id'], chunk);
      }
      slice = now();
      const readMs = slice - readStart;
      read += docs.length;
      if (this.options.mirrorLoadHook) await this.options.mirrorLoadHook(read);
      if (stale()) return false;
      // Dexie keeps RxDB's boolean index fields as '0'/'1'; conversations have no tombstones, but be safe.
      const live = docs.filter((d) => d._deleted !== '1' && d._deleted !== true);
      // Encrypted rows: the chunk's decryptions run together (WebCrypto works off the page's thread),
      // not one round trip per row.
      const cipher = this.options.cipher;
      const texts = cipher ? await Promise.all(live.map((d) => cipher.decrypt(d.json))) : live.map((d) => d.json);
      if (cipher) {
        slice = now();
        if (stale()) return false;
      }
      // Parsing and adding the rows yields under the frame budget too.
      for (let i = 0; i < texts.length; i++) {
        mirror.putIfAbsent(JSON.parse(texts[i]!) as Conversation);
        if (i % MIRROR_PUT_STRIDE === MIRROR_PUT_STRIDE - 1 && (await pause())) return false;
      }
      if (docs.length < chunk) break;
      after = docs[docs.length - 1]!.id;
      if (byTime) chunk = nextMirrorChunk(chunk, docs.length, readMs);
      endStep(); // the next read awaits IndexedDB
      if (stale()) return false;
    }
    slice = now();
    const built = (await mirror.build(pause)) && !stale();
    endStep();
    stats.ms = now() - started;
    return built;
  }

  private whenQueriesIdle(): Promise<void> {
    if (this.queriesInFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.queriesIdle.push(resolve));
  }

  /** Runs an IndexedDB-path read, counted so the mirror loader gives way to it. */
  private async indexedRead<T>(fn: () => Promise<T>): Promise<T> {
    this.queriesInFlight++;
    try {
      return await fn();
    } finally {
      // The first page has been answered: the mirror may load now.
      this.kickMirror();
      if (--this.queriesInFlight === 0) {
        const waiting = this.queriesIdle;
        this.queriesIdle = [];
        for (const resolve of waiting) resolve();
      }
    }
  }

  /** The mirror when queries can be answered from it. */
  private readyMirror(): ConversationMirror | null {
    this.check();
    return this.mirrorReady ? this.mirror : null;
  }

  /** Runs a write after every earlier write of this store (read-modify-write needs it). */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.writes.then(() => {
      this.check();
      return fn();
    });
    this.writes = run.catch(() => undefined);
    return run;
  }

  private async find<D>(
    collection: RxCollection<D>,
    selector: MangoQuerySelector<D>,
    sort: string[],
    index: string[],
    limit?: number,
  ): Promise<RxDocumentData<D>[]> {
    const prepared = this.prepare(collection, selector, sort, index, limit);
    const result = await collection.storageInstance.query(prepared);
    return result.documents;
  }

  /**
   * Walks an index range in `field` order (the last index field before the primary key, unique per
   * row) in steps of `batch` rows; `visit` returns false to stop. Resolves false when `stop` (asked
   * before each step) ended the walk early.
   */
  private async scan<D>(
    collection: RxCollection<D>,
    selector: MangoQuerySelector<D>,
    field: keyof D & string,
    index: string[],
    batch: number,
    visit: (doc: RxDocumentData<D>) => boolean | Promise<boolean>,
    stop?: () => boolean,
  ): Promise<boolean> {
    let after: unknown;
    for (;;) {
      if (stop?.()) return false;
      const sel = after === undefined ? selector : ({ ...selector, [field]: { $gt: after } } as MangoQuerySelector<D>);
      const docs = await this.find(collection, sel, [field], index, batch);
      for (const d of docs) if (!(await visit(d))) return true;
      if (docs.length < batch) return true;
      after = docs[docs.length - 1]![field];
    }
  }

  private async count<D>(collection: RxCollection<D>, selector: MangoQuerySelector<D>, index: string[]): Promise<number> {
    const prepared = this.prepare(collection, selector, index, index);
    const result = await collection.storageInstance.count(prepared);
    return result.count;
  }

  private prepare<D>(collection: RxCollection<D>, selector: MangoQuerySelector<D>, sort: string[], index: string[], limit?: number) {
    const schema = collection.schema.jsonSchema;
    const mango: Record<string, unknown> = { selector, sort: sort.map((f) => ({ [f]: 'asc' })), index: [...index] };
    if (limit !== undefined) mango.limit = limit;
    const normalized = normalizeMangoQuery(schema, mango as Parameters<typeof normalizeMangoQuery<D>>[1]);
    (normalized.selector as Record<string, unknown>)._deleted = { $eq: false };
    if (normalized.index) normalized.index.unshift('_deleted');
    return prepareQuery(schema, normalized);
  }

  /**
   * Writes rows whose seq is >= the stored one (tombstones count as absent). Within one call the
   * highest seq of an id wins (the later row on a tie).
   */
  private async upsertBySeq<D extends { seq: number }>(collection: RxCollection<D>, docs: readonly D[]): Promise<D[]> {
    if (docs.length === 0) return [];
    const primary = collection.schema.primaryPath as keyof D & string;
    const incoming = new Map<string, D>();
    for (const d of docs) {
      const id = d[primary] as unknown as string;
      const prev = incoming.get(id);
      if (prev === undefined || d.seq >= prev.seq) incoming.set(id, d);
    }
    const existing = await collection.storageInstance.findDocumentsById([...incoming.keys()], true);
    const stored = new Map<string, RxDocumentData<D>>();
    for (const e of existing) stored.set(e[primary] as unknown as string, e);
    const rows: BulkWriteRow<D>[] = [];
    const written: D[] = [];
    for (const [id, d] of incoming) {
      const prev = stored.get(id);
      if (prev !== undefined && !prev._deleted && prev.seq > d.seq) continue;
      rows.push(this.writeRow(d, prev));
      written.push(d);
    }
    await this.bulkWrite(collection, rows);
    return written;
  }

  private writeRow<D>(doc: D, previous: RxDocumentData<D> | undefined, deleted = false): BulkWriteRow<D> {
    const document = {
      ...doc,
      _deleted: deleted,
      _attachments: {},
      _rev: previous?._rev ?? '',
      _meta: { ...(previous?._meta ?? {}), lwt: 0 },
    } as RxDocumentData<D>;
    return previous === undefined ? { document } : { previous, document };
  }

  private async bulkWrite<D>(collection: RxCollection<D>, rows: BulkWriteRow<D>[]): Promise<void> {
    if (rows.length === 0) return;
    const result = await collection.storageInstance.bulkWrite(rows, WRITE_CONTEXT);
    if (result.error.length > 0) {
      const e = result.error[0]!;
      throw new Error(`RxdbStore: write to ${collection.name} failed (${e.status}) for ${e.documentId}; ${result.error.length} error(s)`);
    }
  }

  private async removeWhere<D>(collection: RxCollection<D>, selector: MangoQuerySelector<D>, index: string[]): Promise<void> {
    const docs: RxDocumentData<D>[] = [];
    const field = index[index.length - 1] as keyof D & string;
    await this.scan(collection, selector, field, index, SCAN_BATCH, (d) => docs.push(d) > 0);
    await this.bulkWrite(
      collection,
      docs.map((d) => this.writeRow(d, d, true)),
    );
  }

  private async kvGet<T>(key: string): Promise<T | null> {
    const [doc] = await this.check().kv.storageInstance.findDocumentsById([key], false);
    return doc === undefined ? null : this.dec<T>(doc);
  }

  private async kvPut(kind: KvKind, key: string, value: unknown): Promise<void> {
    const kv = this.check().kv;
    const json = await this.enc(value);
    const [prev] = await kv.storageInstance.findDocumentsById([key], true);
    await this.bulkWrite(kv, [this.writeRow<KvDoc>({ key, kind, json }, prev)]);
  }

  private async kvDelete(key: string): Promise<void> {
    const kv = this.check().kv;
    const [prev] = await kv.storageInstance.findDocumentsById([key], false);
    if (prev !== undefined) await this.bulkWrite(kv, [this.writeRow(prev, prev, true)]);
  }

  private async listDirectory<T>(kind: DirectoryKind): Promise<T[]> {
    const docs = await this.find(this.check().directory, { kind: { $eq: kind } }, ['kind', 'pk'], ['kind']);
    return this.decAll<T>(docs);
  }

  // ---------------------------------------------------------------- facts

  applyFacts(batch: FactBatch, checkpoint: number, scope: string): Promise<void> {
    return this.serial(async () => {
      const c = this.c;
      const dir = (kind: DirectoryKind, rows: readonly { id: string; seq: number }[]) => Promise.all(rows.map(async (r) => toDirectoryDoc(kind, r, await this.enc(r))));
      await this.writeConversations(batch.conversations);
      await this.upsertBySeq(c.messages, await Promise.all(batch.messages.map(async (m) => toMessageDoc(m, await this.enc(m)))));
      await this.upsertBySeq(c.directory, [
        ...(await dir('contact', batch.contacts)),
        ...(await dir('inbox', batch.inboxes)),
        ...(await dir('agent', batch.agents)),
        ...(await dir('team', batch.teams)),
      ]);
      // Last, so a crash before it makes the next pull repeat this batch (see the class comment).
      await this.kvPut('sys', CHECKPOINT_KEY, { checkpoint, scope });
    });
  }

  /** Upserts conversations by seq and puts the written rows into the mirror (before the checkpoint moves). */
  private async writeConversations(conversations: readonly Conversation[]): Promise<void> {
    if (conversations.length === 0) return;
    const mirror = this.mirror;
    let written: ConversationDoc[];
    const docs = await Promise.all(conversations.map(async (c) => toConversationDoc(c, await this.enc(c))));
    try {
      written = await this.upsertBySeq(this.c.conversations, docs);
    } catch (err) {
      // Part of the batch may be stored: the mirror cannot know which, so it is loaded again.
      if (mirror !== null && mirror === this.mirror) this.startMirror();
      throw err;
    }
    // The stored JSON, parsed: a copy the caller cannot change, equal to what IndexedDB reads return.
    if (mirror !== null && mirror === this.mirror) {
      const parsed = await this.decAll<Conversation>(written);
      if (mirror === this.mirror) for (const c of parsed) mirror.put(c);
    }
  }

  putMessages(messages: readonly Message[]): Promise<void> {
    return this.serial(async () => {
      await this.upsertBySeq(this.c.messages, await Promise.all(messages.map(async (m) => toMessageDoc(m, await this.enc(m)))));
    });
  }

  clearFacts(): Promise<void> {
    return this.serial(async () => {
      // Checkpoint first: a crash part-way leaves no scope, so the client clears again.
      await this.kvDelete(CHECKPOINT_KEY);
      const mirrored = this.mirror !== null;
      // Queries go to IndexedDB while the collections are dropped; a running mirror load stops.
      if (mirrored) this.stopMirror();
      try {
        const names: FactCollection[] = ['conversations', 'messages', 'directory'];
        // Dropping the collection clears its IndexedDB table at once (no tombstone per row).
        for (const name of names) await this.c[name].remove();
        const added = await this.db.addCollections({
          conversations: { schema: COLLECTIONS.conversations },
          messages: { schema: COLLECTIONS.messages },
          directory: { schema: COLLECTIONS.directory },
        });
        this.c = { ...this.c, ...(added as unknown as Pick<Collections, FactCollection>) };
      } catch (err) {
        // Whatever is left in IndexedDB is loaded again.
        if (mirrored) this.startMirror();
        throw err;
      }
      // The new collection is empty: so is the mirror, and it is complete.
      if (mirrored) this.startMirror(true);
    });
  }

  async getCheckpoint(): Promise<{ checkpoint: number; scope: string | null }> {
    return (await this.kvGet<{ checkpoint: number; scope: string }>(CHECKPOINT_KEY)) ?? { checkpoint: 0, scope: null };
  }

  // ---------------------------------------------------------------- conversations

  async getConversation(id: string): Promise<Conversation | null> {
    const mirror = this.readyMirror();
    if (mirror !== null) return mirror.get(id);
    const [doc] = await this.check().conversations.storageInstance.findDocumentsById([id], false);
    return doc === undefined ? null : this.dec<Conversation>(doc);
  }

  /** The index ranges that together hold every row a query can match: one per status (and assignee). */
  private partitions(q: Omit<ConversationQuery, 'sort' | 'limit' | 'offset'>): { selector: MangoQuerySelector<ConversationDoc>; prefix: ('s' | 'a')[] }[] {
    const statuses = [...new Set<string>(q.status ?? CONVERSATION_STATUSES)];
    if (q.assigneeId !== undefined) {
      const a = q.assigneeId ?? '';
      return statuses.map((s) => ({ selector: { s: { $eq: s }, a: { $eq: a } }, prefix: ['s', 'a'] }));
    }
    return statuses.map((s) => ({ selector: { s: { $eq: s } }, prefix: ['s'] }));
  }

  async queryConversations(q: ConversationQuery): Promise<Conversation[]> {
    const mirror = this.readyMirror();
    if (mirror !== null) return mirror.query(q);
    // Index-only queries read at most a page per status: the mirror loader waits for them. Filtered
    // walks can take long: they run beside the loader and switch to the mirror once it is ready.
    if (!hasResidualFilter(q)) return this.indexedRead(async () => (await this.queryIndexed(q))!);
    this.kickMirror(); // a filtered walk may take long: it switches to the mirror once that is ready
    return (await this.queryIndexed(q, () => this.mirrorReady)) ?? this.queryConversations(q);
  }

  /** The query on the IndexedDB indexes (while the mirror loads, or without one); null when `stop` ended it. */
  private async queryIndexed(q: ConversationQuery, stop?: () => boolean): Promise<Conversation[] | null> {
    const collection = this.check().conversations;
    const offset = Math.max(0, q.offset ?? 0);
    if (q.limit <= 0) return [];
    const native = await this.nativeConversations();
    if (native !== null) return this.queryNative(native, q, stop);
    const need = offset + q.limit;
    const key = SORT_FIELD[q.sort];
    const residual = hasResidualFilter(q);
    const parts = await Promise.all(
      this.partitions(q).map(async ({ selector, prefix }) => {
        const index = [...prefix, key];
        const found: Conversation[] = [];
        const batch = residual ? SCAN_BATCH : Math.min(need, SCAN_BATCH);
        const done = await this.scan(
          collection,
          selector,
          key,
          index,
          batch,
          async (d) => {
            const c = await this.dec<Conversation>(d);
            if (matchesQuery(c, q)) found.push(c);
            return found.length < need;
          },
          stop,
        );
        return done ? found : null;
      }),
    );
    if (parts.some((p) => p === null)) return null;
    // Each range is in index order already; the merge uses the domain comparator, so the result is runQuery's.
    const merged = parts.length === 1 ? parts[0]! : (parts as Conversation[][]).flat().sort(compareConversations(q.sort));
    return merged.slice(offset, need);
  }

  /** The key ranges of a query's partitions on the `[_deleted, s, (a,) key, id]` indexes. */
  private nativeRanges(q: Omit<ConversationQuery, 'sort' | 'limit' | 'offset'>, key: 'kA' | 'kW' | 'kP'): Omit<RangeRead, 'count'>[] {
    const statuses = [...new Set<string>(q.status ?? CONVERSATION_STATUSES)];
    if (q.assigneeId !== undefined) {
      const a = q.assigneeId ?? '';
      return statuses.map((s) => ({ index: `[_deleted+s+a+${key}+id]`, prefix: [s, a] }));
    }
    return statuses.map((s) => ({ index: `[_deleted+s+${key}+id]`, prefix: [s] }));
  }

  /**
   * The query with direct key-range reads. Without other filters, each status range is read once, up
   * to the page's end (a single range skips to the page with a key cursor); with filters, each range is
   * read in batches, each starting after the last index key read, until the page is full. The ranges
   * are in index order (the sort key, then the id), which is compareConversations' order; several are
   * merged with it, so the result is runQuery's. Null when `stop` ended a walk.
   */
  private async queryNative(t: NativeTable, q: ConversationQuery, stop?: () => boolean): Promise<Conversation[] | null> {
    const offset = Math.max(0, q.offset ?? 0);
    const need = offset + q.limit;
    const key = SORT_FIELD[q.sort];
    const ranges = this.nativeRanges(q, key);
    if (ranges.some((r) => !t.indexes.has(r.index))) throw new Error(`RxdbStore: missing IndexedDB index ${ranges.find((r) => !t.indexes.has(r.index))!.index}`);
    let parts: Conversation[][];
    if (!hasResidualFilter(q)) {
      const skip = ranges.length === 1 ? offset : 0;
      const rows = await readRanges(
        t,
        ranges.map((r) => ({ ...r, skip, count: need - skip })),
      );
      const decoded = await Promise.all(rows.map((part) => this.decAll<Conversation>(part)));
      if (ranges.length === 1) return decoded[0]!;
      parts = decoded;
    } else {
      const walked = await Promise.all(
        ranges.map(async (range) => {
          const found: Conversation[] = [];
          let after: unknown[] | undefined;
          for (;;) {
            if (stop?.()) return null;
            const rows = await this.walkRead(t, { ...range, after, count: NATIVE_BATCH });
            for (const c of await this.decAll<Conversation>(rows)) {
              if (matchesQuery(c, q) && found.push(c) >= need) return found;
            }
            if (rows.length < NATIVE_BATCH) return found;
            const last = rows[rows.length - 1]!;
            after = [NOT_DELETED, ...range.prefix, last[key], last.id];
          }
        }),
      );
      if (walked.some((p) => p === null)) return null;
      parts = walked as Conversation[][];
    }
    const merged = parts.length === 1 ? parts[0]! : parts.flat().sort(compareConversations(q.sort));
    return merged.slice(offset, need);
  }

  /**
   * Diagnostics: the IndexedDB index and range each partition of a query would use, and whether the
   * index alone gives the order (so the walk stops at the window). Tests use it to keep queries fast.
   */
  explainQuery(q: ConversationQuery): { index: string[]; sortSatisfiedByIndex: boolean; selectorSatisfiedByIndex: boolean }[] {
    const collection = this.check().conversations;
    const key = SORT_FIELD[q.sort];
    return this.partitions(q).map(({ selector, prefix }) => {
      const { queryPlan } = this.prepare(collection, { ...selector, [key]: { $gt: '' } }, [key], [...prefix, key], q.limit);
      return { index: [...queryPlan.index], sortSatisfiedByIndex: queryPlan.sortSatisfiedByIndex, selectorSatisfiedByIndex: queryPlan.selectorSatisfiedByIndex };
    });
  }

  async countConversations(q: Omit<ConversationQuery, 'sort' | 'limit' | 'offset'>): Promise<number> {
    const mirror = this.readyMirror();
    if (mirror !== null) return mirror.count(q);
    if (!hasResidualFilter(q)) return this.indexedRead(async () => (await this.countIndexed(q))!);
    this.kickMirror();
    return (await this.countIndexed(q, () => this.mirrorReady)) ?? this.countConversations(q);
  }

  /** The count on the IndexedDB indexes; null when `stop` ended it. */
  private async countIndexed(q: Omit<ConversationQuery, 'sort' | 'limit' | 'offset'>, stop?: () => boolean): Promise<number | null> {
    const collection = this.check().conversations;
    const native = await this.nativeConversations();
    if (native !== null) return this.countNative(native, q, stop);
    const parts = this.partitions(q);
    if (!hasResidualFilter(q)) {
      // Status and assignee are index prefixes: IndexedDB counts the key range without reading rows.
      const counts = await Promise.all(parts.map(({ selector, prefix }) => this.count(collection, selector, [...prefix, 'kA'])));
      return counts.reduce((a, b) => a + b, 0);
    }
    const counts = await Promise.all(
      parts.map(async ({ selector, prefix }) => {
        let n = 0;
        const done = await this.scan(
          collection,
          selector,
          'kA',
          [...prefix, 'kA'],
          SCAN_BATCH,
          async (d) => {
            if (matchesQuery(await this.dec<Conversation>(d), q)) n++;
            return true;
          },
          stop,
        );
        return done ? n : null;
      }),
    );
    if (counts.some((c) => c === null)) return null;
    return (counts as number[]).reduce((a, b) => a + b, 0);
  }

  /** One batch of a filtered walk (a method, so a test can hold a walk between two batches). */
  private async walkRead(t: NativeTable, read: RangeRead): Promise<StoredRow[]> {
    const [rows] = await readRanges(t, [read]);
    return rows!;
  }

  /** The count with direct reads: IndexedDB counts status/assignee ranges; other filters walk them in batches. */
  private async countNative(t: NativeTable, q: Omit<ConversationQuery, 'sort' | 'limit' | 'offset'>, stop?: () => boolean): Promise<number | null> {
    const ranges = this.nativeRanges(q, 'kA');
    if (!hasResidualFilter(q)) return (await countRanges(t, ranges)).reduce((a, b) => a + b, 0);
    const counts = await Promise.all(
      ranges.map(async (range) => {
        let n = 0;
        let after: unknown[] | undefined;
        for (;;) {
          if (stop?.()) return null;
          const rows = await this.walkRead(t, { ...range, after, count: NATIVE_BATCH });
          for (const c of await this.decAll<Conversation>(rows)) if (matchesQuery(c, q)) n++;
          if (rows.length < NATIVE_BATCH) return n;
          const last = rows[rows.length - 1]!;
          after = [NOT_DELETED, ...range.prefix, last.kA, last.id];
        }
      }),
    );
    if (counts.some((c) => c === null)) return null;
    return (counts as number[]).reduce((a, b) => a + b, 0);
  }

  // ---------------------------------------------------------------- messages

  async getMessages(query: MessagePageQuery): Promise<Message[]> {
    if (query.limit <= 0) return [];
    const selector: MangoQuerySelector<MessageDoc> = { cid: { $eq: query.conversationId } };
    if (query.before !== undefined) selector.k = { $gt: messageKey(query.before) };
    const docs = await this.find(this.check().messages, selector, ['k'], ['cid', 'k'], query.limit);
    return this.decAll<Message>(docs);
  }

  async getMessage(id: string): Promise<Message | null> {
    const [doc] = await this.check().messages.storageInstance.findDocumentsById([id], false);
    return doc === undefined ? null : this.dec<Message>(doc);
  }

  evictMessages(conversationIds: readonly string[]): Promise<void> {
    return this.serial(async () => {
      for (const cid of new Set(conversationIds)) await this.removeWhere(this.c.messages, { cid: { $eq: cid } }, ['cid', 'k']);
    });
  }

  async conversationsWithMessages(): Promise<string[]> {
    // Skip scan over the [cid, k] index: one single-row range read per distinct conversation.
    const messages = this.check().messages;
    const out: string[] = [];
    let last: string | undefined;
    for (;;) {
      const selector: MangoQuerySelector<MessageDoc> = last === undefined ? {} : { cid: { $gt: last } };
      const [doc] = await this.find(messages, selector, ['cid', 'k'], ['cid', 'k'], 1);
      if (doc === undefined) return out;
      out.push(doc.cid);
      last = doc.cid;
    }
  }

  // ---------------------------------------------------------------- directory

  async getContact(id: string): Promise<Contact | null> {
    const [doc] = await this.check().directory.storageInstance.findDocumentsById([`contact:${id}`], false);
    return doc === undefined ? null : this.dec<Contact>(doc);
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

  // ---------------------------------------------------------------- meta and outbox

  getMeta<T = unknown>(key: string): Promise<T | null> {
    return this.kvGet<T>(`meta:${key}`);
  }

  setMeta(key: string, value: unknown): Promise<void> {
    return this.serial(() => this.kvPut('meta', `meta:${key}`, value));
  }

  outboxPut(entry: OutboxEntry): Promise<void> {
    return this.serial(() => this.kvPut('outbox', `outbox:${entry.id}`, entry));
  }

  async outboxList(): Promise<OutboxEntry[]> {
    const docs = await this.find(this.check().kv, { kind: { $eq: 'outbox' } }, ['kind', 'key'], ['kind']);
    return (await this.decAll<OutboxEntry>(docs)).sort((a, b) => a.order - b.order || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  outboxDelete(id: string): Promise<void> {
    return this.serial(() => this.kvDelete(`outbox:${id}`));
  }

  // ---------------------------------------------------------------- yjs

  private async yjsDocs(doc: string): Promise<RxDocumentData<YjsDoc>[]> {
    return this.find(this.check().yjs, { doc: { $eq: doc } }, ['doc', 'n'], ['doc', 'n']);
  }

  private async nextYjsNumber(doc: string): Promise<number> {
    let next = this.yjsNext.get(doc);
    if (next === undefined) {
      // Numbers only grow: yjsReplace writes the merged update above every number it deletes, so the
      // live rows hold the highest number and an insert never meets a tombstone.
      next = (await this.yjsDocs(doc)).reduce((m, d) => Math.max(m, d.n + 1), 0);
    }
    this.yjsNext.set(doc, next + 1);
    return next;
  }

  private async yjsRow(doc: string, n: number, update: Uint8Array): Promise<YjsDoc> {
    const b64 = bytesToBase64(update);
    return { id: `${doc}|${String(n).padStart(15, '0')}`, doc, n, data: this.options.cipher ? await this.options.cipher.encrypt(b64) : b64 };
  }

  yjsAppend(doc: string, update: Uint8Array): Promise<void> {
    return this.serial(async () => {
      const n = await this.nextYjsNumber(doc);
      await this.bulkWrite(this.c.yjs, [this.writeRow(await this.yjsRow(doc, n, update), undefined)]);
    });
  }

  async yjsLoad(doc: string): Promise<Uint8Array[]> {
    const docs = await this.yjsDocs(doc);
    const cipher = this.options.cipher;
    return Promise.all(docs.map(async (d) => base64ToBytes(cipher ? await cipher.decrypt(d.data) : d.data)));
  }

  yjsReplace(doc: string, update: Uint8Array): Promise<void> {
    return this.serial(async () => {
      const old = await this.yjsDocs(doc);
      const n = await this.nextYjsNumber(doc);
      // The merged update first: a crash before the deletes leaves redundant updates, never lost ones.
      await this.bulkWrite(this.c.yjs, [this.writeRow(await this.yjsRow(doc, n, update), undefined)]);
      await this.bulkWrite(
        this.c.yjs,
        old.map((d) => this.writeRow(d, d, true)),
      );
    });
  }

  // ---------------------------------------------------------------- lifecycle

  async close(): Promise<void> {
    if (this.closed) return;
    await this.writes;
    await this.endMirror();
    this.closed = true;
    await this.db.close();
  }

  /** [accounts] Retention on the device: deletes the local messages the predicate picks (core's Replicator asks). */
  purgeMessages(shouldPurge: (message: Message, channel: Channel | null) => boolean): Promise<number> {
    return this.serial(async () => {
      const doomed: RxDocumentData<MessageDoc>[] = [];
      for (const cid of await this.conversationsWithMessages()) {
        const [c] = await this.c.conversations.storageInstance.findDocumentsById([cid], false);
        const channel = c === undefined ? null : (await this.dec<Conversation>(c)).channel;
        await this.scan(this.c.messages, { cid: { $eq: cid } }, 'k', ['cid', 'k'], SCAN_BATCH, async (d) => {
          if (shouldPurge(await this.dec<Message>(d), channel)) doomed.push(d);
          return true;
        });
      }
      await this.bulkWrite(
        this.c.messages,
        doomed.map((d) => this.writeRow(d, d, true)),
      );
      return doomed.length;
    });
  }

  /** [accounts] Remote wipe, deactivation, sign-out: the database goes, then the host forgets its key. */
  async wipe(): Promise<void> {
    await this.destroy();
    await this.options.onWipe?.();
  }

  /** Deletes the whole database (sign-out with "forget this device"). */
  async destroy(): Promise<void> {
    await this.writes;
    await this.endMirror();
    this.closed = true;
    await this.db.remove();
  }

  /** Stops the mirror and waits for its loader to leave IndexedDB alone. */
  private async endMirror(): Promise<void> {
    const task = this.mirrorTask;
    this.stopMirror();
    await task;
  }
}

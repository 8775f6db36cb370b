// Key-range reads of a collection of RxDB's Dexie storage, straight on IndexedDB: one `getAll(range,
// count)` per index range instead of RxDB's query path, which opens a cursor and pays one event (one
// task in browsers; in fake-indexeddb a walk from the range start) per row. A page of the inbox is one
// request per status; a walk with filters reads the range in batches that each start after the last
// key read. The rows are those RxDB stores (booleans as '0'/'1', see dexie-helper), and the indexes
// are those RxDB derives from the schema (`_deleted` first, the primary key last), so every index key
// is unique and a batch can start strictly after the previous one.

/** The fields of a stored row the reads use (RxDB's Dexie document, index fields and `json`). */
export interface StoredRow {
  id: string;
  json: string;
  _deleted?: unknown;
  [field: string]: unknown;
}

type KeyRangeApi = Pick<typeof IDBKeyRange, 'bound' | 'lowerBound'>;

/** The IndexedDB side of one RxDB Dexie collection. */
export interface NativeTable {
  /** The open connection (asked anew for every read: Dexie may reopen it). */
  db(): IDBDatabase | null;
  readonly keyRange: KeyRangeApi;
  /** Index names of the docs table (`[_deleted+s+a+kA+id]`, ...). */
  readonly indexes: ReadonlySet<string>;
}

/** RxDB's Dexie storage keeps the documents of a collection in this table (dexie-helper's DEXIE_DOCS_TABLE_NAME). */
export const DOCS_TABLE = 'docs';
/** What RxDB's Dexie storage stores for `_deleted: false` in an index. */
export const NOT_DELETED = '0';

interface DexieInternals {
  dexieDb?: { backendDB?: () => IDBDatabase | null; _options?: { IDBKeyRange?: KeyRangeApi } };
}

/**
 * The native table behind a collection (`storageInstance.internals` of RxDB's Dexie storage, an
 * internal of the pinned RxDB 17.6), or null when the storage is not shaped like that (the caller
 * then uses RxDB's query path: slower, same results).
 */
export async function nativeTable(storageInstance: unknown, fallbackKeyRange: unknown): Promise<NativeTable | null> {
  try {
    const internals = (await (storageInstance as { internals?: unknown }).internals) as DexieInternals | undefined;
    const dexie = internals?.dexieDb;
    if (dexie === undefined || typeof dexie.backendDB !== 'function') return null;
    const keyRange = (dexie._options?.IDBKeyRange ?? fallbackKeyRange ?? (globalThis as { IDBKeyRange?: KeyRangeApi }).IDBKeyRange) as KeyRangeApi | undefined;
    if (keyRange === undefined || typeof keyRange.bound !== 'function') return null;
    const db = dexie.backendDB();
    if (db === null || !db.objectStoreNames.contains(DOCS_TABLE)) return null;
    const tx = db.transaction(DOCS_TABLE, 'readonly');
    const store = tx.objectStore(DOCS_TABLE);
    const indexes = new Set<string>(Array.from(store.indexNames));
    if (typeof store.getAll !== 'function') return null;
    const backend = dexie.backendDB.bind(dexie);
    return { db: () => backend(), keyRange, indexes };
  } catch {
    return null;
  }
}

/** An index range of the docs table: the rows whose index key starts with `prefix` (after `_deleted`). */
export interface RangeRead {
  index: string;
  /** Key values after `_deleted` that every row of the range shares (status, assignee). */
  prefix: readonly string[];
  /** Start strictly after this full index key (the last key of the previous batch). */
  after?: readonly unknown[];
  /** Rows to skip first (a deeper page of one range). */
  skip?: number;
  count: number;
}

function request<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error ?? new Error('IndexedDB request failed'));
  });
}

function rangeOf(t: NativeTable, read: Pick<RangeRead, 'prefix' | 'after'>): IDBKeyRange {
  const low = [NOT_DELETED, ...read.prefix];
  // An array sorts after every string, so [...prefix, []] is above every key that extends the prefix.
  const high = [...low, []];
  return read.after === undefined ? t.keyRange.bound(low, high) : t.keyRange.bound(read.after, high, true, false);
}

/**
 * Up to `count` rows of a range after skipping `skip`: a key cursor advances once, and the read starts
 * at the key it lands on (issued from the cursor's success event, so the transaction is still active).
 */
function readSkipping(index: IDBIndex, t: NativeTable, read: RangeRead): Promise<StoredRow[]> {
  return new Promise((resolve, reject) => {
    const fail = (r: IDBRequest) => () => reject(r.error ?? new Error('IndexedDB request failed'));
    const r = index.openKeyCursor(rangeOf(t, read));
    let advanced = false;
    r.onerror = fail(r);
    r.onsuccess = () => {
      const cursor = r.result;
      if (cursor === null) resolve([]);
      else if (!advanced) {
        advanced = true;
        cursor.advance(read.skip!);
      } else {
        const rows = index.getAll(t.keyRange.bound(cursor.key, [NOT_DELETED, ...read.prefix, []]), read.count) as IDBRequest<StoredRow[]>;
        rows.onerror = fail(rows);
        rows.onsuccess = () => resolve(rows.result);
      }
    };
  });
}

/** Reads several index ranges in one read-only transaction, each up to its `count` rows in index order. */
export function readRanges(t: NativeTable, reads: readonly RangeRead[]): Promise<StoredRow[][]> {
  const db = t.db();
  if (db === null) return Promise.reject(new Error('RxdbStore: the IndexedDB connection is closed'));
  const store = db.transaction(DOCS_TABLE, 'readonly').objectStore(DOCS_TABLE);
  return Promise.all(
    reads.map((read) => {
      if (read.count <= 0) return Promise.resolve([]);
      const index = store.index(read.index);
      if (read.skip !== undefined && read.skip > 0) return readSkipping(index, t, read);
      return request(index.getAll(rangeOf(t, read), read.count) as IDBRequest<StoredRow[]>);
    }),
  );
}

/** Counts the rows of several index ranges in one read-only transaction (no row is read). */
export async function countRanges(t: NativeTable, reads: readonly Pick<RangeRead, 'index' | 'prefix'>[]): Promise<number[]> {
  const db = t.db();
  if (db === null) throw new Error('RxdbStore: the IndexedDB connection is closed');
  const store = db.transaction(DOCS_TABLE, 'readonly').objectStore(DOCS_TABLE);
  return Promise.all(reads.map((read) => request(store.index(read.index).count(rangeOf(t, read)))));
}

/** Up to `count` rows of the docs table in primary-key order, after `after` (the mirror loader's read). */
export async function readByPrimaryKey(t: NativeTable, after: string | undefined, count: number): Promise<StoredRow[]> {
  const db = t.db();
  if (db === null) throw new Error('RxdbStore: the IndexedDB connection is closed');
  const store = db.transaction(DOCS_TABLE, 'readonly').objectStore(DOCS_TABLE);
  return request(store.getAll(after === undefined ? undefined : t.keyRange.lowerBound(after, true), count) as IDBRequest<StoredRow[]>);
}

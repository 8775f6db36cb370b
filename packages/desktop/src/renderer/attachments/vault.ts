// Files the agent picked, kept on the device until the server has them: a small IndexedDB database
// next to the local store (one per account), with the upload queue itself in the same database, so
// a reply with attachments written offline survives a reload or a restart of the app.
import type { QueuedAction } from './uploadQueue';

export interface StoredFile {
  ref: string;
  name: string;
  mime: string;
  size: number;
  blob: Blob;
}

export interface FileVault {
  /** Stores files and the new queue in one transaction. */
  put(files: readonly StoredFile[], queue: readonly QueuedAction[]): Promise<void>;
  get(ref: string): Promise<StoredFile | null>;
  /** Removes files and saves the queue in one transaction. */
  remove(refs: readonly string[], queue: readonly QueuedAction[]): Promise<void>;
  saveQueue(queue: readonly QueuedAction[]): Promise<void>;
  loadQueue(): Promise<QueuedAction[]>;
  close(): void;
}

const FILES = 'files';
const META = 'meta';
const QUEUE_KEY = 'uploadQueue';

function req<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error ?? new Error('IndexedDB request failed'));
  });
}

function done(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
    tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
  });
}

/** Queue entries are plain data; a structured clone keeps Vue proxies out of IndexedDB. */
const plain = (queue: readonly QueuedAction[]) => JSON.parse(JSON.stringify(queue)) as QueuedAction[];

/** The vault in IndexedDB (`{databaseName}-files`). */
export async function openIndexedDbVault(name: string, factory: IDBFactory = indexedDB): Promise<FileVault> {
  const open = factory.open(`${name}-files`, 1);
  open.onupgradeneeded = () => {
    const db = open.result;
    if (!db.objectStoreNames.contains(FILES)) db.createObjectStore(FILES, { keyPath: 'ref' });
    if (!db.objectStoreNames.contains(META)) db.createObjectStore(META);
  };
  const db = await req(open);
  const write = async (fn: (files: IDBObjectStore, meta: IDBObjectStore) => void) => {
    const tx = db.transaction([FILES, META], 'readwrite');
    fn(tx.objectStore(FILES), tx.objectStore(META));
    await done(tx);
  };
  return {
    put: (files, queue) =>
      write((f, m) => {
        for (const file of files) f.put({ ref: file.ref, name: file.name, mime: file.mime, size: file.size, blob: file.blob });
        m.put(plain(queue), QUEUE_KEY);
      }),
    async get(ref) {
      const r = (await req(db.transaction(FILES, 'readonly').objectStore(FILES).get(ref))) as StoredFile | undefined;
      return r ?? null;
    },
    remove: (refs, queue) =>
      write((f, m) => {
        for (const ref of refs) f.delete(ref);
        m.put(plain(queue), QUEUE_KEY);
      }),
    saveQueue: (queue) => write((_f, m) => void m.put(plain(queue), QUEUE_KEY)),
    async loadQueue() {
      const q = (await req(db.transaction(META, 'readonly').objectStore(META).get(QUEUE_KEY))) as QueuedAction[] | undefined;
      return Array.isArray(q) ? q : [];
    },
    close: () => db.close(),
  };
}

/** An in-memory vault (unit tests, and browsers without IndexedDB). */
export function memoryVault(): FileVault & { files: Map<string, StoredFile>; queue: QueuedAction[] } {
  const v = {
    files: new Map<string, StoredFile>(),
    queue: [] as QueuedAction[],
    async put(files: readonly StoredFile[], queue: readonly QueuedAction[]) {
      for (const f of files) v.files.set(f.ref, f);
      v.queue = plain(queue);
    },
    async get(ref: string) {
      return v.files.get(ref) ?? null;
    },
    async remove(refs: readonly string[], queue: readonly QueuedAction[]) {
      for (const r of refs) v.files.delete(r);
      v.queue = plain(queue);
    },
    async saveQueue(queue: readonly QueuedAction[]) {
      v.queue = plain(queue);
    },
    async loadQueue() {
      return plain(v.queue);
    },
    close() {},
  };
  return v;
}

/** A vault opened on first use (keeps IndexedDB work off the app's start-up path). */
export function lazyVault(open: () => Promise<FileVault>): FileVault {
  let p: Promise<FileVault> | null = null;
  const v = () => (p ??= open());
  return {
    put: async (files, queue) => (await v()).put(files, queue),
    get: async (ref) => (await v()).get(ref),
    remove: async (refs, queue) => (await v()).remove(refs, queue),
    saveQueue: async (queue) => (await v()).saveQueue(queue),
    loadQueue: async () => (await v()).loadQueue(),
    close: () => void p?.then((x) => x.close()),
  };
}

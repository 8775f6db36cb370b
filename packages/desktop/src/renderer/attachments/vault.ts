// Files the agent picked (and call recordings), kept on the device until the server has them: a
// small IndexedDB database next to the local store (one per account), so a reply with attachments
// written offline survives a reload or a restart of the app. The queue itself is core's upload
// queue (client.uploads), with its entries in the local store's meta; this is its vault.
import type { QueuedUpload, UploadFileInfo } from '@goutong/core';

/** A file in the vault: what core's queue knows of it, and its bytes. */
export interface StoredFile extends UploadFileInfo {
  blob: Blob;
}

export interface FileVault {
  put(file: StoredFile): Promise<void>;
  get(ref: string): Promise<StoredFile | null>;
  remove(ref: string): Promise<void>;
  /** The queue this database held before core's upload queue kept it in the local store (read once, then dropped). */
  takeLegacyQueue(): Promise<QueuedUpload[]>;
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

/** The vault in IndexedDB (`{databaseName}-files`). */
export async function openIndexedDbVault(name: string, factory: IDBFactory = indexedDB): Promise<FileVault> {
  const open = factory.open(`${name}-files`, 1);
  open.onupgradeneeded = () => {
    const db = open.result;
    if (!db.objectStoreNames.contains(FILES)) db.createObjectStore(FILES, { keyPath: 'ref' });
    if (!db.objectStoreNames.contains(META)) db.createObjectStore(META);
  };
  const db = await req(open);
  const write = async (store: string, fn: (s: IDBObjectStore) => void) => {
    const tx = db.transaction(store, 'readwrite');
    fn(tx.objectStore(store));
    await done(tx);
  };
  return {
    put: (file) => write(FILES, (f) => void f.put({ ref: file.ref, name: file.name, mime: file.mime, size: file.size, blob: file.blob })),
    async get(ref) {
      const r = (await req(db.transaction(FILES, 'readonly').objectStore(FILES).get(ref))) as StoredFile | undefined;
      return r ?? null;
    },
    remove: (ref) => write(FILES, (f) => void f.delete(ref)),
    async takeLegacyQueue() {
      const q = (await req(db.transaction(META, 'readonly').objectStore(META).get(QUEUE_KEY))) as QueuedUpload[] | undefined;
      if (q !== undefined) await write(META, (m) => void m.delete(QUEUE_KEY));
      return Array.isArray(q) ? q : [];
    },
    close: () => db.close(),
  };
}

/** An in-memory vault (unit tests, and browsers without IndexedDB). */
export function memoryVault(): FileVault & { files: Map<string, StoredFile> } {
  const v = {
    files: new Map<string, StoredFile>(),
    async put(file: StoredFile) {
      v.files.set(file.ref, file);
    },
    async get(ref: string) {
      return v.files.get(ref) ?? null;
    },
    async remove(ref: string) {
      v.files.delete(ref);
    },
    async takeLegacyQueue() {
      return [];
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
    put: async (file) => (await v()).put(file),
    get: async (ref) => (await v()).get(ref),
    remove: async (ref) => (await v()).remove(ref),
    takeLegacyQueue: async () => (await v()).takeLegacyQueue(),
    close: () => void p?.then((x) => x.close()),
  };
}

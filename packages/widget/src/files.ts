// Files of messages still in the outbox, kept in IndexedDB until they are uploaded: a visitor may
// attach a file offline and it goes out with its message when the connection returns.
const DB = 'goutong-widget';
const STORE = 'files';

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('IndexedDB unavailable'));
  });
}

async function run<T>(mode: IDBTransactionMode, f: (s: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await open();
  try {
    return await new Promise<T>((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const req = f(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = () => reject(tx.error ?? new Error('IndexedDB write failed'));
      tx.onabort = () => reject(tx.error ?? new Error('IndexedDB write aborted'));
    });
  } finally {
    db.close();
  }
}

export interface StoredFile {
  name: string;
  type: string;
  blob: Blob;
}

export const putFile = (key: string, f: StoredFile): Promise<unknown> => run('readwrite', (s) => s.put(f, key));
export const getFile = (key: string): Promise<StoredFile | undefined> => run('readonly', (s) => s.get(key) as IDBRequest<StoredFile | undefined>);
export const deleteFile = (key: string): Promise<unknown> => run('readwrite', (s) => s.delete(key));

// Where picked photos wait for their upload. A temporary path from the camera does not survive a
// restart, so the file is copied first:
//  - H5: into IndexedDB as a Blob (a database of its own per agent, beside RxDB's);
//  - app-plus and mp-weixin: into uni's saved files (`uni.saveFile`, the app's own storage).
import type { FileVault, LocalFile, PickedFile } from '../app/services';

function newRef(): string {
  const rnd = Math.random().toString(36).slice(2, 10);
  return `f${Date.now().toString(36)}${rnd}`;
}

interface StoredBlob {
  ref: string;
  name: string;
  mime: string;
  size: number;
  blob: Blob;
}

/** IndexedDB's API in a promise, for one object store keyed by `ref`. */
function request<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error ?? new Error('IndexedDB request failed'));
  });
}

export class IdbFileVault implements FileVault {
  private urls = new Map<string, string>();

  private constructor(private readonly db: IDBDatabase) {}

  static async open(name: string, idb: IDBFactory = indexedDB): Promise<IdbFileVault> {
    const open = idb.open(name, 1);
    open.onupgradeneeded = () => {
      if (!open.result.objectStoreNames.contains('files')) open.result.createObjectStore('files', { keyPath: 'ref' });
    };
    return new IdbFileVault(await request(open));
  }

  private store(mode: IDBTransactionMode): IDBObjectStore {
    return this.db.transaction('files', mode).objectStore('files');
  }

  async keep(file: PickedFile): Promise<LocalFile> {
    const blob = file.blob ?? (await (await fetch(file.path)).blob());
    const row: StoredBlob = { ref: newRef(), name: file.name, mime: file.mime || blob.type || 'application/octet-stream', size: blob.size, blob };
    await request(this.store('readwrite').put(row));
    return { ref: row.ref, name: row.name, mime: row.mime, size: row.size };
  }

  async blob(ref: string): Promise<Blob | null> {
    const row = (await request(this.store('readonly').get(ref))) as StoredBlob | undefined;
    return row ? row.blob : null;
  }

  async displayUrl(ref: string): Promise<string | null> {
    const known = this.urls.get(ref);
    if (known) return known;
    const blob = await this.blob(ref);
    if (!blob) return null;
    const url = URL.createObjectURL(blob);
    this.urls.set(ref, url);
    return url;
  }

  async remove(ref: string): Promise<void> {
    const url = this.urls.get(ref);
    if (url) URL.revokeObjectURL(url);
    this.urls.delete(ref);
    await request(this.store('readwrite').delete(ref));
  }

  close(): void {
    for (const url of this.urls.values()) URL.revokeObjectURL(url);
    this.urls.clear();
    this.db.close();
  }
}

/** The part of uni's file API the saved-file vault uses. */
export interface UniFilesApi {
  saveFile(o: { tempFilePath: string; success?: (r: { savedFilePath: string }) => void; fail?: (e: { errMsg?: string }) => void }): void;
  removeSavedFile(o: { filePath: string; success?: () => void; fail?: (e: { errMsg?: string }) => void }): void;
}

/**
 * app-plus and mp-weixin: uni's saved files. The ref is the saved path, which <image> shows
 * directly. Names and types are kept in the queue entry (LocalFile), not here.
 */
export class SavedFileVault implements FileVault {
  constructor(private readonly u: UniFilesApi) {}

  keep(file: PickedFile): Promise<LocalFile> {
    return new Promise((resolve, reject) =>
      this.u.saveFile({
        tempFilePath: file.path,
        success: (r) => resolve({ ref: r.savedFilePath, name: file.name, mime: file.mime, size: file.size }),
        fail: (e) => reject(new Error(e.errMsg || 'cannot keep the file on this device')),
      }),
    );
  }

  async displayUrl(ref: string): Promise<string | null> {
    return ref;
  }

  remove(ref: string): Promise<void> {
    return new Promise((resolve) => this.u.removeSavedFile({ filePath: ref, success: () => resolve(), fail: () => resolve() }));
  }
}

const EXT_MIME: Record<string, string> = {
  jpg: 'image/jpeg', jpeg: 'image/jpeg', png: 'image/png', gif: 'image/gif', webp: 'image/webp', heic: 'image/heic',
  mp4: 'video/mp4', mov: 'video/quicktime', webm: 'video/webm', pdf: 'application/pdf',
};

/** A file type from a file name's extension (camera paths carry no type on app-plus). */
export function mimeFromName(name: string): string {
  const ext = /\.([a-z0-9]+)$/i.exec(name)?.[1]?.toLowerCase() ?? '';
  return EXT_MIME[ext] ?? 'application/octet-stream';
}

/** The last part of a path or URL, for a file name ("photo.jpg" when there is none). */
export function baseName(path: string, fallback = 'photo.jpg'): string {
  const last = path.split(/[\\/]/).pop()?.split(/[?#]/)[0] ?? '';
  return /\.[a-z0-9]+$/i.test(last) ? last : fallback;
}

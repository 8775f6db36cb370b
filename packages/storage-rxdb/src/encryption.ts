// [accounts] Encryption at rest of the local database: AES-256-GCM (WebCrypto) over the `json` field
// of every document (and the Yjs updates), with a key that never leaves the platform's keeper:
// a non-extractable CryptoKey in IndexedDB (the web app, uni-app H5), or raw bytes the host keeps in
// its secure storage (Electron safeStorage, the uni-app keystore) imported as non-extractable.
// RxDB's own encryption plugin is a premium plugin and is not used.

/** Encrypts and decrypts the stored text of a document. */
export interface DocCipher {
  encrypt(plain: string): Promise<string>;
  decrypt(stored: string): Promise<string>;
}

const PREFIX = 'e1:';

function toB64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

function fromB64(b64: string): Uint8Array {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** A cipher with an AES-GCM CryptoKey: `e1:` + base64(12-byte IV || ciphertext and tag). */
export class AesGcmCipher implements DocCipher {
  private readonly enc = new TextEncoder();
  private readonly dec = new TextDecoder();
  constructor(
    private readonly key: CryptoKey,
    private readonly subtle: SubtleCrypto = globalThis.crypto.subtle,
    private readonly random: (n: number) => Uint8Array = (n) => globalThis.crypto.getRandomValues(new Uint8Array(n)),
  ) {}

  async encrypt(plain: string): Promise<string> {
    const iv = this.random(12);
    const ct = new Uint8Array(await this.subtle.encrypt({ name: 'AES-GCM', iv: iv as BufferSource }, this.key, this.enc.encode(plain)));
    const out = new Uint8Array(iv.length + ct.length);
    out.set(iv, 0);
    out.set(ct, iv.length);
    return PREFIX + toB64(out);
  }

  async decrypt(stored: string): Promise<string> {
    if (!stored.startsWith(PREFIX)) throw new Error('RxdbStore: a document is not encrypted (or with an unknown format)');
    const bytes = fromB64(stored.slice(PREFIX.length));
    const plain = await this.subtle.decrypt({ name: 'AES-GCM', iv: bytes.subarray(0, 12) as BufferSource }, this.key, bytes.subarray(12) as BufferSource);
    return this.dec.decode(plain);
  }
}

/** A cipher from raw key bytes a host keeps in secure storage (32 bytes), imported as non-extractable. */
export async function cipherFromRawKey(raw: Uint8Array, subtle: SubtleCrypto = globalThis.crypto.subtle): Promise<AesGcmCipher> {
  if (raw.length !== 32) throw new Error('the device key must be 32 bytes');
  const key = await subtle.importKey('raw', raw as BufferSource, { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']);
  return new AesGcmCipher(key, subtle);
}

/** Fresh key bytes for a host that keeps them itself (Electron safeStorage, uni-app keystore). */
export function newRawKey(): Uint8Array {
  return globalThis.crypto.getRandomValues(new Uint8Array(32));
}

const KEY_DB = 'goutong-device-keys';
const KEY_STORE = 'keys';

function req<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

async function keyDb(idb: IDBFactory): Promise<IDBDatabase> {
  const open = idb.open(KEY_DB, 1);
  open.onupgradeneeded = () => open.result.createObjectStore(KEY_STORE);
  return req(open);
}

/**
 * The device key of a local database in the browser: a non-extractable AES-GCM CryptoKey kept in
 * IndexedDB (script can use it, never read its bytes); made on first use.
 */
export async function deviceKeyCipher(name: string, idb: IDBFactory = globalThis.indexedDB, subtle: SubtleCrypto = globalThis.crypto.subtle): Promise<AesGcmCipher> {
  const db = await keyDb(idb);
  try {
    const existing = (await req(db.transaction(KEY_STORE, 'readonly').objectStore(KEY_STORE).get(name))) as CryptoKey | undefined;
    if (existing) return new AesGcmCipher(existing, subtle);
    const key = await subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
    const tx = db.transaction(KEY_STORE, 'readwrite');
    // add, not put: when two tabs race, the second fails and uses the first one's key.
    try {
      await req(tx.objectStore(KEY_STORE).add(key, name));
    } catch {
      const again = (await req(db.transaction(KEY_STORE, 'readonly').objectStore(KEY_STORE).get(name))) as CryptoKey | undefined;
      if (again) return new AesGcmCipher(again, subtle);
      throw new Error('could not store the device key');
    }
    return new AesGcmCipher(key, subtle);
  } finally {
    db.close();
  }
}

/** Forgets the device key of a database (wipe): what was encrypted with it cannot be read any more. */
export async function deleteDeviceKey(name: string, idb: IDBFactory = globalThis.indexedDB): Promise<void> {
  const db = await keyDb(idb);
  try {
    const tx = db.transaction(KEY_STORE, 'readwrite');
    await req(tx.objectStore(KEY_STORE).delete(name));
  } finally {
    db.close();
  }
}

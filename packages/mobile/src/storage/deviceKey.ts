// [trust] The device key of the app's local database (app-plus): 32 random bytes, kept
//  - on Android in the platform keystore: an AES-256-GCM key generated inside AndroidKeyStore
//    (never leaves it) wraps the database key; only the wrapped bytes are kept in uni storage;
//  - elsewhere (iOS, or an Android build where the keystore cannot be reached) in uni storage, the
//    app's private storage: the database file alone (a copied file, a backup without app data) is
//    unreadable, but someone who can read the app's private storage (a rooted or jailbroken phone)
//    can read the key too. README "Local data at rest" states this limit.
// Forgetting the key (sign-out, deactivation, remote wipe) makes what is left of the file unreadable.
import { base64ToBytes, bytesToBase64 } from './codec';

export type KeyKeeperKind = 'android-keystore' | 'uni-storage';

/** Where the key is kept. */
export interface KeyKeeper {
  readonly kind: KeyKeeperKind;
  load(name: string): Uint8Array | null;
  save(name: string, key: Uint8Array): void;
  remove(name: string): void;
}

/** The part of uni's storage API the keepers use. */
export interface KeyStorage {
  getStorageSync(key: string): unknown;
  setStorageSync(key: string, value: unknown): void;
  removeStorageSync(key: string): void;
}

const storageKey = (name: string) => `goutong.dbkey.${name}`;

function readText(s: KeyStorage, key: string): string | null {
  const v = s.getStorageSync(key);
  return typeof v === 'string' && v !== '' ? v : null;
}

/** The key as base64 in uni storage (the fallback; see the limit above). */
export function uniStorageKeeper(storage: KeyStorage): KeyKeeper {
  return {
    kind: 'uni-storage',
    load(name) {
      const t = readText(storage, storageKey(name));
      if (!t || !t.startsWith('raw:')) return null;
      const key = base64ToBytes(t.slice(4));
      return key.length === 32 ? key : null;
    },
    save(name, key) {
      storage.setStorageSync(storageKey(name), `raw:${bytesToBase64(key)}`);
    },
    remove(name) {
      storage.removeStorageSync(storageKey(name));
    },
  };
}

/** The part of HTML5+ Native.js (`plus.android`) the keystore keeper calls. */
export interface NativeAndroid {
  importClass(name: string): unknown;
  newObject(name: string, ...args: unknown[]): unknown;
  invoke(obj: unknown, method: string, ...args: unknown[]): unknown;
}

const toJavaBytes = (b: Uint8Array): number[] => Array.from(b, (x) => (x > 127 ? x - 256 : x));
const fromJavaBytes = (a: unknown): Uint8Array => {
  if (!Array.isArray(a)) throw new Error('keystore: expected a byte array');
  return Uint8Array.from(a as number[], (x) => x & 255);
};

/**
 * Android: the database key wrapped by an AES-256-GCM key of AndroidKeyStore (alias
 * `goutong-db-<name>`), stored as `ks:<iv>:<wrapped>` in uni storage. Removing deletes both.
 */
export function androidKeystoreKeeper(android: NativeAndroid, storage: KeyStorage): KeyKeeper {
  const ENCRYPT = 1;
  const DECRYPT = 2;
  const alias = (name: string) => `goutong-db-${name}`;
  const keyStore = () => {
    const KeyStore = android.importClass('java.security.KeyStore') as { getInstance(type: string): unknown };
    const ks = KeyStore.getInstance('AndroidKeyStore');
    android.invoke(ks, 'load', null);
    return ks;
  };
  const wrappingKey = (name: string, create: boolean): unknown => {
    const ks = keyStore();
    if (!android.invoke(ks, 'containsAlias', alias(name))) {
      if (!create) return null;
      const KeyGenerator = android.importClass('javax.crypto.KeyGenerator') as { getInstance(alg: string, provider: string): unknown };
      const kg = KeyGenerator.getInstance('AES', 'AndroidKeyStore');
      const builder = android.newObject('android.security.keystore.KeyGenParameterSpec$Builder', alias(name), ENCRYPT | DECRYPT);
      android.invoke(builder, 'setBlockModes', ['GCM']);
      android.invoke(builder, 'setEncryptionPaddings', ['NoPadding']);
      android.invoke(builder, 'setKeySize', 256);
      android.invoke(kg, 'init', android.invoke(builder, 'build'));
      android.invoke(kg, 'generateKey');
    }
    return android.invoke(ks, 'getKey', alias(name), null);
  };
  const cipher = () => (android.importClass('javax.crypto.Cipher') as { getInstance(t: string): unknown }).getInstance('AES/GCM/NoPadding');
  return {
    kind: 'android-keystore',
    load(name) {
      const t = readText(storage, storageKey(name));
      if (!t || !t.startsWith('ks:')) return null;
      const [, iv, wrapped] = t.split(':');
      const k = wrappingKey(name, false);
      if (!k || !iv || !wrapped) return null;
      const c = cipher();
      const spec = android.newObject('javax.crypto.spec.GCMParameterSpec', 128, toJavaBytes(base64ToBytes(iv)));
      android.invoke(c, 'init', DECRYPT, k, spec);
      const key = fromJavaBytes(android.invoke(c, 'doFinal', toJavaBytes(base64ToBytes(wrapped))));
      return key.length === 32 ? key : null;
    },
    save(name, key) {
      const c = cipher();
      android.invoke(c, 'init', ENCRYPT, wrappingKey(name, true));
      const iv = fromJavaBytes(android.invoke(c, 'getIV'));
      const wrapped = fromJavaBytes(android.invoke(c, 'doFinal', toJavaBytes(key)));
      storage.setStorageSync(storageKey(name), `ks:${bytesToBase64(iv)}:${bytesToBase64(wrapped)}`);
    },
    remove(name) {
      storage.removeStorageSync(storageKey(name));
      try {
        android.invoke(keyStore(), 'deleteEntry', alias(name));
      } catch {
        // the wrapped key is gone from storage already: the database key cannot be recovered
      }
    },
  };
}

/** Random bytes: WebCrypto where the engine has it, java.security.SecureRandom on Android. */
export function secureRandom(android?: NativeAndroid): ((n: number) => Uint8Array) | null {
  const c = (globalThis as { crypto?: { getRandomValues?: (a: Uint8Array) => Uint8Array } }).crypto;
  if (c?.getRandomValues) return (n) => c.getRandomValues!(new Uint8Array(n));
  if (android) {
    try {
      const rng = android.newObject('java.security.SecureRandom');
      return (n) => fromJavaBytes(android.invoke(rng, 'generateSeed', n));
    } catch {
      return null;
    }
  }
  return null;
}

export interface DeviceKey {
  key: Uint8Array;
  kind: KeyKeeperKind;
  /** Forgets the key (wipe): the database cannot be read any more. */
  forget(): void;
}

/**
 * The key of database `name`: loaded, or made on first use. A key that cannot be loaded any more
 * (the keystore entry is gone, the storage was cleared) gives a fresh key, and `fresh` tells the
 * caller to start the database over (its old records cannot be opened).
 */
export function deviceKeyFor(name: string, keepers: readonly KeyKeeper[], random: (n: number) => Uint8Array): DeviceKey & { fresh: boolean } {
  for (const keeper of keepers) {
    try {
      const key = keeper.load(name);
      if (key) return { key, kind: keeper.kind, fresh: false, forget: () => keeper.remove(name) };
    } catch {
      // this keeper cannot answer on this device: try the next one
    }
  }
  const key = random(32);
  for (const keeper of keepers) {
    try {
      keeper.save(name, key);
      if (!keeper.load(name)) throw new Error('the saved key does not read back');
      return { key, kind: keeper.kind, fresh: true, forget: () => keeper.remove(name) };
    } catch {
      try {
        keeper.remove(name);
      } catch {
        // nothing kept
      }
    }
  }
  throw new Error('no place to keep the device key');
}

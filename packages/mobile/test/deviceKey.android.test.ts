// [trust] Issue 13, "the uni-app keystore where present": the Android path of the device key
// (src/storage/deviceKey.ts, androidKeystoreKeeper) cannot run on a device here. Its logic runs in
// Node against test/fakeAndroidKeystore.ts, a FAKE of the Native.js bridge (`plus.android`) to
// AndroidKeyStore / Cipher AES-GCM, backed by node:crypto (see that file for what it checks and what
// it cannot show).
import { afterEach, describe, expect, it, vi } from 'vitest';
import { androidKeystoreKeeper, deviceKeyFor, secureRandom, uniStorageKeeper, type KeyStorage } from '../src/storage/deviceKey';
import { base64ToBytes, bytesToBase64 } from '../src/storage/codec';
import { FakeAndroidKeystore } from './fakeAndroidKeystore';

function memoryStorage(): KeyStorage & { data: Map<string, unknown> } {
  const data = new Map<string, unknown>();
  return {
    data,
    getStorageSync: (k) => data.get(k) ?? '',
    setStorageSync: (k, v) => void data.set(k, v),
    removeStorageSync: (k) => void data.delete(k),
  };
}
const random = (n: number) => crypto.getRandomValues(new Uint8Array(n));

describe('the device key in AndroidKeyStore (through a fake of plus.android)', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('wraps the key with a keystore AES-GCM key: storage keeps only the wrapped bytes; it loads back', () => {
    const android = new FakeAndroidKeystore();
    const storage = memoryStorage();
    const keeper = androidKeystoreKeeper(android, storage);
    const key = random(32);
    keeper.save('agent-1', key);

    // A keystore key under the app's alias, generated for GCM/NoPadding, not extractable.
    const entry = android.entries.get('goutong-db-agent-1');
    expect(entry).toMatchObject({ blockModes: ['GCM'], paddings: ['NoPadding'], purposes: 3 });
    expect(entry!.material).toHaveLength(32);
    expect(android.invoke(entry, 'getEncoded')).toBeNull();
    // Storage: `ks:<iv>:<ciphertext+tag>`, never the key itself.
    const stored = String(storage.data.get('goutong.dbkey.agent-1'));
    const [tag, iv, wrapped] = stored.split(':');
    expect(tag).toBe('ks');
    expect(base64ToBytes(iv!)).toHaveLength(12);
    expect(base64ToBytes(wrapped!)).toHaveLength(32 + 16);
    expect(stored).not.toContain(bytesToBase64(key));
    expect(Buffer.from(base64ToBytes(wrapped!)).includes(Buffer.from(key.subarray(0, 8)))).toBe(false);

    expect(keeper.load('agent-1')).toEqual(key);
    // Another agent's database has its own keystore key.
    keeper.save('agent-2', random(32));
    expect(android.entries.get('goutong-db-agent-2')!.material.equals(entry!.material)).toBe(false);
    expect(keeper.load('agent-1')).toEqual(key);
  });

  it('deviceKeyFor prefers the keystore, makes the key once, and keeps it across restarts', () => {
    const android = new FakeAndroidKeystore();
    const storage = memoryStorage();
    const keepers = () => [androidKeystoreKeeper(android, storage), uniStorageKeeper(storage)];
    const first = deviceKeyFor('agent-1', keepers(), random);
    expect(first).toMatchObject({ kind: 'android-keystore', fresh: true });
    const again = deviceKeyFor('agent-1', keepers(), random);
    expect(again).toMatchObject({ kind: 'android-keystore', fresh: false });
    expect(again.key).toEqual(first.key);
    // The uni-storage keeper does not read the wrapped form as a raw key.
    expect(uniStorageKeeper(storage).load('agent-1')).toBeNull();
  });

  it('forget (sign-out, deactivation, remote wipe) deletes the wrapped key and the keystore entry', () => {
    const android = new FakeAndroidKeystore();
    const storage = memoryStorage();
    const k = deviceKeyFor('agent-1', [androidKeystoreKeeper(android, storage), uniStorageKeeper(storage)], random);
    k.forget();
    expect(storage.data.has('goutong.dbkey.agent-1')).toBe(false);
    expect(android.entries.has('goutong-db-agent-1')).toBe(false);
    const next = deviceKeyFor('agent-1', [androidKeystoreKeeper(android, storage), uniStorageKeeper(storage)], random);
    expect(next.fresh).toBe(true);
    expect(next.key).not.toEqual(k.key);
  });

  it('a keystore entry that is gone, or wrapped bytes that were altered, give a fresh key (the database starts over)', () => {
    const android = new FakeAndroidKeystore();
    const storage = memoryStorage();
    const keepers = [androidKeystoreKeeper(android, storage), uniStorageKeeper(storage)];
    const first = deviceKeyFor('agent-1', keepers, random);
    // The entry is gone (e.g. the lock screen was reset): the wrapped key cannot be opened.
    android.entries.delete('goutong-db-agent-1');
    expect(keepers[0]!.load('agent-1')).toBeNull();
    const second = deviceKeyFor('agent-1', keepers, random);
    expect(second).toMatchObject({ kind: 'android-keystore', fresh: true });
    expect(second.key).not.toEqual(first.key);
    // One altered byte of the wrapped key: GCM refuses it (AEADBadTagException), never a wrong key.
    const [tag, iv, wrapped] = String(storage.data.get('goutong.dbkey.agent-1')).split(':');
    const bad = base64ToBytes(wrapped!);
    bad[3] = (bad[3] ?? 0) ^ 1;
    storage.data.set('goutong.dbkey.agent-1', `${tag}:${iv}:${bytesToBase64(bad)}`);
    expect(() => keepers[0]!.load('agent-1')).toThrow(/AEADBadTagException/);
    const third = deviceKeyFor('agent-1', keepers, random);
    expect(third).toMatchObject({ kind: 'android-keystore', fresh: true });
    expect(keepers[0]!.load('agent-1')).toEqual(third.key);
  });

  it('without a reachable keystore the key falls back to uni storage (the documented limit)', () => {
    const android = new FakeAndroidKeystore();
    android.unavailable = true;
    const storage = memoryStorage();
    const k = deviceKeyFor('agent-1', [androidKeystoreKeeper(android, storage), uniStorageKeeper(storage)], random);
    expect(k).toMatchObject({ kind: 'uni-storage', fresh: true });
    expect(String(storage.data.get('goutong.dbkey.agent-1'))).toBe(`raw:${bytesToBase64(k.key)}`);
    expect(android.entries.size).toBe(0);
  });

  it('random bytes from java.security.SecureRandom when the engine has no WebCrypto', () => {
    vi.stubGlobal('crypto', undefined);
    const android = new FakeAndroidKeystore();
    const rng = secureRandom(android);
    expect(rng).not.toBeNull();
    const a = rng!(32);
    expect(a).toHaveLength(32);
    expect(a.every((x) => x >= 0 && x <= 255)).toBe(true);
    expect(android.calls).toContain('new java.security.SecureRandom');
    expect(secureRandom()).toBeNull();
  });
});

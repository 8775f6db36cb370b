import { webcrypto } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { cipherFromRawKey } from '@goutong/storage-rxdb';
import { DeviceKeyStore } from '../../src/main/deviceKey';
import { FakeSafeStorage, memoryFiles } from './fakeElectron';

/** [accounts] The local database's key in safeStorage (main process), used by the renderer's cipher. */
describe('device key in safeStorage', () => {
  it('makes one 32-byte key per database, keeps it sealed by the OS, and the renderer cipher works with it', async () => {
    const io = memoryFiles();
    const keys = new DeviceKeyStore(new FakeSafeStorage(), io, '/u/keys');
    const k1 = keys.get('goutong-t1-a1')!;
    expect(Buffer.from(k1, 'base64')).toHaveLength(32);
    expect(keys.get('goutong-t1-a1')).toBe(k1);
    expect(keys.get('goutong-t1-a2')).not.toBe(k1);
    // On disk only what safeStorage sealed.
    const stored = io.files.get('/u/keys/goutong-t1-a1.key')!.toString();
    expect(stored.startsWith('enc:')).toBe(true);
    expect(stored).not.toContain(k1);
    // The renderer imports the bytes as a non-extractable key: a round trip works, the key cannot be read back.
    const cipher = await cipherFromRawKey(Uint8Array.from(Buffer.from(k1, 'base64')));
    const sealed = await cipher.encrypt('{"text":"hello 你好"}');
    expect(sealed).not.toContain('hello');
    expect(await cipher.decrypt(sealed)).toBe('{"text":"hello 你好"}');
    await expect(webcrypto.subtle.exportKey('raw', (cipher as unknown as { key: webcrypto.CryptoKey }).key)).rejects.toThrow();
    // Wipe: the key is gone, the next one is different (old data unreadable).
    keys.remove('goutong-t1-a1');
    expect(io.files.has('/u/keys/goutong-t1-a1.key')).toBe(false);
    const k2 = keys.get('goutong-t1-a1')!;
    expect(k2).not.toBe(k1);
    await expect((await cipherFromRawKey(Uint8Array.from(Buffer.from(k2, 'base64')))).decrypt(sealed)).rejects.toThrow();
  });

  it('keeps no key without OS encryption and refuses odd names', () => {
    const safe = new FakeSafeStorage();
    safe.available = false;
    const io = memoryFiles();
    expect(new DeviceKeyStore(safe, io, '/u/keys').get('goutong-x')).toBeNull();
    expect(io.files.size).toBe(0);
    expect(() => new DeviceKeyStore(new FakeSafeStorage(), io, '/u/keys').get('../escape')).toThrow();
  });
});

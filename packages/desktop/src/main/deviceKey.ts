// [accounts] The key of the local database, kept with Electron's safeStorage (Keychain, DPAPI,
// libsecret) in the user data folder: 32 random bytes per database, sealed by the OS. The renderer
// imports them as a non-extractable WebCrypto key (storage-rxdb's cipher). Without OS encryption no
// key is kept here and the renderer falls back to a non-extractable key in IndexedDB.
import crypto from 'node:crypto';
import path from 'node:path';
import type { SafeStorage } from 'electron';
import type { FileIO } from './secureStore';

const NAME = /^[a-z0-9_-]{1,200}$/;

export class DeviceKeyStore {
  constructor(
    private readonly safeStorage: Pick<SafeStorage, 'isEncryptionAvailable' | 'encryptString' | 'decryptString'>,
    private readonly io: FileIO,
    private readonly dir: string,
    private readonly random: (n: number) => Buffer = (n) => crypto.randomBytes(n),
  ) {}

  private file(name: string): string {
    if (!NAME.test(name)) throw new Error('invalid database name');
    return path.join(this.dir, `${name}.key`);
  }

  /** The database's key (base64), made on first use; null when the OS offers no encryption. */
  get(name: string): string | null {
    if (!this.safeStorage.isEncryptionAvailable()) return null;
    const file = this.file(name);
    const sealed = this.io.read(file);
    if (sealed) {
      try {
        const key = this.safeStorage.decryptString(sealed);
        if (Buffer.from(key, 'base64').length === 32) return key;
      } catch {
        // unreadable (another OS user, a reinstalled keyring): a new key; the old data cannot be read anyway
      }
    }
    const key = this.random(32).toString('base64');
    this.io.write(file, this.safeStorage.encryptString(key));
    return key;
  }

  /** Forgets the key (sign-out, deactivation, remote wipe): data encrypted with it is unreadable. */
  remove(name: string): void {
    this.io.remove(this.file(name));
  }
}

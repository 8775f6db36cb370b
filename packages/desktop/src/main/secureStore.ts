// The saved session (tokens) encrypted with Electron's safeStorage (Keychain, DPAPI, libsecret)
// in the user data folder. Without OS encryption nothing is stored: the agent signs in again.
import type { SafeStorage } from 'electron';
import { SavedSessionSchema, type SavedSessionPayload } from '../shared/ipc';

export interface FileIO {
  read(file: string): Buffer | null;
  write(file: string, data: Buffer): void;
  remove(file: string): void;
}

export class SecureSessionStore {
  constructor(
    private readonly safeStorage: Pick<SafeStorage, 'isEncryptionAvailable' | 'encryptString' | 'decryptString'>,
    private readonly io: FileIO,
    private readonly file: string,
  ) {}

  get(): SavedSessionPayload | null {
    if (!this.safeStorage.isEncryptionAvailable()) return null;
    const data = this.io.read(this.file);
    if (!data) return null;
    try {
      const parsed = SavedSessionSchema.safeParse(JSON.parse(this.safeStorage.decryptString(data)));
      return parsed.success ? parsed.data : null;
    } catch {
      return null;
    }
  }

  set(session: SavedSessionPayload): boolean {
    if (!this.safeStorage.isEncryptionAvailable()) return false;
    this.io.write(this.file, this.safeStorage.encryptString(JSON.stringify(session)));
    return true;
  }

  clear(): void {
    this.io.remove(this.file);
  }
}

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Db } from '../db/db.js';
import { deleteLegacySecret, hasSealedSecrets, legacySecret, recordKeyCheck } from '../domain/settings.js';
import { hmacHex } from './crypto.js';

export const SECRET_FILE = 'secret.key';

/** Creates a file only its owner may read (0600, whatever the umask), failing if it exists. */
export function writePrivateFile(file: string, contents: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
  try {
    fs.fchmodSync(fd, 0o600);
    fs.writeSync(fd, contents);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

export function readKey(file: string): string | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  const key = text.trim();
  if (key.length < 32) throw new Error(`${file}: the server key is shorter than 32 characters; restore it or remove the file (tokens and sealed provider secrets depend on it)`);
  // Tighten a key file someone made readable to others.
  if ((fs.statSync(file).mode & 0o077) !== 0) fs.chmodSync(file, 0o600);
  return key;
}

/**
 * The key: from config; else from the key file in
 * the data directory (created 0600 on first start). It is never kept in the database it protects:
 * an installation whose key sits in the database has it moved to the file once, then removed there.
 */
async function resolveKey(db: Db, dataDir: string, configured: string | null): Promise<string> {
  const file = path.join(dataDir, SECRET_FILE);
  const legacy = await legacySecret(db);
  if (configured) {
    if (legacy) await deleteLegacySecret(db);
    return configured;
  }
  const existing = readKey(file);
  if (existing) {
    if (legacy) await deleteLegacySecret(db);
    return existing;
  }
  if (!legacy && (await hasSealedSecrets(db))) {
    // A fresh key would make every sealed provider secret unreadable (and split a shared database's
    // servers): this database was set up with a key that lives elsewhere.
    throw new Error(
      `no server key in ${file} (and none in the environment), but the database holds secrets sealed with one: ` +
        'copy secret.key from the data directory of the server that created it, or set GOUTONG_SECRET to that key',
    );
  }
  const key = legacy ?? crypto.randomBytes(32).toString('base64url');
  try {
    writePrivateFile(file, `${key}\n`);
  } catch (e) {
    // Another process of this data directory created it first: use theirs.
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    return readKey(file)!;
  }
  if (legacy) await deleteLegacySecret(db);
  return key;
}

/**
 * The secret that signs tokens and seals provider secrets (see resolveKey), checked against the
 * fingerprint the database keeps: a server whose key differs from the one the database was set up
 * with stops with a clear error (several processes on one PostgreSQL must share one key).
 */
export async function serverSecret(db: Db, dataDir: string, configured: string | null): Promise<string> {
  const key = await resolveKey(db, dataDir, configured);
  const check = hmacHex(key, 'goutong:server-key-check').slice(0, 32);
  const recorded = await recordKeyCheck(db, check);
  if (recorded !== check) {
    throw new Error(
      'this database was set up with another server key: give every server the same key ' +
        `(GOUTONG_SECRET, or the same ${SECRET_FILE} in each data directory)`,
    );
  }
  return key;
}

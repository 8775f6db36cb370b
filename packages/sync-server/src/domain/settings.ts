import type { Db } from '../db/db.js';

/** The server secret of installations before the key file: read once to migrate it out, then deleted. */
export async function legacySecret(db: Db): Promise<string | null> {
  const r = await db.one<{ value: string }>("SELECT value FROM settings WHERE key = 'server_secret'");
  return r?.value ?? null;
}

export async function deleteLegacySecret(db: Db): Promise<void> {
  await db.run("DELETE FROM settings WHERE key = 'server_secret'");
}

/** Whether the database already holds provider secrets sealed with some key (a new key could not open them). */
export async function hasSealedSecrets(db: Db): Promise<boolean> {
  return (await db.one('SELECT id FROM inboxes WHERE secrets IS NOT NULL LIMIT 1')) !== null;
}

/**
 * A fingerprint of the server key (an HMAC of a constant, not the key): the first server to start
 * records it; a server with another key finds a different one and stops instead of sealing and
 * signing with a key its peers do not share.
 */
export async function recordKeyCheck(db: Db, check: string): Promise<string> {
  await db.run("INSERT INTO settings (key, value) VALUES ('server_key_check', ?) ON CONFLICT DO NOTHING", [check]);
  return (await db.one<{ value: string }>("SELECT value FROM settings WHERE key = 'server_key_check'"))!.value;
}

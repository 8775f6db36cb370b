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

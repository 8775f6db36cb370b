import type { Queryable } from '../db/db.js';

/** A server-wide setting (key/value), or null. */
export async function getSetting(q: Queryable, key: string): Promise<string | null> {
  const r = await q.one<{ value: string }>('SELECT value FROM settings WHERE key = ?', [key]);
  return r ? String(r.value) : null;
}

/** Stores `value` unless the key is set already; returns the stored value (the first writer wins). */
export async function setSettingOnce(q: Queryable, key: string, value: string): Promise<string> {
  await q.run('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT DO NOTHING', [key, value]);
  return (await getSetting(q, key))!;
}

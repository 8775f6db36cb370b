import type { Queryable } from '../db/db.js';

/**
 * Remembers a signed request's replay key. Returns true the first time, false for a replay
 * (the primary key makes two racing deliveries of one request agree on a single winner).
 */
export async function rememberWebhook(q: Queryable, key: string, now: number): Promise<boolean> {
  const r = await q.run('INSERT INTO webhook_replay (key, seen_at) VALUES (?, ?) ON CONFLICT DO NOTHING', [key, now]);
  return r.changes > 0;
}

import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';

/** Where a server process keeps its data: its SQLite file (in the data dir) or its PostgreSQL database. */
export type DbTarget = { dataDir: string; databaseUrl?: string | undefined };

/**
 * Reads rows straight from a server's database (read-only checks of what was committed). SQL uses
 * `?` placeholders for both dialects.
 */
export async function readRows<T extends Record<string, unknown>>(target: DbTarget, sql: string, params: unknown[] = []): Promise<T[]> {
  if (target.databaseUrl) {
    let n = 0;
    const c = new pg.Client({ connectionString: target.databaseUrl });
    await c.connect();
    try {
      return (await c.query(sql.replace(/\?/g, () => `$${++n}`), params)).rows as T[];
    } finally {
      await c.end();
    }
  }
  const db = new Database(path.join(target.dataDir, 'goutong.sqlite'), { readonly: true, fileMustExist: true });
  try {
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}

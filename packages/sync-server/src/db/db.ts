import { AsyncLocalStorage } from 'node:async_hooks';
import Database from 'better-sqlite3';
import pg from 'pg';
import fs from 'node:fs';
import path from 'node:path';

export type Dialect = 'sqlite' | 'pg';
export type Param = string | number | bigint | boolean | null | Uint8Array;
export type Row = Record<string, unknown>;

/** A JSON column as a driver returns it: text on SQLite, already parsed (jsonb) on PostgreSQL. */
export function jsonColumn(v: unknown): unknown {
  return typeof v === 'string' ? JSON.parse(v) : v;
}

/** Runs SQL. Statements use `?` placeholders in both dialects (rewritten to $n for PostgreSQL). */
export interface Queryable {
  readonly dialect: Dialect;
  all<T extends Row = Row>(sql: string, params?: readonly Param[]): Promise<T[]>;
  one<T extends Row = Row>(sql: string, params?: readonly Param[]): Promise<T | null>;
  run(sql: string, params?: readonly Param[]): Promise<{ changes: number }>;
}

export interface Db extends Queryable {
  /** Runs fn in one transaction (IMMEDIATE on SQLite; READ COMMITTED on PostgreSQL), retrying serialisation failures. */
  tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T>;
  exec(sql: string): Promise<void>;
  close(): Promise<void>;
}

/** A promise-chain mutex: SQLite has one connection, so statements and transactions take turns. */
class Mutex {
  private tail: Promise<void> = Promise.resolve();
  async lock<T>(fn: () => Promise<T>): Promise<T> {
    let release!: () => void;
    const next = new Promise<void>((r) => (release = r));
    const prev = this.tail;
    this.tail = prev.then(() => next);
    await prev;
    try {
      return await fn();
    } finally {
      release();
    }
  }
}

function sqliteParams(params: readonly Param[]): unknown[] {
  return params.map((p) => (typeof p === 'boolean' ? (p ? 1 : 0) : p instanceof Uint8Array && !Buffer.isBuffer(p) ? Buffer.from(p) : p));
}

/** Tightens a file, if it exists, so only its owner may read or write it. */
function ownerOnly(file: string, create = false): void {
  try {
    if (create) fs.closeSync(fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600));
    fs.chmodSync(file, 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

export function openSqlite(file: string): Db {
  const onDisk = file !== ':memory:' && !file.startsWith('file:');
  if (onDisk) {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    // The database, its WAL and shared-memory index hold token hashes and sealed secrets: 0600.
    // SQLite creates -wal and -shm with the main file's mode; existing ones are tightened too.
    ownerOnly(file, true);
  }
  const sq = new Database(file);
  sq.pragma('journal_mode = WAL');
  if (onDisk) for (const f of [file, `${file}-wal`, `${file}-shm`]) ownerOnly(f);
  // FULL: a commit is on disk before we acknowledge it (a SIGKILL or power loss loses nothing acknowledged).
  sq.pragma('synchronous = FULL');
  sq.pragma('foreign_keys = ON');
  sq.pragma('busy_timeout = 5000');
  const cache = new Map<string, Database.Statement>();
  const prep = (sql: string) => {
    let s = cache.get(sql);
    if (!s) {
      s = sq.prepare(sql);
      if (cache.size > 500) cache.clear();
      cache.set(sql, s);
    }
    return s;
  };
  const q: Queryable = {
    dialect: 'sqlite',
    async all<T extends Row>(sql: string, params: readonly Param[] = []) {
      return prep(sql).all(...sqliteParams(params)) as T[];
    },
    async one<T extends Row>(sql: string, params: readonly Param[] = []) {
      return (prep(sql).get(...sqliteParams(params)) as T | undefined) ?? null;
    },
    async run(sql: string, params: readonly Param[] = []) {
      const r = prep(sql).run(...sqliteParams(params));
      return { changes: r.changes };
    },
  };
  const mutex = new Mutex();
  // Using the Db (instead of the transaction's Queryable) inside a transaction would wait for the
  // transaction to end: a deadlock on one connection. Fail loudly instead.
  const inTx = new AsyncLocalStorage<boolean>();
  const locked = <T>(fn: () => Promise<T>): Promise<T> => {
    if (inTx.getStore()) return Promise.reject(new Error('sqlite: use the transaction\'s Queryable inside db.tx()'));
    return mutex.lock(fn);
  };
  return {
    dialect: 'sqlite',
    all: (sql, params) => locked(() => q.all(sql, params)),
    one: (sql, params) => locked(() => q.one(sql, params)),
    run: (sql, params) => locked(() => q.run(sql, params)),
    exec: (sql) => locked(async () => void sq.exec(sql)),
    tx: (fn) =>
      locked(async () => inTx.run(true, async () => {
        sq.exec('BEGIN IMMEDIATE');
        try {
          const r = await fn(q);
          sq.exec('COMMIT');
          return r;
        } catch (e) {
          if (sq.inTransaction) sq.exec('ROLLBACK');
          throw e;
        }
      })),
    close: () => mutex.lock(async () => void sq.close()),
  };
}

/** Rewrites `?` placeholders to `$1…$n` outside string literals. */
export function toPgPlaceholders(sql: string): string {
  let n = 0;
  let out = '';
  let inStr = false;
  for (const ch of sql) {
    if (ch === "'") inStr = !inStr;
    if (ch === '?' && !inStr) out += `$${++n}`;
    else out += ch;
  }
  return out;
}

// int8 → number (our seq and millisecond values stay far below 2^53).
pg.types.setTypeParser(20, (v) => Number(v));

function pgQueryable(client: pg.Pool | pg.PoolClient): Queryable {
  const conv = new Map<string, string>();
  const text = (sql: string) => {
    let t = conv.get(sql);
    if (!t) {
      t = toPgPlaceholders(sql);
      conv.set(sql, t);
    }
    return t;
  };
  const norm = (params: readonly Param[]) => params.map((p) => (p instanceof Uint8Array && !Buffer.isBuffer(p) ? Buffer.from(p) : p));
  return {
    dialect: 'pg',
    async all<T extends Row>(sql: string, params: readonly Param[] = []) {
      return (await client.query(text(sql), norm(params))).rows as T[];
    },
    async one<T extends Row>(sql: string, params: readonly Param[] = []) {
      return ((await client.query(text(sql), norm(params))).rows[0] as T | undefined) ?? null;
    },
    async run(sql: string, params: readonly Param[] = []) {
      const r = await client.query(text(sql), norm(params));
      return { changes: r.rowCount ?? 0 };
    },
  };
}

export function openPostgres(url: string, opts: { max?: number } = {}): Db {
  const pool = new pg.Pool({ connectionString: url, max: opts.max ?? 10 });
  pool.on('error', () => {
    /* an idle client died; the pool replaces it */
  });
  const q = pgQueryable(pool);
  return {
    ...q,
    exec: async (sql) => void (await pool.query(sql)),
    tx: async (fn) => {
      for (let attempt = 1; ; attempt++) {
        const client = await pool.connect();
        try {
          await client.query('BEGIN');
          const r = await fn(pgQueryable(client));
          await client.query('COMMIT');
          return r;
        } catch (e) {
          await client.query('ROLLBACK').catch(() => undefined);
          const code = (e as { code?: string }).code;
          if ((code === '40001' || code === '40P01') && attempt < 5) continue;
          throw e;
        } finally {
          client.release();
        }
      }
    },
    close: () => pool.end(),
  };
}

export function openDb(opts: { databaseUrl: string | null; dataDir: string }): Db {
  return opts.databaseUrl ? openPostgres(opts.databaseUrl) : openSqlite(path.join(opts.dataDir, 'goutong.sqlite'));
}

// A stand-in for HTML5+ `plus.sqlite` on a real SQLite (better-sqlite3), for tests in Node.
//
// It keeps the call shapes and behaviour the adapter relies on:
//  - options objects with `name`, `path`, `sql`, `operation` and success/fail callbacks;
//  - callbacks always asynchronous (never before the call returns), in call order;
//  - SQL as text only; one statement per string (a string with several statements fails, as on
//    Android), or a string array run in order, stopping at the first failure;
//  - `selectSql` resolves with an array of plain row objects (empty when nothing matched);
//  - one connection per database name; `transaction` begin/commit/rollback act on it;
//  - failures as `{ code, message }`.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { PlusSqliteApi, PlusSqliteError } from '../src/storage/plusSqlite';

export interface StandInOptions {
  /** Folder that stands for `_doc/` (and `_downloads/`, `_documents/`); ":memory:" keeps databases in memory. */
  root: string;
  /** Called with every SQL string the stand-in runs (tests inspect the traffic). */
  onSql?: (kind: 'execute' | 'select' | 'transaction', sql: string) => void;
}

export interface PlusSqliteStandIn extends PlusSqliteApi {
  /** Open connections by name. */
  readonly connections: ReadonlyMap<string, { path: string; db: Database.Database }>;
  /** Makes the next N calls of an operation fail (fault injection). */
  failNext(operation: 'executeSql' | 'selectSql' | 'transaction' | 'openDatabase', times?: number): void;
}

type Cb = { success?: (r: never) => void; fail?: (e: PlusSqliteError) => void };

export function createPlusSqliteStandIn(options: StandInOptions): PlusSqliteStandIn {
  const connections = new Map<string, { path: string; db: Database.Database }>();
  const memory = new Map<string, Database.Database>();
  const faults = new Map<string, number>();

  const later = (fn: () => void) => setTimeout(fn, 0);
  const ok = (cb: Cb, result?: unknown) => later(() => (cb.success as ((r: unknown) => void) | undefined)?.(result));
  const fail = (cb: Cb, code: number, message: string) => later(() => cb.fail?.({ code, message }));
  const injected = (op: string, cb: Cb): boolean => {
    const n = faults.get(op) ?? 0;
    if (n <= 0) return false;
    faults.set(op, n - 1);
    fail(cb, -1404, `injected ${op} failure`);
    return true;
  };

  function filePath(path: string): string {
    const m = /^_(doc|downloads|documents)\/(.+)$/.exec(path);
    if (!m) throw new Error(`unsupported path ${path}: use "_doc/…"`);
    return join(options.root, m[1]!, m[2]!);
  }

  function connection(name: string | undefined): Database.Database | null {
    return name === undefined ? null : (connections.get(name)?.db ?? null);
  }

  const api: PlusSqliteStandIn = {
    connections,
    failNext(operation, times = 1) {
      faults.set(operation, times);
    },

    openDatabase(o) {
      if (injected('openDatabase', o)) return;
      if (connections.has(o.name)) return fail(o, -1402, `database ${o.name} is already open`);
      try {
        let db: Database.Database;
        if (options.root === ':memory:') {
          db = memory.get(o.path) ?? new Database(':memory:');
          memory.set(o.path, db);
        } else {
          const file = filePath(o.path);
          mkdirSync(dirname(file), { recursive: true });
          db = new Database(file);
        }
        connections.set(o.name, { path: o.path, db });
        ok(o);
      } catch (e) {
        fail(o, -1401, (e as Error).message);
      }
    },

    isOpenDatabase(o) {
      const c = connections.get(o.name);
      return c !== undefined && c.path === o.path;
    },

    closeDatabase(o) {
      const c = connections.get(o.name);
      if (!c) return fail(o, -1402, `database ${o.name} is not open`);
      connections.delete(o.name);
      if (c.db.inTransaction) c.db.exec('ROLLBACK');
      if (options.root !== ':memory:') c.db.close();
      ok(o);
    },

    transaction(o) {
      if (injected('transaction', o)) return;
      const db = connection(o.name);
      if (!db) return fail(o, -1402, `database ${o.name} is not open`);
      const sql = { begin: 'BEGIN', commit: 'COMMIT', rollback: 'ROLLBACK' }[o.operation];
      if (!sql) return fail(o, -1403, `unknown operation ${String(o.operation)}`);
      try {
        options.onSql?.('transaction', sql);
        db.exec(sql);
        ok(o);
      } catch (e) {
        fail(o, -1404, (e as Error).message);
      }
    },

    executeSql(o) {
      if (injected('executeSql', o)) return;
      const db = connection(o.name);
      if (!db) return fail(o, -1402, `database ${o.name} is not open`);
      const list = typeof o.sql === 'string' ? [o.sql] : o.sql;
      if (!Array.isArray(list) || list.some((s) => typeof s !== 'string')) return fail(o, -1403, 'sql must be a string or a string array');
      try {
        for (const s of list) {
          options.onSql?.('execute', s);
          // prepare() accepts exactly one statement, like Android's SQLiteDatabase.execSQL.
          const stmt = db.prepare(s);
          if (stmt.reader) throw new Error('executeSql cannot run a query: use selectSql');
          stmt.run();
        }
        ok(o);
      } catch (e) {
        fail(o, -1404, (e as Error).message);
      }
    },

    selectSql(o) {
      if (injected('selectSql', o)) return;
      const db = connection(o.name);
      if (!db) return fail(o, -1402, `database ${o.name} is not open`);
      if (typeof o.sql !== 'string') return fail(o, -1403, 'sql must be a string');
      try {
        options.onSql?.('select', o.sql);
        const stmt = db.prepare(o.sql);
        if (!stmt.reader) throw new Error('selectSql needs a query');
        // Fresh plain objects, as the native bridge delivers them (JSON).
        const rows = JSON.parse(JSON.stringify(stmt.all())) as Record<string, unknown>[];
        ok(o, rows);
      } catch (e) {
        fail(o, -1404, (e as Error).message);
      }
    },
  };
  return api;
}

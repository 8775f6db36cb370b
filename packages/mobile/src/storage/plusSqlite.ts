// A promise wrapper around the HTML5+ `plus.sqlite` API (app-plus on Android and iOS).
//
// The API takes SQL as text (no bound parameters), runs one statement per string (Android rejects
// several statements separated by ";", so batches go as string arrays), reports through
// asynchronous success/fail callbacks, and keeps one connection per database name. A transaction is
// a connection state (begin … commit/rollback), so every operation of the adapter is serialised
// through one queue: nothing can slip in between a begin and its commit.

/** Error object passed to `fail` callbacks (Android and iOS give `{ code, message }`). */
export interface PlusSqliteError {
  code?: number | string;
  message?: string;
}

type Callbacks<T = unknown> = { success?: (result: T) => void; fail?: (error: PlusSqliteError) => void };

/** The part of `plus.sqlite` the adapter uses, with the call shapes of the HTML5+ documentation. */
export interface PlusSqliteApi {
  openDatabase(options: { name: string; path: string } & Callbacks): void;
  isOpenDatabase(options: { name: string; path: string }): boolean;
  closeDatabase(options: { name: string } & Callbacks): void;
  transaction(options: { name: string; operation: 'begin' | 'commit' | 'rollback' } & Callbacks): void;
  executeSql(options: { name: string; sql: string | string[] } & Callbacks): void;
  selectSql(options: { name: string; sql: string } & Callbacks<Record<string, unknown>[]>): void;
}

export class SqliteError extends Error {
  constructor(
    readonly operation: string,
    readonly code: number | string | undefined,
    message: string,
    readonly sql?: string,
  ) {
    super(`plus.sqlite ${operation} failed${code !== undefined ? ` (${code})` : ''}: ${message}`);
    this.name = 'SqliteError';
  }
}

function toError(operation: string, e: PlusSqliteError | undefined, sql?: string): SqliteError {
  const short = sql === undefined ? undefined : sql.length > 300 ? `${sql.slice(0, 300)}…` : sql;
  return new SqliteError(operation, e?.code, e?.message ?? 'unknown error', short);
}

/** Statements per `executeSql` call: keeps each bridge message of a batch well below a few MB. */
const MAX_STATEMENTS_PER_CALL = 200;
const MAX_CHARS_PER_CALL = 2_000_000;

/** Low-level access inside the queue (see `PlusSqliteDb.run`). */
export interface SqlRunner {
  exec(sql: string | readonly string[]): Promise<void>;
  select<T = Record<string, unknown>>(sql: string): Promise<T[]>;
  /** Runs `fn` between begin and commit; rolls back and rethrows when it fails. */
  transaction<T>(fn: () => Promise<T>): Promise<T>;
}

export class PlusSqliteDb {
  private tail: Promise<unknown> = Promise.resolve();
  private open = false;
  private inTransaction = false;
  private readonly runner: SqlRunner;

  constructor(
    private readonly api: PlusSqliteApi,
    readonly name: string,
    readonly path: string,
  ) {
    this.runner = {
      exec: (sql) => this.exec(sql),
      select: (sql) => this.select(sql),
      transaction: (fn) => this.transaction(fn),
    };
  }

  /** Opens the database (creates the file when missing). */
  async openDatabase(): Promise<void> {
    let already = false;
    try {
      already = this.api.isOpenDatabase({ name: this.name, path: this.path });
    } catch {
      already = false;
    }
    if (!already) {
      await new Promise<void>((resolve, reject) =>
        this.api.openDatabase({
          name: this.name,
          path: this.path,
          success: () => resolve(),
          fail: (e) => reject(toError('openDatabase', e)),
        }),
      );
    }
    this.open = true;
  }

  get isOpen(): boolean {
    return this.open;
  }

  /** Runs `fn` alone: operations of this database never interleave. */
  run<T>(fn: (sql: SqlRunner) => Promise<T>): Promise<T> {
    const next = this.tail.then(() => {
      if (!this.open) throw new Error(`database ${this.name} is closed`);
      return fn(this.runner);
    });
    this.tail = next.catch(() => undefined);
    return next;
  }

  /** Closes after the queued operations finished. */
  close(): Promise<void> {
    const next = this.tail.then(async () => {
      if (!this.open) return;
      this.open = false;
      await new Promise<void>((resolve, reject) =>
        this.api.closeDatabase({ name: this.name, success: () => resolve(), fail: (e) => reject(toError('closeDatabase', e)) }),
      );
    });
    this.tail = next.catch(() => undefined);
    return next;
  }

  private async exec(sql: string | readonly string[]): Promise<void> {
    const statements = typeof sql === 'string' ? [sql] : sql;
    let i = 0;
    while (i < statements.length) {
      const call: string[] = [];
      let chars = 0;
      while (i < statements.length && call.length < MAX_STATEMENTS_PER_CALL && (call.length === 0 || chars + statements[i]!.length <= MAX_CHARS_PER_CALL)) {
        chars += statements[i]!.length;
        call.push(statements[i]!);
        i++;
      }
      await new Promise<void>((resolve, reject) =>
        this.api.executeSql({
          name: this.name,
          sql: call.length === 1 ? call[0]! : call,
          success: () => resolve(),
          fail: (e) => reject(toError('executeSql', e, call.length === 1 ? call[0] : `${call[0]} (+${call.length - 1} more)`)),
        }),
      );
    }
  }

  private select<T>(sql: string): Promise<T[]> {
    return new Promise<T[]>((resolve, reject) =>
      this.api.selectSql({
        name: this.name,
        sql,
        success: (rows) => resolve((Array.isArray(rows) ? rows : []) as T[]),
        fail: (e) => reject(toError('selectSql', e, sql)),
      }),
    );
  }

  private operation(operation: 'begin' | 'commit' | 'rollback'): Promise<void> {
    return new Promise<void>((resolve, reject) =>
      this.api.transaction({ name: this.name, operation, success: () => resolve(), fail: (e) => reject(toError(`transaction ${operation}`, e)) }),
    );
  }

  private async transaction<T>(fn: () => Promise<T>): Promise<T> {
    if (this.inTransaction) return fn(); // nested: part of the outer transaction
    await this.operation('begin');
    this.inTransaction = true;
    let result: T;
    try {
      result = await fn();
    } catch (e) {
      this.inTransaction = false;
      try {
        await this.operation('rollback');
      } catch {
        // the original error matters more; a failed rollback leaves SQLite to roll back on close
      }
      throw e;
    }
    this.inTransaction = false;
    try {
      await this.operation('commit');
    } catch (e) {
      try {
        await this.operation('rollback');
      } catch {
        // as above
      }
      throw e;
    }
    return result;
  }
}

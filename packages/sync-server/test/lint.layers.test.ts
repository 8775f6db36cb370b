import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { ESLint } from 'eslint';

/**
 * One writer of facts, enforced by lint: the repository's eslint.config.js forbids SQL outside the
 * server's domain and db layers. These tests run ESLint's Node API on planted snippets (and on the
 * files whose SQL was moved) to prove the rule fires where it must and only there.
 */
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const at = (rel: string) => path.join(root, 'packages/sync-server/src', rel);

const PLANTED = {
  sqlCall: `export async function f(ws: { db: { one(sql: string, p: unknown[]): Promise<unknown> } }) {
  return ws.db.one('SELECT * FROM contacts WHERE id = ?', ['x']);
}`,
  sqlInVariable: `const sql = \`UPDATE relay_jobs SET state = 'done' WHERE id = \${'?'}\`;
export const run = (q: { run(s: string): Promise<unknown> }) => q.run(sql);`,
  transaction: `export const f = (ws: { db: { tx(fn: (q: unknown) => Promise<void>): Promise<void> } }) => ws.db.tx(async () => undefined);`,
  handleCall: `export const f = (o: { db: { all(s: string): Promise<unknown> } }, text: string) => o.db.all(text);`,
  literalStatement: `export const f = (store: { exec(s: string): Promise<void> }) => store.exec('DELETE FROM yjs_updates');`,
  dbValueImport: `import { openSqlite } from '../db/db.js';
export const db = openSqlite(':memory:');`,
  driverImport: `import pg from 'pg';
export const pool = new pg.Pool();`,
};

const CLEAN = `import type { Db, Queryable } from '../db/db.js';
import { openDb } from '../db/db.js';
export const open = (): Db => openDb({ databaseUrl: null, dataDir: '/tmp/x' });
export const use = (_q: Queryable) => undefined;
export const bearer = (h: string) => /^Bearer\\s+(.+)$/i.exec(h)?.[1] ?? null;
export const both = () => Promise.all([Promise.resolve(1)]);
export const label = 'Update your profile and select a team';
export const select = (text: string) => \`Selected: \${text}\`;`;

describe('lint: SQL only in the server domain and db layers', () => {
  let eslint: ESLint;
  const problems = async (code: string, file: string) => {
    const [r] = await eslint.lintText(code, { filePath: at(file) });
    return r!.messages.filter((m) => m.ruleId === 'no-restricted-syntax' || m.ruleId === 'no-restricted-imports' || m.fatal);
  };

  beforeAll(() => {
    // Type-aware rules need a real program; these snippets are not files of it. The layer rules are syntactic.
    eslint = new ESLint({
      cwd: root,
      overrideConfig: { languageOptions: { parserOptions: { projectService: false } }, rules: { '@typescript-eslint/switch-exhaustiveness-check': 'off' } },
    });
  });

  it.each(Object.entries(PLANTED))('fires on a planted violation in src/http: %s', async (_name, code) => {
    const found = await problems(code, 'http/planted.ts');
    expect(found.length).toBeGreaterThan(0);
    expect(found.every((m) => !m.fatal && /SQL belongs to the domain layer/.test(m.message))).toBe(true);
  });

  it('fires in the relay, the seed and the server entry too', async () => {
    for (const file of ['relay/planted.ts', 'seed.ts', 'server.ts', 'http/routes.ts']) {
      expect((await problems(PLANTED.sqlCall, file)).length, file).toBeGreaterThan(0);
    }
  });

  it('allows the same SQL in src/domain and src/db', async () => {
    for (const file of ['domain/planted.ts', 'db/planted.ts']) {
      for (const code of [PLANTED.sqlCall, PLANTED.sqlInVariable, PLANTED.transaction, PLANTED.dbValueImport]) {
        expect(await problems(code, file), `${file}: ${code}`).toEqual([]);
      }
    }
  });

  it('allows type imports, openDb, regular expressions, Promise.all and prose outside the domain', async () => {
    expect(await problems(CLEAN, 'http/planted.ts')).toEqual([]);
  });

  it('the files whose SQL moved into the domain layer are clean', async () => {
    const files = ['http/routes.ts', 'http/cannedRoutes.ts', 'relay/worker.ts', 'server.ts', 'cli.ts', 'seed.ts'].map(at);
    const results = await eslint.lintFiles(files);
    const found = results.flatMap((r) => r.messages.filter((m) => m.ruleId === 'no-restricted-syntax' || m.ruleId === 'no-restricted-imports').map((m) => `${r.filePath}:${m.line} ${m.message}`));
    expect(found).toEqual([]);
    expect(results).toHaveLength(files.length);
  });
});

// Lint rules that make the architecture a check, not prose (see ../shared/reference/model-codebases.md).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

const PLATFORM_MODULES = [
  { group: ['node:*'], message: '@goutong/core is platform-free: bring Node APIs in through a port.' },
  { group: ['electron', 'electron/*'], message: '@goutong/core is platform-free: Electron belongs to packages/desktop.' },
  { group: ['dexie', 'rxdb', 'rxdb/*', 'better-sqlite3', 'pg', 'ioredis', 'ws', 'fake-indexeddb'], message: '@goutong/core never touches a concrete database or socket: use the storage/transport ports.' },
  { group: ['@dcloudio/*'], message: '@goutong/core is platform-free: uni-app belongs to packages/mobile.' },
  { group: ['@goutong/*/src/*', '@goutong/*/dist/*'], message: 'import workspace packages by their public entry only.' },
];
const NODE_BUILTINS = ['fs', 'path', 'os', 'crypto', 'http', 'https', 'net', 'child_process', 'worker_threads', 'stream', 'url', 'util', 'events', 'buffer', 'process'];

// ----- One writer of facts (issue 9, part 3): SQL lives only in the server's domain and db layers. -----
// Outside packages/sync-server/src/{domain,db}: no SQL text, no database calls (.run/.all/.one/.exec
// with SQL, anything on a `db`/`q`/`*.db` handle, any .tx()), no database drivers, and from db/db.js
// only types and openDb (the composition root opens the database; the domain layer uses it).
const SQL_TEXT = String.raw`/^\s*(SELECT\s[\s\S]*\sFROM\s|INSERT\s+INTO\s|UPDATE\s+\w+\s+SET\s|DELETE\s+FROM\s|WITH\s+\w+\s+AS\s*\(|(CREATE|ALTER|DROP)\s+(TABLE|INDEX|UNIQUE)|TRUNCATE\s|BEGIN\b|COMMIT\b|ROLLBACK\b|LOCK\s+TABLE)/`;
const SQL_LAYER_MESSAGE = 'SQL belongs to the domain layer (packages/sync-server/src/domain) or src/db: call a domain function that runs it (one writer of facts).';
export const SERVER_SQL_LAYER = {
  syntax: [
    // SQL text anywhere (a string or the first chunk of a template).
    `Literal[value=${SQL_TEXT}]`,
    `TemplateLiteral > TemplateElement:first-child[value.raw=${SQL_TEXT}]`,
    // A statement method called with literal text.
    "CallExpression[callee.property.name=/^(run|all|one|exec|query)$/][arguments.0.type='Literal'][arguments.0.regex=undefined]",
    "CallExpression[callee.property.name=/^(run|all|one|exec|query)$/][arguments.0.type='TemplateLiteral']",
    // Any statement method on a database handle (db, q, this.db, ws.db, this.o.db…), whatever its argument.
    "CallExpression[callee.property.name=/^(run|all|one|exec|tx)$/][callee.object.name=/^(db|q|tx|client|pool)$/]",
    "CallExpression[callee.property.name=/^(run|all|one|exec|tx)$/][callee.object.property.name='db']",
    // Transactions are opened by the domain layer only.
    "CallExpression[callee.property.name='tx']",
  ].map((selector) => ({ selector, message: SQL_LAYER_MESSAGE })),
  imports: {
    paths: [
      { name: 'pg', message: SQL_LAYER_MESSAGE },
      { name: 'better-sqlite3', message: SQL_LAYER_MESSAGE },
    ],
    patterns: [
      { group: ['**/db/db.js', '**/db/db'], allowImportNames: ['openDb'], allowTypeImports: true, message: `${SQL_LAYER_MESSAGE} Import only types (and openDb) from db/db.js.` },
    ],
  },
};

export default tseslint.config(
  {
    ignores: ['**/dist/**', '**/node_modules/**', '**/test-results/**', '**/.goutong/**', 'packages/mobile/**', 'packages/desktop/{test,bench,build}/**', 'packages/desktop/*.{ts,js,mjs}', 'packages/storage-rxdb/**', '**/*.d.ts', '**/unpackage/**'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'off',
      'no-empty': ['error', { allowEmptyCatch: true }],
      '@typescript-eslint/switch-exhaustiveness-check': 'off',
    },
  },
  {
    // Core: no platform globals, no platform modules (types: [] in its tsconfig backs this up).
    files: ['packages/core/src/**/*.ts'],
    ignores: ['packages/core/src/**/*.test.ts'],
    languageOptions: { globals: {} },
    rules: {
      'no-restricted-imports': ['error', { patterns: PLATFORM_MODULES, paths: NODE_BUILTINS.map((name) => ({ name, message: '@goutong/core is platform-free.' })) }],
      'no-restricted-globals': [
        'error',
        ...['window', 'document', 'navigator', 'localStorage', 'indexedDB', 'process', 'Buffer', 'require', 'uni', 'plus', 'wx', '__dirname'].map((name) => ({ name, message: `@goutong/core is platform-free: ${name} comes through a port.` })),
      ],
    },
  },
  {
    // Desktop (TypeScript of main, preload, shared and renderer; .vue files are type-checked by vue-tsc, not linted).
    files: ['packages/desktop/src/**/*.ts'],
    languageOptions: { globals: { ...globals.browser, ...globals.node } },
    rules: {
      'no-restricted-syntax': [
        'error',
        ...[
          "MemberExpression[object.name='ipcMain']",
          "VariableDeclarator[init.name='ipcMain']",
          "ImportSpecifier[imported.name='ipcMain'][local.name!='ipcMain']",
        ].map((selector) => ({ selector, message: 'Register IPC handlers only through registerIpcHandlers() in src/main/ipc.ts (sender check + zod arguments per channel); never use ipcMain directly.' })),
      ],
    },
  },
  {
    files: ['packages/desktop/src/main/ipc.ts'],
    rules: { 'no-restricted-syntax': 'off' },
  },
  {
    // The renderer reaches Electron only through the preload bridge (window.goutong), never Node.
    files: ['packages/desktop/src/renderer/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: ['electron', 'electron/*', 'node:*'], message: 'The renderer is sandboxed: use the preload bridge (platform/host.ts).' }] }] },
  },
  {
    // Exhaustive switches over unions are type-checked where type information is cheap.
    files: ['packages/core/src/**/*.ts', 'packages/sync-server/src/**/*.ts'],
    ignores: ['**/*.test.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: { '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }] },
  },
  {
    files: ['packages/sync-server/src/**/*.ts'],
    ignores: [
      'packages/sync-server/src/domain/**',
      'packages/sync-server/src/db/**',
    ],
    rules: {
      'no-restricted-syntax': ['error', ...SERVER_SQL_LAYER.syntax],
      'no-restricted-imports': ['error', SERVER_SQL_LAYER.imports],
    },
  },
  {
    // The package's public entry re-exports the database openers (tests, benchmarks, embedding).
    files: ['packages/sync-server/src/index.ts'],
    rules: { 'no-restricted-imports': ['error', { ...SERVER_SQL_LAYER.imports, patterns: SERVER_SQL_LAYER.imports.patterns.map((p) => ({ ...p, allowImportNames: ['openDb', 'openSqlite', 'openPostgres'] })) }] },
  },
);

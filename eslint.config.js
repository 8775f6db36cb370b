// Lint rules that make the architecture a check, not prose (see ../shared/reference/model-codebases.md).
import { fileURLToPath } from 'node:url';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';
import pluginVue from 'eslint-plugin-vue';
import { importX, createNodeResolver } from 'eslint-plugin-import-x';

const PLATFORM_MODULES = [
  { group: ['node:*'], message: '@goutong/core is platform-free: bring Node APIs in through a port.' },
  { group: ['electron', 'electron/*'], message: '@goutong/core is platform-free: Electron belongs to packages/desktop.' },
  { group: ['dexie', 'rxdb', 'rxdb/*', 'better-sqlite3', 'pg', 'ioredis', 'ws', 'fake-indexeddb'], message: '@goutong/core never touches a concrete database or socket: use the storage/transport ports.' },
  { group: ['@dcloudio/*'], message: '@goutong/core is platform-free: uni-app belongs to packages/mobile.' },
  { group: ['@goutong/*/src/*', '@goutong/*/dist/*'], message: 'import workspace packages by their public entry only.' },
  { group: ['@goutong/*', '!@goutong/core', '!@goutong/core/*'], message: '@goutong/core is the bottom layer: it imports no other workspace package.' },
];
const PACKAGES = fileURLToPath(new URL('./packages', import.meta.url));
const SERVER_SRC = fileURLToPath(new URL('./packages/sync-server/src', import.meta.url));

/**
 * Resolves imports the way the TypeScript sources are written (`./x.js` → `./x.ts`, workspace
 * packages to their `source` entry), with import-x's built-in resolver (no extra package).
 */
function workspaceResolver() {
  return createNodeResolver({
    extensions: ['.ts', '.tsx', '.vue', '.mjs', '.js', '.cjs', '.json'],
    extensionAlias: { '.js': ['.ts', '.js'], '.mjs': ['.mts', '.mjs'] },
    conditionNames: ['source', 'import', 'default'],
    mainFields: ['module', 'main'],
  });
}
const IMPORT_X_SETTINGS = {
  'import-x/resolver-next': [workspaceResolver()],
  // Without these, import-x skips .ts and .vue modules when it follows imports (no-cycle would see
  // nothing). A .vue module is parsed with vue-eslint-parser, which takes its inner script parser
  // from parserOptions.parser (set in the cycle block below).
  'import-x/extensions': ['.ts', '.tsx', '.mts', '.cts', '.vue', '.js', '.mjs', '.cjs'],
  'import-x/parsers': { '@typescript-eslint/parser': ['.ts', '.tsx', '.mts', '.cts'], 'vue-eslint-parser': ['.vue'] },
};

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
    // Every package, test, bench, script and .vue file is linted; only build output and generated files are not.
    ignores: ['**/dist/**', '**/node_modules/**', '**/test-results/**', '**/.goutong/**', '**/*.d.ts', '**/*.d.mts', '**/unpackage/**', '**/release/**', '**/*.timestamp-*.mjs'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  // .vue single-file components: Vue's recommended rules, TypeScript inside <script setup lang="ts">.
  ...pluginVue.configs['flat/recommended'],
  {
    files: ['**/*.vue'],
    languageOptions: { parserOptions: { parser: tseslint.parser, extraFileExtensions: ['.vue'], sourceType: 'module' } },
  },
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
    // Desktop (TypeScript of main, preload, shared and renderer).
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
    files: ['packages/desktop/src/renderer/**/*.{ts,vue}'],
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

  // ---- Coverage of every package (build hygiene, issue 9 part 7) ----
  {
    // Browser code outside the desktop's src: mobile (uni-app, H5 in a browser), the RxDB adapter, desktop tests/bench/harness.
    files: ['packages/mobile/**/*.{ts,vue,js}', 'packages/storage-rxdb/**/*.{ts,mjs}', 'packages/desktop/{test,bench}/**/*.{ts,mjs}', 'packages/desktop/src/renderer/**/*.vue'],
    languageOptions: { globals: { ...globals.browser, ...globals.node } },
  },
  {
    // uni-app's runtime globals (H5, app-plus, mp-weixin).
    files: ['packages/mobile/src/**/*.{ts,vue}'],
    languageOptions: { globals: { uni: 'readonly', plus: 'readonly', wx: 'readonly', getApp: 'readonly', getCurrentPages: 'readonly', UniApp: 'readonly', UniHelper: 'readonly', UniNamespace: 'readonly' } },
  },
  {
    files: ['packages/mobile/src/serviceWorker/**/*.js', 'packages/desktop/src/renderer/serviceWorker/**/*.js', 'scripts/app-shell-worker/shell.js'],
    languageOptions: { globals: { ...globals.serviceworker } },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { ...globals.node } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // Vue's layout rules (line breaks and attribute order in templates) are style only: on they would
    // reformat most templates of both apps without finding a bug. Correctness rules stay on.
    files: ['**/*.vue'],
    rules: {
      'vue/max-attributes-per-line': 'off',
      'vue/singleline-html-element-content-newline': 'off',
      'vue/multiline-html-element-content-newline': 'off',
      'vue/html-self-closing': 'off',
      'vue/html-indent': 'off',
      'vue/html-closing-bracket-newline': 'off',
      'vue/first-attribute-linebreak': 'off',
    },
  },

  {
    // uni-app routes pages by path (pages.json: pages/inbox/index): a page file is always index.vue.
    files: ['packages/mobile/src/pages/**/index.vue'],
    rules: { 'vue/multi-word-component-names': 'off' },
  },

  // ---- Layers of the server (issue 9 part 7); path-based, so it does not clash with no-restricted-imports blocks ----
  {
    files: ['packages/sync-server/src/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: IMPORT_X_SETTINGS,
    rules: {
      'import-x/no-restricted-paths': [
        'error',
        {
          basePath: SERVER_SRC,
          zones: [
            { target: './channels', from: ['./http', './server.ts'], message: 'channels/** sits below the http layer: take request helpers from auth/request.ts or errors.ts.' },
            { target: './domain', from: ['./http', './channels', './sync', './relay', './ops'], message: 'domain/** is the writer of facts: it depends on db/** only, never on transports or channels.' },
            { target: './db', from: ['./domain', './http', './channels', './sync', './relay', './ops', './scale', './attachments', './auth', './server.ts', './main.ts', './cli.ts', './seed.ts', './index.ts'], message: 'db/** is the bottom layer of the server: it imports nothing from the layers above.' },
          ],
        },
      ],
    },
  },

  {
    // Core is the bottom layer: no path into another package either (package imports: see PLATFORM_MODULES).
    files: ['packages/core/src/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: IMPORT_X_SETTINGS,
    rules: {
      'import-x/no-restricted-paths': ['error', { basePath: PACKAGES, zones: [{ target: './core', from: ['./sync-server', './desktop', './mobile', './storage-rxdb'], message: '@goutong/core imports no other workspace package.' }] }],
    },
  },

  // ---- Import cycles in every package's src (issue 9 part 7) ----
  {
    files: ['packages/*/src/**/*.{ts,vue}'],
    plugins: { 'import-x': importX },
    settings: IMPORT_X_SETTINGS,
    // For the .vue modules import-x parses while it follows imports (ignored by the TS parser itself).
    languageOptions: { parserOptions: { parser: tseslint.parser, extraFileExtensions: ['.vue'] } },
    rules: { 'import-x/no-cycle': ['error', { ignoreExternal: true }] },
  },
);

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
);

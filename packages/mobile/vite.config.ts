import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Alias, type PluginOption } from 'vite';
import uniModule from '@dcloudio/vite-plugin-uni';
import { appShellWorker } from './scripts/appShell';

// The plugin is CommonJS with `exports.default`; this package is ESM, so unwrap the default export.
const uni = ((uniModule as unknown as { default?: typeof uniModule }).default ?? uniModule) as () => PluginOption;

/**
 * uni resolves modules with `preserveSymlinks: true`. Under pnpm that makes the dependencies of a
 * package resolve from the hoisted `.pnpm/node_modules`, where @intlify 9.1.9 (uni's compiler and its
 * vue-i18n runtime) and @intlify 11 (vue-i18n 11) compete for one name. So every @intlify package is
 * pinned here to the version its user really depends on:
 *  - H5 bundles this package's vue-i18n 11;
 *  - app-plus and mp-weixin replace `vue-i18n` with uni's own runtime build (uni-cli-shared/lib, no
 *    `new Function` message compiler, which Android's JS engine and mini programs refuse), whose
 *    @intlify packages are uni-cli-shared's dependencies.
 */
function intlifyAliases(): Alias[] {
  const here = createRequire(import.meta.url);
  const pkgJson = (name: string, from: string) => realpathSync(createRequire(from).resolve(`${name}/package.json`));
  const root =
    process.env.UNI_PLATFORM === 'h5'
      ? pkgJson('vue-i18n', here.resolve('./package.json'))
      : pkgJson('@dcloudio/uni-cli-shared', pkgJson('@dcloudio/vite-plugin-uni', here.resolve('./package.json')));
  const found = new Map<string, string>();
  const visit = (fromPkgJson: string) => {
    const deps = (JSON.parse(readFileSync(fromPkgJson, 'utf8')) as { dependencies?: Record<string, string> }).dependencies ?? {};
    for (const name of Object.keys(deps)) {
      if (!name.startsWith('@intlify/') || found.has(name)) continue;
      const pj = pkgJson(name, fromPkgJson);
      const meta = JSON.parse(readFileSync(pj, 'utf8')) as { module?: string };
      found.set(name, join(dirname(pj), meta.module ?? `dist/${name.slice('@intlify/'.length)}.esm-bundler.js`));
      visit(pj);
    }
  };
  visit(root);
  return [...found].map(([name, file]) => ({ find: new RegExp(`^${name.replace('/', '\\/')}$`), replacement: file }));
}

/**
 * Workspace packages are bundled from their TypeScript sources (like the tests do), so a uni build
 * needs no `tsc -b` of core first and never picks up a stale dist.
 */
const workspaceSources: Alias[] = [
  { find: /^@goutong\/core$/, replacement: fileURLToPath(new URL('../core/src/index.ts', import.meta.url)) },
  { find: /^@goutong\/storage-rxdb$/, replacement: fileURLToPath(new URL('../storage-rxdb/src/index.ts', import.meta.url)) },
];

// Build configuration for `uni` (H5, app-plus, mp-weixin). Tests use vitest.config.ts, which does
// not load this file or uni's plugin.
/**
 * H5 bundles RxDB (IndexedDB adapter), whose own dependencies (dexie, ajv, …) only resolve through
 * real paths under pnpm: resolve symlinks on H5. app-plus and mp-weixin keep uni's setting.
 */
const realPathsOnH5: PluginOption = {
  name: 'goutong:real-paths-on-h5',
  enforce: 'post',
  config: () => (process.env.UNI_PLATFORM === 'h5' ? { resolve: { preserveSymlinks: false } } : {}),
};

/**
 * Chunks are named after their module's path; one outside this package (`../storage-rxdb/src`)
 * would be named `..-..-storage-rxdb-src-src.<hash>.js`, and a dynamic import of it is then written
 * as a bare specifier the browser cannot resolve. Leading dots are dropped from chunk names.
 */
const safeChunkNames: PluginOption = {
  name: 'goutong:safe-chunk-names',
  enforce: 'post',
  config: () =>
    process.env.UNI_PLATFORM === 'h5'
      ? { build: { rollupOptions: { output: { chunkFileNames: (c: { name: string }) => `assets/${c.name.replace(/^[.-]+/, '').replace(/\.\./g, '') || 'chunk'}.[hash].js` } } } }
      : {},
};

export default defineConfig({
  plugins: [uni(), realPathsOnH5, safeChunkNames, appShellWorker(fileURLToPath(new URL('./src/serviceWorker/sw.js', import.meta.url)))],
  resolve: { alias: [...workspaceSources, ...intlifyAliases()] },
  define: {
    // vue-i18n feature flags (esm-bundler build on H5): JIT message compilation, no eval.
    __VUE_I18N_FULL_INSTALL__: true,
    __VUE_I18N_LEGACY_API__: false,
    __INTLIFY_PROD_DEVTOOLS__: false,
    __INTLIFY_JIT_COMPILATION__: true,
    __INTLIFY_DROP_MESSAGE_COMPILER__: false,
  },
});

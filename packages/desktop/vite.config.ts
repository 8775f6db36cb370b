import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';
import vue from '@vitejs/plugin-vue';
import { composeWorker } from '../../scripts/app-shell-worker/index.mjs';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

/**
 * The web app's service worker (src/renderer/serviceWorker/sw.js with the shared app shell of
 * scripts/app-shell-worker) written into the build as sw.js,
 * with the files to precache: every file the vite manifest names (entries, lazy chunks, their CSS
 * and assets, all with hashed names) and index.html; and a version that changes with any of them.
 * The manifest itself is removed afterwards (it is not served).
 */
function appShellWorker(): Plugin {
  const out = here('./dist/renderer');
  return {
    name: 'goutong-app-shell-worker',
    apply: 'build',
    closeBundle() {
      const manifestFile = path.join(out, '.vite/manifest.json');
      const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as Record<string, { file: string; css?: string[]; assets?: string[] }>;
      const files = new Set<string>(['index.html']);
      for (const chunk of Object.values(manifest)) for (const f of [chunk.file, ...(chunk.css ?? []), ...(chunk.assets ?? [])]) if (f && f !== 'index.html') files.add(f);
      const list = [...files].sort();
      const version = crypto.createHash('sha256').update(list.join('\n')).update(fs.readFileSync(path.join(out, 'index.html'))).digest('hex').slice(0, 16);
      const sw = composeWorker(fs.readFileSync(here('./src/renderer/serviceWorker/sw.js'), 'utf8'), { version, files: list });
      fs.writeFileSync(path.join(out, 'sw.js'), sw);
      fs.rmSync(path.join(out, '.vite'), { recursive: true, force: true });
    },
  };
}

/**
 * The renderer: one build for the web app (served by the sync server at /app/) and the Electron
 * window (loaded from disk through the app:// protocol, same /app/ base). No inline scripts and no
 * eval, so it runs under the server's CSP `script-src 'self'`.
 */
export default defineConfig({
  root: here('./src/renderer'),
  base: '/app/',
  plugins: [vue(), appShellWorker()],
  resolve: {
    // Workspace packages from source: no stale dist between an edit in core and a renderer build.
    conditions: ['source'],
  },
  define: {
    __VUE_OPTIONS_API__: 'false',
    __VUE_PROD_DEVTOOLS__: 'false',
    __VUE_PROD_HYDRATION_MISMATCH_DETAILS__: 'false',
    __INTLIFY_JIT_COMPILATION__: 'true',
    __INTLIFY_DROP_MESSAGE_COMPILER__: 'false',
    __INTLIFY_PROD_DEVTOOLS__: 'false',
  },
  build: {
    outDir: here('./dist/renderer'),
    emptyOutDir: true,
    target: 'es2022',
    // No public source maps: the served folder (dist/renderer, /app) must not expose the sources.
    sourcemap: false,
    // Read by appShellWorker (the service worker's precache list), then removed.
    manifest: true,
    chunkSizeWarningLimit: 2000,
  },
});

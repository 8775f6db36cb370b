import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import vue from '@vitejs/plugin-vue';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

/**
 * The renderer: one build for the web app (served by the sync server at /app/) and the Electron
 * window (loaded from disk through the app:// protocol, same /app/ base). No inline scripts and no
 * eval, so it runs under the server's CSP `script-src 'self'`.
 */
export default defineConfig({
  root: here('./src/renderer'),
  base: '/app/',
  plugins: [vue()],
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
    chunkSizeWarningLimit: 2000,
  },
});

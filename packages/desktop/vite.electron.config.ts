// Builds the Electron main process and the sandboxed preload as CommonJS bundles (the preload
// must be one file: a sandboxed preload cannot require npm packages).
import { builtinModules } from 'node:module';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const target = process.env.GOUTONG_ELECTRON_TARGET === 'preload' ? 'preload' : 'main';

export default defineConfig({
  resolve: { conditions: ['source', 'node'] },
  build: {
    outDir: here(`./dist/${target}`),
    emptyOutDir: true,
    target: 'node22',
    minify: false,
    sourcemap: true,
    lib: {
      entry: here(target === 'main' ? './src/main/main.ts' : './src/preload/index.ts'),
      formats: ['cjs'],
      fileName: () => `${target}.cjs`,
    },
    rollupOptions: {
      external: ['electron', 'electron-updater', ...builtinModules, ...builtinModules.map((m) => `node:${m}`)],
    },
  },
});

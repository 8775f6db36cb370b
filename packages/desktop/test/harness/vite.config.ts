import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  root: here('.'),
  base: '/app/__harness/',
  resolve: {
    conditions: ['source'],
    alias: [
      { find: /^@goutong\/core\/testing$/, replacement: here('../../../core/src/testing/index.ts') },
      { find: /^@goutong\/core$/, replacement: here('../../../core/src/index.ts') },
    ],
  },
  build: { outDir: here('../../dist/harness'), emptyOutDir: true, target: 'es2022', minify: false },
});

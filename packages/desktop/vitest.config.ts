import { defineConfig } from 'vitest/config';
import vue from '@vitejs/plugin-vue';
import { workspaceAliases } from '../../vitest.shared.js';

export default defineConfig({
  plugins: [vue()],
  resolve: { alias: workspaceAliases },
  test: {
    name: 'desktop',
    include: ['test/**/*.test.ts'],
    // Node by default (main-process modules, e2e drivers); component tests opt into happy-dom with
    // a `// @vitest-environment happy-dom` comment.
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 240_000,
    // The e2e files start a server and Chromium each: one file at a time on a 2-core machine.
    fileParallelism: false,
    globalSetup: ['test/e2e/globalSetup.ts'],
  },
});

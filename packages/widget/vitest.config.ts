import { defineConfig } from 'vitest/config';
import { workspaceAliases } from '../../vitest.shared.js';

export default defineConfig({
  resolve: { alias: workspaceAliases },
  test: {
    name: 'widget',
    include: ['test/**/*.test.ts'],
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // The e2e file starts a server and Chromium: one file at a time on a 2-core machine.
    fileParallelism: false,
    globalSetup: ['test/globalSetup.ts'],
  },
});

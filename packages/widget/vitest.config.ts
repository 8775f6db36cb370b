import { defineConfig } from 'vitest/config';
import { workspaceAliases } from '../../vitest.shared.js';

export default defineConfig({
  resolve: { alias: workspaceAliases },
  test: {
    name: 'widget',
    include: ['test/**/*.test.ts'],
    environment: 'node',
    testTimeout: 90_000,
    // A browser on a busy 2-core machine: waits for what the page shows are generous (never asserted as timings).
    expect: { poll: { timeout: 20_000, interval: 50 } },
    hookTimeout: 120_000,
    // The e2e file starts a server and Chromium: one file at a time on a 2-core machine.
    fileParallelism: false,
    globalSetup: ['test/globalSetup.ts'],
  },
});

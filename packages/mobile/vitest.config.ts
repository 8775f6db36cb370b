import { defineConfig } from 'vitest/config';
import { workspaceAliases } from '../../vitest.shared.js';

// Tests run in plain Node with the root's vitest (and its vite); uni's vite plugin and this package's
// vite 5 build config (vite.config.ts) are not loaded here. The e2e test (test/e2e) drives the H5
// build in Chromium against the real server; its global setup builds both when they are stale.
export default defineConfig({
  resolve: { alias: workspaceAliases },
  test: {
    name: 'mobile',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    environment: 'node',
    globalSetup: ['test/e2e/globalSetup.ts'],
    hookTimeout: 120_000,
  },
});

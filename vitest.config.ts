import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Each package that has tests owns a vitest.config.ts (one project each).
    projects: ['packages/*/vitest.config.ts'],
    reporters: ['default', './scripts/summary-reporter.ts'],
  },
});

import { defineConfig } from 'vitest/config';
import { workspaceAliases } from '../../vitest.shared.js';

export default defineConfig({
  resolve: { alias: workspaceAliases },
  test: { name: 'core', include: ['src/**/*.test.ts', 'test/**/*.test.ts'], environment: 'node' },
});

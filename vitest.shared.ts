import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('.', import.meta.url));

/** Tests import workspace packages from source, so no build is needed between edit and test. */
export const workspaceAliases = [
  { find: /^@goutong\/core\/testing$/, replacement: `${root}packages/core/src/testing/index.ts` },
  { find: /^@goutong\/core$/, replacement: `${root}packages/core/src/index.ts` },
];

// The repository's lint rules fire (eslint.config.js): import cycles, the server's layers, core's
// independence from the other packages, and .vue files with TypeScript inside <script setup>.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const config = path.join(root, 'eslint.config.js');
// Planted files are not in a tsconfig: lint them without type information.
const untyped = { languageOptions: { parserOptions: { projectService: false } }, rules: { '@typescript-eslint/switch-exhaustiveness-check': 'off' as const } };

async function ruleHits(eslint: ESLint, code: string, filePath: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).map((m) => `${m.ruleId ?? 'parse'}: ${m.message}`);
}

describe('lint: import cycles (import-x/no-cycle on packages/*/src)', () => {
  const planted = mkdtempSync(path.join(tmpdir(), 'goutong-cycle-'));
  afterAll(() => rmSync(planted, { recursive: true, force: true }));

  it('fails on a planted cycle between two modules and passes once it is broken', async () => {
    const src = path.join(planted, 'packages/core/src');
    mkdirSync(src, { recursive: true });
    writeFileSync(path.join(src, 'a.ts'), "import { b } from './b.js';\nexport const a = (): number => b() + 1;\n");
    writeFileSync(path.join(src, 'b.ts'), "import { a } from './a.js';\nexport const b = (): number => (a.length ? 1 : 0);\n");
    // Config patterns are relative to cwd with overrideConfigFile: the planted tree lints like the repository.
    const eslint = new ESLint({ cwd: planted, overrideConfigFile: config, overrideConfig: untyped });
    const [cyclic] = await eslint.lintFiles(['packages/core/src/a.ts']);
    expect(cyclic?.messages.map((m) => m.ruleId)).toEqual(['import-x/no-cycle']);

    writeFileSync(path.join(src, 'b.ts'), 'export const b = (): number => 1;\n');
    const fresh = new ESLint({ cwd: planted, overrideConfigFile: config, overrideConfig: untyped });
    const [broken] = await fresh.lintFiles(['packages/core/src/a.ts']);
    expect(broken?.messages).toEqual([]);
  });
});

describe('lint: import cycles through .vue components', () => {
  const planted = mkdtempSync(path.join(tmpdir(), 'goutong-vue-cycle-'));
  afterAll(() => rmSync(planted, { recursive: true, force: true }));

  it('fails on a store that imports a component that imports the store', async () => {
    const src = path.join(planted, 'packages/desktop/src/renderer');
    mkdirSync(src, { recursive: true });
    writeFileSync(path.join(src, 'store.ts'), "import PlantedPanel from './PlantedPanel.vue';\nexport const store = { panel: PlantedPanel };\n");
    writeFileSync(path.join(src, 'PlantedPanel.vue'), '<script setup lang="ts">\nimport { store } from \'./store\';\nconst n: number = Object.keys(store).length;\n</script>\n<template><p>{{ n }}</p></template>\n');
    const eslint = new ESLint({ cwd: planted, overrideConfigFile: config });
    const results = await eslint.lintFiles(['packages/desktop/src/renderer/store.ts']);
    expect(results[0]?.messages.map((m) => m.ruleId)).toEqual(['import-x/no-cycle']);
  });
});

describe('lint: layers', () => {
  const eslint = new ESLint({ cwd: root, overrideConfig: untyped });
  const server = (p: string) => path.join(root, 'packages/sync-server/src', p);

  it('channels/** may not import http/** or server.ts', async () => {
    expect(await ruleHits(eslint, "import { createHttp } from '../../http/app.js';\nexport const x = createHttp;\n", server('channels/sms/planted.ts'))).toEqual([expect.stringMatching(/^import-x\/no-restricted-paths: .*channels\/\*\* sits below the http layer/)]);
    expect(await ruleHits(eslint, "import { startServer } from '../server.js';\nexport const x = startServer;\n", server('channels/planted.ts'))).toEqual([expect.stringMatching(/^import-x\/no-restricted-paths/)]);
    expect(await ruleHits(eslint, "import { parse } from '../errors.js';\nimport { bearer } from '../auth/request.js';\nexport const x = [parse, bearer];\n", server('channels/planted.ts'))).toEqual([]);
  });

  it('domain/** may not import http, channels, sync or relay', async () => {
    for (const [spec, name] of [
      ['../http/app.js', 'createHttp'],
      ['../channels/provider.js', 'x'],
      ['../sync/socket.js', 'x'],
      ['../relay/worker.js', 'x'],
    ] as const) {
      expect(await ruleHits(eslint, `import { ${name} } from '${spec}';\nexport const y = ${name};\n`, server('domain/planted.ts')), spec).toEqual([expect.stringMatching(/^import-x\/no-restricted-paths: .*domain\/\*\* is the writer of facts/)]);
    }
    expect(await ruleHits(eslint, "import { openDb } from '../db/db.js';\nexport const y = openDb;\n", server('domain/planted.ts'))).toEqual([]);
  });

  it('db/** imports nothing from the layers above', async () => {
    expect(await ruleHits(eslint, "import { Workspace } from '../domain/workspace.js';\nexport const y = Workspace;\n", server('db/planted.ts'))).toEqual([expect.stringMatching(/^import-x\/no-restricted-paths: .*db\/\*\* is the bottom layer/)]);
  });

  it('core imports no other workspace package', async () => {
    expect(await ruleHits(eslint, "import { RxdbStore } from '@goutong/storage-rxdb';\nexport const y = RxdbStore;\n", path.join(root, 'packages/core/src/planted.ts'))).toEqual(expect.arrayContaining([expect.stringMatching(/^no-restricted-imports: .*bottom layer/)]));
    expect(await ruleHits(eslint, "import { Workspace } from '../../sync-server/src/domain/workspace.js';\nexport const y = Workspace;\n", path.join(root, 'packages/core/src/planted.ts'))).toEqual([expect.stringMatching(/^import-x\/no-restricted-paths: .*imports no other workspace package/)]);
  });
});

describe('lint: .vue files', () => {
  const eslint = new ESLint({ cwd: root, overrideConfig: untyped });
  it('parses TypeScript in <script setup lang="ts"> and applies Vue rules', async () => {
    const sfc = `<script setup lang="ts">
const props = defineProps<{ items: string[] }>();
function add(x: string): void {
  props.items.push(x);
}
</script>
<template><button type="button" @click="add('a')">{{ items.length }}</button></template>
`;
    const hits = await ruleHits(eslint, sfc, path.join(root, 'packages/desktop/src/renderer/components/PlantedList.vue'));
    expect(hits).toEqual([expect.stringMatching(/^vue\/no-mutating-props/)]);
  });
});

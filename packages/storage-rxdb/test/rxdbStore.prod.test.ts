// The production configuration (no dev-mode plugin, no validating storage) must behave the same.
// A separate file: dev-mode is process-wide in RxDB once loaded, and vitest isolates test files.
import { IDBFactory, IDBKeyRange } from 'fake-indexeddb';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { generateConversations, makeFactBatch, runStorageConformance } from '@goutong/core/testing';
import { RxdbStore } from '../src/index.js';

const indexedDB = new IDBFactory();
let n = 0;
let name = '';

runStorageConformance(
  'RxdbStore without dev-mode',
  ({ reopen }) => {
    if (!reopen) name = `prod${++n}`;
    return RxdbStore.open({ name, indexedDB, IDBKeyRange });
  },
  { describe, it, expect, beforeEach, afterEach },
  { persistent: true, timeout: 30_000 },
);

describe('RxdbStore in one process', () => {
  it('opens two stores at once within RxDB open-core collection limit', async () => {
    const a = await RxdbStore.open({ name: 'two-a', indexedDB, IDBKeyRange });
    const b = await RxdbStore.open({ name: 'two-b', indexedDB, IDBKeyRange });
    try {
      await a.applyFacts(makeFactBatch({ conversations: generateConversations(3, { idPrefix: 'a' }) }), 1, 's');
      await b.applyFacts(makeFactBatch({ conversations: generateConversations(5, { idPrefix: 'b' }) }), 1, 's');
      expect(await a.countConversations({})).toBe(3);
      expect(await b.countConversations({})).toBe(5);
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe('RxDB dev-mode is for development builds only', () => {
  it('a build without import.meta.env.DEV refuses devMode instead of loading the plugin', async () => {
    vi.stubEnv('DEV', false);
    vi.resetModules();
    try {
      const prod = await import('../src/index.js');
      await expect(prod.RxdbStore.open({ name: 'no-dev', indexedDB, IDBKeyRange, devMode: true })).rejects.toBeInstanceOf(prod.DevModeUnavailableError);
      const store = await prod.RxdbStore.open({ name: 'no-dev', indexedDB, IDBKeyRange });
      await store.close();
    } finally {
      vi.unstubAllEnvs();
      vi.resetModules();
    }
  });
});

import { IDBFactory, IDBKeyRange } from 'fake-indexeddb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runStorageConformance } from '@goutong/core/testing';
import { RxdbStore } from '../src/index.js';

// One fake IndexedDB per test file; each test gets its own database name.
const indexedDB = new IDBFactory();
let n = 0;
let name = '';

const open = ({ reopen }: { reopen: boolean }) => {
  if (!reopen) name = `conformance${++n}`;
  return RxdbStore.open({ name, indexedDB, IDBKeyRange, devMode: true });
};

runStorageConformance('RxdbStore (Dexie, fake-indexeddb)', open, { describe, it, expect, beforeEach, afterEach }, { persistent: true, timeout: 30_000 });

describe('RxdbStore query plans', () => {
  it('walks one index range per status in final order for every sort', async () => {
    const store = await RxdbStore.open({ name: 'plans', indexedDB, IDBKeyRange, devMode: true });
    try {
      for (const sort of ['lastActivity', 'waitingLongest', 'priority'] as const) {
        const mine = store.explainQuery({ status: ['open'], assigneeId: 'agent-1', sort, limit: 50 });
        expect(mine).toHaveLength(1);
        expect(mine[0]).toMatchObject({ sortSatisfiedByIndex: true, selectorSatisfiedByIndex: true });
        expect(mine[0]!.index.slice(0, 3)).toEqual(['_deleted', 's', 'a']);
        const unassigned = store.explainQuery({ status: ['open', 'pending'], assigneeId: null, sort, limit: 50 });
        expect(unassigned).toHaveLength(2);
        const all = store.explainQuery({ sort, limit: 50, label: 'vip' });
        expect(all).toHaveLength(5);
        for (const plan of [...unassigned, ...all]) expect(plan.sortSatisfiedByIndex).toBe(true);
      }
    } finally {
      await store.close();
    }
  });
});

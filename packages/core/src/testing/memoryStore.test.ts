import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMemoryStoreData, MemoryStore, type MemoryStoreData } from './memoryStore.js';
import { runStorageConformance } from './storageSuite.js';

let data: MemoryStoreData = createMemoryStoreData();

runStorageConformance(
  'MemoryStore',
  async ({ reopen }) => {
    if (!reopen) data = createMemoryStoreData();
    return new MemoryStore({ data });
  },
  { describe, it, expect, beforeEach, afterEach },
  { persistent: true },
);

describe('MemoryStore', () => {
  it('refuses to work after close', async () => {
    const store = new MemoryStore();
    await store.close();
    await expect(store.getCheckpoint()).rejects.toThrow(/closed/);
  });
});

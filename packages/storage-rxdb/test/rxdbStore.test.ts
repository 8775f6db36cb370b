import 'fake-indexeddb/auto';
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

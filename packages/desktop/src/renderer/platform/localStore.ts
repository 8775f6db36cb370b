// [accounts] Opens the device's local database encrypted at rest: the key comes from the host's
// secure storage (Electron safeStorage through the preload bridge) or, in a browser, is a
// non-extractable WebCrypto key kept in IndexedDB. A database written before encryption is moved
// over once: its outbox (commands not yet acknowledged) is kept, its facts are pulled again.
import type { OutboxEntry } from '@goutong/core';
import type { RxdbStore, DocCipher } from '@goutong/storage-rxdb';
import type { Host } from './host';

type StorageModule = typeof import('@goutong/storage-rxdb');

export async function deviceCipher(mod: StorageModule, name: string, host: Pick<Host, 'deviceKey'>): Promise<DocCipher> {
  const raw = (await host.deviceKey?.(name).catch(() => null)) ?? null;
  return raw ? mod.cipherFromRawKey(raw) : mod.deviceKeyCipher(name);
}

/** Forgets the database's key wherever it is kept. */
export async function forgetDeviceKey(mod: StorageModule, name: string, host: Pick<Host, 'forgetDeviceKey'>): Promise<void> {
  await host.forgetDeviceKey?.(name).catch(() => undefined);
  await mod.deleteDeviceKey(name).catch(() => undefined);
}

const NOT_ENCRYPTED = /not encrypted/;

export async function openLocalStore(mod: StorageModule, name: string, host: Pick<Host, 'deviceKey' | 'forgetDeviceKey'>): Promise<RxdbStore> {
  const cipher = await deviceCipher(mod, name, host);
  const options = { name, cipher, onWipe: () => forgetDeviceKey(mod, name, host) };
  let store = await mod.RxdbStore.open(options);
  try {
    await store.getCheckpoint();
    await store.outboxList();
    return store;
  } catch (e) {
    if (!NOT_ENCRYPTED.test(String(e))) {
      await store.close().catch(() => undefined);
      throw e;
    }
  }
  // A plain database from before encryption: keep its outbox, drop the rest, start encrypted.
  await store.close();
  const plain = await mod.RxdbStore.open({ name });
  let outbox: OutboxEntry[] = [];
  try {
    outbox = await plain.outboxList();
  } finally {
    await plain.destroy();
  }
  store = await mod.RxdbStore.open(options);
  for (const e of outbox) await store.outboxPut(e);
  return store;
}

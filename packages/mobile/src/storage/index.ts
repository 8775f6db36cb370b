// Picks the LocalStore of the platform the app runs on:
//  - app-plus (Android, iOS): SQLite through plus.sqlite; uni storage only where SQLite is missing;
//  - mp-weixin: uni storage keeping the working set under WeChat's 10 MB;
//  - H5: IndexedDB through @goutong/storage-rxdb (the desktop's adapter), loaded only in the H5
//    build (uni's conditional compilation drops it elsewhere); uni storage (localStorage, working
//    set) only where IndexedDB is missing.
import type { LocalStore } from '@goutong/core';
import type { PlusSqliteApi } from './plusSqlite';
import { deviceKeyFor, type KeyKeeper, type KeyKeeperKind } from './deviceKey';
import { localCipher } from './localCipher';
import { PlusSqliteStore } from './plusSqliteStore';
import { UniStorageStore, WEIXIN_FACT_BUDGET_BYTES, type UniStorageApi, type WorkingSetInfo } from './uniStorageStore';

export type DeviceStoreKind = 'sqlite' | 'indexeddb' | 'uni' | 'uni-working-set';

export interface DeviceStore {
  store: LocalStore;
  kind: DeviceStoreKind;
  workingSet(): WorkingSetInfo | null;
  /** [trust] Where the key of the encrypted local database is kept (null: the store is not encrypted). */
  keyKind: KeyKeeperKind | 'indexeddb' | null;
}

export interface DeviceStoreOptions {
  /** uni's platform: "app", "mp-weixin", "h5", … */
  platform: string;
  /** One database per signed-in agent: another user on the same phone never sees these rows. */
  agentId: string;
  uni: UniStorageApi;
  /** `plus.sqlite` when the app runs on app-plus with the SQLite module. */
  sqlite?: PlusSqliteApi | undefined;
  /**
   * [trust] Where the SQLite database's key is kept, best first (platform keystore, then uni storage),
   * and a secure random source. Without it the SQLite database is not encrypted (tests of other parts).
   */
  deviceKeys?: { keepers: readonly KeyKeeper[]; random: (n: number) => Uint8Array } | undefined;
}

/** localStorage in browsers holds about 5 MB; keep facts well below. */
export const H5_FACT_BUDGET_BYTES = 3 * 1024 * 1024;

function safeName(agentId: string): string {
  return agentId.replace(/[^A-Za-z0-9_-]/g, '_');
}

export async function openDeviceStore(o: DeviceStoreOptions): Promise<DeviceStore> {
  const prefix = `gt1:${safeName(o.agentId)}:`;
  if (o.platform === 'app' && o.sqlite) {
    try {
      const name = `goutong_${safeName(o.agentId)}`;
      // [trust] Encrypted at rest: XChaCha20-Poly1305 under a key in the platform keystore (deviceKey.ts).
      const key = o.deviceKeys ? deviceKeyFor(name, o.deviceKeys.keepers, o.deviceKeys.random) : null;
      const store = await PlusSqliteStore.open({
        api: o.sqlite,
        name,
        path: `_doc/${name}.db`,
        ...(key ? { cipher: localCipher(key.key, o.deviceKeys!.random), freshKey: key.fresh, onWipe: () => key.forget() } : {}),
      });
      return { store, kind: 'sqlite', workingSet: () => null, keyKind: key?.kind ?? null };
    } catch {
      // SQLite module missing from the build or the file cannot be opened: fall back below.
    }
  }
  // #ifdef H5
  if (o.platform === 'h5' && typeof indexedDB !== 'undefined') {
    try {
      const { RxdbStore, deviceKeyCipher, deleteDeviceKey } = await import('@goutong/storage-rxdb');
      const name = `goutong-${safeName(o.agentId).toLowerCase()}`;
      // [accounts] Encrypted at rest: AES-GCM with a non-extractable key kept in IndexedDB (forgotten on wipe).
      const cipher = await deviceKeyCipher(name);
      let store = await RxdbStore.open({ name, cipher, onWipe: () => deleteDeviceKey(name) });
      if (!(await store.getCheckpoint().then(() => true, () => false))) {
        // A database from before encryption: its facts are pulled again.
        await store.close();
        await (await RxdbStore.open({ name })).destroy();
        store = await RxdbStore.open({ name, cipher, onWipe: () => deleteDeviceKey(name) });
      }
      return { store, kind: 'indexeddb', workingSet: () => null, keyKind: 'indexeddb' };
    } catch {
      // Private browsing without IndexedDB, or a broken database: fall back below.
    }
  }
  // #endif
  const budget = o.platform === 'mp-weixin' ? WEIXIN_FACT_BUDGET_BYTES : o.platform === 'app' ? null : H5_FACT_BUDGET_BYTES;
  const agentId = o.agentId;
  const store = await UniStorageStore.open({
    uni: o.uni,
    prefix,
    ...(budget !== null ? { workingSet: { factBudgetBytes: budget, agentId: () => agentId } } : {}),
  });
  return { store, kind: budget !== null ? 'uni-working-set' : 'uni', workingSet: () => store.workingSetInfo(), keyKind: null };
}

// @goutong/storage-rxdb: the LocalStore of browsers and Electron (RxDB on Dexie/IndexedDB).
export { RxdbStore, DevModeUnavailableError, type RxdbStoreOptions, type MirrorState, type MirrorLoadStats } from './rxdbStore.js';
export type { MirrorStats } from './mirror.js';
export { conversationSortKey, messageKey, bytesToBase64, base64ToBytes } from './keys.js';
export * from './schemas.js';
export * from './encryption.js';

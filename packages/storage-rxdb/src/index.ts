// @goutong/storage-rxdb: the LocalStore of browsers and Electron (RxDB on Dexie/IndexedDB).
export { RxdbStore, type RxdbStoreOptions } from './rxdbStore.js';
export { conversationSortKey, messageKey, bytesToBase64, base64ToBytes } from './keys.js';
export * from './schemas.js';

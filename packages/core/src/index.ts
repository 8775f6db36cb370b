// The one public entry of @goutong/core. Platform-free: no window, no node:*, no concrete database.
export * from './domain/model.js';
export * from './domain/policy.js';
export * from './domain/query.js';
export * from './commands/commands.js';
export * from './protocol/wire.js';
export * from './protocol/yframe.js';
export * from './ports/storage.js';
export * from './ports/platform.js';
export * from './ports/transport.js';
export * from './util/assert.js';
export * from './util/observable.js';
export * from './util/backoff.js';
export * from './util/uuidv7.js';

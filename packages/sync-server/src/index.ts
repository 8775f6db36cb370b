// Public entry of @goutong/sync-server (for tests, benchmarks and embedding).
export { startServer, VERSION, type RunningServer, type ServerOptions } from './server.js';
export { loadConfig, type Config } from './config.js';
export { openDb, openSqlite, openPostgres, type Db, type Queryable } from './db/db.js';
export { migrate, MIGRATIONS } from './db/migrations.js';
export { Workspace } from './domain/workspace.js';
export { createTenant, createInbox, seedDemo, DEMO } from './seed.js';
export { signApiPayload, apiProvider } from './channels/api.js';
export type { ChannelProvider, SendContext, SendResult, ProviderDeps, Extension, HookExtension, AdminUrl, SendVeto } from './channels/provider.js';
export { label } from './channels/label.js';
export { EXTENSIONS, builtinExtensions } from './channels/registry.js';
export { createLogger } from './logger.js';

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config.js';
import { startServer, type RunningServer, type ServerOptions } from '../../src/server.js';
import { silentLogger } from '@goutong/core';
import { createTestDatabase } from './pg.js';

export type Dialect = 'sqlite' | 'postgres';

/** A server in this process (for API-level tests); SQLite in a temp dir or a fresh PostgreSQL database. */
export async function startTestServer(
  dialect: Dialect = 'sqlite',
  env: Record<string, string> = {},
  extra: Omit<ServerOptions, 'config'> = {},
): Promise<RunningServer & { stopAll: () => Promise<void> }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'goutong-test-'));
  const db = dialect === 'postgres' ? await createTestDatabase('gtapi') : null;
  const config = loadConfig({ PORT: '0', GOUTONG_DATA_DIR: dir, GOUTONG_DEMO: '1', GOUTONG_LOG: 'silent', GOUTONG_RELAY_INTERVAL_MS: '50', GOUTONG_EGRESS_ALLOW: '127.0.0.0/8,::1', ...(db ? { DATABASE_URL: db.url } : {}), ...env });
  const server = await startServer({ config, logger: silentLogger, ...extra });
  return {
    ...server,
    stopAll: async () => {
      await server.close();
      fs.rmSync(dir, { recursive: true, force: true });
      await db?.drop();
    },
  };
}

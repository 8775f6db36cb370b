#!/usr/bin/env node
import { loadConfig } from './config.js';
import { startServer } from './server.js';
import { DEMO } from './seed.js';
import { createLogger } from './logger.js';

const config = (() => {
  try {
    return loadConfig();
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exit(2);
  }
})();
const logger = createLogger(config.logLevel);

if (process.argv.length > 2) {
  const { runCli } = await import('./cli.js');
  process.exit(await runCli(process.argv.slice(2), config, process.env));
}

const server = await startServer({ config, logger }).catch((e: unknown) => {
  logger.error('server: failed to start', { error: String(e) });
  process.exit(1);
});

const lines = [
  '',
  `  Goutong 沟通 is running on ${server.url}/`,
  `  Database: ${server.db.dialect === 'pg' ? 'PostgreSQL (DATABASE_URL)' : `SQLite in ${config.dataDir}`}`,
];
if (config.demo) {
  lines.push(`  Demo workspace "${DEMO.tenant}": log in as ${DEMO.adminEmail} / ${DEMO.password}${server.seeded ? ' (seeded now)' : ''}`);
}
lines.push(`  API: ${server.url}/api/v1/openapi.json`, '');
process.stdout.write(`${lines.join('\n')}\n`);

let stopping = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    logger.info('server: stopping', { signal: sig });
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}

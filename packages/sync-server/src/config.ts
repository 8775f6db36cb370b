import { z } from 'zod';
import path from 'node:path';
import fs from 'node:fs';

const Env = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8787),
  HOST: z.string().default('127.0.0.1'),
  GOUTONG_DATA_DIR: z.string().default('./.goutong'),
  DATABASE_URL: z.string().optional(),
  GOUTONG_DEMO: z.enum(['0', '1']).default('1'),
  /** Days of past conversations the demo workspace gets on its first start (`npm start` sets 30; 0: none). */
  GOUTONG_DEMO_HISTORY_DAYS: z.coerce.number().int().min(0).max(366).default(0),
  /**
   * Secret for signing access tokens and encrypting provider secrets. When absent it is generated once
   * and kept in `<data dir>/secret.key` (mode 0600), never in the database it protects. Several server
   * processes on one PostgreSQL must share it: set it (or give them the same key file).
   */
  GOUTONG_SECRET: z.string().min(32).optional(),
  /** [accounts] A file holding the master key (instead of GOUTONG_SECRET), e.g. a mounted secret. */
  GOUTONG_SECRET_FILE: z.string().optional(),
  /** [accounts] Serve HTTPS from this certificate and key (PEM files); HSTS is sent then. */
  GOUTONG_TLS_CERT: z.string().optional(),
  GOUTONG_TLS_KEY: z.string().optional(),
  GOUTONG_HSTS_MAX_AGE: z.coerce.number().int().min(0).default(31_536_000),
  /** [accounts] Behind a reverse proxy: trust X-Forwarded-For/-Proto from it (`true`, a hop count, or addresses/CIDRs, comma-separated). */
  GOUTONG_TRUST_PROXY: z.string().default(''),
  /** [accounts] How often retention policies are applied. */
  GOUTONG_RETENTION_INTERVAL_MS: z.coerce.number().int().min(1000).default(3600_000),
  GOUTONG_ACCESS_TTL: z.coerce.number().int().min(5).max(86_400).default(900),
  GOUTONG_REFRESH_TTL: z.coerce.number().int().min(60).default(30 * 86_400),
  GOUTONG_LOG: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
  GOUTONG_WEB_DIR: z.string().optional(),
  /** Redis URL for fan-out across several server processes (optional). */
  REDIS_URL: z.string().optional(),
  GOUTONG_RELAY_INTERVAL_MS: z.coerce.number().int().min(10).default(500),
  /** How long a relay worker holds a claimed job before another may take it over. */
  GOUTONG_RELAY_LEASE_MS: z.coerce.number().int().min(500).default(60_000),
  /** Bytes of stored Yjs updates one draft document may hold. */
  GOUTONG_DOC_QUOTA_BYTES: z.coerce.number().int().min(1024).default(2 * 1024 * 1024),
  /**
   * Hosts and CIDRs that provider API base URLs and outbound webhooks may reach although they are
   * loopback/private/link-local/metadata addresses, comma-separated (e.g. `127.0.0.0/8,::1,sms.lan`).
   */
  GOUTONG_EGRESS_ALLOW: z.string().default(''),
  /** How often expired idempotency keys, webhook replay records and refresh tokens are removed. */
  GOUTONG_HOUSEKEEPING_INTERVAL_MS: z.coerce.number().int().min(1000).default(15 * 60_000),
  /** How often the ops bus looks for due timers (events also wake it at once). */
  GOUTONG_OPS_INTERVAL_MS: z.coerce.number().int().min(10).default(1000),
  /**
   * Tests only: a file holding a clock offset in ms that every server process adds to its clock
   * (timers, SLA, grace periods under a fake clock, also across processes). Never set in production.
   */
  GOUTONG_TEST_CLOCK: z.string().optional(),
});

export type Config = {
  port: number;
  host: string;
  dataDir: string;
  databaseUrl: string | null;
  demo: boolean;
  /** Days of demo history written on the first start (0: none). */
  demoHistoryDays: number;
  secret: string | null;
  accessTtlSeconds: number;
  refreshTtlSeconds: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  webDir: string | null;
  redisUrl: string | null;
  relayIntervalMs: number;
  relayLeaseMs: number;
  docQuotaBytes: number;
  egressAllow: string[];
  housekeepingIntervalMs: number;
  opsIntervalMs: number;
  testClockFile: string | null;
  /** [accounts] */
  tls: { cert: string; key: string; hstsMaxAge: number } | null;
  trustProxy: boolean | string[];
  retentionIntervalMs: number;
};

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = Env.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n');
    throw new Error(`invalid configuration:\n${lines}`);
  }
  const e = parsed.data;
  if (Boolean(e.GOUTONG_TLS_CERT) !== Boolean(e.GOUTONG_TLS_KEY)) throw new Error('invalid configuration:\n  GOUTONG_TLS_CERT and GOUTONG_TLS_KEY go together');
  let secret = e.GOUTONG_SECRET ?? null;
  if (!secret && e.GOUTONG_SECRET_FILE) {
    secret = fs.readFileSync(e.GOUTONG_SECRET_FILE, 'utf8').trim();
    if (secret.length < 32) throw new Error(`invalid configuration:\n  GOUTONG_SECRET_FILE: ${e.GOUTONG_SECRET_FILE} holds fewer than 32 characters`);
  }
  const tp = e.GOUTONG_TRUST_PROXY.trim();
  const trustProxy = tp === '' || tp === 'false' ? false : tp === 'true' ? true : tp.split(',').map((x) => x.trim()).filter(Boolean);
  return {
    tls: e.GOUTONG_TLS_CERT && e.GOUTONG_TLS_KEY ? { cert: e.GOUTONG_TLS_CERT, key: e.GOUTONG_TLS_KEY, hstsMaxAge: e.GOUTONG_HSTS_MAX_AGE } : null,
    trustProxy,
    retentionIntervalMs: e.GOUTONG_RETENTION_INTERVAL_MS,
    port: e.PORT,
    host: e.HOST,
    dataDir: path.resolve(e.GOUTONG_DATA_DIR),
    databaseUrl: e.DATABASE_URL ?? null,
    demo: e.GOUTONG_DEMO === '1',
    demoHistoryDays: e.GOUTONG_DEMO_HISTORY_DAYS,
    secret,
    accessTtlSeconds: e.GOUTONG_ACCESS_TTL,
    refreshTtlSeconds: e.GOUTONG_REFRESH_TTL,
    logLevel: e.GOUTONG_LOG,
    webDir: e.GOUTONG_WEB_DIR ?? null,
    redisUrl: e.REDIS_URL ?? null,
    relayIntervalMs: e.GOUTONG_RELAY_INTERVAL_MS,
    relayLeaseMs: e.GOUTONG_RELAY_LEASE_MS,
    docQuotaBytes: e.GOUTONG_DOC_QUOTA_BYTES,
    egressAllow: e.GOUTONG_EGRESS_ALLOW.split(',').map((x) => x.trim()).filter(Boolean),
    housekeepingIntervalMs: e.GOUTONG_HOUSEKEEPING_INTERVAL_MS,
    opsIntervalMs: e.GOUTONG_OPS_INTERVAL_MS,
    testClockFile: e.GOUTONG_TEST_CLOCK ? path.resolve(e.GOUTONG_TEST_CLOCK) : null,
  };
}

import crypto from 'node:crypto';
import pg from 'pg';

/** The machine's PostgreSQL (CI has one on 127.0.0.1:5432, trust auth). Override with GOUTONG_TEST_PG. */
export const PG_ADMIN_URL = process.env.GOUTONG_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Creates a fresh database for one test file; returns its URL and a drop function. Fails loudly when PostgreSQL is absent. */
export async function createTestDatabase(prefix = 'gt'): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `${prefix}_${crypto.randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const u = new URL(PG_ADMIN_URL);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

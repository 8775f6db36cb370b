import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '@goutong/core';
import { loadConfig } from '../../src/config.js';
import { startServer } from '../../src/server.js';
import { openDb } from '../../src/db/db.js';
import { migrate } from '../../src/db/migrations.js';
import { createTestDatabase } from '../support/pg.js';

const mode = (f: string) => fs.statSync(f).mode & 0o777;

/** Hole 1: the signing/sealing key is not stored in the database it protects. */
describe.each([['sqlite'], ['postgres']] as const)('key not stored in the database it protects (%s)', (dialect) => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup() {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'goutong-sec-key-'));
    const pg = dialect === 'postgres' ? await createTestDatabase('gtkey') : null;
    cleanups.push(async () => {
      fs.rmSync(dir, { recursive: true, force: true });
      await pg?.drop();
    });
    const env = { PORT: '0', GOUTONG_DATA_DIR: dir, GOUTONG_DEMO: '1', GOUTONG_LOG: 'silent', ...(pg ? { DATABASE_URL: pg.url } : {}) };
    const start = async () => {
      const s = await startServer({ config: loadConfig(env), logger: silentLogger });
      return s;
    };
    return { dir, start, databaseUrl: pg?.url ?? null };
  }

  it('key not stored in the database it protects: generated into secret.key (0600), none in settings', async () => {
    const { dir, start } = await setup();
    const s = await start();
    try {
      const file = path.join(dir, 'secret.key');
      expect(fs.existsSync(file)).toBe(true);
      expect(mode(file)).toBe(0o600);
      expect(fs.readFileSync(file, 'utf8').trim()).toBe(s.secret);
      expect(await s.db.one("SELECT value FROM settings WHERE key = 'server_secret'")).toBeNull();
      if (dialect === 'sqlite') {
        for (const f of ['goutong.sqlite', 'goutong.sqlite-wal', 'goutong.sqlite-shm']) {
          const p = path.join(dir, f);
          if (fs.existsSync(p)) expect(mode(p), f).toBe(0o600);
        }
        expect(mode(path.join(dir, 'goutong.sqlite'))).toBe(0o600);
      }
    } finally {
      await s.close();
    }
    // A restart reads the same key back.
    const again = await start();
    try {
      expect(again.secret).toBe(fs.readFileSync(path.join(dir, 'secret.key'), 'utf8').trim());
    } finally {
      await again.close();
    }
  });

  it('key not stored in the database it protects: an existing key in the database moves to the file once', async () => {
    const { dir, start, databaseUrl } = await setup();
    const legacy = 'legacy-key-kept-in-the-database-0123456789abcdef';
    const db = openDb({ databaseUrl, dataDir: dir });
    await migrate(db);
    await db.run("INSERT INTO settings (key, value) VALUES ('server_secret', ?)", [legacy]);
    await db.close();
    const s = await start();
    try {
      expect(s.secret).toBe(legacy); // tokens and sealed provider secrets stay valid
      expect(fs.readFileSync(path.join(dir, 'secret.key'), 'utf8').trim()).toBe(legacy);
      expect(mode(path.join(dir, 'secret.key'))).toBe(0o600);
      expect(await s.db.one("SELECT value FROM settings WHERE key = 'server_secret'")).toBeNull();
    } finally {
      await s.close();
    }
  });

  it('key not stored in the database it protects: a lost key file is an error, never a silent new key', async () => {
    const { dir, start } = await setup();
    const s = await start(); // the demo seeds an inbox with sealed secrets
    await s.close();
    fs.rmSync(path.join(dir, 'secret.key'));
    await expect(start()).rejects.toThrow(/secret\.key|GOUTONG_SECRET/);
  });

  it('key not stored in the database it protects: a server with another key than the database\'s stops', async () => {
    const { dir, start } = await setup();
    const s = await start();
    await s.close();
    fs.writeFileSync(path.join(dir, 'secret.key'), 'another-key-another-key-another-key-0123\n', { mode: 0o600 });
    await expect(start()).rejects.toThrow(/another server key/);
  });
});

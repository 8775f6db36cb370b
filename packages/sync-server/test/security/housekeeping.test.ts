import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '@goutong/core';
import { Housekeeping, DEFAULT_RETENTION } from '../../src/domain/housekeeping.js';
import { startTestServer } from '../support/inProcess.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;

const count = async (s: Server, table: string) => Number((await s.db.one<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table}`))!.n);

/** Hole 7: expired idempotency keys, webhook replay records and refresh tokens are cleaned up. */
describe.each([['sqlite'], ['postgres']] as const)('housekeeping on %s', (dialect) => {
  let s: Server;
  beforeAll(async () => {
    s = await startTestServer(dialect);
  });
  afterAll(async () => s?.stopAll());

  it('expired idempotency keys, webhook replay records and refresh tokens are cleaned up by a periodic job', async () => {
    const now = Date.now();
    const agent = await s.db.one<{ id: string; tenant_id: string }>('SELECT id, tenant_id FROM agents LIMIT 1');
    const old = now - DEFAULT_RETENTION.idempotencyMs - 60_000;
    const oldReplay = now - DEFAULT_RETENTION.webhookReplayMs - 60_000;
    await s.db.run('DELETE FROM idempotency_keys');
    await s.db.run('DELETE FROM webhook_replay');
    await s.db.run('DELETE FROM refresh_tokens');
    for (const [key, at] of [['old-key', old], ['new-key', now]] as const) {
      await s.db.run('INSERT INTO idempotency_keys (tenant_id, agent_id, key, command_id, created_at) VALUES (?, ?, ?, ?, ?)', [agent!.tenant_id, agent!.id, key, `c-${key}`, at]);
    }
    for (const [key, at] of [['old-replay', oldReplay], ['new-replay', now]] as const) await s.db.run('INSERT INTO webhook_replay (key, seen_at) VALUES (?, ?)', [key, at]);
    const token = (hash: string, expiresAt: number, revokedAt: number | null) =>
      s.db.run('INSERT INTO refresh_tokens (token_hash, agent_id, tenant_id, family, expires_at, revoked_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)', [hash, agent!.id, agent!.tenant_id, 'fam', expiresAt, revokedAt, now - 1000]);
    await token('expired', now - 1, null);
    await token('revoked-not-expired', now + 3_600_000, now - 10); // kept: reuse must still revoke the family
    await token('live', now + 3_600_000, null);

    const job = new Housekeeping(s.db, silentLogger, { intervalMs: 60_000 });
    const purged = await job.runOnce();
    expect(purged).toEqual({ idempotencyKeys: 1, webhookReplay: 1, refreshTokens: 1 });
    expect((await s.db.all<{ key: string }>('SELECT key FROM idempotency_keys')).map((r) => r.key)).toEqual(['new-key']);
    expect((await s.db.all<{ key: string }>('SELECT key FROM webhook_replay')).map((r) => r.key)).toEqual(['new-replay']);
    expect((await s.db.all<{ token_hash: string }>('SELECT token_hash FROM refresh_tokens ORDER BY token_hash')).map((r) => r.token_hash)).toEqual(['live', 'revoked-not-expired']);
    // The server runs one on an unref'd timer.
    expect(s.housekeeping).toBeInstanceOf(Housekeeping);
    expect(await count(s, 'refresh_tokens')).toBe(2);
  });

  it('the periodic job runs by itself on its interval', async () => {
    await s.db.run('INSERT INTO webhook_replay (key, seen_at) VALUES (?, ?)', ['ancient', 1]);
    const job = new Housekeeping(s.db, silentLogger, { intervalMs: 1000 });
    job.start();
    try {
      const deadline = Date.now() + 10_000;
      while ((await s.db.one("SELECT key FROM webhook_replay WHERE key = 'ancient'")) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(await s.db.one("SELECT key FROM webhook_replay WHERE key = 'ancient'")).toBeNull();
    } finally {
      await job.stop();
    }
  });
});

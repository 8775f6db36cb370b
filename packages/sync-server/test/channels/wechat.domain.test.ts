import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { advanceKfCursor, cachedToken, claimKfCursor, dropToken, kfCursor, releaseKfCursor, storeToken } from '../../src/domain/wechat.js';
import { startChannelServer, type ChannelServer } from './support.js';

/** The WeChat providers' shared state: the pull lease is held by one process at a time; tokens are shared. */
describe.each([['sqlite'], ['postgres']] as const)('WeChat domain state on %s', (dialect) => {
  let s: ChannelServer;
  beforeAll(async () => {
    s = await startChannelServer({ dialect });
  });
  afterAll(async () => {
    await s?.close();
  });

  it('exactly one of several concurrent claimers gets the sync_msg lease; only the holder advances the cursor', async () => {
    const db = s.server.db;
    const now = 1_000_000;
    const claims = await Promise.all(['p1', 'p2', 'p3', 'p4'].map((o) => claimKfCursor(db, 'inbox-x', 'wk1', o, now, 10_000).then((c) => (c ? o : null))));
    const winners = claims.filter(Boolean);
    expect(winners).toHaveLength(1);
    const holder = winners[0]!;
    const other = ['p1', 'p2', 'p3', 'p4'].find((o) => o !== holder)!;
    expect(await advanceKfCursor(db, 'inbox-x', 'wk1', other, 'CUR-bad', now, 10_000)).toBe(false);
    expect(await advanceKfCursor(db, 'inbox-x', 'wk1', holder, 'CUR-1', now, 10_000)).toBe(true);
    expect(await kfCursor(db, 'inbox-x', 'wk1')).toBe('CUR-1');
    // Held: nobody else gets it until released or expired.
    expect(await claimKfCursor(db, 'inbox-x', 'wk1', other, now + 5_000, 10_000)).toBeNull();
    expect(await claimKfCursor(db, 'inbox-x', 'wk1', other, now + 20_001, 10_000)).toEqual({ cursor: 'CUR-1' });
    await releaseKfCursor(db, 'inbox-x', 'wk1', other);
    expect(await claimKfCursor(db, 'inbox-x', 'wk1', holder, now + 20_002, 10_000)).toEqual({ cursor: 'CUR-1' });
  });

  it('the token cache keeps the later expiry and drops only the token that was refused', async () => {
    const db = s.server.db;
    await storeToken(db, 'wechat:a', 'T1', 5_000, 1);
    await storeToken(db, 'wechat:a', 'T0', 4_000, 2); // an older fetch finishing late does not win
    expect(await cachedToken(db, 'wechat:a')).toEqual({ token: 'T1', expiresAt: 5_000 });
    await storeToken(db, 'wechat:a', 'T2', 6_000, 3);
    await dropToken(db, 'wechat:a', 'T1'); // another process already replaced it: kept
    expect((await cachedToken(db, 'wechat:a'))?.token).toBe('T2');
    await dropToken(db, 'wechat:a', 'T2');
    expect(await cachedToken(db, 'wechat:a')).toBeNull();
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenant } from '../../src/seed.js';
import { AuthService } from '../../src/auth/service.js';
import { addressKey, LoginThrottle } from '../../src/auth/throttle.js';
import { verifyPassword } from '../../src/auth/crypto.js';
import { ApiError } from '../../src/errors.js';
import { startTestServer } from '../support/inProcess.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;

const EMAIL = 'li.wei@demo.goutong';
const PASSWORD = 'goutong-demo';

async function outcome(p: Promise<unknown>): Promise<{ code: string; message: string; retryAfterMs?: number } | 'ok'> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    const d = e.details as { retryAfterSeconds?: number } | undefined;
    return { code: e.code, message: e.message, ...(d?.retryAfterSeconds !== undefined ? { retryAfterMs: d.retryAfterSeconds * 1000 } : {}) };
  }
}

/** Hole 5: login throttling. The service runs on a test clock over the real database. */
describe('login throttling', () => {
  let s: Server;
  let clock: number;
  let checks: number;
  const service = (throttle = new LoginThrottle()) =>
    new AuthService(s.db, s.auth.tokens, 3600, () => clock, {
      throttle,
      verify: (pw, stored) => {
        checks++;
        return verifyPassword(pw, stored);
      },
    });

  beforeAll(async () => {
    s = await startTestServer('sqlite');
    await createTenant(s.workspace, { slug: 'second', name: 'Second', teams: ['T'], agents: [{ email: 'twice@example.test', name: 'Twice', role: 'agent', teams: ['T'], password: 'first-password-1' }] });
    await createTenant(s.workspace, { slug: 'third', name: 'Third', teams: ['T'], agents: [{ email: 'twice@example.test', name: 'Twice', role: 'agent', teams: ['T'], password: 'other-password-2' }] });
  });
  afterAll(async () => s?.stopAll());

  it('login throttling cannot lock out the correct password forever: it works once the capped back-off has passed', async () => {
    clock = 1_000_000;
    const auth = service();
    const cap = auth.throttle.opts.capMs;
    // Keep failing from the same address, always right after the window ends: the window grows, never past the cap.
    let last = 0;
    for (let i = 0; i < 25; i++) {
      let r = await outcome(auth.login(EMAIL, `wrong-${i}`, '10.0.0.1'));
      if (r !== 'ok' && r.code === 'rate_limited') {
        expect(r.retryAfterMs).toBeGreaterThan(0);
        expect(r.retryAfterMs!).toBeLessThanOrEqual(cap);
        expect(r.retryAfterMs!).toBeGreaterThanOrEqual(last);
        last = r.retryAfterMs!;
        // Even the correct password waits for the window…
        expect(await outcome(auth.login(EMAIL, PASSWORD, '10.0.0.1'))).toMatchObject({ code: 'rate_limited' });
        clock += r.retryAfterMs!;
        r = await outcome(auth.login(EMAIL, `wrong-${i}`, '10.0.0.1'));
      }
      expect(r).toMatchObject({ code: 'unauthorized' });
    }
    expect(last).toBe(cap);
    const wait = auth.throttle.retryAfterMs(EMAIL, '10.0.0.1', clock);
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(cap);
    // …and always works after it.
    clock += wait;
    expect(await outcome(auth.login(EMAIL, PASSWORD, '10.0.0.1'))).toBe('ok');
  });

  it('login throttling cannot lock out the correct password forever: a stranger failing elsewhere does not lock the user out', async () => {
    clock = 50_000_000;
    const auth = service();
    for (let i = 0; i < 40; i++) await outcome(auth.login(EMAIL, `guess-${i}`, '203.0.113.9'));
    expect(await outcome(auth.login(EMAIL, 'guess-x', '203.0.113.9'))).toMatchObject({ code: 'rate_limited' });
    // The user, from their own address, with the right password.
    expect(await outcome(auth.login(EMAIL, PASSWORD, '198.51.100.7'))).toBe('ok');
  });

  it('login throttling survives limiter overflow: flooding the limiter does not reset a blocked attacker', async () => {
    clock = 90_000_000;
    const throttle = new LoginThrottle({ maxEntries: 200 });
    const auth = service(throttle);
    for (let i = 0; i < 11; i++) await outcome(auth.login(EMAIL, `guess-${i}`, '192.0.2.66'));
    expect(await outcome(auth.login(EMAIL, PASSWORD, '192.0.2.66'))).toMatchObject({ code: 'rate_limited' });
    // The attacker floods the limiter with fresh keys (many accounts, many addresses).
    for (let i = 0; i < 5_000; i++) throttle.fail(`nobody-${i}@example.test`, `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, clock);
    expect(throttle.entries).toBeLessThanOrEqual(400);
    expect(await outcome(auth.login(EMAIL, PASSWORD, '192.0.2.66'))).toMatchObject({ code: 'rate_limited' });
  });

  it('login throttling does not reveal which addresses exist in several workspaces: same answer, same work', async () => {
    clock = 120_000_000;
    const auth = service();
    const cases = {
      unknown: () => auth.login('nobody@nowhere.test', 'whatever-1', '192.0.2.10'),
      wrongPassword: () => auth.login(EMAIL, 'whatever-1', '192.0.2.11'),
      ambiguous: () => auth.login('twice@example.test', 'whatever-1', '192.0.2.12'),
      ambiguousRightPassword: () => auth.login('twice@example.test', 'first-password-1', '192.0.2.13'),
    };
    const answers: Record<string, unknown> = {};
    const work: Record<string, number> = {};
    for (const [name, run] of Object.entries(cases)) {
      checks = 0;
      answers[name] = await outcome(run());
      work[name] = checks;
    }
    const first = answers.unknown;
    expect(first).toMatchObject({ code: 'unauthorized' });
    for (const a of Object.values(answers)) expect(a).toEqual(first);
    expect(Object.values(work)).toEqual([1, 1, 1, 1]);
    // Naming the workspace logs in.
    expect(await outcome(auth.login('twice@example.test', 'first-password-1', '192.0.2.14', 'second'))).toBe('ok');
  });

  it('login throttling counts an IPv6 client by its /64 (one subscriber, one budget)', () => {
    expect(addressKey('2001:db8:1:2:aaaa::1')).toBe(addressKey('2001:db8:1:2:ffff:1:2:3'));
    expect(addressKey('2001:db8:1:2::1')).not.toBe(addressKey('2001:db8:1:3::1'));
    expect(addressKey('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(addressKey('192.0.2.1')).toBe('192.0.2.1');
    const t = new LoginThrottle({ addressFree: 3 });
    for (let i = 1; i <= 3; i++) t.fail(`user${i}@example.test`, `2001:db8:1:2::${i}`, 0);
    expect(t.retryAfterMs('fresh@example.test', '2001:db8:1:2::99', 1)).toBeGreaterThan(0);
    expect(t.retryAfterMs('fresh@example.test', '2001:db8:1:3::99', 1)).toBe(0);
  });
});

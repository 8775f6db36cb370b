import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger, type Agent } from '@goutong/core';
import { openSqlite, type Db } from '../../src/db/db.js';
import { migrate } from '../../src/db/migrations.js';
import { Workspace } from '../../src/domain/workspace.js';
import { createTenant } from '../../src/domain/tenants.js';
import { AuthService } from '../../src/auth/service.js';
import { AccessTokens } from '../../src/auth/tokens.js';
import { AccountService } from '../../src/auth/accounts.js';
import { base32Decode, base32Encode, hotp, matchTotp, otpauthUri, totp } from '../../src/auth/totp.js';
import { ApiError } from '../../src/errors.js';

describe('TOTP (RFC 6238) and HOTP (RFC 4226)', () => {
  // RFC 6238 Appendix B, SHA-1, 8 digits, seed "12345678901234567890".
  const seed = Buffer.from('12345678901234567890', 'ascii');
  const vectors: [number, string][] = [
    [59, '94287082'],
    [1111111109, '07081804'],
    [1111111111, '14050471'],
    [1234567890, '89005924'],
    [2000000000, '69279037'],
    [20000000000, '65353130'],
  ];
  it.each(vectors)('RFC 6238 SHA-1 vector at T=%i', (t, code) => {
    expect(hotp(seed, Math.floor(t / 30), 8)).toBe(code);
    expect(totp(base32Encode(seed), t * 1000, 8)).toBe(code);
  });
  it('RFC 4226 HOTP vectors (6 digits)', () => {
    const expected = ['755224', '287082', '359152', '969429', '338314', '254676', '287922', '162583', '399871', '520489'];
    expect(expected.map((_, i) => hotp(seed, i))).toEqual(expected);
  });
  it('base32 round trip and the otpauth URI', () => {
    expect(base32Encode(Buffer.from('foobar'))).toBe('MZXW6YTBOI');
    expect(base32Decode('MZXW6YTBOI').toString()).toBe('foobar');
    const uri = otpauthUri({ secret: 'JBSWY3DPEHPK3PXP', account: 'a@b.test', issuer: 'Goutong' });
    expect(uri).toMatch(/^otpauth:\/\/totp\/Goutong:a%40b\.test\?secret=JBSWY3DPEHPK3PXP&issuer=Goutong&algorithm=SHA1&digits=6&period=30$/);
  });
  it('accepts one step of drift either way, not two', () => {
    const s = base32Encode(seed);
    const t = 1_700_000_000_000;
    expect(matchTotp(s, totp(s, t - 30_000), t)).toBe(Math.floor(t / 30_000) - 1);
    expect(matchTotp(s, totp(s, t + 30_000), t)).toBe(Math.floor(t / 30_000) + 1);
    expect(matchTotp(s, totp(s, t - 60_000), t)).toBeNull();
    expect(matchTotp(s, totp(s, t + 60_000), t)).toBeNull();
    expect(matchTotp(s, 'abcdef', t)).toBeNull();
  });
});

describe('two-factor sign-in with a fake clock', () => {
  let dir: string;
  let db: Db;
  let auth: AuthService;
  let accounts: AccountService;
  let agent: Agent;
  let clock = Date.UTC(2026, 0, 5, 9, 0, 0);
  const now = () => clock;
  const PASSWORD = 'correct horse battery';

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'goutong-totp-'));
    db = openSqlite(path.join(dir, 'db.sqlite'));
    await migrate(db);
    const ws = new Workspace(db, silentLogger);
    const t = await createTenant(ws, { slug: 'mfa', name: 'MFA', teams: ['Support'], agents: [{ email: 'ann@mfa.test', name: 'Ann', role: 'agent', teams: ['Support'], password: PASSWORD }] });
    agent = t.agents['ann@mfa.test']!;
    auth = new AuthService(db, new AccessTokens('k'.repeat(40), 900), 3600, now);
    accounts = new AccountService(db, auth, 's'.repeat(40), ws.ids, now);
  });
  afterAll(async () => {
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const fail = async (p: Promise<unknown>) => {
    try {
      await p;
    } catch (e) {
      return e instanceof ApiError ? e.code : String(e);
    }
    return 'ok';
  };

  it('enrols, makes login two-step, refuses replayed codes, takes recovery codes once', async () => {
    // Before enrolment: one step.
    expect((await auth.beginLogin('ann@mfa.test', PASSWORD, '10.0.0.1')).kind).toBe('tokens');

    const setup = await accounts.mfaSetup(agent, 'Goutong');
    expect(setup.otpauthUri).toContain(`secret=${setup.secret}`);
    expect(await fail(accounts.mfaEnable(agent, '000000'.replace(/0/g, (_, i) => String((Number(totp(setup.secret, clock)[i]) + 1) % 10))))).toBe('bad_request');
    const { recoveryCodes } = await accounts.mfaEnable(agent, totp(setup.secret, clock));
    expect(recoveryCodes).toHaveLength(10);
    expect(new Set(recoveryCodes).size).toBe(10);
    // The database holds hashes of the codes and a sealed secret, never the clear values.
    const stored = JSON.stringify(await db.all('SELECT * FROM agent_recovery_codes')) + JSON.stringify(await db.all('SELECT * FROM agent_mfa'));
    for (const c of recoveryCodes) expect(stored).not.toContain(c);
    expect(stored).not.toContain(setup.secret);

    // The enrolment code cannot sign in again (same step).
    let step = await auth.beginLogin('ann@mfa.test', PASSWORD, '10.0.0.1', undefined, { deviceName: 'Pixel', platform: 'android' });
    expect(step.kind).toBe('mfa');
    if (step.kind !== 'mfa') return;
    expect(await fail(auth.completeMfa(step.mfaToken, totp(setup.secret, clock)))).toBe('unauthorized');

    // Next step: the code works once; the same code again is refused (replay).
    clock += 30_000;
    const code = totp(setup.secret, clock);
    const done = await auth.completeMfa(step.mfaToken, code);
    expect(done.tokens.accessToken).toEqual(expect.any(String));
    expect((await accounts.sessions(agent.tenantId, agent.id, null)).map((s) => s.deviceName)).toContain('Pixel');
    step = await auth.beginLogin('ann@mfa.test', PASSWORD, '10.0.0.1');
    if (step.kind !== 'mfa') throw new Error('expected a challenge');
    expect(await fail(auth.completeMfa(step.mfaToken, code))).toBe('unauthorized');
    // A code of the previous step (within ±1) after a later one was used is a replay too.
    clock += 30_000;
    expect(await fail(auth.completeMfa(step.mfaToken, totp(setup.secret, clock - 30_000)))).toBe('unauthorized');
    // A code one step ahead (clock drift) works.
    expect((await auth.completeMfa(step.mfaToken, totp(setup.secret, clock + 30_000))).tokens.accessToken).toEqual(expect.any(String));
    // The challenge is used up.
    clock += 90_000;
    expect(await fail(auth.completeMfa(step.mfaToken, totp(setup.secret, clock)))).toBe('unauthorized');

    // Recovery codes: each works once, in any case and with or without dashes.
    step = await auth.beginLogin('ann@mfa.test', PASSWORD, '10.0.0.1');
    if (step.kind !== 'mfa') throw new Error('expected a challenge');
    const r = await auth.completeMfa(step.mfaToken, recoveryCodes[0]!.toUpperCase());
    expect(r.usedRecoveryCode).toBe(true);
    step = await auth.beginLogin('ann@mfa.test', PASSWORD, '10.0.0.1');
    if (step.kind !== 'mfa') throw new Error('expected a challenge');
    expect(await fail(auth.completeMfa(step.mfaToken, recoveryCodes[0]!))).toBe('unauthorized');
    expect((await auth.completeMfa(step.mfaToken, recoveryCodes[1]!.replace(/-/g, ''))).usedRecoveryCode).toBe(true);
    expect((await accounts.mfaStatus(agent)).recoveryCodesLeft).toBe(8);

    // A challenge allows a few wrong codes only, then expires; and challenges end after 5 minutes.
    step = await auth.beginLogin('ann@mfa.test', PASSWORD, '10.0.0.1');
    if (step.kind !== 'mfa') throw new Error('expected a challenge');
    for (let i = 0; i < 5; i++) expect(await fail(auth.completeMfa(step.mfaToken, 'zzzz-zzzz-zzzz'))).toBe('unauthorized');
    expect(await fail(auth.completeMfa(step.mfaToken, totp(setup.secret, clock)))).toBe('unauthorized');
    step = await auth.beginLogin('ann@mfa.test', PASSWORD, '10.0.0.1');
    if (step.kind !== 'mfa') throw new Error('expected a challenge');
    clock += 301_000;
    expect(await fail(auth.completeMfa(step.mfaToken, totp(setup.secret, clock)))).toBe('unauthorized');

    // The one-step login helper never bypasses the second factor.
    expect(await fail(auth.login('ann@mfa.test', PASSWORD, '10.0.0.1'))).toBe('unauthorized');

    // Turning it off needs the password; then login is one step again.
    expect(await fail(accounts.mfaDisable(agent, 'wrong password'))).toBe('forbidden');
    await accounts.mfaDisable(agent, PASSWORD);
    expect((await auth.beginLogin('ann@mfa.test', PASSWORD, '10.0.0.1')).kind).toBe('tokens');
    const audit = (await db.all<{ action: string }>('SELECT action FROM audit_log WHERE agent_id = ?', [agent.id])).map((a) => a.action);
    expect(audit).toEqual(expect.arrayContaining(['agent.mfa_enable', 'auth.mfa', 'auth.mfa_failed', 'agent.mfa_disable']));
  });
});

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '@goutong/core';
import { loadConfig } from '../../src/config.js';
import { startServer } from '../../src/server.js';
import { runCli } from '../../src/cli.js';
import { decryptSecret } from '../../src/auth/crypto.js';
import { totp } from '../../src/auth/totp.js';

/**
 * The master key seals provider secrets and two-factor secrets; `rotate-secret` re-seals every one
 * with a new key in one transaction, is safe to re-run, and the server reads its secrets with the
 * new key afterwards (and refuses to start with the old one).
 */
describe('rotate-secret', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'goutong-keys-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const env = { PORT: '0', GOUTONG_DATA_DIR: dir, GOUTONG_DEMO: '1', GOUTONG_LOG: 'silent' };
  const start = () => startServer({ config: loadConfig(env), logger: silentLogger });
  const cli = async (args: string[]) => {
    let out = '';
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => ((out += String(c)), true));
    const spyErr = vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => ((out += String(c)), true));
    try {
      return { code: await runCli(args, loadConfig(env), env), out };
    } finally {
      spy.mockRestore();
      spyErr.mockRestore();
    }
  };

  it('re-seals provider and two-factor secrets, is safe to re-run, and the server reads them with the new key', async () => {
    let s = await start();
    const oldKey = s.secret;
    const me = s.workspace;
    const tenantId = (await me.db.one<{ tenant_id: string }>("SELECT tenant_id FROM agents WHERE email = 'admin@demo.goutong'"))!.tenant_id;
    const inboxes = await me.inboxes(tenantId);
    const before = new Map<string, Record<string, string>>();
    for (const i of inboxes) before.set(i.id, (await s.inboxes.settings(i.id))!.secrets);
    expect([...before.values()].some((v) => Object.keys(v).length > 0)).toBe(true);
    const admin = (await me.agents(tenantId)).find((a) => a.email === 'admin@demo.goutong')!;
    const setup = await s.accounts.mfaSetup(admin, 'Goutong');
    await s.accounts.mfaEnable(admin, totp(setup.secret, Date.now()));
    await s.close();

    const newKeyFile = path.join(dir, 'new.key');
    const newKey = 'n'.repeat(20) + Math.random().toString(36).slice(2).padEnd(24, 'x');
    fs.writeFileSync(newKeyFile, `${newKey}\n`);
    expect((await cli(['rotate-secret'])).code).toBe(2);
    fs.writeFileSync(path.join(dir, 'short.key'), 'too-short');
    expect((await cli(['rotate-secret', '--new-key-file', path.join(dir, 'short.key')])).code).toBe(2);

    const first = await cli(['rotate-secret', '--new-key-file', newKeyFile]);
    expect(first.code).toBe(0);
    expect(first.out).toMatch(/^rotated: \d+ value\(s\) re-sealed, 0 already/);
    expect(fs.readFileSync(path.join(dir, 'secret.key'), 'utf8').trim()).toBe(newKey);
    const again = await cli(['rotate-secret', '--new-key-file', newKeyFile]);
    expect(again.code).toBe(0);
    expect(again.out).toMatch(/^already rotated: 0 value\(s\) re-sealed, \d+ already sealed with the new key/);

    s = await start();
    try {
      expect(s.secret).toBe(newKey);
      // Every sealed value opens with the new key only.
      const sealed = await s.db.all<{ secrets: string }>('SELECT secrets FROM inboxes WHERE secrets IS NOT NULL');
      for (const r of sealed) {
        expect(() => decryptSecret(oldKey, r.secrets)).toThrow();
        expect(() => decryptSecret(newKey, r.secrets)).not.toThrow();
      }
      for (const i of inboxes) expect((await s.inboxes.settings(i.id))!.secrets).toEqual(before.get(i.id));
      // The two-factor secret still works: the login's second step accepts the app's code.
      const step = await s.auth.beginLogin('admin@demo.goutong', 'goutong-demo', '127.0.0.1');
      expect(step.kind).toBe('mfa');
      if (step.kind === 'mfa') expect((await s.auth.completeMfa(step.mfaToken, totp(setup.secret, Date.now() + 30_000))).tokens.accessToken).toEqual(expect.any(String));
    } finally {
      await s.close();
    }

    // The old key is refused now (the database's fingerprint is the new key's).
    fs.writeFileSync(path.join(dir, 'secret.key'), `${oldKey}\n`);
    await expect(start()).rejects.toThrow(/another server key/);
    fs.writeFileSync(path.join(dir, 'secret.key'), `${newKey}\n`);
  });
});

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SERVER_MAIN, ServerProcess } from './support/serverProcess.js';
import { loginToken } from './support/agentClient.js';

describe('create-tenant: the first workspace of an installation without the demo', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'goutong-cli-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const run = (args: string[], password?: string) =>
    spawnSync(process.execPath, [SERVER_MAIN, ...args], {
      env: { ...process.env, GOUTONG_DATA_DIR: dir, GOUTONG_LOG: 'silent', GOUTONG_DEMO: '0', ...(password ? { GOUTONG_ADMIN_PASSWORD: password } : {}) },
      encoding: 'utf8',
    });

  it('creates the workspace and its admin, refuses weak passwords, bad slugs and duplicates', async () => {
    expect(run(['create-tenant', '--slug', 'acme', '--name', 'Acme', '--admin-email', 'boss@acme.test'], 'short').status).toBe(2);
    expect(run(['create-tenant', '--slug', 'Bad Slug!', '--name', 'Acme', '--admin-email', 'boss@acme.test'], 'a-long-enough-password').status).toBe(2);
    const ok = run(['create-tenant', '--slug', 'acme', '--name', 'Acme 公司', '--admin-email', 'boss@acme.test'], 'a-long-enough-password');
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    expect(run(['create-tenant', '--slug', 'acme', '--name', 'Acme', '--admin-email', 'x@acme.test'], 'a-long-enough-password').status).toBe(1);
    expect(run(['frobnicate']).status).toBe(2);
    const server = new ServerProcess({ dataDir: dir, env: { GOUTONG_DEMO: '0' } });
    await server.start();
    try {
      expect(await loginToken(server.url, 'boss@acme.test', 'a-long-enough-password')).toEqual(expect.any(String));
      const demo = await fetch(`${server.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'admin@demo.goutong', password: 'goutong-demo' }) });
      expect(demo.status).toBe(401); // GOUTONG_DEMO=0: no demo workspace
    } finally {
      await server.stop();
    }
  });
});

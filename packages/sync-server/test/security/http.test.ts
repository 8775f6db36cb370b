import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loginToken } from '../support/agentClient.js';
import { startTestServer } from '../support/inProcess.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;

/**
 * Sends only the headers of a large upload and resolves with the status the server answers before
 * any byte of the body was sent (rejects if it waits for the body).
 */
function headersOnly(url: string, path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = http.request({ host: u.hostname, port: u.port, path, method: 'POST', headers });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => {
        req.destroy();
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    req.on('error', reject);
    req.flushHeaders();
    // Never sends the body: a server that reads it first never answers, and this times out.
    setTimeout(() => {
      req.destroy();
      reject(new Error('the server waited for the body instead of answering at the headers'));
    }, 5000).unref();
  });
}

describe('http boundary', () => {
  let s: Server;
  let token: string;
  beforeAll(async () => {
    s = await startTestServer('sqlite');
    token = await loginToken(s.url, 'admin@demo.goutong');
  });
  afterAll(async () => s?.stopAll());

  it('bodies authenticated before they are read: an unauthenticated 25 MB upload gets 401 at the headers', async () => {
    const r = await headersOnly(s.url, '/api/v1/attachments?name=big.bin', { 'content-type': 'application/octet-stream', 'content-length': String(25 * 1000 * 1000) });
    expect(r.status).toBe(401);
    // The same holds for JSON routes.
    const j = await headersOnly(s.url, '/api/v1/commands', { 'content-type': 'application/json', 'content-length': String(900 * 1024) });
    expect(j.status).toBe(401);
  });

  it('bodies authenticated before they are read: a 413 states the real limit of the route', async () => {
    const big = await fetch(`${s.url}/api/v1/attachments?name=big.bin`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
      body: new Uint8Array(25 * 1024 * 1024 + 1),
    });
    expect(big.status).toBe(413);
    expect(((await big.json()) as { error: { message: string } }).error.message).toMatch(/25 MiB/);
    const json = await fetch(`${s.url}/api/v1/commands`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ commands: [], pad: 'x'.repeat(1024 * 1024) }),
    });
    expect(json.status).toBe(413);
    expect(((await json.json()) as { error: { message: string } }).error.message).toMatch(/1 MiB/);
  });

  it('nosniff on API responses and no-store on token responses', async () => {
    const health = await fetch(`${s.url}/healthz`);
    expect(health.headers.get('x-content-type-options')).toBe('nosniff');
    const unauth = await fetch(`${s.url}/api/v1/conversations`);
    expect(unauth.status).toBe(401);
    expect(unauth.headers.get('x-content-type-options')).toBe('nosniff');
    const login = await fetch(`${s.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'admin@demo.goutong', password: 'goutong-demo' }) });
    expect(login.status).toBe(200);
    expect(login.headers.get('cache-control')).toBe('no-store');
    expect(login.headers.get('x-content-type-options')).toBe('nosniff');
    const { refreshToken } = (await login.json()) as { refreshToken: string };
    const refresh = await fetch(`${s.url}/api/v1/auth/refresh`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refreshToken }) });
    expect(refresh.status).toBe(200);
    expect(refresh.headers.get('cache-control')).toBe('no-store');
    const list = await fetch(`${s.url}/api/v1/conversations`, { headers: { authorization: `Bearer ${token}` } });
    expect(list.headers.get('x-content-type-options')).toBe('nosniff');
  });
});

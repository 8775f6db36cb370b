import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '@goutong/core';
import { loadConfig } from '../../src/config.js';
import { startServer, type RunningServer } from '../../src/server.js';

/** A self-signed certificate for 127.0.0.1 (openssl), the server serving HTTPS from it with HSTS. */
describe('HTTPS from GOUTONG_TLS_CERT / GOUTONG_TLS_KEY', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'goutong-tls-'));
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  let s: RunningServer;

  beforeAll(async () => {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    s = await startServer({ config: loadConfig({ PORT: '0', GOUTONG_DATA_DIR: dir, GOUTONG_DEMO: '1', GOUTONG_LOG: 'silent', GOUTONG_TLS_CERT: cert, GOUTONG_TLS_KEY: key }), logger: silentLogger });
  });
  afterAll(async () => {
    await s?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const get = (url: string, method = 'GET', body?: string) =>
    new Promise<{ status: number; headers: Record<string, unknown>; body: string; cert: string }>((resolve, reject) => {
      const req = https.request(url, { method, agent: false, ca: fs.readFileSync(cert), headers: body ? { 'content-type': 'application/json' } : {} }, (res) => {
        let b = '';
        const peer = (res.socket as unknown as { getPeerCertificate(): { subject: { CN: string } } }).getPeerCertificate().subject.CN;
        res.on('data', (d) => (b += String(d)));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: b, cert: peer }));
      });
      req.on('error', reject);
      req.end(body);
    });

  it('serves the API over TLS with the certificate and sends HSTS on every answer', async () => {
    expect(s.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const h = await get(`${s.url}/healthz`);
    expect(h.status).toBe(200);
    expect(h.cert).toBe('127.0.0.1');
    expect(h.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
    const login = await get(`${s.url}/api/v1/auth/login`, 'POST', JSON.stringify({ email: 'admin@demo.goutong', password: 'goutong-demo' }));
    expect(login.status).toBe(200);
    expect(login.headers['strict-transport-security']).toBeDefined();
    expect((await get(`${s.url}/api/v1/nope`)).headers['strict-transport-security']).toBeDefined();
    // Plain HTTP on the TLS port is not answered as HTTP.
    await expect(fetch(s.url.replace('https', 'http') + '/healthz')).rejects.toThrow();
  });

  it('a certificate without its key is a configuration error', () => {
    expect(() => loadConfig({ GOUTONG_TLS_CERT: cert })).toThrow(/go together/);
  });
});

/** Behind a reverse proxy: X-Forwarded-For is believed from the trusted proxy only (audit and sessions IP). */
describe('GOUTONG_TRUST_PROXY', () => {
  const login = (url: string, xff: string) =>
    fetch(`${url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-for': xff }, body: JSON.stringify({ email: 'admin@demo.goutong', password: 'goutong-demo', deviceName: 'proxy test' }) });
  const lastLoginIp = async (s: RunningServer) => JSON.parse((await s.db.one<{ details: string }>("SELECT details FROM audit_log WHERE action = 'auth.login' ORDER BY id DESC LIMIT 1"))!.details).ip as string;

  it('records the client address from X-Forwarded-For when the proxy is trusted, ignores it otherwise', async () => {
    for (const [trust, expected] of [['127.0.0.1', '203.0.113.5'], ['', '127.0.0.1']] as const) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'goutong-proxy-'));
      const s = await startServer({ config: loadConfig({ PORT: '0', GOUTONG_DATA_DIR: dir, GOUTONG_DEMO: '1', GOUTONG_LOG: 'silent', GOUTONG_TRUST_PROXY: trust }), logger: silentLogger });
      try {
        const r = await login(s.url, '203.0.113.5');
        expect(r.status).toBe(200);
        const { accessToken } = (await r.json()) as { accessToken: string };
        expect(await lastLoginIp(s)).toBe(expected);
        const sessions = (await (await fetch(`${s.url}/api/v1/me/sessions`, { headers: { authorization: `Bearer ${accessToken}`, 'x-forwarded-for': '203.0.113.5' } })).json()) as { items: { deviceName: string; ip: string }[] };
        expect(sessions.items.find((x) => x.deviceName === 'proxy test')?.ip).toBe(expected);
      } finally {
        await s.close();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
  });
});

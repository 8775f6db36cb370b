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

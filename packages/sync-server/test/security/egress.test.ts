import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { checkEgressUrl, egressFetch, egressPolicy, EgressError, providerErrorExcerpt, setEgressAllow } from '../../src/net/egress.js';
import { api, eventually, loginToken } from '../support/agentClient.js';
import { startTestServer } from '../support/inProcess.js';

const none = egressPolicy([]);
const resolveTo = (...addresses: string[]) => async () => addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));

/** Hole 2: the egress guard. */
describe('egress guard', () => {
  it('egress guard refuses loopback, private, link-local, CGNAT, multicast and metadata addresses (IPv4, IPv6, v4-mapped)', async () => {
    const refused = [
      'http://127.0.0.1/', 'http://127.8.9.10:8080/x', 'http://10.1.2.3/', 'http://172.16.0.1/', 'http://172.31.255.255/', 'http://192.168.1.1/',
      'http://169.254.169.254/latest/meta-data/', 'http://100.64.0.1/', 'http://100.127.255.254/', 'http://224.0.0.1/', 'http://239.255.255.250/',
      'http://0.0.0.0/', 'http://255.255.255.255/', 'http://[::1]/', 'http://[::]/', 'http://[fe80::1]/', 'http://[fc00::1]/', 'http://[fd00:ec2::254]/',
      'http://[ff02::1]/', 'http://[::ffff:127.0.0.1]/', 'http://[::ffff:169.254.169.254]/', 'http://[::ffff:a00:1]/', 'http://[64:ff9b::a9fe:a9fe]/',
      'http://2130706433/', 'http://0x7f000001/', 'http://017700000001/', 'http://127.1/',
    ];
    for (const u of refused) await expect(checkEgressUrl(u, { policy: none }), u).rejects.toBeInstanceOf(EgressError);
    // A public name that resolves to an internal address (or to several, one of them internal).
    await expect(checkEgressUrl('https://api.example.test/', { policy: none, resolve: resolveTo('10.0.0.7') })).rejects.toThrow(/not allowed/);
    await expect(checkEgressUrl('https://api.example.test/', { policy: none, resolve: resolveTo('93.184.216.34', '::ffff:192.168.0.1') })).rejects.toThrow(/not allowed/);
    // Not http(s), or credentials in the URL.
    await expect(checkEgressUrl('file:///etc/passwd', { policy: none })).rejects.toThrow(/not allowed/);
    await expect(checkEgressUrl('https://user:pw@api.example.test/', { policy: none, resolve: resolveTo('93.184.216.34') })).rejects.toThrow(/credentials/);
    // Public addresses pass.
    await expect(checkEgressUrl('https://api.example.test/v1', { policy: none, resolve: resolveTo('93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946') })).resolves.toBeInstanceOf(URL);
    await expect(checkEgressUrl('http://8.8.8.8/', { policy: none })).resolves.toBeInstanceOf(URL);
  });

  it('egress guard lets the operator allow hosts and CIDRs with GOUTONG_EGRESS_ALLOW', async () => {
    const p = egressPolicy(['127.0.0.0/8', '::1', 'sms.lan', '10.20.0.0/16']);
    await expect(checkEgressUrl('http://127.0.0.1:13013/', { policy: p })).resolves.toBeInstanceOf(URL);
    await expect(checkEgressUrl('http://[::1]:80/', { policy: p })).resolves.toBeInstanceOf(URL);
    await expect(checkEgressUrl('http://[::ffff:127.0.0.1]/', { policy: p })).resolves.toBeInstanceOf(URL);
    await expect(checkEgressUrl('http://sms.lan/cgi', { policy: p, resolve: resolveTo('192.168.5.5') })).resolves.toBeInstanceOf(URL);
    await expect(checkEgressUrl('http://gw.lan/', { policy: p, resolve: resolveTo('10.20.3.4') })).resolves.toBeInstanceOf(URL);
    await expect(checkEgressUrl('http://10.21.0.1/', { policy: p })).rejects.toBeInstanceOf(EgressError);
    await expect(checkEgressUrl('http://169.254.169.254/', { policy: p })).rejects.toBeInstanceOf(EgressError);
    expect(() => egressPolicy(['not a cidr/33'])).toThrow();
  });

  describe('egressFetch', () => {
    let target: http.Server;
    let hops = 0;
    let port = 0;
    beforeAll(async () => {
      target = http.createServer((req, res) => {
        hops++;
        const u = new URL(req.url ?? '/', 'http://x');
        if (u.pathname === '/to-metadata') return res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
        if (u.pathname === '/to-v6-loopback') return res.writeHead(307, { location: `http://[::1]:${port}/ok` }).end();
        if (u.pathname === '/loop') return res.writeHead(302, { location: '/loop' }).end();
        if (u.pathname === '/hop') return res.writeHead(302, { location: '/ok' }).end();
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      });
      await new Promise<void>((r) => target.listen(0, '127.0.0.1', () => r()));
      port = (target.address() as AddressInfo).port;
    });
    afterAll(async () => {
      setEgressAllow([]);
      await new Promise((r) => target.close(r));
    });
    afterEach(() => (hops = 0));

    it('egress guard re-checks every redirect and follows at most 5', async () => {
      setEgressAllow(['127.0.0.1']);
      expect(await (await egressFetch(`http://127.0.0.1:${port}/hop`)).text()).toBe('ok');
      expect(hops).toBe(2);
      await expect(egressFetch(`http://127.0.0.1:${port}/to-metadata`)).rejects.toThrow(/169\.254\.169\.254/);
      await expect(egressFetch(`http://127.0.0.1:${port}/to-v6-loopback`)).rejects.toBeInstanceOf(EgressError);
      hops = 0;
      await expect(egressFetch(`http://127.0.0.1:${port}/loop`)).rejects.toThrow(/redirects/);
      expect(hops).toBe(6);
      setEgressAllow([]);
      hops = 0;
      await expect(egressFetch(`http://127.0.0.1:${port}/ok`)).rejects.toBeInstanceOf(EgressError);
      expect(hops).toBe(0); // refused before connecting
    });

    it('egress guard is not fooled by DNS rebinding: connect() uses only addresses its own lookup checked', async () => {
      setEgressAllow([]);
      hops = 0;
      // The first answer says public; the lookup at connect time answers loopback (as a rebinding name would).
      await expect(egressFetch(`http://localhost:${port}/ok`, {}, { resolve: resolveTo('93.184.216.34') })).rejects.toBeInstanceOf(EgressError);
      expect(hops).toBe(0);
      // Allowed by name, the same request goes through.
      setEgressAllow(['localhost']);
      expect(await (await egressFetch(`http://localhost:${port}/ok`)).text()).toBe('ok');
    });
  });

  it('egress guard keeps third-party error bodies to a short, sanitised excerpt', () => {
    const body = `<html><head><script>alert(1)</script></head><body><h1>Error</h1> api_key=sk_live_abcdef123456 token: "tok_9f8e7d6c5b4a" Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl at https://admin:hunter2@internal.example/ \u0007\u001b[31m ${'x'.repeat(5000)}</body></html>`;
    const out = providerErrorExcerpt(body);
    expect(out.length).toBeLessThanOrEqual(200);
    expect(out).not.toMatch(/<|>|script|alert|sk_live|tok_9f8e|eyJhbGci|hunter2/);
    expect([...out].some((c) => c.charCodeAt(0) < 32)).toBe(false);
    expect(out).toMatch(/^Error api_key=\*\*\*/);
    expect(providerErrorExcerpt({ code: 21211, message: 'Invalid To number', auth_token: 'abc123secret' })).toBe('{"code":21211,"message":"Invalid To number","auth_token":"***"}');
  });
});

describe.each([['sqlite'], ['postgres']] as const)('egress guard on inbox configuration (%s)', (dialect) => {
  let s: Awaited<ReturnType<typeof startTestServer>>;
  let admin: ReturnType<typeof api>;
  beforeAll(async () => {
    // Loopback is allowed for the test peers; everything else internal stays refused.
    s = await startTestServer(dialect);
    admin = api(s.url, await loginToken(s.url, 'admin@demo.goutong'));
  });
  afterAll(async () => s?.stopAll());

  it('egress guard refuses an internal provider or webhook URL with a 400 when an inbox config is saved', async () => {
    const bad = await admin('POST', '/api/v1/inboxes', { name: 'Hook', channel: 'api', config: { webhookUrl: 'http://169.254.169.254/latest/meta-data/' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/webhookUrl.*169\.254\.169\.254/);
    const sms = await admin('POST', '/api/v1/inboxes', { name: 'SMS', channel: 'sms', provider: 'kannel', config: { sendsmsUrl: 'http://10.0.0.5:13013/cgi-bin/sendsms', username: 'u', webhookBaseUrl: 'http://192.168.1.10:8787' }, secrets: { password: 'p', webhookToken: 'a-webhook-token-0123456789' } });
    expect(sms.status).toBe(400);
    expect(sms.body.error.message).toMatch(/sendsmsUrl/);
    expect(sms.body.error.message).not.toMatch(/webhookBaseUrl/); // where Kannel reaches us: not egress
    const ok = await admin('POST', '/api/v1/inboxes', { name: 'Hook', channel: 'api', config: { webhookUrl: 'http://127.0.0.1:9/hook' } });
    expect(ok.status).toBe(201);
    const patched = await admin('PATCH', `/api/v1/inboxes/${ok.body.id}`, { config: { webhookUrl: 'http://[::ffff:10.0.0.1]/hook' } });
    expect(patched.status).toBe(400);
  });

  it('egress guard checks again when sending: a URL that is no longer allowed is not contacted', async () => {
    let hits = 0;
    const hook = http.createServer((_req, res) => {
      hits++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', () => r()));
    try {
      const port = (hook.address() as AddressInfo).port;
      const inbox = await admin('POST', '/api/v1/inboxes', { name: 'Hooked', channel: 'api', config: { webhookUrl: `http://127.0.0.1:${port}/hook` } });
      expect(inbox.status).toBe(201);
      const inbound = await admin('POST', `/api/v1/inboxes/${inbox.body.id}/inbound`, { externalId: 'e1', from: { identifier: 'cust-1' }, text: 'hello' });
      expect(inbound.status).toBe(201);
      // The operator withdraws loopback from the allow-list (as if the URL had changed to resolve inward).
      setEgressAllow([]);
      const sent = await admin('POST', `/api/v1/conversations/${inbound.body.conversationId}/messages`, { text: 'reply' }, { 'idempotency-key': 'egress-1' });
      expect(sent.status).toBe(201);
      const reason = await eventually(async () => {
        const msgs = await admin('GET', `/api/v1/conversations/${inbound.body.conversationId}/messages`);
        const m = msgs.body.items.find((x: { id: string }) => x.id === sent.body.id);
        return typeof m?.statusReason === 'string' && /not allowed/.test(m.statusReason) ? (m.statusReason as string) : null;
      }, 'the send refused by the egress guard');
      expect(reason).toMatch(/127\.0\.0\.1/);
      expect(hits).toBe(0);
    } finally {
      setEgressAllow(['127.0.0.0/8', '::1']);
      await new Promise((r) => hook.close(r));
    }
  });
});

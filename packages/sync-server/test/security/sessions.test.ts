import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer } from '../support/inProcess.js';
import { createTestDatabase } from '../support/pg.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;

async function login(url: string, email = 'alice@demo.goutong') {
  const res = await fetch(`${url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password: 'goutong-demo' }) });
  expect(res.status).toBe(200);
  return (await res.json()) as { accessToken: string; refreshToken: string };
}

const post = (url: string, path: string, body: unknown) =>
  fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

const me = (url: string, token: string) => fetch(`${url}/api/v1/me`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.status);

/** An authenticated socket; resolves once ready, with a promise of its close code. */
async function openSocket(url: string, token: string): Promise<{ ws: WebSocket; closed: Promise<number> }> {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/sync`);
  const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
  await new Promise<void>((resolve, reject) => {
    ws.on('open', () => ws.send(JSON.stringify({ t: 'auth', token })));
    ws.on('message', (d, bin) => {
      if (!bin && (JSON.parse(d.toString()) as { t: string }).t === 'ready') resolve();
    });
    ws.on('error', reject);
    void closed.then((c) => reject(new Error(`closed ${c} before ready`)));
  });
  return { ws, closed };
}

/** Hole 6: logout and refresh-family revocation end the access token and the socket at once. */
describe.each([['sqlite'], ['postgres']] as const)('sessions on %s', (dialect) => {
  let s: Server;
  beforeAll(async () => {
    s = await startTestServer(dialect);
  });
  afterAll(async () => s?.stopAll());

  it('logout ends the access token and the socket at once', async () => {
    const t = await login(s.url);
    const other = await login(s.url); // another device of the same agent: a separate session
    expect(await me(s.url, t.accessToken)).toBe(200);
    const sock = await openSocket(s.url, t.accessToken);
    const otherSock = await openSocket(s.url, other.accessToken);
    expect((await post(s.url, '/api/v1/auth/logout', { refreshToken: t.refreshToken })).status).toBe(204);
    expect(await me(s.url, t.accessToken)).toBe(401);
    expect(await sock.closed).toBe(4401);
    // A fresh socket with the ended token is refused too.
    const again = new WebSocket(`${s.url.replace('http', 'ws')}/sync`);
    again.on('open', () => again.send(JSON.stringify({ t: 'auth', token: t.accessToken })));
    expect(await new Promise<number>((r) => again.on('close', (c) => r(c)))).toBe(4401);
    // The other session is untouched.
    expect(await me(s.url, other.accessToken)).toBe(200);
    expect(otherSock.ws.readyState).toBe(WebSocket.OPEN);
    otherSock.ws.close();
  });

  it('refresh-family revocation ends the access token and the socket at once', async () => {
    const t = await login(s.url, 'bob@demo.goutong');
    const sock = await openSocket(s.url, t.accessToken);
    const rotated = (await (await post(s.url, '/api/v1/auth/refresh', { refreshToken: t.refreshToken })).json()) as { accessToken: string; refreshToken: string };
    // Rotation keeps the session: old and new access tokens both work.
    expect(await me(s.url, rotated.accessToken)).toBe(200);
    expect(await me(s.url, t.accessToken)).toBe(200);
    // Someone replays the rotated refresh token: the whole family is revoked.
    expect((await post(s.url, '/api/v1/auth/refresh', { refreshToken: t.refreshToken })).status).toBe(401);
    expect(await me(s.url, rotated.accessToken)).toBe(401);
    expect(await me(s.url, t.accessToken)).toBe(401);
    expect(await sock.closed).toBe(4401);
  });

});

/** Scale-out: a logout on one process ends the session's token and sockets on the other (Redis pub/sub). */
describe('sessions across server processes (PostgreSQL + Redis)', () => {
  let a: Server;
  let b: Server;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    const db = await createTestDatabase('gtsess');
    drop = db.drop;
    const env = { DATABASE_URL: db.url, REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', GOUTONG_SECRET: 'sessions-scale-out-secret-0123456789abcdef' };
    a = await startTestServer('sqlite', env);
    b = await startTestServer('sqlite', env);
  });
  afterAll(async () => {
    await a?.stopAll();
    await b?.stopAll();
    await drop?.();
  });

  it('logout ends the access token and the socket at once on every process', async () => {
    const t = await login(a.url, 'li.wei@demo.goutong');
    expect(await me(b.url, t.accessToken)).toBe(200); // b caches the session as live
    const sock = await openSocket(b.url, t.accessToken);
    expect((await post(a.url, '/api/v1/auth/logout', { refreshToken: t.refreshToken })).status).toBe(204);
    expect(await sock.closed).toBe(4401);
    expect(await me(b.url, t.accessToken)).toBe(401);
  });
});

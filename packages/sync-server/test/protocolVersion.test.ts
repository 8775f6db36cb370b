// The wire protocol version on the server's end: HTTP requests announcing another major version
// get 426 Upgrade Required (JSON error) before auth or body, sockets get close code 4426; the server
// names its own version on every answer and in the `ready` frame. A real client connects as before.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { CloseCode, PROTOCOL_HEADER, PROTOCOL_VERSION } from '@goutong/core';
import { connectAgent, eventually, loginToken } from './support/agentClient.js';
import { startTestServer } from './support/inProcess.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;

async function raw(url: string, init: RequestInit = {}) {
  const res = await fetch(url, init);
  const text = await res.text();
  return { status: res.status, version: res.headers.get(PROTOCOL_HEADER), body: text ? (JSON.parse(text) as any) : null };
}

/** Sends the auth frame `auth` as the first frame; resolves with the frames received and the close code. */
function socketAuth(url: string, auth: Record<string, unknown>): Promise<{ code: number | null; texts: any[] }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace('http', 'ws')}/sync`);
    const texts: any[] = [];
    ws.on('message', (d, isBinary) => {
      if (isBinary) return;
      const frame = JSON.parse(d.toString());
      texts.push(frame);
      // A ready frame is the whole answer to a good auth: close from this side.
      if (frame.t === 'ready') ws.close(1000);
    });
    ws.on('open', () => ws.send(JSON.stringify({ t: 'auth', ...auth })));
    ws.on('close', (code) => resolve({ code, texts }));
    ws.on('error', reject);
  });
}

describe('the protocol version on the server', () => {
  let s: Server;
  let token: string;
  const other = String(PROTOCOL_VERSION + 1);

  beforeAll(async () => {
    s = await startTestServer('sqlite');
    token = await loginToken(s.url, 'admin@demo.goutong');
  });
  afterAll(async () => s?.stopAll());

  it('refuses another major version with 426 and a JSON error, before authentication and body', async () => {
    const r = await raw(`${s.url}/api/v1/sync/pull`, { method: 'POST', headers: { [PROTOCOL_HEADER]: other, 'content-type': 'application/json' }, body: '{not json' });
    expect(r.status).toBe(426);
    expect(r.body).toEqual({ error: { code: 'upgrade_required', message: expect.stringMatching(/protocol version \d+ is not supported.*update the app/), details: { serverVersion: PROTOCOL_VERSION } } });
    expect(r.version).toBe(String(PROTOCOL_VERSION));
    const login = await raw(`${s.url}/api/v1/auth/login`, { method: 'POST', headers: { [PROTOCOL_HEADER]: other, 'content-type': 'application/json' }, body: JSON.stringify({ email: 'admin@demo.goutong', password: 'goutong-demo' }) });
    expect(login.status).toBe(426);
  });

  it('accepts its own major (any minor) and requests that announce nothing, and names its version', async () => {
    for (const announced of [String(PROTOCOL_VERSION), `${PROTOCOL_VERSION}.9`, null]) {
      const r = await raw(`${s.url}/api/v1/me`, { headers: { authorization: `Bearer ${token}`, ...(announced ? { [PROTOCOL_HEADER]: announced } : {}) } });
      expect(r.status, String(announced)).toBe(200);
      expect(r.version).toBe(String(PROTOCOL_VERSION));
    }
  });

  it('answers a malformed version with 400', async () => {
    const r = await raw(`${s.url}/api/v1/me`, { headers: { authorization: `Bearer ${token}`, [PROTOCOL_HEADER]: 'latest' } });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('bad_request');
  });

  it('closes a socket whose auth frame announces another major version with 4426', async () => {
    const refused = await socketAuth(s.url, { token, v: PROTOCOL_VERSION + 1 });
    expect(refused.code).toBe(CloseCode.upgradeRequired);
    expect(refused.code).toBe(4426);
    expect(refused.texts).toEqual([{ t: 'error', code: 'upgrade_required', message: expect.stringMatching(/update the app/) }]);
  });

  it('answers a good auth frame (with or without v) with a ready frame that carries its version', async () => {
    for (const auth of [{ token, v: PROTOCOL_VERSION }, { token }]) {
      const ok = await socketAuth(s.url, auth);
      expect(ok.texts[0]).toMatchObject({ t: 'ready', v: PROTOCOL_VERSION });
    }
  });

  it('a real client (HttpTransport) sends the version and syncs', async () => {
    const a = await connectAgent(s.url, 'admin@demo.goutong', 'goutong-demo');
    try {
      await eventually(() => a.client.connectivity.value.status === 'online' && a.client.connectivity.value.lastSyncedAt !== null, 'the client to sync');
      expect(a.client.connectivity.value.updateRequired).toBe(false);
    } finally {
      await a.client.stop();
    }
  });
});

// The wire protocol version on the client's end: sent on every request and in the socket's auth
// frame; a server that refuses it (426, close 4426) or speaks another major version surfaces as
// ProtocolMismatchError / `updateRequired` ("update the app"), and the client stops reconnecting.
import { describe, expect, it } from 'vitest';
import { checkProtocolVersion, CloseCode, PROTOCOL_HEADER, PROTOCOL_VERSION } from '../protocol/wire.js';
import { ProtocolMismatchError, TransportError } from '../ports/transport.js';
import { alwaysOnline, silentLogger } from '../ports/platform.js';
import { MemoryStore } from '../testing/memoryStore.js';
import { FakeClock } from '../testing/fakeClock.js';
import { HttpTransport, login, type FetchLike, type WebSocketLike } from './httpTransport.js';
import { GoutongClient } from './client.js';
import { Uuidv7Generator } from '../util/uuidv7.js';

type Call = { url: string; method: string; headers: Record<string, string>; body?: string };
type Answer = { status: number; body: unknown };

function fakeFetch(answer: (call: Call) => Answer) {
  const calls: Call[] = [];
  const f: FetchLike = async (url, init) => {
    const call = { url, ...init };
    calls.push(call);
    const a = answer(call);
    return { status: a.status, ok: a.status >= 200 && a.status < 300, text: async () => JSON.stringify(a.body) };
  };
  return { f, calls };
}

class FakeSocket implements WebSocketLike {
  binaryType = 'blob';
  readyState = 0;
  sent: (string | Uint8Array)[] = [];
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  send(data: string | Uint8Array): void {
    this.sent.push(data);
  }
  close(code = 1000, reason = ''): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }
  receive(frame: unknown): void {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
}

const session = { accessToken: 'access', refreshToken: 'refresh', expiresAt: Date.UTC(2030, 0, 1) };
const emptyPull = { checkpoint: 0, hasMore: false, scope: 's', reset: false, conversations: [], messages: [], contacts: [], inboxes: [], agents: [], teams: [] };
const upgradeRequired: Answer = { status: 426, body: { error: { code: 'upgrade_required', message: 'protocol version 1 is not supported (this end speaks version 2): update the app' } } };

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000 && !check(); i++) await new Promise((r) => setTimeout(r, 0));
  if (!check()) throw new Error(`never happened: ${what}`);
}

function setup(answer: (call: Call) => Answer) {
  const { f, calls } = fakeFetch(answer);
  const sockets: FakeSocket[] = [];
  const transport = new HttpTransport({
    baseUrl: 'http://server.test',
    fetch: f,
    webSocket: () => {
      const ws = new FakeSocket();
      sockets.push(ws);
      return ws;
    },
    session,
    now: () => Date.UTC(2026, 0, 1),
  });
  const clock = new FakeClock();
  let seed = 0;
  const client = new GoutongClient({
    store: new MemoryStore(),
    transport,
    clock,
    ids: new Uuidv7Generator(() => clock.now(), (n) => Uint8Array.from({ length: n }, (_, i) => (i * 37 + ++seed) & 255)),
    random: () => 0.5,
    logger: silentLogger,
    network: alwaysOnline,
    agent: { id: 'agent-1', tenantId: 'tenant-1', name: 'Agent' },
  });
  return { transport, client, clock, calls, sockets };
}

describe('checkProtocolVersion (the rule both ends use)', () => {
  it('accepts our major (with or without a minor) and nothing announced; refuses another major and garbage', () => {
    expect(checkProtocolVersion(PROTOCOL_VERSION)).toEqual({ ok: true });
    expect(checkProtocolVersion(`${PROTOCOL_VERSION}`)).toEqual({ ok: true });
    expect(checkProtocolVersion(`${PROTOCOL_VERSION}.7`)).toEqual({ ok: true });
    expect(checkProtocolVersion(undefined)).toEqual({ ok: true });
    expect(checkProtocolVersion(PROTOCOL_VERSION + 1)).toMatchObject({ ok: false, reason: 'incompatible', message: expect.stringMatching(/update the app/) });
    expect(checkProtocolVersion('0')).toMatchObject({ ok: false, reason: 'incompatible' });
    expect(checkProtocolVersion('one')).toMatchObject({ ok: false, reason: 'malformed' });
    expect(checkProtocolVersion(['1', '2'])).toMatchObject({ ok: false, reason: 'malformed' });
  });
});

describe('HttpTransport sends the protocol version', () => {
  it(`sends ${PROTOCOL_HEADER} on requests, login and refresh, and v in the socket's auth frame`, async () => {
    const { f, calls } = fakeFetch((c) => (c.url.endsWith('/auth/login') || c.url.endsWith('/auth/refresh') ? { status: 200, body: { accessToken: 'a2', refreshToken: 'r2', expiresIn: 1 } } : { status: 200, body: emptyPull }));
    await login({ baseUrl: 'http://server.test', fetch: f, now: () => 0 }, 'a@b.c', 'pw');
    const sockets: FakeSocket[] = [];
    const now = 0;
    const transport = new HttpTransport({ baseUrl: 'http://server.test', fetch: f, webSocket: () => (sockets.push(new FakeSocket()), sockets[sockets.length - 1]!), session: { ...session, expiresAt: 0 }, now: () => now });
    await transport.pull({ checkpoint: 0, limit: 10 });
    expect(calls.map((c) => c.url.replace('http://server.test', ''))).toEqual(['/api/v1/auth/login', '/api/v1/auth/refresh', '/api/v1/sync/pull']);
    for (const c of calls) expect(c.headers[PROTOCOL_HEADER]).toBe(String(PROTOCOL_VERSION));

    transport.openSocket({ onOpen: () => {}, onText: () => {}, onBinary: () => {}, onClose: () => {} });
    sockets[0]!.open();
    await until(() => sockets[0]!.sent.length > 0, 'the auth frame');
    expect(JSON.parse(sockets[0]!.sent[0] as string)).toMatchObject({ t: 'auth', v: PROTOCOL_VERSION });
  });

  it('turns HTTP 426 into ProtocolMismatchError, not retryable', async () => {
    const { transport } = setup(() => upgradeRequired);
    const err = await transport.pull({ checkpoint: 0, limit: 10 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProtocolMismatchError);
    expect(err).toBeInstanceOf(TransportError);
    expect(err).toMatchObject({ code: 'upgrade_required', status: 426, retryable: false, message: expect.stringMatching(/update the app/) });
    const { f } = fakeFetch(() => upgradeRequired);
    await expect(login({ baseUrl: 'http://server.test', fetch: f, now: () => 0 }, 'a@b.c', 'pw')).rejects.toBeInstanceOf(ProtocolMismatchError);
  });
});

describe('GoutongClient on a protocol mismatch', () => {
  it('socket closed with 4426: updateRequired, no reconnect, commands stay pending', async () => {
    const { client, clock, sockets } = setup(() => ({ status: 200, body: emptyPull }));
    await client.start();
    await client.dispatch({ type: 'set_status', conversationId: 'c1', status: 'resolved' });
    await until(() => sockets.length === 1, 'the socket');
    sockets[0]!.open();
    await until(() => sockets[0]!.sent.length > 0, 'the auth frame');
    sockets[0]!.close(CloseCode.upgradeRequired, 'protocol version 1 is not supported: update the app');
    expect(client.connectivity.value).toMatchObject({ updateRequired: true, status: 'offline', sessionExpired: false });
    clock.advance(10 * 60_000);
    expect(sockets).toHaveLength(1);
    expect(client.connectivity.value).toMatchObject({ pending: 1, failed: 0 });
    await client.stop();
  });

  it('a ready frame from a server of another major version: updateRequired and disconnect', async () => {
    const { client, clock, sockets } = setup(() => ({ status: 200, body: emptyPull }));
    await client.start();
    await until(() => sockets.length === 1, 'the socket');
    sockets[0]!.open();
    await until(() => sockets[0]!.sent.length > 0, 'the auth frame');
    sockets[0]!.receive({ t: 'ready', agentId: 'agent-1', tenantId: 'tenant-1', seq: 0, v: PROTOCOL_VERSION + 1 });
    expect(client.connectivity.value.updateRequired).toBe(true);
    expect(sockets[0]!.readyState).toBe(3);
    clock.advance(10 * 60_000);
    expect(sockets).toHaveLength(1);
    await client.stop();
  });

  it('a pull answered with 426: updateRequired', async () => {
    const { client, sockets } = setup((c) => (c.url.endsWith('/sync/pull') ? upgradeRequired : { status: 200, body: {} }));
    await client.start();
    await until(() => sockets.length === 1, 'the socket');
    sockets[0]!.open();
    await until(() => sockets[0]!.sent.length > 0, 'the auth frame');
    sockets[0]!.receive({ t: 'ready', agentId: 'agent-1', tenantId: 'tenant-1', seq: 0, v: PROTOCOL_VERSION });
    await until(() => client.connectivity.value.updateRequired, 'updateRequired after the refused pull');
    expect(client.connectivity.value.sessionExpired).toBe(false);
    await client.stop();
  });

  it('a command batch answered with 426 stays pending for the updated app (not failed)', async () => {
    const { client, sockets, calls } = setup((c) => (c.url.endsWith('/commands') ? upgradeRequired : { status: 200, body: emptyPull }));
    await client.start();
    await until(() => sockets.length === 1, 'the socket');
    sockets[0]!.open();
    await until(() => sockets[0]!.sent.length > 0, 'the auth frame');
    sockets[0]!.receive({ t: 'ready', agentId: 'agent-1', tenantId: 'tenant-1', seq: 0, v: PROTOCOL_VERSION });
    await client.dispatch({ type: 'set_status', conversationId: 'c1', status: 'resolved' });
    await until(() => calls.some((c) => c.url.endsWith('/commands')), 'the refused push');
    await until(() => client.outbox.counts().pending === 1 && client.outbox.list().every((e) => e.attempts === 1), 'the outbox to settle the refused push');
    expect(client.connectivity.value).toMatchObject({ pending: 1, failed: 0 });
    await client.stop();
  });
});

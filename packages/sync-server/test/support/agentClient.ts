import { webcrypto } from 'node:crypto';
import WebSocket from 'ws';
import {
  GoutongClient,
  HttpTransport,
  login,
  PROTOCOL_VERSION,
  silentLogger,
  Uuidv7Generator,
  type FetchLike,
  type NetworkMonitor,
  type WebSocketLike,
} from '@goutong/core';
import { MemoryStore } from '@goutong/core/testing';

/** A network switch for one simulated device: offline makes every request and socket fail. */
export class Switch implements NetworkMonitor {
  private online = true;
  private listeners = new Set<(o: boolean) => void>();
  isOnline(): boolean {
    return this.online;
  }
  subscribe(l: (o: boolean) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
  set(online: boolean): void {
    this.online = online;
    for (const l of this.listeners) l(online);
  }
}

export const realClock = {
  now: () => Date.now(),
  setTimeout: (fn: () => void, ms: number) => setTimeout(fn, ms),
  clearTimeout: (h: unknown) => clearTimeout(h as NodeJS.Timeout),
};

/** A real GoutongClient as an agent's device would run it: real HTTP, real WebSocket, memory store. */
export async function connectAgent(baseUrl: string, email: string, password: string, device = 'node') {
  const net = new Switch();
  const f: FetchLike = async (url, init) => {
    if (!net.isOnline()) throw new TypeError('fetch failed: offline');
    return fetch(url, init);
  };
  const session = await login({ baseUrl, fetch: f, now: Date.now }, email, password);
  const transport = new HttpTransport({
    baseUrl,
    fetch: f,
    webSocket: (url) => new WebSocket(url) as unknown as WebSocketLike,
    session,
    now: Date.now,
  });
  const me = (await (await fetch(`${baseUrl}/api/v1/me`, { headers: { authorization: `Bearer ${session.accessToken}` } })).json()) as {
    agent: { id: string; tenantId: string; name: string };
  };
  const store = new MemoryStore();
  const client = new GoutongClient({
    store,
    transport,
    clock: realClock,
    ids: new Uuidv7Generator(Date.now, (n) => webcrypto.getRandomValues(new Uint8Array(n))),
    random: Math.random,
    logger: silentLogger,
    network: net,
    agent: me.agent,
    device,
  });
  await client.start();
  return { client, store, net, agent: me.agent, session, transport };
}

/** Polls until the predicate holds (end-to-end tests wait on real sockets and real timers). */
export async function eventually<T>(fn: () => Promise<T | null | undefined | false> | T | null | undefined | false, what: string, timeoutMs = 15_000): Promise<T> {
  const start = Date.now();
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** REST helper bound to one bearer token. */
export function api(baseUrl: string, token: string) {
  return async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as any) : null };
  };
}

export async function loginToken(baseUrl: string, email: string, password = 'goutong-demo'): Promise<string> {
  const res = await fetch(`${baseUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }) });
  if (!res.ok) throw new Error(`login ${email}: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { accessToken: string }).accessToken;
}

/** A device of an agent: a real /sync socket, authenticated (`ready` received); the agent is online while it is open. */
export async function syncDevice(url: string, token: string): Promise<WebSocket> {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/sync`);
  await new Promise<void>((resolve, reject) => {
    ws.on('open', () => ws.send(JSON.stringify({ t: 'auth', token, v: PROTOCOL_VERSION })));
    ws.on('message', (d, bin) => {
      if (!bin && JSON.parse(d.toString()).t === 'ready') resolve();
    });
    ws.on('error', reject);
  });
  return ws;
}

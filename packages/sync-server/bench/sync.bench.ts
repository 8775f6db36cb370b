/**
 * Sync benchmarks (issue 2), run by `pnpm bench`:
 *  1. agent-to-agent propagation latency with 100 connected clients, beside a bare `ws` relay of
 *     the same payloads over the same socket library (the baseline);
 *  2. catch-up after a client missed 10,000 changes across 1,000 conversations: time and bytes,
 *     against the size of the changes themselves.
 * Prints one JSON line per figure.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { webcrypto } from 'node:crypto';
import { WebSocketServer, WebSocket } from 'ws';
import {
  GoutongClient,
  HttpTransport,
  login,
  silentLogger,
  Uuidv7Generator,
  type Command,
  type FetchLike,
  type Transport,
  type WebSocketLike,
} from '@goutong/core';
import { MemoryStore } from '@goutong/core/testing';
import { loadConfig } from '../src/config.js';
import { startServer } from '../src/server.js';

const clock = { now: () => Date.now(), setTimeout: (f: () => void, ms: number) => setTimeout(f, ms), clearTimeout: (h: unknown) => clearTimeout(h as NodeJS.Timeout) };
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(fn: () => boolean | Promise<boolean>, ms = 60_000): Promise<void> {
  const t = Date.now();
  while (!(await fn())) {
    if (Date.now() - t > ms) throw new Error('bench: timed out');
    await sleep(2);
  }
}

function benchDir(): string {
  // tmpfs where available: the benchmark measures sync, not the disk's fsync.
  const base = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
  return fs.mkdtempSync(path.join(base, 'goutong-bench-'));
}

function makeClient(baseUrl: string, session: Awaited<ReturnType<typeof login>>, agent: { id: string; tenantId: string; name: string }, counter?: { bytes: number }) {
  const f: FetchLike = async (url, init) => {
    const res = await fetch(url, init);
    if (!counter) return res;
    const text = await res.text();
    // Bytes on the wire: the (gzip) body as sent when the server says its length, else the text.
    const sent = Number(res.headers.get('content-length') ?? NaN);
    counter.bytes += (Number.isFinite(sent) ? sent : Buffer.byteLength(text)) + (init.body ? Buffer.byteLength(init.body) : 0);
    return { status: res.status, ok: res.ok, text: async () => text };
  };
  const http = new HttpTransport({ baseUrl, fetch: f, webSocket: (u) => new WebSocket(u) as unknown as WebSocketLike, session, now: Date.now });
  // GOUTONG_BENCH_POKES=1: clients of protocol 1.0 (pokes and pulls, no pushed facts), for comparison.
  const transport: Transport = process.env.GOUTONG_BENCH_POKES === '1'
    ? { pull: (r) => http.pull(r), push: (c) => http.push(c), messages: (i, c, l) => http.messages(i, c, l), openSocket: (h) => http.openSocket(h) }
    : http;
  let online = true;
  const listeners = new Set<(o: boolean) => void>();
  const store = new MemoryStore();
  const client = new GoutongClient({
    store,
    transport,
    clock,
    ids: new Uuidv7Generator(Date.now, (n) => webcrypto.getRandomValues(new Uint8Array(n))),
    random: Math.random,
    logger: silentLogger,
    network: { isOnline: () => online, subscribe: (l) => (listeners.add(l), () => listeners.delete(l)) },
    agent,
    device: 'bench',
  });
  const setOnline = (o: boolean) => {
    online = o;
    for (const l of listeners) l(o);
  };
  return { client, store, setOnline };
}

async function agentSession(baseUrl: string, email: string) {
  const session = await login({ baseUrl, fetch: fetch as unknown as FetchLike, now: Date.now }, email, 'goutong-demo');
  const me = (await (await fetch(`${baseUrl}/api/v1/me`, { headers: { authorization: `Bearer ${session.accessToken}` } })).json()) as { agent: { id: string; tenantId: string; name: string } };
  return { session, agent: me.agent };
}

export async function propagationBench(opts: { clients?: number; rounds?: number } = {}) {
  const N = opts.clients ?? 100;
  const rounds = opts.rounds ?? 40;
  const dir = benchDir();
  const server = await startServer({ config: loadConfig({ PORT: '0', GOUTONG_DATA_DIR: dir, GOUTONG_DEMO: '1', GOUTONG_LOG: 'silent' }), logger: silentLogger });
  try {
    const emails = ['admin@demo.goutong', 'li.wei@demo.goutong', 'zhang.san@demo.goutong', 'alice@demo.goutong'];
    const sessions = await Promise.all(emails.map((e) => agentSession(server.url, e)));
    const clients = Array.from({ length: N }, (_, i) => makeClient(server.url, sessions[i % sessions.length]!.session, sessions[i % sessions.length]!.agent));
    for (const c of clients) await c.client.start();
    await until(() => clients.every((c) => c.client.connectivity.value.status === 'online'));
    const convId = (await clients[0]!.client.queryConversations({ sort: 'lastActivity', limit: 1, status: ['open'] }))[0]!.id;
    await until(async () => (await Promise.all(clients.map((c) => c.store.getConversation(convId)))).every(Boolean));
    const sender = clients[0]!;
    const receivers = clients.slice(1);
    const latencies: number[] = [];
    let payloadBytes = 0;
    for (let r = 0; r < rounds; r++) {
      const seen = new Map<number, number>();
      const unsubs = receivers.map((c, i) =>
        c.client.changes.on((ch) => {
          if (ch.messageConversationIds?.includes(convId) && !seen.has(i)) {
            void c.store.getMessage(idRef.id).then((m) => {
              if (m && !seen.has(i)) seen.set(i, performance.now());
            });
          }
        }),
      );
      const idRef = { id: '' };
      const text = `bench reply ${r} — 测试消息 ${'x'.repeat(120)}`;
      const t0 = performance.now();
      idRef.id = await sender.client.dispatch({ type: 'send_reply', conversationId: convId, text });
      await until(() => seen.size === receivers.length);
      for (const t of seen.values()) latencies.push(t - t0);
      unsubs.forEach((u) => u());
      const m = await sender.store.getMessage(idRef.id);
      payloadBytes = Buffer.byteLength(JSON.stringify(m ?? { text }));
      await sleep(20);
    }
    for (const c of clients) await c.client.stop();
    const base = await bareRelayBaseline(N, rounds, payloadBytes);
    return {
      name: 'propagation',
      clients: N,
      rounds,
      payloadBytes,
      goutong: { p50ms: round(pct(latencies, 50)), p99ms: round(pct(latencies, 99)) },
      bareRelay: { p50ms: round(base.p50), p99ms: round(base.p99) },
      ratio: { p50: round(pct(latencies, 50) / base.p50, 1), p99: round(pct(latencies, 99) / base.p99, 1) },
    };
  } finally {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The same payloads relayed by a bare ws server to N-1 clients: no auth, no database, no pull. */
async function bareRelayBaseline(N: number, rounds: number, payloadBytes: number) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  wss.on('connection', (ws) => ws.on('message', (d) => {
    for (const c of wss.clients) if (c !== ws && c.readyState === c.OPEN) c.send(d);
  }));
  const port = (wss.address() as { port: number }).port;
  const socks = await Promise.all(Array.from({ length: N }, () => new Promise<WebSocket>((res) => {
    const s = new WebSocket(`ws://127.0.0.1:${port}`);
    s.once('open', () => res(s));
  })));
  const lat: number[] = [];
  const payload = JSON.stringify({ pad: 'x'.repeat(Math.max(0, payloadBytes - 12)) });
  for (let r = 0; r < rounds; r++) {
    let got = 0;
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      for (const s of socks.slice(1)) {
        s.once('message', () => {
          lat.push(performance.now() - t0);
          if (++got === N - 1) resolve();
        });
      }
      socks[0]!.send(payload);
    });
    await sleep(20);
  }
  for (const s of socks) s.close();
  await new Promise<void>((r) => wss.close(() => r()));
  return { p50: pct(lat, 50), p99: pct(lat, 99) };
}

export async function catchUpBench(opts: { conversations?: number; changes?: number } = {}) {
  const C = opts.conversations ?? 1000;
  const K = opts.changes ?? 10_000;
  const dir = benchDir();
  const server = await startServer({ config: loadConfig({ PORT: '0', GOUTONG_DATA_DIR: dir, GOUTONG_DEMO: '1', GOUTONG_LOG: 'silent' }), logger: silentLogger });
  try {
    const { session, agent } = await agentSession(server.url, 'admin@demo.goutong');
    const counter = { bytes: 0 };
    const c = makeClient(server.url, session, agent, counter);
    await c.client.start();
    await until(() => c.client.connectivity.value.status === 'online');
    await until(async () => (await c.store.getCheckpoint()).checkpoint >= (await server.workspace.currentSeq(agent.tenantId)));
    c.setOnline(false);
    await until(() => c.client.connectivity.value.status === 'offline');

    // The changes the device misses: inbound messages creating C conversations and then K - C
    // further changes (messages, priorities, labels, assignments) across them.
    const inbox = (await server.workspace.inboxes(agent.tenantId))[0]!;
    const admin = (await server.workspace.agent(agent.id))!;
    let changeBytes = 0;
    const convIds: string[] = [];
    for (let i = 0; i < C; i++) {
      const input = { externalId: `bench-${i}`, from: { identifier: `+86138${String(i).padStart(8, '0')}`, name: `客户 ${i}` }, text: `第 ${i} 位客户的问题：订单还没到。` };
      changeBytes += Buffer.byteLength(JSON.stringify(input));
      convIds.push((await server.workspace.ingestInbound(inbox, input)).conversation.id);
    }
    const ids = new Uuidv7Generator(Date.now, (n) => webcrypto.getRandomValues(new Uint8Array(n)));
    for (let i = C; i < K; i++) {
      const conversationId = convIds[i % C]!;
      const kind = i % 4;
      if (kind === 0) {
        const input = { externalId: `bench-${i}`, from: { identifier: `+86138${String(i % C).padStart(8, '0')}` }, text: `追加消息 ${i}` };
        changeBytes += Buffer.byteLength(JSON.stringify(input));
        await server.workspace.ingestInbound(inbox, input);
      } else {
        const base = { id: ids.next(), deviceTime: Date.now(), conversationId };
        const cmd: Command =
          kind === 1 ? { ...base, type: 'set_priority', priority: (['urgent', 'high', 'normal', 'low'] as const)[i % 4]! }
          : kind === 2 ? { ...base, type: 'add_label', label: `l${i % 7}` }
          : { ...base, type: 'send_reply', text: `回复 ${i}` };
        changeBytes += Buffer.byteLength(JSON.stringify(cmd));
        await server.workspace.applyCommand(admin, cmd);
      }
    }
    // The server's service operations (routing, SLA, rollups) digest the 10,000 events first: the
    // figure is the device's catch-up, not the wait for that backlog (which holds the database).
    await server.ops.drain(100_000);
    const target = await server.workspace.currentSeq(agent.tenantId);
    counter.bytes = 0;
    const t0 = performance.now();
    c.setOnline(true);
    await until(async () => (await c.store.getCheckpoint()).checkpoint >= target, 120_000);
    const ms = performance.now() - t0;
    const conversations = await c.store.countConversations({});
    await c.client.stop();
    return {
      name: 'catch-up',
      missedChanges: K,
      conversations: C,
      localConversations: conversations,
      ms: Math.round(ms),
      wireBytes: counter.bytes,
      changeBytes,
      ratio: round(counter.bytes / changeBytes, 2),
    };
  } finally {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const which = process.argv[2] ?? 'all';
  if (which === 'all' || which === 'propagation') console.log(JSON.stringify(await propagationBench()));
  if (which === 'all' || which === 'catchup') console.log(JSON.stringify(await catchUpBench()));
  process.exit(0);
}

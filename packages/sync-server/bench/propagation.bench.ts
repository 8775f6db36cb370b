/**
 * Propagation with the simulated devices in worker threads (issue 16), run by `pnpm bench`: the
 * server runs in its own process (`dist/main.js`); N devices (100 and 1,000) live in worker threads
 * of this process, each with its own `/sync` socket. A sender posts a note (`POST /api/v1/commands`);
 * each device has it when a frame carrying it arrives (a pushed fact) or, after a poke, when its
 * pull returns it. Beside it: a bare `ws` relay of a payload of the same size to the same number of
 * sockets, run the same way (devices in workers). Timestamps are `performance.timeOrigin + now()`, so
 * they compare across threads. Prints one JSON line per client count: `propagation-workers`.
 *
 * Env: BENCH_PROP_CLIENTS (comma list, default "100,1000"), BENCH_PROP_ROUNDS (default 10),
 * BENCH_PROP_WORKERS (default 4), BENCH_PROP_POKES=1 (the devices speak protocol 1.0: a poke, then
 * an HTTP pull, instead of pushed facts), BENCH_PROP_CPU_PROF=<dir> (the server writes a V8 CPU
 * profile there). Requires `tsc -b` (dist/main.js).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { WebSocket, WebSocketServer } from 'ws';

const here = path.dirname(fileURLToPath(import.meta.url));
const MAIN = path.resolve(here, '../dist/main.js');
/** The simulated devices (plain JavaScript: worker threads do not inherit the TypeScript loader). */
const WORKER = path.resolve(here, 'propagation.worker.mjs');
const at = () => performance.timeOrigin + performance.now();
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};
const POKES = process.env.BENCH_PROP_POKES === '1';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type ToWorker = { t: 'expect'; marker: string } | { t: 'stop' };
type FromWorker = { t: 'ready' } | { t: 'seen'; at: number } | { t: 'error'; message: string };
interface WorkerInput {
  mode: 'goutong' | 'bare';
  /** Protocol 1.0 devices: pokes and pulls (else they ask for pushed facts). */
  pokes?: boolean;
  wsUrl: string;
  httpUrl: string;
  tokens: string[];
  devices: number;
}

// ------------------------------------------------------------------------------- main side
async function startServer(dataDir: string): Promise<{ child: ChildProcess; url: string }> {
  if (!fs.existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`pnpm run build\` first`);
  const env = { ...process.env, PORT: '0', HOST: '127.0.0.1', GOUTONG_DATA_DIR: dataDir, GOUTONG_DEMO: '1', GOUTONG_LOG: 'error' };
  delete env.DATABASE_URL;
  const prof = process.env.BENCH_PROP_CPU_PROF;
  const child = spawn(process.execPath, [...(prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : []), MAIN], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${out}`)), 60_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /running on http:\/\/127\.0\.0\.1:(\d+)\//.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.stderr!.on('data', (d: Buffer) => void (out += d.toString()));
    child.on('exit', (code) => reject(new Error(`server exited with ${code}:\n${out}`)));
  });
  return { child, url: `http://127.0.0.1:${port}` };
}

async function token(url: string, email: string): Promise<string> {
  const res = await fetch(`${url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password: 'goutong-demo' }) });
  if (!res.ok) throw new Error(`login ${res.status}`);
  return ((await res.json()) as { accessToken: string }).accessToken;
}

/** Starts the devices in worker threads; `round(send)` runs one round and returns each device's latency (ms). */
async function fleet(input: Omit<WorkerInput, 'devices'>, devices: number, workers: number) {
  const seen: number[] = [];
  const threads: Worker[] = [];
  let ready = 0;
  await new Promise<void>((resolve, reject) => {
    for (let w = 0; w < workers; w++) {
      const n = Math.floor(devices / workers) + (w < devices % workers ? 1 : 0);
      const t = new Worker(WORKER, { workerData: { ...input, devices: n } satisfies WorkerInput });
      t.on('message', (m: FromWorker) => {
        if (m.t === 'ready' && ++ready === workers) resolve();
        else if (m.t === 'seen') seen.push(m.at);
        else if (m.t === 'error') reject(new Error(m.message));
      });
      t.on('error', reject);
      threads.push(t);
    }
  });
  return {
    async round(marker: string, fire: () => Promise<number>): Promise<number[]> {
      seen.length = 0;
      for (const t of threads) t.postMessage({ t: 'expect', marker } satisfies ToWorker);
      await sleep(20);
      const t0 = await fire();
      const deadline = Date.now() + 120_000;
      while (seen.length < devices && Date.now() < deadline) await sleep(2);
      if (seen.length < devices) throw new Error(`only ${seen.length} of ${devices} devices got ${marker}`);
      return seen.map((x) => x - t0);
    },
    async stop(): Promise<void> {
      await Promise.all(threads.map((t) => new Promise((r) => {
        t.once('exit', r);
        t.postMessage({ t: 'stop' } satisfies ToWorker);
      })));
    },
  };
}

async function goutong(clients: number, rounds: number, workers: number): Promise<{ lat: number[]; payloadBytes: number }> {
  const base = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
  const dataDir = fs.mkdtempSync(path.join(base, 'goutong-prop-'));
  const { child, url } = await startServer(dataDir);
  try {
    const emails = ['admin@demo.goutong', 'li.wei@demo.goutong', 'zhang.san@demo.goutong', 'alice@demo.goutong'];
    const tokens = await Promise.all(emails.map((e) => token(url, e)));
    const auth = { authorization: `Bearer ${tokens[0]}`, 'content-type': 'application/json' };
    const convId = ((await (await fetch(`${url}/api/v1/conversations?limit=1&status=open`, { headers: auth })).json()) as { items: { id: string }[] }).items[0]!.id;
    const f = await fleet({ mode: 'goutong', pokes: POKES, wsUrl: `${url.replace('http', 'ws')}/sync`, httpUrl: url, tokens }, clients, workers);
    const lat: number[] = [];
    let payloadBytes = 0;
    try {
      for (let r = 0; r < rounds; r++) {
        const marker = `bench-${crypto.randomBytes(6).toString('hex')}`;
        const text = `${marker} 测试消息 ${'x'.repeat(120)}`;
        lat.push(...(await f.round(marker, async () => {
          const t0 = at();
          const res = await fetch(`${url}/api/v1/commands`, { method: 'POST', headers: auth, body: JSON.stringify({ commands: [{ type: 'add_note', id: uuidv7(), deviceTime: Date.now(), conversationId: convId, text }] }) });
          const body = (await res.json()) as { results: { outcome: string }[] };
          if (body.results[0]?.outcome !== 'applied') throw new Error(`note not applied: ${JSON.stringify(body)}`);
          payloadBytes = Buffer.byteLength(text) + 400;
          return t0;
        })));
        await sleep(50);
      }
    } finally {
      await f.stop();
    }
    return { lat, payloadBytes };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

async function bare(clients: number, rounds: number, workers: number, payloadBytes: number): Promise<number[]> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  wss.on('connection', (ws) => ws.on('message', (d, binary) => {
    for (const c of wss.clients) if (c !== ws && c.readyState === c.OPEN) c.send(d, { binary });
  }));
  const port = (wss.address() as { port: number }).port;
  const wsUrl = `ws://127.0.0.1:${port}`;
  const f = await fleet({ mode: 'bare', wsUrl, httpUrl: '', tokens: [''] }, clients, workers);
  const sender = new WebSocket(wsUrl);
  await new Promise<void>((r) => sender.once('open', () => r()));
  const lat: number[] = [];
  try {
    for (let r = 0; r < rounds; r++) {
      const marker = `bare-${crypto.randomBytes(6).toString('hex')}`;
      const payload = JSON.stringify({ marker, pad: 'x'.repeat(Math.max(0, payloadBytes - 40)) });
      lat.push(...(await f.round(marker, async () => {
        const t0 = at();
        sender.send(payload);
        return t0;
      })));
      await sleep(50);
    }
  } finally {
    sender.close();
    await f.stop();
    await new Promise<void>((r) => wss.close(() => r()));
  }
  return lat;
}

/** A UUIDv7 (the command id format) without the core package. */
function uuidv7(): string {
  const b = crypto.randomBytes(16);
  const ms = BigInt(Date.now());
  for (let i = 0; i < 6; i++) b[i] = Number((ms >> BigInt(8 * (5 - i))) & 0xffn);
  b[6] = (b[6]! & 0x0f) | 0x70;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export async function propagationWorkersBench(): Promise<Record<string, unknown>[]> {
  const counts = (process.env.BENCH_PROP_CLIENTS ?? '100,1000').split(',').map(Number).filter((n) => n > 0);
  const rounds = Number(process.env.BENCH_PROP_ROUNDS ?? 10);
  const workers = Number(process.env.BENCH_PROP_WORKERS ?? 4);
  const out: Record<string, unknown>[] = [];
  for (const n of counts) {
    const g = await goutong(n, rounds, workers);
    const b = await bare(n, rounds, workers, g.payloadBytes);
    out.push({
      name: 'propagation-workers',
      clients: n,
      rounds,
      workers,
      goutong: { p50ms: round(pct(g.lat, 50)), p99ms: round(pct(g.lat, 99)) },
      bareRelay: { p50ms: round(pct(b, 50)), p99ms: round(pct(b, 99)) },
      ratio: { p50: round(pct(g.lat, 50) / pct(b, 50)), p99: round(pct(g.lat, 99) / pct(b, 99)) },
      path: POKES ? 'protocol 1.0: poke, then HTTP pull' : 'protocol 1.1: facts pushed over the socket (a poke and pull past the push bounds)',
    });
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const r of await propagationWorkersBench()) console.log(JSON.stringify(r));
  process.exit(0);
}

/**
 * Server-side figures (issue 16), run by `pnpm bench`: the server runs in its own process
 * (`dist/main.js`), the simulated devices in this one, so the figures are the server's own
 * (resident memory from /proc/<pid>/status, CPU time from /proc/<pid>/stat).
 *
 *  - `server-memory-devices`: resident memory per 1,000 authenticated `/sync` sockets.
 *  - `server-memory-docs`: resident memory per 1,000 open draft documents (subscribed, loaded).
 *  - `server-cpu-draft-change`: server CPU per draft change (a Yjs update validated, applied,
 *    relayed to the document's other peer and stored through the group commit).
 *
 *  - `hocuspocus-draft-change`: the same documents and the same Yjs updates, paced the same way,
 *    through @hocuspocus/server 2.x in its own process (bench/hocuspocus.server.mjs: a token
 *    check per document, debounced storage of each document's state in SQLite): its memory per
 *    1,000 open documents and its CPU per change, and Goutong's ratio to it. (y-websocket's
 *    server is not in the workspace; the bare `ws` relay is the other anchor.)
 *
 * Env: BENCH_DEVICES (default 1000), BENCH_DOCS (default 1000), BENCH_DRAFT_CHANGES (default 5000).
 * Requires `tsc -b` (dist/main.js). Prints one JSON line per figure.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocket, WebSocketServer } from 'ws';
import * as Y from 'yjs';
import * as syncProtocol from 'y-protocols/sync';
import * as encoding from 'lib0/encoding';
import * as decoding from 'lib0/decoding';
import { encodeFrame, FRAME_SYNC } from '@goutong/core';

const here = path.dirname(fileURLToPath(import.meta.url));
const MAIN = path.resolve(here, '../dist/main.js');
const HOCUSPOCUS = path.resolve(here, 'hocuspocus.server.mjs');
const DEVICES = Number(process.env.BENCH_DEVICES ?? 1000);
const DOCS = Number(process.env.BENCH_DOCS ?? 1000);
const CHANGES = Number(process.env.BENCH_DRAFT_CHANGES ?? 5000);
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const TICKS = 100; // USER_HZ on Linux

function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? NaN);
}
/** User + system CPU of a process, in ms. */
function cpuMs(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / TICKS;
}
/** Resident memory once it stopped moving (the server settles after a burst). */
async function settledRss(pid: number): Promise<number> {
  let prev = rssKiB(pid);
  for (let i = 0; i < 20; i++) {
    await sleep(250);
    const now = rssKiB(pid);
    if (Math.abs(now - prev) < 256) return now;
    prev = now;
  }
  return prev;
}

async function startServer(dataDir: string): Promise<{ child: ChildProcess; url: string }> {
  if (!fs.existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`pnpm run build\` first`);
  const env = { ...process.env, PORT: '0', HOST: '127.0.0.1', GOUTONG_DATA_DIR: dataDir, GOUTONG_DEMO: '1', GOUTONG_LOG: 'error', GOUTONG_DOC_QUOTA_BYTES: String(2 * 1024 * 1024) };
  delete env.DATABASE_URL;
  const child = spawn(process.execPath, [MAIN], { env, stdio: ['ignore', 'pipe', 'pipe'] });
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

/** An authenticated `/sync` socket (answers once the server said `ready`). */
async function device(url: string, accessToken: string, onBinary?: (d: Buffer) => void): Promise<WebSocket> {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/sync`);
  await new Promise<void>((resolve, reject) => {
    ws.once('error', reject);
    ws.once('open', () => ws.send(JSON.stringify({ t: 'auth', token: accessToken, v: 1 })));
    ws.on('message', (d: Buffer, binary: boolean) => {
      if (binary) return onBinary?.(d);
      const m = JSON.parse(String(d)) as { t: string };
      if (m.t === 'ready') resolve();
    });
  });
  return ws;
}

async function pool<T>(items: readonly T[], n: number, fn: (x: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (i < items.length) await fn(items[i++]!);
  }));
}

function updateFrame(doc: string, update: Uint8Array): Uint8Array {
  const e = encoding.createEncoder();
  syncProtocol.writeUpdate(e, update);
  return encodeFrame(doc, FRAME_SYNC, encoding.toUint8Array(e));
}

/** CPU of a bare ws relay per relayed message (one sender, one receiver per document), measured in this process. */
async function bareRelayCpuPerMessage(n: number, frameBytes: number): Promise<number> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const peers: WebSocket[] = [];
  wss.on('connection', (ws) => {
    peers.push(ws);
    ws.on('message', (d) => {
      for (const c of peers) if (c !== ws) c.send(d);
    });
  });
  const port = (wss.address() as { port: number }).port;
  const open = (s: WebSocket) => new Promise<void>((r) => s.once('open', () => r()));
  const a = new WebSocket(`ws://127.0.0.1:${port}`);
  const b = new WebSocket(`ws://127.0.0.1:${port}`);
  await Promise.all([open(a), open(b)]);
  let got = 0;
  const done = new Promise<void>((r) => b.on('message', () => ++got === n && r()));
  const payload = Buffer.alloc(frameBytes, 1);
  const t0 = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    a.send(payload);
    if (i % 100 === 99) await sleep(1);
  }
  await done;
  const u = process.cpuUsage(t0);
  a.close();
  b.close();
  await new Promise<void>((r) => wss.close(() => r()));
  // Both ends run here: about half of it is the relay's (the receive and the send of each message).
  return (u.user + u.system) / 1000 / n / 2;
}

/** The change frames of the draft run: CHANGES keystrokes spread over `n` documents (Yjs updates). */
function draftUpdates(n: number): { doc: number; update: Uint8Array }[] {
  const ydocs = Array.from({ length: n }, () => new Y.Doc());
  const out: { doc: number; update: Uint8Array }[] = [];
  for (let k = 0; k < CHANGES; k++) {
    const i = k % n;
    const y = ydocs[i]!;
    let u: Uint8Array | null = null;
    const h = (x: Uint8Array) => void (u = x);
    y.on('update', h);
    y.getText('reply:bench').insert(y.getText('reply:bench').length, k % 7 === 0 ? '字' : 'a');
    y.off('update', h);
    out.push({ doc: i, update: u! });
  }
  return out;
}

/**
 * Hocuspocus on the same work: 1,000 documents, 100 per socket (multiplexed), a writer and a
 * reader socket for each hundred, the same keystrokes paced the same way. Its CPU includes its
 * debounced stores (waited for after the last change).
 */
async function hocuspocusDrafts(): Promise<{ perThousandDocsMiB: number; cpuMsPerChange: number; relayed: number; frameBytes: number }> {
  const dir = fs.mkdtempSync(path.join(fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), 'goutong-hocuspocus-'));
  const token = 'bench-token';
  const child = spawn(process.execPath, [HOCUSPOCUS], { env: { ...process.env, HP_DB: path.join(dir, 'hp.sqlite'), HP_TOKEN: token }, stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    let out = '';
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`hocuspocus did not start:\n${out}`)), 60_000);
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /hocuspocus listening on (\d+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      child.stderr!.on('data', (d: Buffer) => void (out += d.toString()));
      child.on('exit', (code) => reject(new Error(`hocuspocus exited with ${code}:\n${out}`)));
    });
    const pid = child.pid!;
    const names = Array.from({ length: DOCS }, (_, i) => `conv:hp-${i}`);
    const msg = (doc: string, write: (e: encoding.Encoder) => void) => {
      const e = encoding.createEncoder();
      encoding.writeVarString(e, doc);
      write(e);
      return encoding.toUint8Array(e);
    };
    let relayed = 0;
    /** A socket with `docs` open (authenticated, synced); counts the updates relayed to it. */
    const open = async (docs: string[], reader: boolean): Promise<WebSocket> => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}`);
      await new Promise<void>((r, j) => {
        ws.once('open', () => r());
        ws.once('error', j);
      });
      const synced = new Set<string>();
      await new Promise<void>((resolve) => {
        ws.on('message', (d: Buffer) => {
          const dec = decoding.createDecoder(new Uint8Array(d));
          const doc = decoding.readVarString(dec);
          if (decoding.readVarUint(dec) !== 0) return; // not a sync message
          const sub = decoding.readVarUint(dec);
          if (sub === syncProtocol.messageYjsSyncStep2 && !synced.has(doc)) {
            synced.add(doc);
            if (synced.size === docs.length) resolve();
          } else if (sub === syncProtocol.messageYjsUpdate && reader) relayed++;
        });
        for (const doc of docs) {
          ws.send(msg(doc, (e) => {
            encoding.writeVarUint(e, 2); // Auth
            encoding.writeVarUint(e, 0); // Token
            encoding.writeVarString(e, token);
          }));
          ws.send(msg(doc, (e) => {
            encoding.writeVarUint(e, 0); // Sync
            syncProtocol.writeSyncStep1(e, new Y.Doc());
          }));
        }
      });
      return ws;
    };
    const before = await settledRss(pid);
    const writers: WebSocket[] = [];
    const readers: WebSocket[] = [];
    for (let i = 0; i < names.length; i += 100) writers.push(await open(names.slice(i, i + 100), false));
    const withDocs = await settledRss(pid);
    for (let i = 0; i < names.length; i += 100) readers.push(await open(names.slice(i, i + 100), true));
    const frames = draftUpdates(names.length).map((u) => ({
      ws: writers[Math.floor(u.doc / 100)]!,
      frame: msg(names[u.doc]!, (e) => {
        encoding.writeVarUint(e, 0);
        syncProtocol.writeUpdate(e, u.update);
      }),
    }));
    await sleep(300);
    relayed = 0;
    const c0 = cpuMs(pid);
    for (const [k, f] of frames.entries()) {
      f.ws.send(f.frame);
      if (k % 50 === 49) await sleep(1);
    }
    const deadline = Date.now() + 120_000;
    while (relayed < CHANGES && Date.now() < deadline) await sleep(5);
    await sleep(3000); // its debounced stores (2 s after a document's last change)
    const cpu = cpuMs(pid) - c0;
    for (const s of [...writers, ...readers]) s.terminate();
    return {
      perThousandDocsMiB: round(((withDocs - before) / 1024) * (1000 / names.length), 2),
      cpuMsPerChange: round(cpu / CHANGES, 3),
      relayed,
      frameBytes: Math.round(frames.reduce((n, f) => n + f.frame.length, 0) / frames.length),
    };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export async function serverBench(): Promise<Record<string, unknown>[]> {
  const base = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
  const dataDir = fs.mkdtempSync(path.join(base, 'goutong-serverbench-'));
  const { child, url } = await startServer(dataDir);
  const pid = child.pid!;
  const sockets: WebSocket[] = [];
  const out: Record<string, unknown>[] = [];
  try {
    const adminToken = await token(url, 'admin@demo.goutong');
    const auth = { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' };

    // ----- 1,000 devices ---------------------------------------------------------------------
    const idle = await settledRss(pid);
    const cpu0 = cpuMs(pid);
    const devTokens = await Promise.all(['admin@demo.goutong', 'li.wei@demo.goutong', 'zhang.san@demo.goutong', 'alice@demo.goutong'].map((e) => token(url, e)));
    await pool(Array.from({ length: DEVICES }, (_, i) => i), 16, async (i) => void sockets.push(await device(url, devTokens[i % devTokens.length]!)));
    const withDevices = await settledRss(pid);
    out.push({
      name: 'server-memory-devices',
      devices: DEVICES,
      rssIdleMiB: round(idle / 1024),
      rssMiB: round(withDevices / 1024),
      perThousandDevicesMiB: round(((withDevices - idle) / 1024) * (1000 / DEVICES), 2),
      connectCpuMsPerDevice: round((cpuMs(pid) - cpu0) / DEVICES, 2),
      unit: 'MiB per 1,000 devices',
    });
    for (const s of sockets.splice(0)) s.terminate();
    await sleep(500);

    // ----- 1,000 draft documents --------------------------------------------------------------
    const inbox = ((await (await fetch(`${url}/api/v1/inboxes`, { headers: auth })).json()) as { items: { id: string; name: string }[] }).items.find((i) => i.name === 'Demo API')!;
    const convIds: string[] = [];
    await pool(Array.from({ length: DOCS }, (_, i) => i), 8, async (i) => {
      const res = await fetch(`${url}/api/v1/inboxes/${inbox.id}/inbound`, { method: 'POST', headers: auth, body: JSON.stringify({ externalId: `doc-bench-${i}`, from: { identifier: `+86137${String(i).padStart(8, '0')}` }, text: `草稿基准 ${i}` }) });
      if (res.status !== 201) throw new Error(`inbound ${res.status}`);
      convIds.push(((await res.json()) as { conversationId: string }).conversationId);
    });
    const beforeDocs = await settledRss(pid);
    // 100 documents per socket (the server's limit per connection): writers, and as many readers.
    const names = convIds.map((id) => `conv:${id}`);
    const writers: WebSocket[] = [];
    const readers: WebSocket[] = [];
    let relayed = 0;
    const subscribe = async (ws: WebSocket, docs: string[]) => {
      let step1 = 0;
      await new Promise<void>((resolve) => {
        ws.on('message', (_d: Buffer, binary: boolean) => {
          if (binary && ++step1 === docs.length) resolve();
        });
        for (const d of docs) ws.send(JSON.stringify({ t: 'sub', doc: d }));
      });
    };
    for (let i = 0; i < names.length; i += 100) {
      const part = names.slice(i, i + 100);
      const w = await device(url, adminToken);
      await subscribe(w, part);
      writers.push(w);
    }
    const withDocs = await settledRss(pid);
    out.push({
      name: 'server-memory-docs',
      docs: names.length,
      rssMiB: round(withDocs / 1024),
      perThousandDocsMiB: round(((withDocs - beforeDocs) / 1024) * (1000 / names.length), 2),
      unit: 'MiB per 1,000 open documents',
    });
    for (let i = 0; i < names.length; i += 100) {
      const r = await device(url, devTokens[1]!, () => void relayed++);
      await subscribe(r, names.slice(i, i + 100));
      readers.push(r);
    }

    // ----- CPU per draft change ---------------------------------------------------------------
    const frames = draftUpdates(names.length).map((u) => ({ ws: writers[Math.floor(u.doc / 100)]!, frame: updateFrame(names[u.doc]!, u.update) }));
    await sleep(300);
    relayed = 0;
    const c0 = cpuMs(pid);
    const t0 = performance.now();
    for (const [k, f] of frames.entries()) {
      f.ws.send(f.frame);
      if (k % 50 === 49) await sleep(1); // devices type; they do not flood
    }
    const deadline = Date.now() + 120_000;
    while (relayed < CHANGES && Date.now() < deadline) await sleep(5);
    const wall = performance.now() - t0;
    await sleep(500); // the last group commit of the stored updates
    const serverCpu = cpuMs(pid) - c0;
    const frameBytes = Math.round(frames.reduce((n, f) => n + f.frame.length, 0) / frames.length);
    const bare = await bareRelayCpuPerMessage(CHANGES, frameBytes);
    const hp = await hocuspocusDrafts();
    out.push({
      name: 'hocuspocus-draft-change',
      changes: CHANGES,
      docs: names.length,
      relayed: hp.relayed,
      frameBytes: hp.frameBytes,
      hocuspocusCpuMsPerChange: hp.cpuMsPerChange,
      goutongCpuMsPerChange: round(serverCpu / CHANGES, 3),
      goutongToHocuspocusCpu: round(serverCpu / CHANGES / hp.cpuMsPerChange, 2),
      hocuspocusPerThousandDocsMiB: hp.perThousandDocsMiB,
      goutongPerThousandDocsMiB: round(((withDocs - beforeDocs) / 1024) * (1000 / names.length), 2),
      unit: 'ms CPU per change; MiB per 1,000 open documents',
    });
    out.push({
      name: 'server-cpu-draft-change',
      changes: CHANGES,
      docs: names.length,
      relayed,
      frameBytes,
      serverCpuMsPerChange: round(serverCpu / CHANGES, 3),
      wallMs: Math.round(wall),
      bareRelayCpuMsPerMessage: round(bare, 3),
      ratioToBareRelay: round(serverCpu / CHANGES / bare, 1),
      anchors: 'Hocuspocus: see hocuspocus-draft-change; y-websocket not measured',
      unit: 'ms CPU per change',
    });
    for (const s of [...writers, ...readers]) s.terminate();
  } finally {
    for (const s of sockets) s.terminate();
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const r of await serverBench()) console.log(JSON.stringify(r));
  process.exit(0);
}

// Simulated devices of bench/propagation.bench.ts, in a worker thread: each has its own /sync socket;
// it has the marked fact when a frame carries it (a pushed fact) or, after a poke, when its pull
// returns it. Messages to the parent: {t:'ready'}, {t:'seen', at}, {t:'error', message}.
import { parentPort, workerData } from 'node:worker_threads';
import { WebSocket } from 'ws';

const at = () => performance.timeOrigin + performance.now();
const input = workerData;
let marker = null;
const send = (m) => parentPort.postMessage(m);

const devices = await Promise.all(Array.from({ length: input.devices }, async (_, i) => {
  const token = input.tokens[i % input.tokens.length];
  const ws = new WebSocket(input.wsUrl);
  const dev = { ws, checkpoint: 0, seenFor: null, pulling: false, again: false };
  const seen = () => {
    if (marker !== null && dev.seenFor !== marker) {
      dev.seenFor = marker;
      send({ t: 'seen', at: at() });
    }
  };
  const pull = async () => {
    if (dev.pulling) return void (dev.again = true);
    dev.pulling = true;
    try {
      do {
        dev.again = false;
        const res = await fetch(`${input.httpUrl}/api/v1/sync/pull`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ checkpoint: dev.checkpoint, limit: 500 }) });
        const text = await res.text();
        if (marker !== null && text.includes(marker)) seen();
        const body = JSON.parse(text);
        if (typeof body.checkpoint === 'number') dev.checkpoint = body.checkpoint;
        if (body.hasMore) dev.again = true;
      } while (dev.again);
    } finally {
      dev.pulling = false;
    }
  };
  await new Promise((resolve, reject) => {
    ws.once('error', reject);
    ws.on('open', () => {
      // Protocol 1.1 devices ask for pushed facts; BENCH_PROP_POKES=1 makes them 1.0 devices (poke, then pull).
      if (input.mode === 'goutong') ws.send(JSON.stringify({ t: 'auth', token, v: 1, ...(input.pokes ? {} : { push: true }) }));
      else resolve();
    });
    ws.on('message', (d, binary) => {
      if (binary) return;
      const text = String(d);
      if (marker !== null && text.includes(marker)) seen(); // the bare relay, or a pushed fact
      if (input.mode === 'bare') return;
      const m = JSON.parse(text);
      if (m.t === 'ready') {
        dev.checkpoint = m.seq ?? 0;
        resolve();
      } else if (m.t === 'poke' && (m.seq ?? 0) > dev.checkpoint) {
        pull().then(() => ws.send(JSON.stringify({ t: 'ack', seq: dev.checkpoint }))).catch((e) => send({ t: 'error', message: String(e) }));
      } else if (m.t === 'facts') {
        // A gap (facts from past our checkpoint): pull. Else the frame is applied: acknowledge it.
        if (m.from > dev.checkpoint) pull().catch((e) => send({ t: 'error', message: String(e) }));
        else {
          dev.checkpoint = Math.max(dev.checkpoint, m.to);
          ws.send(JSON.stringify({ t: 'ack', seq: dev.checkpoint }));
        }
      }
    });
  });
  return dev;
}));

parentPort.on('message', (m) => {
  if (m.t === 'expect') marker = m.marker;
  else {
    for (const d of devices) d.ws.terminate();
    process.exit(0);
  }
});
send({ t: 'ready' });

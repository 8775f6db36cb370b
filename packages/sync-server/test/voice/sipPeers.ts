// Kamailio (shared/peers/kamailio) on free loopback ports and SIPp as the caller, for the IVR tests.
// Each is stopped by its PID (process group), never by name.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, PeerProcess, SHARED_PEERS, waitForPort } from '../peers/process.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const BIN = { kamailio: '/usr/sbin/kamailio', sipp: '/usr/bin/sipp', espeak: '/usr/bin/espeak-ng', sox: '/usr/bin/sox', pocketsphinx: '/usr/bin/pocketsphinx_continuous' };

/** Why the voice peers cannot run here (the test fails with it rather than skipping), or null. */
export function missingVoicePeers(): string | null {
  if (!fs.existsSync(path.join(SHARED_PEERS, 'kamailio/kamailio.cfg'))) return `shared peer configs not found at ${SHARED_PEERS}`;
  const missing = Object.entries(BIN).filter(([, p]) => !fs.existsSync(p)).map(([n]) => n);
  return missing.length ? `missing ${missing.join(', ')}: apt-get install -y kamailio sip-tester espeak-ng sox pocketsphinx pocketsphinx-en-us` : null;
}

export interface Kamailio {
  sipPort: number;
  stop(): Promise<void>;
  log(): string;
}

/**
 * Kamailio on free loopback ports; with `rtpengine` (its ng control port) it bridges WebRTC
 * softphones (DTLS-SRTP, ICE) and plain RTP (`-A WITH_RTPENGINE`, shared/peers/kamailio).
 */
export async function startKamailio(o: { rtpengineNgPort?: number } = {}): Promise<Kamailio & { wsUrl: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'goutong-kam-'));
  fs.mkdirSync(path.join(dir, 'kamailio'));
  const [wsPort, sipPort] = [await freePort(), await freePort('tcp+udp')];
  const cfg = fs
    .readFileSync(path.join(SHARED_PEERS, 'kamailio/kamailio.cfg'), 'utf8')
    .replaceAll('@PEER_DIR@', dir)
    .replaceAll('18088', String(wsPort))
    .replaceAll('15060', String(sipPort))
    .replaceAll('udp:127.0.0.1:22222', `udp:127.0.0.1:${o.rtpengineNgPort ?? 22222}`);
  const file = path.join(dir, 'kamailio/kamailio.cfg');
  fs.writeFileSync(file, cfg);
  const defines = o.rtpengineNgPort ? ['-A', 'WITH_RTPENGINE'] : [];
  const proc = new PeerProcess('kamailio', BIN.kamailio, ['-f', file, '-DD', '-E', '-m', '64', '-M', '8', '-P', path.join(dir, 'kamailio/kamailio.pid'), '-Y', dir, ...defines]);
  try {
    await waitForPort(sipPort, 'kamailio', 20_000, () => proc.dead());
  } catch (e) {
    await proc.stop();
    throw e;
  }
  return {
    sipPort,
    wsUrl: `ws://127.0.0.1:${wsPort}`,
    log: () => proc.output,
    async stop() {
      await proc.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Starts SIPp with one of test/voice/sipp/*.xml as one call to `service`@lab.test through Kamailio; `done` resolves with its exit code and output. */
export async function startSipp(sipPort: number, scenario: string, service: string, keys: Record<string, string>, timeoutMs = 90_000): Promise<{ done: Promise<{ code: number; output: string }>; stop(): Promise<void> }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'goutong-sipp-'));
  const port = await freePort('tcp+udp');
  const args = [
    `127.0.0.1:${sipPort}`, '-sf', path.isAbsolute(scenario) ? scenario : path.join(here, 'sipp', scenario), '-s', service, '-i', '127.0.0.1', '-p', String(port), '-m', '1', '-l', '1',
    '-nostdin', '-trace_err', '-timeout', `${Math.ceil(timeoutMs / 1000)}s`, '-timeout_error',
    ...Object.entries(keys).flatMap(([k, v]) => ['-key', k, v]),
  ];
  const proc = new PeerProcess('sipp', BIN.sipp, args, { cwd: dir });
  const done = (async () => {
    const code = await proc.done(timeoutMs + 10_000);
    const errors = (fs.existsSync(dir) ? fs.readdirSync(dir) : []).filter((f) => f.endsWith('_errors.log')).map((f) => fs.readFileSync(path.join(dir, f), 'utf8')).join('\n');
    return { code, output: `${proc.output}\n${errors}` };
  })();
  done.catch(() => undefined);
  return {
    done,
    async stop() {
      await proc.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** rtpengine (userspace, shared/peers/rtpengine) on a free ng port and a free range of media ports, for Kamailio's WITH_RTPENGINE. */
export async function startRtpengine(): Promise<{ ngPort: number; stop(): Promise<void>; log(): string }> {
  if (!fs.existsSync('/usr/bin/rtpengine')) throw new Error('missing rtpengine: apt-get install -y rtpengine-daemon');
  const ngPort = await freePort('tcp+udp');
  // a media port range of its own (other tests may run their own rtpengine)
  const base = 31000 + (process.pid % 200) * 100;
  const proc = new PeerProcess('rtpengine', '/usr/bin/rtpengine', ['--foreground', '--log-stderr', '--table=-1', '--interface=127.0.0.1', `--listen-ng=127.0.0.1:${ngPort}`, `--port-min=${base}`, `--port-max=${base + 99}`, '--log-level=5', '--delete-delay=0']);
  for (let i = 0; i < 100 && !/listening|Startup complete/i.test(proc.output); i++) {
    if (proc.dead()) throw new Error(`rtpengine did not start:\n${proc.output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { ngPort, log: () => proc.output, stop: () => proc.stop() };
}

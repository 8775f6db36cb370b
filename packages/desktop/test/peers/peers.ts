// Real SIP peers for the phone tests: Debian's Kamailio (with the WebSocket module) as the
// registrar/proxy the softphones register with, and SIPp as a plain SIP caller. Both run on
// loopback from the configurations in shared/peers, in temp dirs (@PEER_DIR@ replaced), on free
// ports (the fixed ones of the shared config replaced), and are stopped by their PID (process
// group), never by name.
import { freePort, PeerProcess, SHARED_PEERS, waitForPort } from '../../../sync-server/test/peers/process.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const SCENARIOS = path.join(here, 'sipp');

export { freePort, PeerProcess, SHARED_PEERS, waitForPort };

export const BIN = { kamailio: '/usr/sbin/kamailio', sipp: '/usr/bin/sipp' };
const KAMAILIO_MODULES = '/usr/lib/x86_64-linux-gnu/kamailio/modules';

/** Why the SIP peers cannot run here (the test fails with it rather than skipping silently), or null. */
export function missingSipPeers(): string | null {
  if (!fs.existsSync(path.join(SHARED_PEERS, 'kamailio/kamailio.cfg'))) return `shared peer configs not found at ${SHARED_PEERS}`;
  const missing = [
    !fs.existsSync(BIN.kamailio) && 'kamailio',
    !fs.existsSync(path.join(KAMAILIO_MODULES, 'websocket.so')) && 'kamailio-websocket-modules',
    !fs.existsSync(BIN.sipp) && 'sip-tester',
  ].filter(Boolean);
  return missing.length ? `missing ${missing.join(', ')}: apt-get install -y kamailio kamailio-websocket-modules sip-tester` : null;
}

export interface Kamailio {
  /** ws://127.0.0.1:PORT, the softphones' SIP over WebSocket URL. */
  wsUrl: string;
  wsPort: number;
  /** UDP/TCP SIP port (SIPp sends here). */
  sipPort: number;
  domain: string;
  dir: string;
  process: PeerProcess;
  stop(): Promise<void>;
}

/**
 * Starts shared/peers/kamailio/kamailio.cfg on free loopback ports and waits for its WebSocket port.
 * `transform` edits the configuration first (e.g. the call-intent route of
 * sync-server/test/peers/kamailioCallIntents.ts).
 */
export async function startKamailio(o: { transform?: (cfg: string) => string } = {}): Promise<Kamailio> {
  const missing = missingSipPeers();
  if (missing) throw new Error(missing);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'goutong-kamailio-'));
  fs.mkdirSync(path.join(dir, 'kamailio'));
  const [wsPort, sipPort] = [await freePort(), await freePort('tcp+udp')];
  const cfg = fs
    .readFileSync(path.join(SHARED_PEERS, 'kamailio/kamailio.cfg'), 'utf8')
    .replaceAll('@PEER_DIR@', dir)
    .replaceAll('18088', String(wsPort))
    .replaceAll('15060', String(sipPort));
  const cfgFile = path.join(dir, 'kamailio/kamailio.cfg');
  fs.writeFileSync(cfgFile, o.transform ? o.transform(cfg) : cfg);
  const proc = new PeerProcess('kamailio', BIN.kamailio, ['-f', cfgFile, '-DD', '-E', '-m', '64', '-M', '8', '-P', path.join(dir, 'kamailio/kamailio.pid'), '-Y', dir]);
  try {
    await waitForPort(wsPort, 'kamailio', 20_000, () => proc.dead());
  } catch (e) {
    await proc.stop();
    throw e;
  }
  return {
    wsUrl: `ws://127.0.0.1:${wsPort}`,
    wsPort,
    sipPort,
    domain: 'lab.test',
    dir,
    process: proc,
    async stop() {
      await proc.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Runs a SIPp scenario (a file of test/peers/sipp or shared/peers/sipp) as one call towards
 * `service`@lab.test through Kamailio's UDP port. Resolves when SIPp exits; the exit code is 0
 * when the scenario completed.
 */
export async function runSipp(
  k: Pick<Kamailio, 'sipPort'>,
  o: { scenario: string; service: string; timeoutMs?: number; vars?: Record<string, string>; /** the scenario's <pause/> (ms) */ pauseMs?: number },
): Promise<{ code: number; output: string }> {
  const file = fs.existsSync(path.join(SCENARIOS, o.scenario)) ? path.join(SCENARIOS, o.scenario) : path.join(SHARED_PEERS, 'sipp', o.scenario);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'goutong-sipp-'));
  const port = await freePort('tcp+udp');
  const args = [
    `127.0.0.1:${k.sipPort}`, '-sf', file, '-s', o.service, '-i', '127.0.0.1', '-p', String(port), '-m', '1', '-l', '1',
    '-nostdin', '-trace_err', ...(o.pauseMs !== undefined ? ['-d', String(o.pauseMs)] : []), '-timeout', `${Math.ceil((o.timeoutMs ?? 30_000) / 1000)}s`, '-timeout_error',
    ...Object.entries(o.vars ?? {}).flatMap(([key, v]) => ['-key', key, v]),
  ];
  const proc = new PeerProcess('sipp', BIN.sipp, args, { cwd: dir });
  try {
    const code = await proc.done((o.timeoutMs ?? 30_000) + 10_000);
    const errors = fs.readdirSync(dir).filter((f) => f.endsWith('_errors.log')).map((f) => fs.readFileSync(path.join(dir, f), 'utf8')).join('\n');
    return { code, output: `${proc.output}\n${errors}` };
  } finally {
    await proc.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

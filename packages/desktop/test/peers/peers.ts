// Real SIP peers for the phone tests: Debian's Kamailio (with the WebSocket module) as the
// registrar/proxy the softphones register with, and SIPp as a plain SIP caller. Both run on
// loopback from the configurations in shared/peers, in temp dirs (@PEER_DIR@ replaced), on free
// ports (the fixed ones of the shared config replaced), and are stopped by their PID (process
// group), never by name.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const SHARED_PEERS = process.env.GOUTONG_PEERS_DIR ?? path.resolve(here, '../../../../../shared/peers');
const SCENARIOS = path.join(here, 'sipp');

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

export async function freePort(kind: 'tcp' | 'tcp+udp' = 'tcp'): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = net.createServer();
      s.unref();
      s.on('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    if (kind === 'tcp' || (await udpFree(port))) return port;
  }
}

async function udpFree(port: number): Promise<boolean> {
  const dgram = await import('node:dgram');
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    s.once('error', () => resolve(false));
    s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

export async function waitForPort(port: number, what: string, timeoutMs = 20_000, dead?: () => string | null): Promise<void> {
  const start = Date.now();
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const sock = net.connect({ port, host: '127.0.0.1' });
      sock.once('connect', () => {
        sock.destroy();
        resolve(true);
      });
      sock.once('error', () => resolve(false));
    });
    if (ok) return;
    const why = dead?.();
    if (why) throw new Error(`${what} exited before listening on ${port}: ${why}`);
    if (Date.now() - start > timeoutMs) throw new Error(`${what} did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A child process in its own process group, with its output kept. */
export class PeerProcess {
  output = '';
  exited: number | null = null;
  readonly child: ChildProcess;
  private readonly exit: Promise<void>;

  constructor(readonly name: string, cmd: string, args: string[], opts: { cwd?: string } = {}) {
    this.child = spawn(cmd, args, { cwd: opts.cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (d: Buffer) => (this.output += d.toString('latin1')));
    this.child.stderr!.on('data', (d: Buffer) => (this.output += d.toString('latin1')));
    this.exit = new Promise((r) =>
      this.child.once('exit', (code, sig) => {
        this.exited = code ?? (sig ? 128 : 0);
        r();
      }),
    );
  }

  get pid(): number {
    return this.child.pid!;
  }

  dead(): string | null {
    return this.exited === null ? null : `exit ${this.exited}\n${this.output.slice(-3000)}`;
  }

  /** Resolves with the exit code (or rejects after `timeoutMs`). */
  async done(timeoutMs: number): Promise<number> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([this.exit, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${this.name} still running after ${timeoutMs} ms:\n${this.output.slice(-3000)}`)), timeoutMs)))]);
    clearTimeout(timer);
    return this.exited!;
  }

  /** SIGTERM to the process group (by PID), SIGKILL after `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    const kill = (sig: NodeJS.Signals) => {
      try {
        process.kill(-this.pid, sig);
      } catch {
        try {
          process.kill(this.pid, sig);
        } catch {
          /* gone */
        }
      }
    };
    if (this.exited === null) {
      kill('SIGTERM');
      const t = setTimeout(() => kill('SIGKILL'), graceMs);
      await this.exit;
      clearTimeout(t);
    }
    kill('SIGKILL'); // stragglers of the group (Kamailio's children)
  }
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

/** Starts shared/peers/kamailio/kamailio.cfg on free loopback ports and waits for its WebSocket port. */
export async function startKamailio(): Promise<Kamailio> {
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
  fs.writeFileSync(cfgFile, cfg);
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

import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Process plumbing shared by the tests' real protocol peers (mail and SMS here, SIP in
 * packages/desktop/test/peers): free loopback ports, waiting for a port, and child processes in
 * their own process group, stopped by PID (never by name).
 */

const here = path.dirname(fileURLToPath(import.meta.url));
export const SHARED_PEERS = process.env.GOUTONG_PEERS_DIR ?? path.resolve(here, '../../../../../shared/peers');

/** A free port on 127.0.0.1 (`tcp+udp`: free for both, as SIP needs). */
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

  constructor(readonly name: string, cmd: string, args: string[], opts: { cwd?: string; stdin?: boolean } = {}) {
    this.child = spawn(cmd, args, { cwd: opts.cwd, detached: true, stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (b: Buffer) => (this.output += b.toString('latin1')));
    this.child.stderr!.on('data', (b: Buffer) => (this.output += b.toString('latin1')));
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
    await Promise.race([
      this.exit,
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${this.name} still running after ${timeoutMs} ms:\n${this.output.slice(-3000)}`)), timeoutMs))),
    ]);
    clearTimeout(timer);
    return this.exited!;
  }

  /** SIGTERM to the process group (by PID), SIGKILL after `graceMs`, then SIGKILL to stragglers of the group. */
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
    kill('SIGKILL');
  }
}

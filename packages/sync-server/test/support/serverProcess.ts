import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const SERVER_MAIN = path.resolve(here, '../../dist/main.js');

export interface ServerProcessOptions {
  dataDir?: string;
  databaseUrl?: string;
  port?: number;
  env?: Record<string, string>;
}

/**
 * The real server as a child process (built dist), for end-to-end tests: start, SIGKILL, restart
 * on the same port and data. Requires `tsc -b` first (the root `pnpm test` builds).
 */
export class ServerProcess {
  private child: ChildProcess | null = null;
  port = 0;
  readonly dataDir: string;
  output = '';

  constructor(private readonly opts: ServerProcessOptions = {}) {
    this.dataDir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'goutong-e2e-'));
    this.port = opts.port ?? 0;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    if (!fs.existsSync(SERVER_MAIN)) throw new Error(`${SERVER_MAIN} is missing: run \`pnpm run build\` first`);
    const env: Record<string, string> = {
      ...(process.env as Record<string, string>),
      PORT: String(this.port),
      HOST: '127.0.0.1',
      GOUTONG_DATA_DIR: this.dataDir,
      GOUTONG_LOG: process.env.GOUTONG_TEST_LOG ?? 'warn',
      GOUTONG_RELAY_INTERVAL_MS: '100',
      // Local fakes and peers listen on loopback: the egress guard refuses it unless allowed.
      GOUTONG_EGRESS_ALLOW: '127.0.0.0/8,::1',
      ...(this.opts.databaseUrl ? { DATABASE_URL: this.opts.databaseUrl } : {}),
      ...(this.opts.env ?? {}),
    };
    if (!this.opts.databaseUrl) delete env.DATABASE_URL;
    const child = spawn(process.execPath, [SERVER_MAIN], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server did not start in time:\n${this.output}`)), 30_000);
      const onData = (d: Buffer) => {
        this.output += d.toString();
        const m = /running on http:\/\/127\.0\.0\.1:(\d+)\//.exec(this.output);
        if (m) {
          clearTimeout(timer);
          this.port = Number(m[1]);
          resolve();
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', (d: Buffer) => {
        this.output += d.toString();
      });
      child.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`server exited with ${code}:\n${this.output}`));
      });
    });
  }

  /**
   * Resolves when the process ends on its own (a fault hook SIGKILLed it), with its exit code or
   * signal. Rejects after `timeoutMs`.
   */
  async waitForExit(timeoutMs = 30_000): Promise<number | string | null> {
    const c = this.child;
    if (!c) return null;
    const result = c.exitCode !== null || c.signalCode !== null
      ? (c.exitCode ?? c.signalCode)
      : await new Promise<number | string | null>((resolve, reject) => {
          const t = setTimeout(() => reject(new Error(`server still running after ${timeoutMs} ms:\n${this.output.slice(-2000)}`)), timeoutMs);
          c.once('exit', (code, signal) => {
            clearTimeout(t);
            resolve(code ?? signal);
          });
        });
    this.child = null;
    return result;
  }

  /** Kills the process without any chance to clean up (a crash, a power cut of the process). */
  async kill(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGKILL');
    await exited;
    this.child = null;
  }

  async stop(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGTERM');
    const t = setTimeout(() => c.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
    this.child = null;
  }

  cleanup(): void {
    if (!this.opts.dataDir) fs.rmSync(this.dataDir, { recursive: true, force: true });
  }
}

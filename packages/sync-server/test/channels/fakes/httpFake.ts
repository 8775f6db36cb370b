import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A loopback HTTP server that can go away and come back on the same port (connection refused in
 * between), answer 5xx for a while, or hold requests without answering.
 */
export abstract class HttpFake {
  private server: http.Server | null = null;
  private sockets = new Set<Socket>();
  private held: http.ServerResponse[] = [];
  port = 0;
  /** Answer this many requests with 503 before behaving again. */
  failNext = 0;
  /** Hold (never answer) this many requests; they count as received. */
  holdNext = 0;
  /** Every request that reached the fake, in order. */
  readonly log: { method: string; url: string; at: number; outcome: 'handled' | 'failed' | 'held' }[] = [];

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  protected abstract handle(req: http.IncomingMessage, body: Buffer, res: http.ServerResponse): Promise<void> | void;

  async start(port = this.port): Promise<void> {
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const entry = { method: req.method ?? 'GET', url: req.url ?? '/', at: Date.now(), outcome: 'handled' as 'handled' | 'failed' | 'held' };
        this.log.push(entry);
        if (this.holdNext > 0) {
          this.holdNext--;
          entry.outcome = 'held';
          this.held.push(res);
          return;
        }
        if (this.failNext > 0) {
          this.failNext--;
          entry.outcome = 'failed';
          res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 20500, message: 'Service Unavailable', status: 503 }));
          return;
        }
        Promise.resolve(this.handle(req, Buffer.concat(chunks), res)).catch((e: unknown) => {
          if (!res.headersSent) res.writeHead(500).end(String(e));
        });
      });
    });
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  /** Stops listening and drops every connection: the provider is down (connection refused). */
  async down(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = null;
    for (const r of this.held) r.destroy();
    this.held = [];
    for (const sock of this.sockets) sock.destroy();
    await new Promise<void>((r) => s.close(() => r()));
  }

  /** Comes back on the same port. */
  async up(): Promise<void> {
    await this.start(this.port);
  }

  async stop(): Promise<void> {
    await this.down();
  }
}

export async function readJson(res: Response): Promise<any> {
  const t = await res.text();
  return t ? JSON.parse(t) : null;
}

import { webcrypto } from 'node:crypto';
import WebSocket from 'ws';
import {
  CommandBatchResponse,
  GoutongClient,
  HttpTransport,
  login,
  PullResponse,
  silentLogger,
  Uuidv7Generator,
  type FetchLike,
  type WebSocketLike,
} from '@goutong/core';
import { MemoryStore } from '@goutong/core/testing';
import { realClock, Switch } from './agentClient.js';

/** One answered command batch as the device's network saw it (lost answers included). */
export interface BatchRecord {
  ids: string[];
  status: number;
  results: CommandBatchResponse['results'] | null;
  /** The answer arrived at the server's end but the device never got it. */
  lost: boolean;
}

/** One pull: what the device asked for and what the server answered. */
export interface PullRecord {
  from: number;
  scope: string | undefined;
  answer: PullResponse | null;
}

/**
 * A real GoutongClient (HttpTransport over real HTTP and WebSocket, core's MemoryStore) with the
 * faults a device meets: the network switch, an answer lost after the server committed, a socket
 * dropped under it. It records every command batch and pull it made.
 */
export class Device {
  readonly net = new Switch();
  readonly batches: BatchRecord[] = [];
  readonly pulls: PullRecord[] = [];
  readonly store = new MemoryStore();
  private readonly sockets = new Set<WebSocket>();
  private loseAnswers = 0;
  client!: GoutongClient;
  transport!: HttpTransport;
  agent!: { id: string; tenantId: string; name: string };

  constructor(readonly baseUrl: string, readonly email: string, readonly name: string, private readonly password = 'goutong-demo') {}

  /** The next command batch is applied by the server, but its answer is thrown away (a lost response). */
  loseNextCommandAnswer(): void {
    this.loseAnswers++;
  }

  /** Back to a good network: online, and no answer is lost any more. */
  heal(): void {
    this.loseAnswers = 0;
    this.net.set(true);
  }

  /** Drops the sync socket the way a broken connection does (no close handshake). */
  dropSocket(): boolean {
    let dropped = false;
    for (const s of this.sockets) {
      if (s.readyState === WebSocket.OPEN || s.readyState === WebSocket.CONNECTING) {
        s.terminate();
        dropped = true;
      }
    }
    return dropped;
  }

  /** The device's current access token (refreshed by its transport). */
  get accessToken(): string {
    return this.transport.currentSession.accessToken;
  }

  async open(): Promise<this> {
    const f: FetchLike = async (url, init) => {
      if (!this.net.isOnline()) throw new TypeError('fetch failed: offline');
      const res = await fetch(url, init);
      const text = await res.text();
      const path = new URL(url).pathname;
      if (path === '/api/v1/commands' && init.method === 'POST') {
        const lost = res.ok && this.loseAnswers > 0;
        if (lost) this.loseAnswers--;
        const parsed = res.ok ? CommandBatchResponse.safeParse(JSON.parse(text)) : null;
        const ids = ((JSON.parse(init.body ?? '{}') as { commands?: { id: string }[] }).commands ?? []).map((c) => c.id);
        this.batches.push({ ids, status: res.status, results: parsed?.success ? parsed.data.results : null, lost });
        if (lost) throw new TypeError('fetch failed: the answer was lost');
      } else if (path === '/api/v1/sync/pull' && res.ok) {
        const req = JSON.parse(init.body ?? '{}') as { checkpoint: number; scope?: string };
        const parsed = PullResponse.safeParse(JSON.parse(text));
        this.pulls.push({ from: req.checkpoint, scope: req.scope, answer: parsed.success ? parsed.data : null });
      }
      return { status: res.status, ok: res.ok, text: async () => text };
    };
    const session = await login({ baseUrl: this.baseUrl, fetch: f, now: Date.now }, this.email, this.password);
    this.transport = new HttpTransport({
      baseUrl: this.baseUrl,
      fetch: f,
      webSocket: (url) => {
        const ws = new WebSocket(url);
        this.sockets.add(ws);
        ws.on('close', () => this.sockets.delete(ws));
        return ws as unknown as WebSocketLike;
      },
      session,
      now: Date.now,
    });
    const me = (await (await fetch(`${this.baseUrl}/api/v1/me`, { headers: { authorization: `Bearer ${session.accessToken}` } })).json()) as {
      agent: { id: string; tenantId: string; name: string };
    };
    this.agent = me.agent;
    this.client = new GoutongClient({
      store: this.store,
      transport: this.transport,
      clock: realClock,
      ids: new Uuidv7Generator(Date.now, (n) => webcrypto.getRandomValues(new Uint8Array(n))),
      random: Math.random,
      logger: silentLogger,
      network: this.net,
      agent: me.agent,
      device: this.name,
    });
    await this.client.start();
    return this;
  }

  async close(): Promise<void> {
    await this.client?.stop();
    for (const s of this.sockets) s.terminate();
  }
}

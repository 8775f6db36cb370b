import type { Command } from '../commands/commands.js';
import type { NetworkMonitor } from '../ports/platform.js';
import { TransportError, type SocketHandlers, type SocketOptions, type SyncSocket, type Transport } from '../ports/transport.js';
import { CommandBatchResponse, MessagePage, PullResponse, type PullRequest } from '../protocol/wire.js';
import type { FakeClock } from './fakeClock.js';
import { seededRandom } from './fixtures.js';
import { ReferenceServerError, type ReferenceServer, type ServerConnection } from './referenceServer.js';

/** mulberry32: a tiny seeded PRNG with uniform output in [0, 1) (the fixtures' one generator). */
export const mulberry32 = seededRandom;

/** Deterministic random bytes (for Uuidv7Generator) from a seeded PRNG. */
export function seededBytes(random: () => number): (n: number) => Uint8Array {
  return (n) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = Math.floor(random() * 256);
    return out;
  };
}

/** A seed derived from a base seed and a label (FNV-1a), so each client gets its own stream. */
export function deriveSeed(seed: number, label: string): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < label.length; i++) {
    h ^= label.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** A NetworkMonitor the test switches (navigator.onLine in a test tube). */
export class FakeNetworkMonitor implements NetworkMonitor {
  private listeners = new Set<(online: boolean) => void>();
  constructor(private online = true) {}
  isOnline(): boolean {
    return this.online;
  }
  subscribe(listener: (online: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  set(online: boolean): void {
    if (online === this.online) return;
    this.online = online;
    for (const l of [...this.listeners]) l(online);
  }
}

export interface NetworkFaults {
  /** Probability that a request is lost before it reaches the server. */
  dropRequest: number;
  /** Probability that the server handled a request but its response is lost. */
  dropResponse: number;
  /** Probability that the server answers 503 without handling the request. */
  serverError: number;
  /** One-way delay bounds in ms (uniform). */
  minDelay: number;
  maxDelay: number;
  /**
   * [push] Probability that a pushed `facts` frame is lost. A WebSocket cannot lose one frame and
   * go on (TCP), so the socket is cut right after it: the stream ends mid-way.
   */
  dropPush: number;
  /** [push] Probability that a pushed frame arrives twice (a retransmission, a second server process). */
  duplicatePush: number;
  /** [push] Probability that a pushed frame overtakes or falls behind the frames around it. */
  reorderPush: number;
}

export const NO_FAULTS: NetworkFaults = { dropRequest: 0, dropResponse: 0, serverError: 0, minDelay: 1, maxDelay: 20, dropPush: 0, duplicatePush: 0, reorderPush: 0 };

export interface TestNetworkOptions {
  server: ReferenceServer;
  clock: FakeClock;
  seed: number;
  faults?: Partial<NetworkFaults>;
  /** Validate every response with the wire schemas (default true). */
  validate?: boolean;
}

export interface NetworkStats {
  requests: number;
  droppedRequests: number;
  droppedResponses: number;
  serverErrors: number;
  socketsOpened: number;
  socketsCut: number;
  framesUp: number;
  framesDown: number;
  /** [push] Pushed frames delivered, dropped (with their socket), duplicated, reordered. */
  pushes: number;
  pushesDropped: number;
  pushesDuplicated: number;
  pushesReordered: number;
}

interface ClientState {
  id: string;
  partitioned: boolean;
  sessionExpired: boolean;
  monitor: FakeNetworkMonitor;
  endpoints: Set<Endpoint>;
  /** [push] Multiplies the server → client delay of its sockets (a slow link). */
  slowFactor: number;
}

interface FakeSocketState {
  handlers: SocketHandlers;
  closed: boolean;
  conn: ServerConnection | null;
  /** Delivery times keep each direction in order, like TCP. */
  upAt: number;
  downAt: number;
  endpoint: Endpoint;
  /** [push] Bytes sent by the server and not delivered yet (the server's `bufferedAmount`). */
  buffered: number;
}

/** One client process's view of the network (a new one after a simulated crash/restart). */
class Endpoint implements Transport {
  frozen = false;
  readonly sockets = new Set<FakeSocketState>();
  constructor(
    readonly net: TestNetwork,
    readonly state: ClientState,
    readonly agentId: string,
  ) {}
  pull(request: PullRequest): Promise<PullResponse> {
    return this.net.request(this, 'pull', () => this.net.server.pull(this.agentId, request), this.net.validate ? PullResponse : null);
  }
  push(commands: readonly Command[]): Promise<CommandBatchResponse> {
    return this.net.request(this, 'push', () => this.net.server.push(this.agentId, commands), this.net.validate ? CommandBatchResponse : null);
  }
  messages(conversationId: string, cursor: string | null, limit: number): Promise<MessagePage> {
    return this.net.request(this, 'messages', () => this.net.server.messages(this.agentId, conversationId, cursor, limit), this.net.validate ? MessagePage : null);
  }
  openSocket(handlers: SocketHandlers, options?: SocketOptions): SyncSocket {
    return this.net.openSocket(this, handlers, options);
  }
}

/** JSON round trip: what crosses the wire never shares objects with either side. */
function wire<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}

/**
 * A seeded, lossy network between clients and a ReferenceServer, driven by a FakeClock:
 *  - every request and socket frame is delivered after a random delay (so concurrent requests
 *    reorder; socket frames keep their order, as on one TCP connection);
 *  - a request may be lost on the way in (the server never sees it), or on the way back (the server
 *    handled it, the client sees a network error: the outbox must retry and the server dedupe),
 *    or answered with 503;
 *  - a client may be partitioned (requests fail, its sockets drop with 1006, new ones fail) and
 *    healed; `goOffline` also tells its NetworkMonitor;
 *  - `crash` freezes a client process: its outstanding requests and sockets never answer.
 */
export class TestNetwork {
  readonly server: ReferenceServer;
  readonly clock: FakeClock;
  readonly random: () => number;
  readonly validate: boolean;
  readonly stats: NetworkStats = {
    requests: 0,
    droppedRequests: 0,
    droppedResponses: 0,
    serverErrors: 0,
    socketsOpened: 0,
    socketsCut: 0,
    framesUp: 0,
    framesDown: 0,
    pushes: 0,
    pushesDropped: 0,
    pushesDuplicated: 0,
    pushesReordered: 0,
  };
  private faults: NetworkFaults;
  private clients = new Map<string, ClientState>();
  private inflight = 0;

  constructor(o: TestNetworkOptions) {
    this.server = o.server;
    this.clock = o.clock;
    this.random = mulberry32(o.seed);
    this.validate = o.validate ?? true;
    this.faults = { ...NO_FAULTS, ...o.faults };
  }

  /** A Transport for one client process of `clientId`, signed in as `agentId`. */
  transport(clientId: string, agentId: string): Transport {
    const state = this.client(clientId);
    const ep = new Endpoint(this, state, agentId);
    state.endpoints.add(ep);
    return ep;
  }

  /** The NetworkMonitor of a client (what its host reports about connectivity). */
  monitor(clientId: string): FakeNetworkMonitor {
    return this.client(clientId).monitor;
  }

  setFaults(faults: Partial<NetworkFaults>): void {
    this.faults = { ...this.faults, ...faults };
  }

  getFaults(): NetworkFaults {
    return { ...this.faults };
  }

  /** Cuts a client off silently (its NetworkMonitor still says online). */
  partition(clientId: string): void {
    const s = this.client(clientId);
    if (s.partitioned) return;
    s.partitioned = true;
    for (const ep of s.endpoints) for (const sock of [...ep.sockets]) this.cut(sock, 1006, 'network unreachable');
  }

  heal(clientId: string): void {
    this.client(clientId).partitioned = false;
  }

  healAll(): void {
    for (const s of this.clients.values()) {
      s.partitioned = false;
      s.monitor.set(true);
    }
  }

  isPartitioned(clientId: string): boolean {
    return this.client(clientId).partitioned;
  }

  /** The device loses its network and knows it (the monitor reports offline). */
  goOffline(clientId: string): void {
    this.partition(clientId);
    this.client(clientId).monitor.set(false);
  }

  goOnline(clientId: string): void {
    this.heal(clientId);
    this.client(clientId).monitor.set(true);
  }

  /** The client's session is no longer accepted: requests answer 401, sockets close with 4401. */
  expireSession(clientId: string): void {
    const s = this.client(clientId);
    s.sessionExpired = true;
    for (const ep of s.endpoints) for (const sock of [...ep.sockets]) this.cut(sock, 4401, 'session expired');
  }

  renewSession(clientId: string): void {
    this.client(clientId).sessionExpired = false;
  }

  isSessionExpired(clientId: string): boolean {
    return this.client(clientId).sessionExpired;
  }

  /** Freezes every current process of a client: nothing it has in flight ever answers. */
  crash(clientId: string): void {
    const s = this.client(clientId);
    for (const ep of s.endpoints) {
      ep.frozen = true;
      for (const sock of ep.sockets) {
        sock.closed = true;
        sock.conn?.close();
        sock.conn = null;
      }
      ep.sockets.clear();
    }
    s.endpoints.clear();
  }

  /** [push] Slows the server → client direction of a client's sockets by `factor` (1 = normal). */
  setSlow(clientId: string, factor: number): void {
    this.client(clientId).slowFactor = Math.max(1, factor);
  }

  /** Requests and frames on their way (0 when the network is quiet). */
  get inFlight(): number {
    return this.inflight;
  }

  /** Number of open sockets of a client (connected to the server). */
  openSockets(clientId: string): number {
    let n = 0;
    for (const ep of this.client(clientId).endpoints) for (const s of ep.sockets) if (s.conn && !s.closed) n++;
    return n;
  }

  // ----- internals --------------------------------------------------------------------------

  private client(id: string): ClientState {
    let s = this.clients.get(id);
    if (!s) {
      s = { id, partitioned: false, sessionExpired: false, monitor: new FakeNetworkMonitor(true), endpoints: new Set(), slowFactor: 1 };
      this.clients.set(id, s);
    }
    return s;
  }

  private delay(): number {
    const { minDelay, maxDelay } = this.faults;
    return minDelay + Math.floor(this.random() * (Math.max(minDelay, maxDelay) - minDelay + 1));
  }

  private later(ms: number, fn: () => void): void {
    this.inflight++;
    this.clock.setTimeout(() => {
      this.inflight--;
      fn();
    }, ms);
  }

  /** @internal A request/response exchange with the server. */
  request<T>(ep: Endpoint, what: string, handle: () => T, schema: { parse(v: unknown): T } | null): Promise<T> {
    this.stats.requests++;
    return new Promise<T>((resolve, reject) => {
      this.later(this.delay(), () => {
        if (ep.frozen) return;
        if (ep.state.partitioned || this.random() < this.faults.dropRequest) {
          this.stats.droppedRequests++;
          reject(new TransportError('network', `${what}: cannot reach the server`));
          return;
        }
        let ok = true;
        let result: T | undefined;
        let error: TransportError | undefined;
        if (ep.state.sessionExpired) {
          ok = false;
          error = new TransportError('auth', 'session expired', 401, 'unauthorized');
        } else if (this.random() < this.faults.serverError) {
          this.stats.serverErrors++;
          ok = false;
          error = new TransportError('http', 'service unavailable', 503, 'unavailable');
        } else {
          try {
            result = wire(handle());
          } catch (e) {
            ok = false;
            if (e instanceof ReferenceServerError) error = new TransportError(e.status === 401 ? 'auth' : 'http', e.message, e.status, e.code);
            else error = new TransportError('http', `internal error: ${(e as Error).message}`, 500, 'internal');
          }
        }
        this.later(this.delay(), () => {
          if (ep.frozen) return;
          if (ep.state.partitioned || this.random() < this.faults.dropResponse) {
            this.stats.droppedResponses++;
            reject(new TransportError('network', `${what}: connection lost before the response`));
            return;
          }
          if (!ok) {
            reject(error);
            return;
          }
          if (schema) {
            try {
              result = schema.parse(result);
            } catch (e) {
              reject(new TransportError('protocol', `${what}: unexpected response: ${(e as Error).message.slice(0, 300)}`));
              return;
            }
          }
          resolve(result as T);
        });
      });
    });
  }

  /** @internal */
  openSocket(ep: Endpoint, handlers: SocketHandlers, options: SocketOptions = {}): SyncSocket {
    const sock: FakeSocketState = { handlers, closed: false, conn: null, upAt: 0, downAt: 0, endpoint: ep, buffered: 0 };
    if (!ep.frozen) ep.sockets.add(sock);
    this.stats.socketsOpened++;
    this.later(this.delay(), () => {
      if (ep.frozen || sock.closed) return;
      if (ep.state.partitioned) {
        this.cut(sock, 1006, 'network unreachable');
        return;
      }
      if (ep.state.sessionExpired) {
        this.cut(sock, 4401, 'session expired');
        return;
      }
      // The transport authenticates before onOpen (HttpTransport sends the auth frame itself).
      handlers.onOpen();
      if (sock.closed) return;
      try {
        sock.conn = this.server.connect(ep.agentId, {
          text: (data) => (data.startsWith('{"t":"facts"') ? this.pushDown(sock, data) : this.down(sock, () => sock.handlers.onText(data), data.length)),
          buffered: () => sock.buffered,
          binary: (data) => {
            const copy = data.slice();
            this.down(sock, () => sock.handlers.onBinary(copy));
          },
          close: (code, reason) => {
            sock.conn = null;
            this.cut(sock, code, reason);
          },
        }, options);
      } catch (e) {
        const status = e instanceof ReferenceServerError ? e.status : 500;
        this.cut(sock, status === 401 ? 4401 : 1011, (e as Error).message);
      }
    });
    return {
      send: (data) => {
        if (sock.closed || !sock.conn || ep.frozen) return;
        const copy = typeof data === 'string' ? data : data.slice();
        this.stats.framesUp++;
        const at = Math.max(this.clock.now() + this.delay(), sock.upAt);
        sock.upAt = at;
        this.later(at - this.clock.now(), () => {
          if (sock.closed || !sock.conn || ep.frozen) return;
          sock.conn.receive(copy);
        });
      },
      close: () => {
        if (sock.closed) return;
        sock.closed = true;
        ep.sockets.delete(sock);
        sock.conn?.close();
        sock.conn = null;
        if (!ep.frozen) handlers.onClose(1000, 'client closed');
      },
    };
  }

  /** Server → client frame, in order, unless the socket is gone by then. */
  private down(sock: FakeSocketState, deliver: () => void, bytes = 0, inOrder = true): void {
    if (sock.closed) return;
    this.stats.framesDown++;
    const delay = this.delay() * sock.endpoint.state.slowFactor;
    const at = inOrder ? Math.max(this.clock.now() + delay, sock.downAt) : this.clock.now() + delay;
    if (inOrder) sock.downAt = at;
    sock.buffered += bytes;
    this.later(at - this.clock.now(), () => {
      sock.buffered -= bytes;
      if (sock.closed || sock.endpoint.frozen) return;
      deliver();
    });
  }

  /** [push] A pushed `facts` frame, subject to the push faults. */
  private pushDown(sock: FakeSocketState, data: string): void {
    if (sock.closed) return;
    const deliver = () => sock.handlers.onText(data);
    if (this.random() < this.faults.dropPush) {
      this.stats.pushesDropped++;
      this.cut(sock, 1006, 'connection lost mid-stream');
      return;
    }
    this.stats.pushes++;
    const reorder = this.random() < this.faults.reorderPush;
    if (reorder) this.stats.pushesReordered++;
    this.down(sock, deliver, data.length, !reorder);
    if (this.random() < this.faults.duplicatePush) {
      this.stats.pushesDuplicated++;
      this.down(sock, deliver, data.length, false);
    }
  }

  /** The network or the server ends a socket: the client learns it after a delay, with `code`. */
  private cut(sock: FakeSocketState, code: number, reason: string): void {
    if (sock.closed) return;
    sock.closed = true;
    this.stats.socketsCut++;
    sock.endpoint.sockets.delete(sock);
    sock.conn?.close();
    sock.conn = null;
    const at = Math.max(this.clock.now() + this.delay(), sock.downAt);
    this.later(at - this.clock.now(), () => {
      if (sock.endpoint.frozen) return;
      sock.handlers.onClose(code, reason);
    });
  }
}

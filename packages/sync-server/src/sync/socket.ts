import crypto from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket, type RawData } from 'ws';
import { checkProtocolVersion, ClientControl, CloseCode, decidePushFlow, decodeFrame, PROTOCOL_VERSION, FrameError, parseDocName, type Agent, type Logger, type PushMode, type ServerControl } from '@goutong/core';
import { buildPushFrames } from '../domain/push.js';
import type { AuthService } from '../auth/service.js';
import type { Workspace } from '../domain/workspace.js';
import { ApiError } from '../errors.js';
import { BadUpdateError, RefusedUpdateError, type DocManager, type DocPeer } from './docs.js';

const AUTH_TIMEOUT_MS = 10_000;
const MAX_FRAME = 1024 * 1024;
/** Framing around a document's sync message (document name, kinds, lengths): headroom over the quota. */
const FRAME_HEADROOM = 64 * 1024;
const MAX_DOCS_PER_CONNECTION = 100;
const MAX_TEXT_FRAME = 16 * 1024;

interface Conn extends DocPeer {
  ws: WebSocket;
  agent: Agent | null;
  /** The session (refresh family) the socket authenticated with: logout closes the socket. */
  sessionId: string | null;
  docs: Set<string>;
  expiryTimer: NodeJS.Timeout | null;
  /** [routing] The presence write of this socket's authentication (its close waits for it). */
  presence?: Promise<void>;
  /** [push] The client asked for pushed facts (auth `push`); its flow-control state and last acknowledged checkpoint. */
  push: boolean;
  flow: PushMode;
  acked: number;
}

/**
 * [push] permessage-deflate for frames worth it (pushed facts of a busy commit, catch-up-sized
 * frames); small pokes and pushes go as they are. No context takeover: no zlib window kept per
 * socket, so a thousand idle devices cost no compression memory.
 */
const DEFLATE = {
  threshold: 1024,
  serverNoContextTakeover: true,
  clientNoContextTakeover: true,
  zlibDeflateOptions: { level: 1, memLevel: 8 },
  concurrencyLimit: 4,
} as const;

/**
 * [push] A pushed facts frame is compressed only past this size. The same frame goes to every
 * socket of its scope, and permessage-deflate compresses it once per socket (through a queue of
 * DEFLATE.concurrencyLimit): for the small frame of a single change that queue, not the network,
 * set the last device's latency. Large frames (a burst of changes) are still compressed.
 */
export const PUSH_DEFLATE_MIN = 64 * 1024;

/** [routing] Where the sockets report the agents' devices coming and going (ops/routing.ts). */
export interface PresenceHooks {
  connected(agent: Agent, connId: string): Promise<void>;
  disconnected(agent: Agent, connId: string): Promise<void>;
}

/**
 * The `/sync` WebSocket: authentication by first frame, pokes after commits, and the Yjs documents
 * multiplexed as binary frames. A malformed frame or update closes only that connection.
 */
export class SyncSockets {
  /**
   * A binary frame may carry a whole document (a device's offline edits in one sync step 2), so the
   * limit follows the document quota: a device within the quota always syncs (never closed with 1009).
   */
  private readonly wss: WebSocketServer;
  private byTenant = new Map<string, Set<Conn>>();
  private pendingPoke = new Map<string, number>();
  /** [push] Per tenant: the seq up to which facts were pushed (or poked) from this process, and the build in progress. */
  private lastPushed = new Map<string, number>();
  private pushChain = new Map<string, Promise<void>>();
  private pokeScheduled = false;
  /** [routing] Device presence: set by the server once routing exists. */
  presence: PresenceHooks | null = null;

  constructor(
    private readonly auth: AuthService,
    private readonly ws: Workspace,
    private readonly docs: DocManager,
    private readonly logger: Logger,
  ) {
    this.wss = new WebSocketServer({ noServer: true, maxPayload: Math.max(MAX_FRAME, docs.quotaBytes + FRAME_HEADROOM), perMessageDeflate: DEFLATE });
  }

  get connectionCount(): number {
    return this.wss.clients.size;
  }

  attach(server: Server): void {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (url.pathname !== '/sync') {
        socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws));
    });
  }

  /**
   * Facts up to `seq` exist (a commit here, or a poke from another process): coalesced per tick,
   * sockets of 1.0 clients get a poke, sockets that asked for pushes get the facts (see announce).
   */
  poke(tenantId: string, seq: number): void {
    this.pendingPoke.set(tenantId, Math.max(seq, this.pendingPoke.get(tenantId) ?? 0));
    if (this.pokeScheduled) return;
    this.pokeScheduled = true;
    setImmediate(() => {
      this.pokeScheduled = false;
      const pokes = [...this.pendingPoke];
      this.pendingPoke.clear();
      for (const [t, s] of pokes) this.announce(t, s);
    });
  }

  // ----- [push] facts over the socket ----------------------------------------------------

  private announce(tenantId: string, seq: number): void {
    const conns = this.byTenant.get(tenantId);
    if (!conns) return;
    const poke = pokeFrame(seq);
    let pushers = 0;
    for (const c of conns) {
      if (c.push) pushers++;
      else if (c.ws.readyState === c.ws.OPEN) c.ws.send(poke);
    }
    if (pushers === 0) {
      // Nobody here takes pushes: the next pusher starts from its ready frame's seq.
      this.lastPushed.delete(tenantId);
      return;
    }
    // One build at a time per tenant, so each socket gets its frames in seq order.
    const next = (this.pushChain.get(tenantId) ?? Promise.resolve())
      .then(() => this.pushFacts(tenantId, seq))
      .catch((e: unknown) => {
        // The frames could not be built (database trouble): poke instead, the devices pull.
        this.logger.warn('sync: push failed, poking instead', { tenant: tenantId, seq, error: String(e) });
        for (const c of this.pushers(tenantId)) c.ws.send(poke);
      });
    this.pushChain.set(tenantId, next);
    void next.then(() => {
      if (this.pushChain.get(tenantId) === next) this.pushChain.delete(tenantId);
    });
  }

  private pushers(tenantId: string): (Conn & { agent: Agent })[] {
    return [...(this.byTenant.get(tenantId) ?? [])].filter((c): c is Conn & { agent: Agent } => c.push && c.agent !== null && c.ws.readyState === c.ws.OPEN);
  }

  /**
   * Sends the facts committed since the last push of this tenant: one frame per scope digest
   * (domain/push.ts), the same text to every socket of that scope. A socket whose send queue is
   * past the high-water mark (core's decidePushFlow) gets a poke instead and pulls.
   */
  private async pushFacts(tenantId: string, seq: number): Promise<void> {
    const from = this.lastPushed.get(tenantId);
    const conns = this.pushers(tenantId);
    if (conns.length === 0) return;
    if (from === undefined) {
      // No known start: these sockets pull from their own checkpoint.
      this.lastPushed.set(tenantId, seq);
      for (const c of conns) c.ws.send(pokeFrame(seq));
      return;
    }
    if (seq <= from) return;
    const batch = await buildPushFrames(this.ws.db, this.ws, tenantId, from, conns.map((c) => c.agent.id));
    if (!batch) return;
    this.lastPushed.set(tenantId, batch.to);
    const poke = pokeFrame(batch.to);
    // Each distinct frame is encoded to bytes once, then the same buffer goes to every socket (a text frame).
    const bytes = new Map<string, Buffer>();
    for (const c of this.pushers(tenantId)) {
      c.flow = decidePushFlow(c.flow, { buffered: c.ws.bufferedAmount, acked: c.acked, seq: batch.to });
      const frame = batch.frames.get(c.agent.id);
      if (c.flow.mode !== 'push' || !frame) {
        c.ws.send(poke);
        continue;
      }
      let b = bytes.get(frame);
      if (!b) bytes.set(frame, (b = Buffer.from(frame)));
      c.ws.send(b, { binary: false, compress: b.length >= PUSH_DEFLATE_MIN });
    }
  }

  /** A session ended (logout, revoked family; here or in another process): its sockets close now. */
  closeSession(sessionId: string, wipe = false): number {
    let n = 0;
    for (const set of this.byTenant.values()) {
      for (const c of set) {
        if (c.sessionId !== sessionId) continue;
        // [accounts] A wipe: the device erases its local data and signs out (CloseCode.wipe).
        if (wipe) {
          this.sendText(c, { t: 'error', code: 'wipe', message: 'this device was signed out; its local data must be erased' });
          c.ws.close(CloseCode.wipe, 'wipe');
          n++;
          continue;
        }
        this.sendText(c, { t: 'error', code: 'unauthorized', message: 'session ended; log in again' });
        c.ws.close(CloseCode.unauthorized, 'session ended');
        n++;
      }
    }
    return n;
  }

  async close(): Promise<void> {
    for (const c of this.wss.clients) c.close(CloseCode.serverShutdown, 'server shutting down');
    await new Promise<void>((r) => this.wss.close(() => r()));
  }

  private onConnection(ws: WebSocket): void {
    const conn: Conn = {
      id: crypto.randomUUID(),
      ws,
      agent: null,
      sessionId: null,
      docs: new Set(),
      expiryTimer: null,
      push: false,
      flow: { mode: 'push' },
      acked: 0,
      send: (data) => {
        if (ws.readyState === ws.OPEN) ws.send(data);
      },
    };
    const authTimer = setTimeout(() => {
      if (!conn.agent) ws.close(CloseCode.unauthorized, 'authenticate first');
    }, AUTH_TIMEOUT_MS);
    authTimer.unref();
    // Frames are handled one after another per connection (auth before subscriptions before updates).
    let chain = Promise.resolve();
    ws.on('message', (data: RawData, isBinary: boolean) => {
      chain = chain.then(() => this.onMessage(conn, data, isBinary)).catch((e: unknown) => this.fail(conn, e));
    });
    ws.on('close', () => {
      clearTimeout(authTimer);
      if (conn.expiryTimer) clearTimeout(conn.expiryTimer);
      if (conn.agent) {
        for (const d of conn.docs) this.docs.leave(conn.agent.tenantId, d, conn);
        this.byTenant.get(conn.agent.tenantId)?.delete(conn);
        const agent = conn.agent;
        const presence = this.presence;
        if (presence) {
          void (conn.presence ?? Promise.resolve())
            .then(() => presence.disconnected(agent, conn.id))
            .catch((e: unknown) => this.logger.warn('sync: presence update failed', { conn: conn.id, error: String(e) }));
        }
      }
    });
    ws.on('error', (e) => this.logger.warn('sync: socket error', { conn: conn.id, error: e.message }));
  }

  private sendText(conn: Conn, msg: ServerControl): void {
    if (conn.ws.readyState === conn.ws.OPEN) conn.ws.send(JSON.stringify(msg));
  }

  private fail(conn: Conn, e: unknown): void {
    if (e instanceof RefusedUpdateError) {
      this.logger.warn('sync: update refused', { conn: conn.id, agent: conn.agent?.id, error: e.message });
      this.sendText(conn, { t: 'error', code: e.code, message: e.message });
      return;
    }
    if (e instanceof FrameError || e instanceof BadUpdateError) {
      this.logger.warn('sync: malformed frame, closing the connection', { conn: conn.id, agent: conn.agent?.id, error: e.message });
      this.sendText(conn, { t: 'error', code: 'bad_frame', message: e.message });
      conn.ws.close(CloseCode.badFrame, 'malformed frame');
      return;
    }
    this.logger.error('sync: handler failed', { conn: conn.id, error: String(e) });
    conn.ws.close(1011, 'internal error');
  }

  private async onMessage(conn: Conn, data: RawData, isBinary: boolean): Promise<void> {
    const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
    if (!isBinary) {
      if (buf.length > MAX_TEXT_FRAME) throw new FrameError('control frame too large');
      let json: unknown;
      try {
        json = JSON.parse(buf.toString('utf8'));
      } catch {
        throw new FrameError('control frame is not JSON');
      }
      const parsed = ClientControl.safeParse(json);
      if (!parsed.success) throw new FrameError(`unknown control frame: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
      return this.onControl(conn, parsed.data);
    }
    if (!conn.agent) {
      conn.ws.close(CloseCode.unauthorized, 'authenticate first');
      return;
    }
    const frame = decodeFrame(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength));
    if (!conn.docs.has(frame.doc)) {
      this.sendText(conn, { t: 'error', code: 'not_subscribed', message: `subscribe to ${frame.doc} first`, doc: frame.doc });
      return;
    }
    try {
      this.docs.handle(conn.agent.tenantId, frame.doc, conn, frame.kind, frame.payload, conn.agent.id);
    } catch (e) {
      if (!(e instanceof RefusedUpdateError)) throw e;
      // Refused on this socket only: the document is unsubscribed here so the client stops pushing it.
      this.logger.warn('sync: update refused', { conn: conn.id, agent: conn.agent.id, doc: frame.doc, error: e.message });
      this.sendText(conn, { t: 'error', code: e.code, message: e.message, doc: frame.doc });
      if (e.code === 'payload_too_large' && conn.docs.delete(frame.doc)) this.docs.leave(conn.agent.tenantId, frame.doc, conn);
    }
  }

  private async onControl(conn: Conn, msg: ClientControl): Promise<void> {
    switch (msg.t) {
      case 'auth': {
        const version = checkProtocolVersion(msg.v);
        if (!version.ok) {
          this.sendText(conn, { t: 'error', code: 'upgrade_required', message: version.message });
          conn.ws.close(CloseCode.upgradeRequired, version.message.slice(0, 120));
          return;
        }
        let agent: Agent;
        let session: { sessionId: string; expiresAt: number };
        try {
          const a = await this.auth.authenticateSession(msg.token);
          agent = a.agent;
          session = a;
        } catch (e) {
          const m = e instanceof ApiError ? e.message : 'invalid token';
          const wipe = e instanceof ApiError && (e.details as { wipe?: unknown } | undefined)?.wipe === true;
          this.sendText(conn, { t: 'error', code: wipe ? 'wipe' : 'unauthorized', message: m });
          conn.ws.close(wipe ? CloseCode.wipe : CloseCode.unauthorized, m.slice(0, 120));
          return;
        }
        if (conn.agent && (conn.agent.id !== agent.id)) {
          conn.ws.close(CloseCode.forbidden, 'a socket cannot change its agent');
          return;
        }
        const first = !conn.agent;
        conn.agent = agent;
        if (first) conn.push = msg.push === true;
        conn.sessionId = session.sessionId;
        if (conn.expiryTimer) clearTimeout(conn.expiryTimer);
        conn.expiryTimer = setTimeout(() => conn.ws.close(CloseCode.tokenExpired, 'access token expired; re-authenticate'), Math.max(0, session.expiresAt - Date.now()));
        conn.expiryTimer.unref();
        if (first) {
          let set = this.byTenant.get(agent.tenantId);
          if (!set) this.byTenant.set(agent.tenantId, (set = new Set()));
          set.add(conn);
          const presence = this.presence;
          if (presence) conn.presence = presence.connected(agent, conn.id).catch((e: unknown) => this.logger.warn('sync: presence update failed', { conn: conn.id, error: String(e) }));
          const seq = await this.ws.currentSeq(agent.tenantId);
          // [push] Pushes of this tenant start here when this process had none to follow.
          if (conn.push && !this.lastPushed.has(agent.tenantId)) this.lastPushed.set(agent.tenantId, seq);
          this.sendText(conn, { t: 'ready', agentId: agent.id, tenantId: agent.tenantId, seq, v: PROTOCOL_VERSION });
        }
        return;
      }
      case 'sub': {
        if (!conn.agent) return void conn.ws.close(CloseCode.unauthorized, 'authenticate first');
        const parsed = parseDocName(msg.doc);
        if (!parsed) return this.sendText(conn, { t: 'error', code: 'bad_request', message: `unknown document ${msg.doc}`, doc: msg.doc });
        if (conn.docs.has(msg.doc)) return;
        if (conn.docs.size >= MAX_DOCS_PER_CONNECTION) return this.sendText(conn, { t: 'error', code: 'rate_limited', message: 'too many open documents', doc: msg.doc });
        try {
          await this.ws.visibleConversation(conn.agent, parsed.conversationId);
        } catch (e) {
          if (e instanceof ApiError) return this.sendText(conn, { t: 'error', code: e.code, message: e.message, doc: msg.doc });
          throw e;
        }
        conn.docs.add(msg.doc);
        await this.docs.join(conn.agent.tenantId, msg.doc, conn);
        return;
      }
      case 'unsub': {
        if (!conn.agent || !conn.docs.delete(msg.doc)) return;
        this.docs.leave(conn.agent.tenantId, msg.doc, conn);
        return;
      }
      case 'ping':
        return this.sendText(conn, { t: 'pong' });
      case 'ack':
        conn.acked = Math.max(conn.acked, msg.seq);
        return;
    }
  }
}

function pokeFrame(seq: number): string {
  return JSON.stringify({ t: 'poke', seq } satisfies ServerControl);
}

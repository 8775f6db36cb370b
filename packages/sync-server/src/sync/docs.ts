import * as Y from 'yjs';
import * as syncProtocol from 'y-protocols/sync';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as encoding from 'lib0/encoding';
import * as decoding from 'lib0/decoding';
import { encodeFrame, FRAME_AWARENESS, FRAME_SYNC, type Logger } from '@goutong/core';
import type { Db } from '../db/db.js';
import { loadDocUpdates, writeDocBatch, type DocWrite } from '../domain/drafts.js';

/** A subscriber of documents (one sync socket). */
export interface DocPeer {
  readonly id: string;
  send(data: Uint8Array): void;
}

interface LoadedDoc {
  key: string;
  tenantId: string;
  name: string;
  doc: Y.Doc;
  awareness: awarenessProtocol.Awareness;
  peers: Map<DocPeer, Set<number>>;
  stored: number;
  /** Bytes of the stored updates (the quota counts these and `queued`). */
  bytes: number;
  /** Bytes of this process's updates waiting for the next group commit. */
  queued: number;
  /** Writes of this document waiting for or in the group commit. */
  pending: number;
  /** A compaction of this document is queued. */
  compacting: boolean;
  /** Settles once every write of this document queued so far settled. */
  chain: Promise<void>;
  unloadTimer: NodeJS.Timeout | null;
}

/** Thrown when a peer sends a message that is not a valid Yjs sync or awareness message. */
export class BadUpdateError extends Error {
  override readonly name = 'BadUpdateError';
}

/** A valid message this peer may not send: refused on that socket, neither applied, relayed nor stored. */
export class RefusedUpdateError extends Error {
  override readonly name = 'RefusedUpdateError';
  constructor(readonly code: 'payload_too_large' | 'forbidden', message: string) {
    super(message);
  }
}

const COMPACT_AFTER = 200;
/** Most writes in one group commit of `yjs_updates`. */
const MAX_GROUP = 512;

interface QueuedWrite {
  d: LoadedDoc;
  w: DocWrite;
  /** After the commit (a local update is published to the other processes once stored). */
  stored?: (() => void) | undefined;
  settle: () => void;
}
export const DEFAULT_DOC_QUOTA_BYTES = 2 * 1024 * 1024;

/**
 * Server side of the collaborative documents: loads a document from its stored updates when the
 * first peer subscribes, relays sync and awareness messages between peers, appends every update
 * to `yjs_updates` (compacted by re-encoding once there are many), and unloads idle documents.
 */
export class DocManager {
  private docs = new Map<string, LoadedDoc>();
  private loading = new Map<string, Promise<LoadedDoc>>();
  /** Updates from other processes that arrived while a document was loading here. */
  private pendingRemote = new Map<string, Uint8Array[]>();
  /** Group commit of the documents' writes: what arrives while a group commits forms the next one. */
  private writes: QueuedWrite[] = [];
  private writing = false;
  private writeScheduled = false;
  /** Transactions and writes of the group commit so far (benchmarks read them). */
  readonly writeStats = { transactions: 0, writes: 0 };

  constructor(
    private readonly db: Db,
    private readonly logger: Logger,
    private readonly opts: {
      unloadAfterMs?: number;
      /** A local peer changed a document (published to the other server processes). */
      onUpdate?: (tenantId: string, name: string, update: Uint8Array) => void;
      /** A local peer changed its presence (published to the other server processes). */
      onAwareness?: (tenantId: string, name: string, update: Uint8Array) => void;
      /** A document was loaded here: ask the other processes for their peers' presence. */
      onLoaded?: (tenantId: string, name: string) => void;
      /** Bytes of stored updates a document may hold (default 2 MiB). */
      quotaBytes?: number;
    } = {},
  ) {}

  get loadedCount(): number {
    return this.docs.size;
  }

  async join(tenantId: string, name: string, peer: DocPeer): Promise<void> {
    const d = await this.load(tenantId, name);
    if (d.unloadTimer) {
      clearTimeout(d.unloadTimer);
      d.unloadTimer = null;
    }
    if (!d.peers.has(peer)) d.peers.set(peer, new Set());
    // Server's step 1 (the peer answers with what we miss) and the current presence.
    const enc = encoding.createEncoder();
    syncProtocol.writeSyncStep1(enc, d.doc);
    peer.send(encodeFrame(name, FRAME_SYNC, encoding.toUint8Array(enc)));
    const states = [...d.awareness.getStates().keys()];
    if (states.length) {
      const aw = encoding.createEncoder();
      encoding.writeVarUint8Array(aw, awarenessProtocol.encodeAwarenessUpdate(d.awareness, states));
      peer.send(encodeFrame(name, FRAME_AWARENESS, encoding.toUint8Array(aw)));
    }
  }

  leave(tenantId: string, name: string, peer: DocPeer): void {
    const d = this.docs.get(`${tenantId}/${name}`);
    if (!d) return;
    const clients = d.peers.get(peer);
    d.peers.delete(peer);
    if (clients && clients.size) awarenessProtocol.removeAwarenessStates(d.awareness, [...clients], peer);
    if (d.peers.size === 0) this.scheduleUnload(d);
  }

  isJoined(tenantId: string, name: string, peer: DocPeer): boolean {
    return this.docs.get(`${tenantId}/${name}`)?.peers.has(peer) ?? false;
  }

  get quotaBytes(): number {
    return this.opts.quotaBytes ?? DEFAULT_DOC_QUOTA_BYTES;
  }

  /**
   * Handles a sync or awareness payload from a peer; throws BadUpdateError on garbage and
   * RefusedUpdateError for an update past the document's quota or presence claiming someone else.
   * `agentId`: the peer's own agent; awareness states must name it.
   */
  handle(tenantId: string, name: string, peer: DocPeer, kind: number, payload: Uint8Array, agentId?: string): void {
    const d = this.docs.get(`${tenantId}/${name}`);
    if (!d || !d.peers.has(peer)) throw new BadUpdateError(`not subscribed to ${name}`);
    let refused: RefusedUpdateError | null = null;
    try {
      const dec = decoding.createDecoder(payload);
      if (kind === FRAME_SYNC) {
        // y-protocols swallows errors of a bad update (it logs and carries on), so the message is
        // decoded and validated here: a malformed update must close this connection, nothing more.
        const type = decoding.readVarUint(dec);
        if (type === syncProtocol.messageYjsSyncStep1) {
          const sv = decoding.readVarUint8Array(dec);
          Y.decodeStateVector(sv);
          const enc = encoding.createEncoder();
          syncProtocol.writeSyncStep2(enc, d.doc, sv);
          peer.send(encodeFrame(name, FRAME_SYNC, encoding.toUint8Array(enc)));
        } else if (type === syncProtocol.messageYjsSyncStep2 || type === syncProtocol.messageYjsUpdate) {
          const update = decoding.readVarUint8Array(dec);
          Y.decodeUpdate(update);
          refused = this.overQuota(d, update);
          if (!refused) Y.applyUpdate(d.doc, update, peer);
        } else {
          throw new Error(`unknown sync message type ${type}`);
        }
      } else {
        const update = decoding.readVarUint8Array(dec);
        // Remember which awareness clients this peer speaks for, to clear them when it leaves.
        const ud = decoding.createDecoder(update);
        const n = decoding.readVarUint(ud);
        const clients = d.peers.get(peer)!;
        const claimed: number[] = [];
        for (let i = 0; i < n && !refused; i++) {
          const clientId = decoding.readVarUint(ud);
          decoding.readVarUint(ud);
          const state = JSON.parse(decoding.readVarString(ud)) as unknown;
          refused = this.foreignPresence(d, peer, clientId, state, agentId);
          claimed.push(clientId);
        }
        if (!refused) {
          for (const c of claimed) clients.add(c);
          awarenessProtocol.applyAwarenessUpdate(d.awareness, update, peer);
        }
      }
    } catch (e) {
      throw new BadUpdateError(`malformed ${kind === FRAME_SYNC ? 'sync' : 'awareness'} message: ${(e as Error).message}`);
    }
    if (refused) throw refused;
  }

  /** Whether storing this update would take the document past its quota (counted after compaction). */
  private overQuota(d: LoadedDoc, update: Uint8Array): RefusedUpdateError | null {
    const quota = this.quotaBytes;
    const held = d.bytes + d.queued;
    if (held + update.length <= quota) return null;
    // Only what the document lacks is stored (a reconnecting peer resends all it has).
    const fresh = Y.diffUpdate(update, Y.encodeStateVector(d.doc)).length;
    if (held + fresh <= quota) return null;
    // The stored updates may shrink when compacted: count the document's state instead.
    const state = Y.encodeStateAsUpdate(d.doc).length;
    if (state + fresh <= quota) {
      this.compact(d);
      return null;
    }
    return new RefusedUpdateError('payload_too_large', `document ${d.name} would exceed its quota of ${quota} bytes; the update was refused`);
  }

  /** Presence is bound to the socket's agent: no state naming another agent, no clientID of another peer. */
  private foreignPresence(d: LoadedDoc, peer: DocPeer, clientId: number, state: unknown, agentId: string | undefined): RefusedUpdateError | null {
    for (const [p, ids] of d.peers) {
      if (p !== peer && ids.has(clientId)) return new RefusedUpdateError('forbidden', `awareness client ${clientId} belongs to another connection`);
    }
    if (agentId !== undefined && state !== null) {
      const claimed = typeof state === 'object' ? (state as { agentId?: unknown }).agentId : undefined;
      if (claimed !== agentId) return new RefusedUpdateError('forbidden', 'awareness state must name the connection\'s own agent');
    }
    return null;
  }

  /** Applies an update that came from another server process (it stored it; no re-broadcast). */
  applyRemote(tenantId: string, name: string, update: Uint8Array): void {
    const key = `${tenantId}/${name}`;
    const d = this.docs.get(key);
    if (!d) {
      // Loading now: the rows it reads may predate this update, so keep it for after the load.
      if (this.loading.has(key)) this.pendingRemote.set(key, [...(this.pendingRemote.get(key) ?? []), update]);
      return;
    }
    try {
      Y.applyUpdate(d.doc, update, 'broker');
    } catch (e) {
      this.logger.warn('yjs: bad update from another process', { doc: d.key, error: String(e) });
    }
  }

  /** The presence of this process's peers on a document (answering another process that loaded it). */
  localAwareness(tenantId: string, name: string): Uint8Array | null {
    const d = this.docs.get(`${tenantId}/${name}`);
    if (!d) return null;
    const mine = [...d.peers.values()].flatMap((set) => [...set]).filter((c) => d.awareness.getStates().has(c));
    return mine.length ? awarenessProtocol.encodeAwarenessUpdate(d.awareness, mine) : null;
  }

  /** Presence from peers of another server process. */
  applyRemoteAwareness(tenantId: string, name: string, update: Uint8Array): void {
    const d = this.docs.get(`${tenantId}/${name}`);
    if (!d) return;
    try {
      awarenessProtocol.applyAwarenessUpdate(d.awareness, update, 'broker');
    } catch (e) {
      this.logger.warn('yjs: bad awareness from another process', { doc: d.key, error: String(e) });
    }
  }

  /** Resolves when every queued write is committed (or failed and logged). */
  async flush(): Promise<void> {
    while (this.writing || this.writeScheduled || this.writes.length) await new Promise((r) => setImmediate(r));
    await Promise.all([...this.docs.values()].map((d) => d.chain));
  }

  async closeAll(): Promise<void> {
    await this.flush();
    for (const d of this.docs.values()) {
      if (d.unloadTimer) clearTimeout(d.unloadTimer);
      d.awareness.destroy();
      d.doc.destroy();
    }
    this.docs.clear();
  }

  private scheduleUnload(d: LoadedDoc): void {
    if (d.unloadTimer) clearTimeout(d.unloadTimer);
    d.unloadTimer = setTimeout(() => {
      if (d.peers.size > 0) return;
      void d.chain.then(() => {
        if (d.peers.size > 0 || this.docs.get(d.key) !== d) return;
        if (d.pending > 0) return this.scheduleUnload(d);
        this.docs.delete(d.key);
        d.awareness.destroy();
        d.doc.destroy();
      });
    }, this.opts.unloadAfterMs ?? 30_000);
    d.unloadTimer.unref();
  }

  private load(tenantId: string, name: string): Promise<LoadedDoc> {
    const key = `${tenantId}/${name}`;
    const have = this.docs.get(key);
    if (have) return Promise.resolve(have);
    let p = this.loading.get(key);
    if (!p) {
      p = this.doLoad(tenantId, name, key).finally(() => this.loading.delete(key));
      this.loading.set(key, p);
    }
    return p;
  }

  private async doLoad(tenantId: string, name: string, key: string): Promise<LoadedDoc> {
    const rows = await loadDocUpdates(this.db, tenantId, name);
    const doc = new Y.Doc({ gc: true });
    Y.transact(doc, () => {
      for (const r of rows) Y.applyUpdate(doc, r, 'load');
    }, 'load');
    const awareness = new awarenessProtocol.Awareness(doc);
    awareness.setLocalState(null);
    const d: LoadedDoc = { key, tenantId, name, doc, awareness, peers: new Map(), stored: rows.length, bytes: rows.reduce((n, r) => n + r.length, 0), queued: 0, pending: 0, compacting: false, chain: Promise.resolve(), unloadTimer: null };
    doc.on('update', (update: Uint8Array, origin: unknown) => {
      if (origin === 'load') return;
      // The process whose peer made an update stores it; the others only relay it.
      // Other processes hear of it only once it is stored, so one that loads the document
      // afterwards finds it in the database, and one that loaded before gets the message.
      if (origin === 'broker') d.bytes += update.length;
      else this.persist(d, update, () => this.opts.onUpdate?.(tenantId, name, update));
      const enc = encoding.createEncoder();
      syncProtocol.writeUpdate(enc, update);
      const frame = encodeFrame(name, FRAME_SYNC, encoding.toUint8Array(enc));
      for (const p of d.peers.keys()) if (p !== origin) p.send(frame);
    });
    awareness.on('update', ({ added, updated, removed }: { added: number[]; updated: number[]; removed: number[] }, origin: unknown) => {
      const changed = [...added, ...updated, ...removed];
      const enc = encoding.createEncoder();
      encoding.writeVarUint8Array(enc, awarenessProtocol.encodeAwarenessUpdate(awareness, changed));
      const frame = encodeFrame(name, FRAME_AWARENESS, encoding.toUint8Array(enc));
      for (const p of d.peers.keys()) if (p !== origin) p.send(frame);
      if (origin !== 'broker' && origin !== 'timeout') this.opts.onAwareness?.(tenantId, name, awarenessProtocol.encodeAwarenessUpdate(awareness, changed));
    });
    if (rows.length > COMPACT_AFTER) this.compact(d);
    this.docs.set(key, d);
    const pending = this.pendingRemote.get(key);
    this.pendingRemote.delete(key);
    for (const u of pending ?? []) this.applyRemote(tenantId, name, u);
    this.opts.onLoaded?.(tenantId, name);
    return d;
  }

  /** Queues an update for the next group commit of `yjs_updates` (in the order updates were applied). */
  private persist(d: LoadedDoc, update: Uint8Array, stored?: () => void): void {
    d.queued += update.length;
    this.enqueue(d, { kind: 'append', tenantId: d.tenantId, doc: d.name, update }, stored);
  }

  /** Queues a compaction: the stored updates become one re-encoded state (read when the write runs). */
  private compact(d: LoadedDoc): void {
    if (d.compacting) return;
    d.compacting = true;
    this.enqueue(d, { kind: 'replace', tenantId: d.tenantId, doc: d.name, state: () => Y.encodeStateAsUpdate(d.doc) });
  }

  private enqueue(d: LoadedDoc, w: DocWrite, stored?: () => void): void {
    d.pending++;
    const done = new Promise<void>((settle) => this.writes.push({ d, w, stored, settle }));
    d.chain = Promise.all([d.chain, done]).then(() => undefined);
    if (this.writing || this.writeScheduled) return;
    this.writeScheduled = true;
    setImmediate(() => {
      this.writeScheduled = false;
      void this.drainWrites();
    });
  }

  private async drainWrites(): Promise<void> {
    if (this.writing) return;
    this.writing = true;
    try {
      while (this.writes.length) await this.commitWrites(this.writes.splice(0, MAX_GROUP));
    } finally {
      this.writing = false;
    }
  }

  /** One transaction for the group; each document's counters move only after the commit. */
  private async commitWrites(group: QueuedWrite[]): Promise<void> {
    let sizes: number[] | null = null;
    try {
      this.writeStats.transactions++;
      sizes = await writeDocBatch(this.db, group.map((g) => g.w), Date.now());
      this.writeStats.writes += group.length;
    } catch (e) {
      const docs = [...new Set(group.map((g) => g.d.key))];
      this.logger.error('yjs: storing updates failed; the documents stay in memory', { docs, error: String(e) });
    }
    for (const [i, g] of group.entries()) {
      const { d, w } = g;
      d.pending--;
      if (w.kind === 'append') {
        d.queued -= w.update.length;
        if (sizes) {
          d.bytes += sizes[i]!;
          d.stored++;
          g.stored?.();
        }
      } else {
        d.compacting = false;
        if (sizes) {
          d.bytes = sizes[i]!;
          d.stored = 1;
          this.logger.debug('yjs: compacted', { doc: d.key, bytes: d.bytes });
        }
      }
    }
    for (const g of group) if (g.d.stored > COMPACT_AFTER && this.docs.get(g.d.key) === g.d) this.compact(g.d);
    for (const g of group) g.settle();
  }
}

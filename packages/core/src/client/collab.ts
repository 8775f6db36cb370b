import * as Y from 'yjs';
import * as syncProtocol from 'y-protocols/sync';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as encoding from 'lib0/encoding';
import * as decoding from 'lib0/decoding';
import type { LocalStore } from '../ports/storage.js';
import type { Logger } from '../ports/platform.js';
import { conversationDocName } from '../protocol/wire.js';
import { encodeFrame, FRAME_AWARENESS, FRAME_SYNC, type YFrame } from '../protocol/yframe.js';

export type DraftKind = 'reply' | 'note';

/** What an agent's device announces about itself on a conversation (Yjs awareness). */
export interface PresenceState {
  agentId: string;
  name: string;
  typing: DraftKind | null;
  /** Device kind, e.g. desktop, web, mobile. */
  device: string;
}

export interface Presence extends PresenceState {
  clientId: number;
}

const REMOTE = Symbol('remote');
const LOCAL_LOAD = Symbol('local-load');
const COMPACT_AFTER = 64;

interface OpenDoc {
  name: string;
  doc: Y.Doc;
  awareness: awarenessProtocol.Awareness;
  refs: number;
  loaded: Promise<void>;
  dispose: () => void;
  storedUpdates: number;
}

export interface CollabHandle {
  readonly doc: Y.Doc;
  readonly awareness: awarenessProtocol.Awareness;
  /** Resolves once the locally stored updates are applied (drafts work offline). */
  readonly ready: Promise<void>;
  /** The agent's reply or note draft: one Y.Text per agent, shared by all of that agent's devices. */
  draft(kind: DraftKind): Y.Text;
  setTyping(kind: DraftKind | null): void;
  /** Other devices and agents present on this conversation. */
  presence(): Presence[];
  onPresence(listener: (p: Presence[]) => void): () => void;
  release(): void;
}

/**
 * One Yjs document per open conversation (drafts), multiplexed over the sync socket, with
 * awareness for presence. Updates are stored locally first, so a draft typed offline survives a
 * restart and syncs through state vectors when the socket is back.
 */
export class Collab {
  private docs = new Map<string, OpenDoc>();
  private send: ((data: string | Uint8Array) => void) | null = null;

  constructor(
    private readonly o: { store: LocalStore; logger: Logger; agent: { id: string; name: string }; device: string },
  ) {}

  open(conversationId: string): CollabHandle {
    const name = conversationDocName(conversationId);
    let d = this.docs.get(name);
    if (!d) d = this.create(name);
    d.refs++;
    const od = d;
    let released = false;
    return {
      doc: od.doc,
      awareness: od.awareness,
      ready: od.loaded,
      draft: (kind) => od.doc.getText(`${kind}:${this.o.agent.id}`),
      setTyping: (kind) => {
        const cur = od.awareness.getLocalState() as PresenceState | null;
        if (cur && cur.typing !== kind) od.awareness.setLocalState({ ...cur, typing: kind });
      },
      presence: () => this.presenceOf(od),
      onPresence: (listener) => {
        const h = () => listener(this.presenceOf(od));
        od.awareness.on('change', h);
        return () => od.awareness.off('change', h);
      },
      release: () => {
        if (released) return;
        released = true;
        od.refs--;
        if (od.refs === 0) this.close(od);
      },
    };
  }

  /** The socket is authenticated: subscribe every open document and exchange state. */
  connected(send: (data: string | Uint8Array) => void): void {
    this.send = send;
    for (const d of this.docs.values()) this.subscribe(d);
  }

  disconnected(): void {
    this.send = null;
    for (const d of this.docs.values()) {
      const remote = [...d.awareness.getStates().keys()].filter((id) => id !== d.doc.clientID);
      awarenessProtocol.removeAwarenessStates(d.awareness, remote, REMOTE);
      // Forget their clocks too: after the reconnect the server sends the same states with the
      // same clocks, which awareness would ignore as old, hiding everybody until they next change.
      for (const id of remote) d.awareness.meta.delete(id);
    }
  }

  handleFrame(frame: YFrame): void {
    const d = this.docs.get(frame.doc);
    if (!d) return;
    const dec = decoding.createDecoder(frame.payload);
    if (frame.kind === FRAME_SYNC) {
      const enc = encoding.createEncoder();
      syncProtocol.readSyncMessage(dec, enc, d.doc, REMOTE);
      if (encoding.length(enc) > 0) this.send?.(encodeFrame(d.name, FRAME_SYNC, encoding.toUint8Array(enc)));
    } else {
      awarenessProtocol.applyAwarenessUpdate(d.awareness, decoding.readVarUint8Array(dec), REMOTE);
    }
  }

  openDocuments(): string[] {
    return [...this.docs.keys()];
  }

  closeAll(): void {
    for (const d of [...this.docs.values()]) this.close(d);
  }

  private presenceOf(d: OpenDoc): Presence[] {
    const out: Presence[] = [];
    for (const [clientId, state] of d.awareness.getStates()) {
      if (clientId === d.doc.clientID) continue;
      const s = state as Partial<PresenceState>;
      if (typeof s.agentId === 'string' && typeof s.name === 'string') {
        out.push({ clientId, agentId: s.agentId, name: s.name, typing: s.typing ?? null, device: s.device ?? 'unknown' });
      }
    }
    return out;
  }

  private create(name: string): OpenDoc {
    const doc = new Y.Doc();
    const awareness = new awarenessProtocol.Awareness(doc);
    awareness.setLocalState({ agentId: this.o.agent.id, name: this.o.agent.name, typing: null, device: this.o.device } satisfies PresenceState);
    const d: OpenDoc = { name, doc, awareness, refs: 0, loaded: Promise.resolve(), dispose: () => {}, storedUpdates: 0 };
    const onUpdate = (update: Uint8Array, origin: unknown) => {
      if (origin === LOCAL_LOAD) return;
      d.storedUpdates++;
      void this.o.store.yjsAppend(name, update).catch((e: unknown) => this.o.logger.error('collab: storing an update failed', { doc: name, error: String(e) }));
      if (origin !== REMOTE && this.send) {
        const enc = encoding.createEncoder();
        syncProtocol.writeUpdate(enc, update);
        this.send(encodeFrame(name, FRAME_SYNC, encoding.toUint8Array(enc)));
      }
    };
    const onAwareness = ({ added, updated, removed }: { added: number[]; updated: number[]; removed: number[] }, origin: unknown) => {
      if (origin === REMOTE || !this.send) return;
      const changed = [...added, ...updated, ...removed];
      const enc = encoding.createEncoder();
      encoding.writeVarUint8Array(enc, awarenessProtocol.encodeAwarenessUpdate(awareness, changed));
      this.send(encodeFrame(name, FRAME_AWARENESS, encoding.toUint8Array(enc)));
    };
    doc.on('update', onUpdate);
    awareness.on('update', onAwareness);
    d.dispose = () => {
      doc.off('update', onUpdate);
      awareness.off('update', onAwareness);
    };
    d.loaded = (async () => {
      const updates = await this.o.store.yjsLoad(name);
      d.storedUpdates = updates.length;
      if (updates.length > 0) {
        Y.transact(doc, () => {
          for (const u of updates) Y.applyUpdate(doc, u, LOCAL_LOAD);
        }, LOCAL_LOAD);
      }
      if (updates.length > COMPACT_AFTER) {
        await this.o.store.yjsReplace(name, Y.encodeStateAsUpdate(doc));
        d.storedUpdates = 1;
      }
    })().catch((e: unknown) => this.o.logger.error('collab: loading a document failed', { doc: name, error: String(e) }));
    this.docs.set(name, d);
    if (this.send) void d.loaded.then(() => this.subscribe(d));
    return d;
  }

  private subscribe(d: OpenDoc): void {
    const send = this.send;
    if (!send || !this.docs.has(d.name)) return;
    send(JSON.stringify({ t: 'sub', doc: d.name }));
    const enc = encoding.createEncoder();
    syncProtocol.writeSyncStep1(enc, d.doc);
    send(encodeFrame(d.name, FRAME_SYNC, encoding.toUint8Array(enc)));
    // Announce ourselves with a new clock: when our previous connection dropped, the server
    // removed our state at the old clock and the others would ignore it at that clock.
    // Re-setting the same state bumps the clock; the update handler sends it.
    const local = d.awareness.getLocalState();
    if (local) d.awareness.setLocalState({ ...local });
  }

  private close(d: OpenDoc): void {
    this.docs.delete(d.name);
    // Announces our departure through the awareness handler, then leaves the document.
    awarenessProtocol.removeAwarenessStates(d.awareness, [d.doc.clientID], 'local');
    this.send?.(JSON.stringify({ t: 'unsub', doc: d.name }));
    d.dispose();
    d.awareness.destroy();
    d.doc.destroy();
  }
}

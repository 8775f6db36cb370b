import { applyToContact, applyToConversation, conversationOf, pendingMessageOf, type Command } from '../commands/commands.js';
import type { Agent, Contact, Conversation, Message } from '../domain/model.js';
import { compareConversations, matchesQuery } from '../domain/query.js';
import { checkProtocolVersion, CloseCode, ServerFrame, type FactsFrame } from '../protocol/wire.js';
import { decodeFrame, FrameError } from '../protocol/yframe.js';
import type { ConversationQuery, LocalStore, OutboxEntry } from '../ports/storage.js';
import type { Clock, IdGenerator, Logger, NetworkMonitor } from '../ports/platform.js';
import { ProtocolMismatchError, TransportError, type SyncSocket, type Transport } from '../ports/transport.js';
import { backoffDelay } from '../util/backoff.js';
import { Emitter, ObservableValue, type ReadonlyObservable } from '../util/observable.js';
import { Collab, type CollabHandle } from './collab.js';
import { Outbox } from './outbox.js';
import { Replicator, type FactsChanged } from './replicator.js';
import { UploadQueue, type NewUploadFile, type UploadPorts } from './uploads.js';
import { FactReadState } from './readState.js';
import type { SearchHit, SearchPage } from '../domain/search.js';

export type ConnectionStatus = 'offline' | 'connecting' | 'syncing' | 'online';

/** What the connectivity bar shows. */
export interface ConnectivityState {
  status: ConnectionStatus;
  /** Commands waiting to reach the server (queued uploads included). */
  pending: number;
  /** Commands the server rejected, and uploads stopped on a failure (retry or discard). */
  failed: number;
  /** Device time of the last completed pull. */
  lastSyncedAt: number | null;
  /** The session is no longer valid: the user must log in again. */
  sessionExpired: boolean;
  /** The server speaks another protocol version (ProtocolMismatchError): the app must be updated. Always set by the client (optional for hosts that build a state of their own). */
  updateRequired?: boolean;
  /** [accounts] The server told this device to erase its local data (deactivated account, remote wipe); the data is gone, sign in again. */
  wiped?: boolean;
}

/** Anything a command needs besides its payload is filled in by the client. */
export type Intent = Command extends infer C ? (C extends Command ? Omit<C, 'id' | 'deviceTime'> : never) : never;

export interface ClientOptions {
  store: LocalStore;
  transport: Transport;
  clock: Clock;
  ids: IdGenerator;
  random: () => number;
  logger: Logger;
  network: NetworkMonitor;
  /** The signed-in agent. */
  agent: Pick<Agent, 'id' | 'tenantId' | 'name'>;
  /** Device kind announced in presence (desktop, web, mobile). */
  device?: string;
  /** How long a conversation opened on this device keeps its messages cached (default 7 days). */
  recentForMs?: number;
  /**
   * The host's file vault and upload: actions with files (replies with attachments, calls with a
   * recording) wait in the upload queue in front of the outbox. Without it, `uploads` is null.
   */
  uploads?: UploadPorts<unknown>;
}

export interface ClientChange extends Partial<FactsChanged> {
  /** The outbox changed (pending overlay, counts). */
  outbox?: boolean;
}

const RECENT_KEY = 'recentConversations';
/** [accounts] The error code of a 401 whose body says the device must wipe (see httpTransport errorFrom). */
export const WIPE_CODE = 'wipe';

/**
 * The local-first client: reads from the device's store, writes intents to the outbox, pulls facts
 * from the server's log, and keeps collaborative drafts in Yjs. Hosts (desktop, web, mobile) bring
 * the adapters; UIs subscribe to `changes` and `connectivity` and re-read.
 */
export class GoutongClient {
  readonly outbox: Outbox;
  readonly replicator: Replicator;
  readonly collab: Collab;
  /** The upload queue in front of the outbox (null when the host brought no upload ports). */
  readonly uploads: UploadQueue<unknown> | null;
  /** [search-read] The agent's read state: a per-agent fact shared by their devices. */
  readonly reads: FactReadState;
  readonly changes = new Emitter<ClientChange>();
  private readonly state = new ObservableValue<ConnectivityState>(
    { status: 'offline', pending: 0, failed: 0, lastSyncedAt: null, sessionExpired: false, updateRequired: false, wiped: false },
    (a, b) => a.status === b.status && a.pending === b.pending && a.failed === b.failed && a.lastSyncedAt === b.lastSyncedAt && a.sessionExpired === b.sessionExpired && a.updateRequired === b.updateRequired && a.wiped === b.wiped,
  );
  private socket: SyncSocket | null = null;
  private ready = false;
  private reconnectAttempts = 0;
  private reconnectTimer: unknown = null;
  private pullRetryTimer: unknown = null;
  private pullFailures = 0;
  private started = false;
  private unsubs: Array<() => void> = [];
  private recent: Record<string, number> = {};

  constructor(private readonly o: ClientOptions) {
    this.outbox = new Outbox({ store: o.store, transport: o.transport, clock: o.clock, random: o.random, logger: o.logger });
    this.replicator = new Replicator({
      store: o.store,
      transport: o.transport,
      logger: o.logger,
      keepMessage: (m, batch) => this.keepMessage(m, batch.conversations),
      now: () => o.clock.now(),
      onReadMarks: (marks) => this.reads.applyPulled(marks),
    });
    // A read mark never waits behind a conversation's uploads (it orders nothing and is not work to show).
    this.reads = new FactReadState({ store: o.store, agentId: o.agent.id, dispatch: (intent) => this.dispatchNow(intent) });
    this.collab = new Collab({ store: o.store, logger: o.logger, agent: { id: o.agent.id, name: o.agent.name }, device: o.device ?? 'web' });
    this.uploads = o.uploads
      ? new UploadQueue({
          ...o.uploads,
          isOnline: o.uploads.isOnline ?? (() => o.network.isOnline()),
          store: o.store,
          clock: o.clock,
          ids: o.ids,
          random: o.random,
          logger: o.logger,
          dispatch: (intent) => this.dispatchNow(intent),
          enqueue: async (command) => {
            await this.outbox.enqueue(command);
            const conversationId = conversationOf(command);
            if (conversationId) this.touchRecent(conversationId);
          },
        })
      : null;
  }

  get agent(): ClientOptions['agent'] {
    return this.o.agent;
  }

  get connectivity(): ReadonlyObservable<ConnectivityState> {
    return this.state;
  }

  /** Loads the outbox and starts syncing when the network allows. Reads work before this resolves. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.recent = (await this.o.store.getMeta<Record<string, number>>(RECENT_KEY)) ?? {};
    await this.reads.load();
    await this.outbox.load();
    await this.uploads?.load();
    this.updateCounts();
    const uploads = this.uploads;
    if (uploads) {
      this.unsubs.push(
        uploads.changed.on(() => {
          this.updateCounts();
          this.changes.emit({ outbox: true });
        }),
        this.o.network.subscribe((online) => {
          if (online) uploads.kick();
        }),
      );
      uploads.kick();
    }
    this.unsubs.push(
      this.outbox.changed.on(() => {
        this.updateCounts();
        this.changes.emit({ outbox: true });
      }),
      // [push] Facts already pushed up to the acknowledged seq need no pull.
      this.outbox.acknowledged.on((seq) => void this.pullUnlessPushed(seq)),
      this.replicator.changed.on((c) => {
        this.changes.emit(c);
      }),
      this.o.network.subscribe((online) => {
        if (online) this.connect();
        else this.disconnect('network offline');
      }),
    );
    if (this.o.network.isOnline()) this.connect();
  }

  async stop(): Promise<void> {
    this.started = false;
    for (const u of this.unsubs) u();
    this.unsubs = [];
    this.outbox.stop();
    this.uploads?.stop();
    if (this.reconnectTimer !== null) this.o.clock.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.cancelPullRetry();
    this.collab.closeAll();
    this.socket?.close();
    this.socket = null;
    await this.outbox.idle();
    await this.uploads?.idle();
  }

  // ----- intents ---------------------------------------------------------------------------

  /**
   * Validates, persists and queues an intent; resolves with its command id once it is durable.
   * While the upload queue holds something of the intent's conversation, it waits its turn there.
   */
  async dispatch(intent: Intent): Promise<string> {
    if (this.uploads) return (await this.uploads.submit(intent)).id;
    return this.dispatchNow(intent);
  }

  /**
   * An intent with files (a reply's attachments, a call's recording): they are uploaded first, then
   * the command references them. Without files, the same as `dispatch`.
   */
  async submit(intent: Intent, files: ReadonlyArray<NewUploadFile<unknown>> = []): Promise<{ id: string; queued: boolean }> {
    if (this.uploads) return this.uploads.submit(intent, files);
    if (files.length > 0) throw new Error('this client has no upload queue');
    return { id: await this.dispatchNow(intent), queued: false };
  }

  private async dispatchNow(intent: Intent): Promise<string> {
    const command = { ...intent, id: this.o.ids.next(), deviceTime: this.o.clock.now() };
    await this.outbox.enqueue(command);
    const conversationId = conversationOf(command);
    if (conversationId) this.touchRecent(conversationId);
    return command.id;
  }

  /** Retries a failed command or a failed upload. */
  async retry(commandId: string): Promise<void> {
    if (this.uploads?.list().some((e) => e.id === commandId)) return this.uploads.retry(commandId);
    return this.outbox.retry(commandId);
  }

  /** Discards a failed command, or a queued upload with its files. */
  async discard(commandId: string): Promise<void> {
    if (this.uploads?.list().some((e) => e.id === commandId)) return this.uploads.discard(commandId);
    return this.outbox.discard(commandId);
  }

  /** [search] Search on the device (working set, index, contacts): instant and offline. */
  async searchLocal(text: string, opts: { limit?: number } = {}): Promise<SearchHit[]> {
    // Loaded when first used: search is not on the inbox's first screen.
    const { searchLocal } = await import('../domain/search.js');
    return searchLocal(this.o.store, text, opts);
  }

  /** [search] The server's full-text search over all history in the agent's scope (throws when offline or unsupported). */
  async searchServer(text: string, opts: { cursor?: string | null; limit?: number } = {}): Promise<SearchPage> {
    if (!this.o.transport.search) throw new TransportError('protocol', 'this transport cannot search the server');
    return this.o.transport.search(text, opts.cursor ?? null, opts.limit ?? 30);
  }

  outboxEntries(): OutboxEntry[] {
    return this.outbox.list().filter((e) => e.command.type !== 'mark_read'); // [search-read] bookkeeping, not shown
  }

  // ----- reads (local, with the pending overlay) -------------------------------------------

  private overlayConversation(c: Conversation, pending: OutboxEntry[]): Conversation {
    let out = c;
    for (const e of pending) {
      if (conversationOf(e.command) === c.id) out = applyToConversation(out, e.command, this.o.agent);
    }
    return out;
  }

  async conversation(id: string): Promise<Conversation | null> {
    const c = await this.o.store.getConversation(id);
    return c ? this.overlayConversation(c, this.outbox.unconfirmed()) : null;
  }

  /** The inbox query over local data, with commands not yet confirmed applied on top. */
  async queryConversations(q: ConversationQuery): Promise<Conversation[]> {
    const pending = this.outbox.unconfirmed();
    const touched = new Set<string>();
    for (const e of pending) {
      const id = conversationOf(e.command);
      if (id) touched.add(id);
    }
    if (touched.size === 0) return this.o.store.queryConversations(q);
    // Ask for a wider window so rows that the overlay moves out can be replaced.
    const offset = q.offset ?? 0;
    const base = await this.o.store.queryConversations({ ...q, offset: 0, limit: offset + q.limit + touched.size });
    const rows = new Map(base.map((c) => [c.id, c]));
    for (const id of touched) {
      const c = rows.get(id) ?? (await this.o.store.getConversation(id));
      if (c) rows.set(id, c);
    }
    const out: Conversation[] = [];
    for (const c of rows.values()) {
      const v = touched.has(c.id) ? this.overlayConversation(c, pending) : c;
      if (matchesQuery(v, q)) out.push(v);
    }
    out.sort(compareConversations(q.sort));
    return out.slice(offset, offset + q.limit);
  }

  /** How many conversations match, with commands not yet confirmed applied (the same rows as queryConversations). */
  async countConversations(q: Omit<ConversationQuery, 'sort' | 'limit' | 'offset'>): Promise<number> {
    const pending = this.outbox.unconfirmed();
    let count = await this.o.store.countConversations(q);
    const touched = new Set<string>();
    for (const e of pending) {
      const id = conversationOf(e.command);
      if (id) touched.add(id);
    }
    // Correct the stored count for each conversation the overlay changes.
    for (const id of touched) {
      const c = await this.o.store.getConversation(id);
      if (!c) continue;
      count += Number(matchesQuery(this.overlayConversation(c, pending), q)) - Number(matchesQuery(c, q));
    }
    return count;
  }

  async contact(id: string): Promise<Contact | null> {
    const c = await this.o.store.getContact(id);
    if (!c) return null;
    let out = c;
    for (const e of this.outbox.unconfirmed()) out = applyToContact(out, e.command);
    return out;
  }

  /**
   * Messages of a conversation, newest first, with pending replies and notes (status queued) and
   * failed ones (status failed, with the reason) merged in, and the actions waiting in the upload
   * queue (`meta.queued`, `meta.uploading` while files wait to upload, `local:<ref>` attachments).
   */
  async messages(conversationId: string, opts: { before?: { createdAt: number; id: string }; limit?: number } = {}): Promise<Message[]> {
    const limit = opts.limit ?? 50;
    const stored = await this.o.store.getMessages({ conversationId, limit, ...(opts.before ? { before: opts.before } : {}) });
    const ids = new Set(stored.map((m) => m.id));
    const extra: Message[] = [];
    if (!opts.before) {
      for (const e of this.outbox.list()) {
        if (conversationOf(e.command) !== conversationId || ids.has(e.id)) continue;
        const m = pendingMessageOf(e.command, this.o.agent);
        if (!m) continue;
        if (e.state === 'acked') {
          // Confirmed by the server, fact not pulled yet: show as accepted by the server.
          const fact = await this.o.store.getMessage(e.id);
          if (fact) continue;
        }
        extra.push(
          e.state === 'failed'
            ? { ...m, status: m.kind === 'note' ? null : 'failed', statusReason: e.error?.message ?? 'rejected', meta: { ...m.meta, failed: true, error: e.error } }
            : e.state === 'inflight'
              ? { ...m, status: m.kind === 'note' ? null : 'sending' }
              : m,
        );
      }
      for (const m of this.uploads?.pendingMessages(conversationId, this.o.agent) ?? []) {
        if (!ids.has(m.id) && !extra.some((x) => x.id === m.id)) extra.push(m);
      }
    }
    const all = [...stored, ...extra].sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1));
    return all.slice(0, limit + extra.length);
  }

  /**
   * Loads a page of history from the server into the local store (when online). Returns whether
   * there is more before it.
   */
  async loadMessagesFromServer(conversationId: string, cursor: string | null = null, limit = 50): Promise<{ nextCursor: string | null }> {
    this.touchRecent(conversationId);
    const page = await this.o.transport.messages(conversationId, cursor, limit);
    await this.o.store.putMessages(page.items);
    this.changes.emit({ messageConversationIds: [conversationId] });
    return { nextCursor: page.nextCursor };
  }

  /** Opens the collaborative document of a conversation (drafts, presence). Release it when done. */
  openConversationDoc(conversationId: string): CollabHandle {
    this.touchRecent(conversationId);
    return this.collab.open(conversationId);
  }

  /** Drops cached messages of conversations outside the working set. */
  async evict(): Promise<number> {
    const cached = await this.o.store.conversationsWithMessages();
    const drop: string[] = [];
    for (const id of cached) {
      const c = await this.o.store.getConversation(id);
      // No summary yet: a paged pull stored the messages and their summary comes in a later page.
      if (c && !this.inWorkingSet(id, c)) drop.push(id);
    }
    if (drop.length) await this.o.store.evictMessages(drop);
    return drop.length;
  }

  /** Pulls now (after a poke, on reconnect, after an acknowledgement). */
  async pullNow(): Promise<void> {
    if (!this.ready) return;
    // This pull replaces a scheduled retry.
    this.cancelPullRetry();
    this.setStatus('syncing');
    try {
      const cp = await this.replicator.pull();
      this.pullFailures = 0;
      await this.outbox.confirmUpTo(cp);
      this.state.set({ ...this.state.value, lastSyncedAt: this.o.clock.now() });
      if (this.ready) this.setStatus('online');
      // [push] The server learns the device caught up (a socket in poke mode returns to pushes).
      if (this.ready) this.socket?.send(JSON.stringify({ t: 'ack', seq: cp }));
    } catch (e) {
      this.o.logger.warn('replication: pull failed', { error: String(e) });
      if (e instanceof ProtocolMismatchError) this.updateRequired(e.message);
      else if (e instanceof TransportError && e.kind === 'auth' && e.code === WIPE_CODE) void this.wipeLocalData(e.message);
      else if (e instanceof TransportError && e.kind === 'auth') this.sessionExpired();
      else if (this.ready) {
        this.setStatus('online');
        // Every caller that joined the failed pull lands here: schedule one retry, not one each,
        // and back off while the pulls keep failing.
        if (this.pullRetryTimer === null) {
          this.pullFailures++;
          this.pullRetryTimer = this.o.clock.setTimeout(() => {
            this.pullRetryTimer = null;
            void this.pullNow();
          }, backoffDelay(this.pullFailures, this.o.random));
        }
      }
    }
  }

  private async pullUnlessPushed(seq: number): Promise<void> {
    if ((await this.o.store.getCheckpoint()).checkpoint >= seq) return this.outbox.confirmUpTo(seq);
    return this.pullNow();
  }

  /**
   * [push] Facts pushed over the socket: applied on the stored checkpoint (the outbox confirms what
   * they carry), ignored when already pulled, and a pull on a gap.
   */
  private async applyPush(frame: FactsFrame): Promise<void> {
    if (!this.ready) return;
    try {
      const r = await this.replicator.push(frame);
      if (r.decision === 'gap') return void this.pullNow();
      if (r.decision === 'apply') {
        await this.outbox.confirmUpTo(r.checkpoint);
        this.state.set({ ...this.state.value, lastSyncedAt: this.o.clock.now() });
      }
    } catch (e) {
      // The store failed to take the frame: a pull repairs whatever is missing.
      this.o.logger.warn('replication: push not applied', { error: String(e) });
      void this.pullNow();
    }
  }

  private cancelPullRetry(): void {
    if (this.pullRetryTimer !== null) this.o.clock.clearTimeout(this.pullRetryTimer);
    this.pullRetryTimer = null;
  }

  // ----- connection --------------------------------------------------------------------

  private connect(): void {
    if (!this.started || this.socket || this.state.value.sessionExpired || this.state.value.updateRequired) return;
    if (this.reconnectTimer !== null) {
      this.o.clock.clearTimeout(this.reconnectTimer);
      this.reconnectTimer = null;
    }
    this.setStatus('connecting');
    let socket: SyncSocket;
    try {
      socket = this.o.transport.openSocket({
        onOpen: () => {
          /* wait for the server's ready frame */
        },
        onText: (text) => this.onControl(text),
        onBinary: (data) => {
          try {
            this.collab.handleFrame(decodeFrame(data));
          } catch (e) {
            this.o.logger.warn('sync: bad frame from server', { error: e instanceof FrameError ? e.message : String(e) });
          }
        },
        onClose: (code, reason) => this.onClosed(socket, code, reason),
      }, { push: true });
    } catch (e) {
      this.o.logger.warn('sync: cannot open socket', { error: String(e) });
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
  }

  private onControl(text: string): void {
    let msg: ServerFrame;
    try {
      msg = ServerFrame.parse(JSON.parse(text));
    } catch {
      this.o.logger.warn('sync: bad control frame from server');
      return;
    }
    switch (msg.t) {
      case 'ready': {
        const version = checkProtocolVersion(msg.v);
        if (!version.ok) {
          this.updateRequired(`the server: ${version.message}`);
          this.disconnect('protocol version mismatch');
          return;
        }
        this.ready = true;
        this.reconnectAttempts = 0;
        this.outbox.setCanSend(true);
        this.uploads?.kick();
        if (this.socket) {
          const s = this.socket;
          this.collab.connected((d) => s.send(d));
        }
        void this.pullNow();
        break;
      }
      case 'poke':
        void this.pullNow();
        break;
      case 'facts':
        void this.applyPush(msg);
        break;
      case 'pong':
        break;
      case 'error':
        this.o.logger.warn('sync: server error', { code: msg.code, message: msg.message, doc: msg.doc });
        break;
    }
  }

  private onClosed(socket: SyncSocket, code: number, reason: string): void {
    if (this.socket !== socket) return;
    this.socket = null;
    this.ready = false;
    this.cancelPullRetry();
    this.pullFailures = 0;
    this.outbox.setCanSend(false);
    this.collab.disconnected();
    this.setStatus('offline');
    this.o.logger.info('sync: socket closed', { code, reason });
    if (code === CloseCode.wipe) {
      void this.wipeLocalData('the server told this device to erase its data');
      return;
    }
    if (code === 4401) {
      this.sessionExpired();
      return;
    }
    if (code === CloseCode.upgradeRequired) {
      this.updateRequired(reason || 'the server speaks another protocol version');
      return;
    }
    if (this.started && this.o.network.isOnline()) this.scheduleReconnect();
  }

  private disconnect(why: string): void {
    this.o.logger.info('sync: disconnecting', { why });
    if (this.reconnectTimer !== null) this.o.clock.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.socket?.close();
  }

  private scheduleReconnect(): void {
    if (this.reconnectTimer !== null || !this.started) return;
    this.reconnectAttempts++;
    const delay = backoffDelay(this.reconnectAttempts, this.o.random, { baseMs: 500, maxMs: 15_000, jitter: 0.3 });
    this.reconnectTimer = this.o.clock.setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, delay);
  }

  /** The server and this app speak different protocol versions: stop reconnecting until the app is updated. */
  private updateRequired(why: string): void {
    this.o.logger.warn('sync: protocol version mismatch, update the app', { why });
    this.state.set({ ...this.state.value, updateRequired: true, status: 'offline' });
  }

  /**
   * [accounts] Erases the device's local data: the store wipes itself (its key too, for an encrypted
   * store) or, for a store without `wipe`, its facts, outbox and metadata are cleared. Then the
   * session counts as ended (`wiped` and `sessionExpired`): the host signs out.
   */
  async wipeLocalData(why: string): Promise<void> {
    if (this.wiping) return this.wiping;
    this.wiping = (async () => {
      this.o.logger.warn('sync: wiping local data', { why });
      await this.stop();
      const store = this.o.store;
      if (store.wipe) await store.wipe();
      else {
        await store.clearFacts();
        for (const e of await store.outboxList()) await store.outboxDelete(e.id);
        await store.setMeta(RECENT_KEY, {});
      }
      this.state.set({ ...this.state.value, wiped: true, sessionExpired: true, status: 'offline' });
    })();
    return this.wiping;
  }

  private wiping: Promise<void> | null = null;

  private sessionExpired(): void {
    this.state.set({ ...this.state.value, sessionExpired: true, status: 'offline' });
  }

  private setStatus(status: ConnectionStatus): void {
    this.state.set({ ...this.state.value, status });
  }

  private updateCounts(): void {
    // [search-read] A read mark is bookkeeping, not work waiting to go out: it is not counted, not
    // listed, and one the server refused (the conversation left the agent's scope) is dropped.
    let reads = 0;
    let failedReads = 0;
    for (const e of this.outbox.list()) {
      if (e.command.type !== 'mark_read') continue;
      if (e.state === 'failed') {
        failedReads++;
        void this.outbox.discard(e.id);
      } else if (e.state === 'pending' || e.state === 'inflight') reads++;
    }
    const raw = this.outbox.counts();
    const out = { pending: raw.pending - reads, failed: raw.failed - failedReads };
    const up = this.uploads?.counts() ?? { pending: 0, failed: 0 };
    const pending = out.pending + up.pending;
    const failed = out.failed + up.failed;
    this.state.set({ ...this.state.value, pending, failed });
  }

  // ----- working set ---------------------------------------------------------------------

  private touchRecent(conversationId: string): void {
    this.recent[conversationId] = this.o.clock.now();
    void this.o.store.setMeta(RECENT_KEY, this.recent);
  }

  private inWorkingSet(conversationId: string, c: Pick<Conversation, 'status' | 'assigneeId'> | null): boolean {
    const openedAt = this.recent[conversationId];
    if (openedAt !== undefined && this.o.clock.now() - openedAt < (this.o.recentForMs ?? 7 * 86_400_000)) return true;
    if (!c) return false;
    return c.status !== 'resolved' && c.status !== 'closed';
  }

  /**
   * Whether a pulled message goes into the device's cache. The cache of a conversation must stay
   * its newest messages without a hole (the timeline shows it as it is; older pages load from the
   * server), and pulls are paged by seq, so a message may arrive before the (newer) summary of
   * its conversation:
   *  - a message already cached is updated;
   *  - a conversation with a cache gets every message newer than its oldest cached one, in or out
   *    of the working set (evict() drops a cache whole), but not an update of an older, uncached
   *    message, which would open a hole;
   *  - a conversation whose summary is not stored yet (new, or a first sync or reset: all its
   *    messages are in this pull) is cached when its summary in this page is in the working set,
   *    or kept when the summary comes in a later page (eviction applies the policy later);
   *  - a known conversation without a cache starts one only in the working set and only with a
   *    message its stored summary did not know yet (not with an update of an old message).
   */
  private async keepMessage(m: Message, batchConversations: readonly Conversation[]): Promise<boolean> {
    const store = this.o.store;
    if (await store.getMessage(m.id)) return true;
    const older = await store.getMessages({ conversationId: m.conversationId, before: { createdAt: m.createdAt, id: m.id }, limit: 1 });
    if (older.length > 0) return true;
    if ((await store.getMessages({ conversationId: m.conversationId, limit: 1 })).length > 0) return false;
    const stored = await store.getConversation(m.conversationId);
    const current = batchConversations.find((x) => x.id === m.conversationId) ?? stored;
    if (!current) return true;
    if (!this.inWorkingSet(m.conversationId, current)) return false;
    return !stored || m.createdAt > stored.updatedAt;
  }
}

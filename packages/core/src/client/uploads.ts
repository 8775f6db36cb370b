// The upload queue: actions that reference files (a reply with photos, a call with its recording)
// wait on the device until the files are uploaded, then go into the outbox.
//
// The server takes a file first (`POST /api/v1/attachments?name=`, which answers with its id) and
// the command that references it by id after, so such a command cannot enter the outbox before its
// files are uploaded. This queue sits in front of the outbox, one FIFO lane per conversation:
//  - an action with files waits here (the files in the host's vault, the entry in the local store's
//    meta, so both survive a restart) until every file is uploaded, then goes to the outbox;
//  - while a conversation has something waiting here, later actions on it (a text reply, a note,
//    resolve, …) queue behind it, so the server sees them in the order they were made; with nothing
//    waiting, actions go straight to the outbox;
//  - each entry's command id is fixed when it is queued, so a device stopped between "handed to the
//    outbox" and "removed from the queue" hands over the same command again, which the outbox and
//    the server both deduplicate: the customer gets the reply once, the call is logged once;
//  - upload failures the network explains back off and retry; others (file too large, file gone)
//    stop the lane with the reason until the agent retries or discards the entry — except a call's
//    recording, which is dropped so the call is still logged.
// Platform-free: the host brings the vault (IndexedDB, uni's saved files) and the upload (fetch,
// uni.uploadFile).
import { applyToConversation, pendingMessageOf, type Command } from '../commands/commands.js';
import type { Attachment, Conversation, Message } from '../domain/model.js';
import type { Clock, IdGenerator, Logger, TimerHandle } from '../ports/platform.js';
import type { LocalStore } from '../ports/storage.js';
import { backoffDelay, type BackoffPolicy } from '../util/backoff.js';
import { Emitter } from '../util/observable.js';
import type { Intent } from './client.js';

export const UPLOAD_QUEUE_META_KEY = 'uploads.queue';
/** Attachment ids of files still on the device (`local:<ref>`), in pending messages. */
export const LOCAL_ATTACHMENT_PREFIX = 'local:';
/** Upload retries: 2 s doubling to 5 minutes, ±20 %. */
export const UPLOAD_BACKOFF: BackoffPolicy = { baseMs: 2_000, maxMs: 300_000, jitter: 0.2 };

export type UploadState = 'waiting' | 'uploading' | 'failed';
export type UploadedRef = Pick<Attachment, 'id' | 'name' | 'mime' | 'size'> & { sha256?: string };

/** A file of a queued action: its key in the vault and what the server will be told about it. */
export interface UploadFileInfo {
  ref: string;
  name: string;
  mime: string;
  size: number;
}

export interface QueuedFile extends UploadFileInfo {
  /** The server's attachment once uploaded. */
  uploaded: UploadedRef | null;
}

export interface QueuedUpload {
  /** Its command id in the outbox and at the server. */
  id: string;
  /** The lane: the conversation, or null for a call logged by number (a lane of its own). */
  conversationId: string | null;
  /** The action, without the attachments (filled in from `files` once uploaded). */
  intent: Intent;
  files: QueuedFile[];
  /** When the agent acted (the command's deviceTime). */
  deviceTime: number;
  state: UploadState;
  attempts: number;
  nextAttemptAt: number;
  error: string | null;
}

/** A file handed to `submit`: with `data` the queue puts it in the vault; with only a `ref` it is there already. */
export interface NewUploadFile<D = unknown> {
  ref?: string;
  name: string;
  mime: string;
  size: number;
  data?: D;
}

/** Where files wait for their upload (IndexedDB, uni's saved files). */
export interface UploadVault<D = unknown> {
  put(ref: string, file: UploadFileInfo, data: D): Promise<void>;
  /** The file's bytes (or whatever `upload` needs), null when it is gone. */
  get(ref: string): Promise<D | null>;
  remove(ref: string): Promise<void>;
}

export interface UploadPorts<D = unknown> {
  vault: UploadVault<D>;
  /** `POST /api/v1/attachments?name=`: resolves with the stored attachment. */
  upload(file: UploadFileInfo, data: D): Promise<Attachment>;
  /** Whether uploads are worth trying now (default: always; kick() when it changes). */
  isOnline?(): boolean;
  /** Where the entries are kept in the store's meta (default `uploads.queue`). */
  metaKey?: string;
  /** A file reached the server (hosts keep its bytes for thumbnails). */
  onUploaded?(attachment: Attachment, file: UploadFileInfo, data: D): void;
}

export interface UploadQueueOptions<D = unknown> extends UploadPorts<D> {
  store: Pick<LocalStore, 'getMeta' | 'setMeta'>;
  clock: Clock;
  ids: IdGenerator;
  random: () => number;
  logger?: Logger;
  /** Straight into the outbox (no files, nothing waiting); resolves with the command id. */
  dispatch(intent: Intent): Promise<string>;
  /** Into the outbox with the entry's fixed id and device time. */
  enqueue(command: Command): Promise<unknown>;
}

/** Network trouble, 5xx, 429, 408 and an expired token (refreshed on the next try) are worth retrying. */
export function isRetryableUpload(e: unknown): boolean {
  const err = e as { retryable?: unknown; kind?: unknown } | null;
  if (err?.kind === 'auth') return true;
  return typeof err?.retryable === 'boolean' ? err.retryable : true;
}

const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e));
const conversationOfIntent = (intent: Intent): string | null => {
  const id = (intent as { conversationId?: unknown }).conversationId;
  return typeof id === 'string' ? id : null;
};
const copy = (e: QueuedUpload): QueuedUpload => ({ ...e, files: e.files.map((f) => ({ ...f, uploaded: f.uploaded ? { ...f.uploaded } : null })) });

export class UploadQueue<D = unknown> {
  /** Emitted after every change of the entries (queued, uploaded, failed, handed over, discarded). */
  readonly changed = new Emitter<void>();
  /** A call's recording was dropped (refused for good, or gone): the call is logged without it. */
  readonly dropped = new Emitter<{ id: string; file: UploadFileInfo; reason: string }>();
  private entries: QueuedUpload[] = [];
  private loaded: Promise<void> | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private timer: TimerHandle | null = null;
  private stopped = false;

  constructor(private readonly o: UploadQueueOptions<D>) {}

  private get key(): string {
    return this.o.metaKey ?? UPLOAD_QUEUE_META_KEY;
  }

  load(): Promise<void> {
    // An upload cut off by a restart starts again.
    this.loaded ??= this.o.store.getMeta<QueuedUpload[]>(this.key).then((saved) => {
      this.entries = Array.isArray(saved) ? saved.map((e) => ({ ...e, conversationId: e.conversationId ?? null, state: e.state === 'uploading' ? 'waiting' : e.state })) : [];
    });
    return this.loaded;
  }

  list(): QueuedUpload[] {
    return this.entries.map(copy);
  }

  /** Entries of one conversation, in order. */
  of(conversationId: string): QueuedUpload[] {
    return this.entries.filter((e) => e.conversationId === conversationId).map(copy);
  }

  get size(): number {
    return this.entries.length;
  }

  /** Entries waiting or uploading, and entries stopped on a failure. */
  counts(): { pending: number; failed: number } {
    const failed = this.entries.filter((e) => e.state === 'failed').length;
    return { pending: this.entries.length - failed, failed };
  }

  has(conversationId: string): boolean {
    return this.entries.some((e) => e.conversationId === conversationId);
  }

  /**
   * Takes an action: straight to the outbox when it has no files and nothing of its conversation
   * waits here, else queued. Resolves with its command id once it is durable on the device.
   */
  async submit(intent: Intent, files: ReadonlyArray<NewUploadFile<D>> = []): Promise<{ id: string; queued: boolean }> {
    await this.load();
    const conversationId = conversationOfIntent(intent);
    const behind = conversationId !== null && this.has(conversationId);
    if (files.length === 0 && !behind) return { id: await this.o.dispatch(intent), queued: false };
    if (files.length > 0 && intent.type !== 'send_reply' && intent.type !== 'add_note' && intent.type !== 'log_call') throw new Error('only replies, notes and calls carry attachments');
    if (conversationId === null && intent.type !== 'log_call') throw new Error('only conversation actions wait for uploads');
    const id = this.o.ids.next();
    const queued: QueuedFile[] = files.map((f, i) => ({ ref: f.ref ?? `${id}-${i}`, name: f.name, mime: f.mime || 'application/octet-stream', size: f.size, uploaded: null }));
    for (const [i, f] of files.entries()) {
      if (f.data !== undefined) await this.o.vault.put(queued[i]!.ref, { ref: queued[i]!.ref, name: queued[i]!.name, mime: queued[i]!.mime, size: f.size }, f.data);
    }
    const entry: QueuedUpload = { id, conversationId, intent, files: queued, deviceTime: this.o.clock.now(), state: 'waiting', attempts: 0, nextAttemptAt: 0, error: null };
    this.entries = [...this.entries, entry];
    await this.persist();
    this.kick();
    return { id, queued: true };
  }

  /**
   * Takes over an entry made elsewhere with its command id already fixed (a queue saved by an older
   * version of the app), its files' data put in the vault; an entry with that id already here is kept.
   */
  async adopt(entry: QueuedUpload, data: ReadonlyArray<D | undefined> = []): Promise<void> {
    await this.load();
    if (this.entries.some((e) => e.id === entry.id)) return;
    for (const [i, f] of entry.files.entries()) {
      const d = data[i];
      if (d !== undefined) await this.o.vault.put(f.ref, { ref: f.ref, name: f.name, mime: f.mime, size: f.size }, d);
    }
    this.entries = [...this.entries, { ...copy(entry), state: entry.state === 'uploading' ? 'waiting' : entry.state }];
    await this.persist();
    this.kick();
  }

  async retry(id: string): Promise<void> {
    await this.load();
    const e = this.entries.find((x) => x.id === id);
    if (!e || e.state !== 'failed') return;
    Object.assign(e, { state: 'waiting', attempts: 0, nextAttemptAt: 0, error: null });
    await this.persist();
    this.kick();
  }

  /** Drops an entry and its files (the conversation's later entries move up). */
  async discard(id: string): Promise<void> {
    await this.load();
    const e = this.entries.find((x) => x.id === id);
    if (!e) return;
    this.entries = this.entries.filter((x) => x !== e);
    await this.persist();
    await this.removeFiles(e);
    this.kick();
  }

  /** Starts (or restarts) the work: on start, when the network is back, after changes. */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          await this.load();
          await this.work();
        } while (this.again && !this.stopped);
      } catch (e) {
        this.o.logger?.warn('uploads: queue stopped', { error: messageOf(e) });
      } finally {
        this.running = null;
      }
    })();
  }

  /** Resolves when the current run is over (tests, sign-out). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) this.o.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  /**
   * Timeline entries of a conversation: the queued replies, notes and calls, with their files
   * waiting to upload (`local:<ref>` attachments) and their upload state in `meta`.
   */
  pendingMessages(conversationId: string, agent: { id: string; tenantId: string }): Message[] {
    const out: Message[] = [];
    for (const e of this.entries) {
      if (e.conversationId !== conversationId) continue;
      const m = pendingMessageOf(this.commandOf(e, true), agent);
      if (!m) continue;
      const isNote = m.kind === 'note';
      const uploaded = e.files.filter((f) => f.uploaded).length;
      out.push({
        ...m,
        status: isNote || m.kind === 'call' ? m.status : e.state === 'failed' ? 'failed' : 'queued',
        statusReason: e.state === 'failed' ? e.error : null,
        meta: {
          ...m.meta,
          queued: true,
          uploading: uploaded < e.files.length,
          queueState: e.state,
          queueError: e.error,
          files: e.files.map((f) => ({ ref: f.ref, name: f.name, mime: f.mime, size: f.size, uploaded: f.uploaded !== null })),
          upload: { state: e.state, error: e.error, files: e.files.length, uploaded },
        },
      });
    }
    return out;
  }

  /** A conversation as it will be once its queued actions are applied (status, priority, …). */
  overlay(conv: Conversation, agent: { id: string }): Conversation {
    let c = conv;
    for (const e of this.entries) if (e.conversationId === conv.id) c = applyToConversation(c, this.commandOf(e, true), agent);
    return c;
  }

  // ----- the work ------------------------------------------------------------------------

  private commandOf(e: QueuedUpload, forDisplay = false): Command {
    const base = { ...e.intent, id: e.id, deviceTime: e.deviceTime } as Command;
    if ((base.type !== 'send_reply' && base.type !== 'add_note' && base.type !== 'log_call') || e.files.length === 0) return base;
    const attachments = e.files.map((f) => (f.uploaded ? { ...f.uploaded } : { id: `${LOCAL_ATTACHMENT_PREFIX}${f.ref}`, name: f.name, mime: f.mime, size: f.size }));
    const sent = forDisplay ? attachments : attachments.filter((a) => !a.id.startsWith(LOCAL_ATTACHMENT_PREFIX));
    if (base.type === 'log_call' && sent.length === 0) return base;
    return { ...base, attachments: sent } as Command;
  }

  private async work(): Promise<void> {
    if (this.timer !== null) this.o.clock.clearTimeout(this.timer);
    this.timer = null;
    let wakeAt = Infinity;
    const lanes = [...new Set(this.entries.map((e) => e.conversationId ?? e))];
    for (const lane of lanes) {
      for (;;) {
        if (this.stopped) return;
        const head = typeof lane === 'string' ? this.entries.find((e) => e.conversationId === lane) : this.entries.includes(lane) ? lane : undefined;
        if (!head || head.state === 'failed') break;
        const missing = head.files.filter((f) => f.uploaded === null);
        if (missing.length > 0) {
          if (this.o.isOnline && !this.o.isOnline()) break; // kicked again when the network is back
          if (head.nextAttemptAt > this.o.clock.now()) {
            wakeAt = Math.min(wakeAt, head.nextAttemptAt);
            break;
          }
          if (!(await this.uploadAll(head, missing))) {
            if (head.state === 'waiting') wakeAt = Math.min(wakeAt, head.nextAttemptAt);
            break;
          }
        }
        if (!(await this.handOver(head))) break;
      }
    }
    if (wakeAt !== Infinity && !this.stopped) this.timer = this.o.clock.setTimeout(() => this.kick(), Math.max(0, wakeAt - this.o.clock.now()));
  }

  /** Uploads the entry's remaining files one by one, saving each result; false when one failed. */
  private async uploadAll(e: QueuedUpload, files: QueuedFile[]): Promise<boolean> {
    e.state = 'uploading';
    this.changed.emit();
    for (const f of files) {
      const info: UploadFileInfo = { ref: f.ref, name: f.name, mime: f.mime, size: f.size };
      let data: D | null;
      try {
        data = await this.o.vault.get(f.ref);
      } catch (err) {
        data = null;
        this.o.logger?.warn('uploads: vault read failed', { id: e.id, error: messageOf(err) });
      }
      if (data === null) {
        if (this.dropFile(e, f, 'the file is no longer on this device')) continue;
        return this.fail(e, `${f.name}: the file is no longer on this device`);
      }
      try {
        const a = await this.o.upload(info, data);
        if (!this.entries.includes(e)) return false; // discarded meanwhile
        f.uploaded = { id: a.id, name: a.name, mime: a.mime, size: a.size, ...(a.sha256 ? { sha256: a.sha256 } : {}) };
        this.o.onUploaded?.(a, info, data);
        await this.persist();
      } catch (err) {
        if (!this.entries.includes(e)) return false;
        const reason = messageOf(err);
        this.o.logger?.warn('uploads: upload failed', { id: e.id, file: f.name, retry: isRetryableUpload(err), error: reason });
        if (isRetryableUpload(err)) {
          e.attempts += 1;
          e.state = 'waiting';
          e.error = reason;
          e.nextAttemptAt = this.o.clock.now() + backoffDelay(e.attempts, this.o.random, UPLOAD_BACKOFF);
          await this.persist();
          return false;
        }
        if (this.dropFile(e, f, reason)) continue;
        return this.fail(e, `${f.name}: ${reason}`);
      }
    }
    e.state = 'waiting';
    e.error = null;
    return true;
  }

  /** A call's recording the server refuses for good (or lost) is dropped: the call is still logged. */
  private dropFile(e: QueuedUpload, f: QueuedFile, reason: string): boolean {
    if (e.intent.type !== 'log_call') return false;
    e.files = e.files.filter((x) => x !== f);
    void this.o.vault.remove(f.ref).catch(() => undefined);
    this.dropped.emit({ id: e.id, file: { ref: f.ref, name: f.name, mime: f.mime, size: f.size }, reason });
    return true;
  }

  private async fail(e: QueuedUpload, reason: string): Promise<false> {
    e.state = 'failed';
    e.error = reason;
    await this.persist();
    return false;
  }

  /** Into the outbox (same id: a repeat is deduplicated), then out of the queue with its files. */
  private async handOver(e: QueuedUpload): Promise<boolean> {
    if (!this.entries.includes(e)) return true; // discarded meanwhile
    try {
      await this.o.enqueue(this.commandOf(e));
    } catch (err) {
      // The outbox refused the command (invalid): nothing will change that by waiting.
      return this.fail(e, messageOf(err));
    }
    this.entries = this.entries.filter((x) => x !== e);
    await this.persist();
    await this.removeFiles(e);
    return true;
  }

  private async removeFiles(e: QueuedUpload): Promise<void> {
    for (const f of e.files) await this.o.vault.remove(f.ref).catch(() => undefined);
  }

  private async persist(): Promise<void> {
    await this.o.store.setMeta(this.key, this.entries.map(copy));
    this.changed.emit();
  }
}

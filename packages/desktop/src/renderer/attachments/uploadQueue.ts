// The upload queue: replies with attachments written offline go out once the network is back.
//
// The server takes the file first (POST /api/v1/attachments → its id) and then a send_reply that
// names that id, so such a reply cannot enter core's outbox before its files are uploaded. This
// queue sits in front of the outbox, with one FIFO lane per conversation:
//  - a reply with files waits here (the files and the entry in the vault, IndexedDB) until every file
//    is uploaded, then goes into the outbox with the attachment ids;
//  - while a conversation has something waiting here, the agent's later actions on it (a plain reply,
//    a note, resolve…) queue behind it, so the server sees them in the order they were made; with
//    nothing waiting, actions go straight to the outbox as before;
//  - the command id is fixed when the entry is made, so an app closed between "handed to the outbox"
//    and "removed from the queue" hands over the same command again, which the outbox and the server
//    both deduplicate: the customer gets the reply once;
//  - an upload the network explains (offline, 5xx, 429) backs off and retries; any other failure
//    (file too large, file gone) stops the lane with the reason until the agent retries or discards.
import {
  applyToConversation,
  backoffDelay,
  pendingMessageOf,
  type Attachment,
  type Command,
  type Conversation,
  type Intent,
  type Message,
} from '@goutong/core';
import type { FileVault, StoredFile } from './vault';

export type UploadState = 'waiting' | 'uploading' | 'failed';

export type AttachmentRef = Pick<Attachment, 'id' | 'name' | 'mime' | 'size'>;

export interface QueuedFile {
  /** Key of the file in the vault. */
  ref: string;
  name: string;
  mime: string;
  size: number;
  /** The server's attachment once uploaded. */
  uploaded: AttachmentRef | null;
}

export interface QueuedAction {
  /** Its command id in core's outbox and at the server. */
  id: string;
  conversationId: string;
  /** The action, without attachments (added from `files` once they are uploaded). */
  intent: Intent;
  files: QueuedFile[];
  /** When the agent acted (the command's deviceTime). */
  deviceTime: number;
  state: UploadState;
  attempts: number;
  nextAttemptAt: number;
  error: string | null;
}

/** A file the agent picked in the composer. */
export interface PickedFile {
  blob: Blob;
  name: string;
  mime: string;
  size: number;
}

export interface UploadQueueDeps {
  vault: FileVault;
  upload(file: StoredFile): Promise<Attachment>;
  /** Straight into core's outbox (client.dispatch). */
  dispatch(intent: Intent): Promise<string>;
  /** Into core's outbox with a fixed id and device time (client.outbox.enqueue). */
  enqueue(command: Command): Promise<unknown>;
  isOnline(): boolean;
  now(): number;
  newId(): string;
  random?: () => number;
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
  onChange?(): void;
  /** A file reached the server (the store keeps its bytes for thumbnails). */
  onUploaded?(attachment: Attachment, file: StoredFile): void;
  log?(message: string, fields?: Record<string, unknown>): void;
}

/** Upload retries: 2 s doubling to 5 minutes, ±20 %. */
export const UPLOAD_BACKOFF = { baseMs: 2_000, maxMs: 300_000, jitter: 0.2 } as const;
export const LOCAL_ATTACHMENT_PREFIX = 'local:';

/** Network trouble, 5xx, 429, 408 and an expired token (refreshed on the next try) are worth retrying. */
export function isRetryable(e: unknown): boolean {
  const err = e as { retryable?: unknown; kind?: unknown } | null;
  if (err?.kind === 'auth') return true;
  return typeof err?.retryable === 'boolean' ? err.retryable : true;
}

const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e));

export class UploadQueue {
  private entries: QueuedAction[] = [];
  private loaded: Promise<void> | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private timer: unknown = null;
  private stopped = false;

  constructor(private readonly d: UploadQueueDeps) {}

  load(): Promise<void> {
    // An upload cut off by a reload starts again.
    this.loaded ??= this.d.vault.loadQueue().then((saved) => {
      this.entries = saved.map((e) => (e.state === 'uploading' ? { ...e, state: 'waiting' as const } : e));
    });
    return this.loaded;
  }

  list(): QueuedAction[] {
    return this.entries.map((e) => ({ ...e, files: e.files.map((f) => ({ ...f })) }));
  }

  /** Entries not failed (what the connectivity bar counts as pending). */
  get pending(): number {
    return this.entries.filter((e) => e.state !== 'failed').length;
  }

  get failed(): number {
    return this.entries.filter((e) => e.state === 'failed').length;
  }

  has(conversationId: string): boolean {
    return this.entries.some((e) => e.conversationId === conversationId);
  }

  /**
   * Takes an action: straight to the outbox when it has no files and nothing of its conversation waits
   * here, else queued. Resolves with its command id once it is durable on the device.
   */
  async submit(intent: Intent, files: readonly PickedFile[] = []): Promise<{ id: string; queued: boolean }> {
    await this.load();
    const conversationId = (intent as { conversationId?: string }).conversationId ?? null;
    const behind = conversationId !== null && this.has(conversationId);
    if (files.length === 0 && !behind) return { id: await this.d.dispatch(intent), queued: false };
    if (conversationId === null) throw new Error('only conversation actions wait for uploads');
    if (files.length > 0 && intent.type !== 'send_reply') throw new Error('only replies carry attachments');
    const id = this.d.newId();
    const stored: StoredFile[] = files.map((f, i) => ({ ref: `${id}-${i}`, name: f.name, mime: f.mime || 'application/octet-stream', size: f.size, blob: f.blob }));
    const entry: QueuedAction = {
      id,
      conversationId,
      intent,
      files: stored.map((f) => ({ ref: f.ref, name: f.name, mime: f.mime, size: f.size, uploaded: null })),
      deviceTime: this.d.now(),
      state: 'waiting',
      attempts: 0,
      nextAttemptAt: 0,
      error: null,
    };
    const next = [...this.entries, entry];
    await this.d.vault.put(stored, next);
    this.entries = next;
    this.changed();
    this.kick();
    return { id, queued: true };
  }

  async retry(id: string): Promise<void> {
    await this.load();
    const e = this.entries.find((x) => x.id === id);
    if (!e || e.state !== 'failed') return;
    Object.assign(e, { state: 'waiting', attempts: 0, nextAttemptAt: 0, error: null });
    await this.d.vault.saveQueue(this.entries);
    this.changed();
    this.kick();
  }

  /** Drops an entry and its files; the conversation's later entries move up. */
  async discard(id: string): Promise<void> {
    await this.load();
    const e = this.entries.find((x) => x.id === id);
    if (!e) return;
    const next = this.entries.filter((x) => x !== e);
    await this.d.vault.remove(e.files.map((f) => f.ref), next);
    this.entries = next;
    this.changed();
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
        this.d.log?.('upload queue stopped', { error: messageOf(e) });
      } finally {
        this.running = null;
      }
    })();
  }

  /** Resolves when the current run is over. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) this.d.clearTimer(this.timer);
    this.timer = null;
  }

  /** Timeline entries for a conversation: the queued replies and notes, with their upload state. */
  pendingMessages(conversationId: string, agent: { id: string; tenantId: string }): Message[] {
    const out: Message[] = [];
    for (const e of this.entries) {
      if (e.conversationId !== conversationId) continue;
      const m = pendingMessageOf(this.commandOf(e, true), agent);
      if (!m) continue;
      out.push({
        ...m,
        status: m.kind === 'note' ? null : e.state === 'failed' ? 'failed' : 'queued',
        statusReason: e.state === 'failed' ? e.error : null,
        meta: { ...m.meta, upload: { state: e.state, error: e.error, files: e.files.length, uploaded: e.files.filter((f) => f.uploaded).length } },
      });
    }
    return out;
  }

  /** A conversation as it will be once its queued actions are applied. */
  overlay(conv: Conversation, agent: { id: string }): Conversation {
    let c = conv;
    for (const e of this.entries) if (e.conversationId === conv.id) c = applyToConversation(c, this.commandOf(e, true), agent);
    return c;
  }

  // ----- the work ------------------------------------------------------------------------

  private changed(): void {
    this.d.onChange?.();
  }

  private commandOf(e: QueuedAction, forDisplay = false): Command {
    const base = { ...e.intent, id: e.id, deviceTime: e.deviceTime } as Command;
    if (base.type !== 'send_reply' || e.files.length === 0) return base;
    const attachments = e.files.map((f) => (f.uploaded ? { ...f.uploaded } : { id: `${LOCAL_ATTACHMENT_PREFIX}${f.ref}`, name: f.name, mime: f.mime, size: f.size }));
    return { ...base, attachments: forDisplay ? attachments : attachments.filter((a) => !a.id.startsWith(LOCAL_ATTACHMENT_PREFIX)) };
  }

  private async work(): Promise<void> {
    if (this.timer !== null) this.d.clearTimer(this.timer);
    this.timer = null;
    let wakeAt = Infinity;
    for (const lane of [...new Set(this.entries.map((e) => e.conversationId))]) {
      for (;;) {
        if (this.stopped) return;
        const head = this.entries.find((e) => e.conversationId === lane);
        if (!head || head.state === 'failed') break;
        const missing = head.files.filter((f) => f.uploaded === null);
        if (missing.length > 0) {
          if (!this.d.isOnline()) break; // kicked again when the connection is back
          if (head.nextAttemptAt > this.d.now()) {
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
    if (wakeAt !== Infinity && !this.stopped) this.timer = this.d.setTimer(() => this.kick(), Math.max(0, wakeAt - this.d.now()));
  }

  /** Uploads the entry's remaining files one by one, saving each result; false when one failed. */
  private async uploadAll(e: QueuedAction, files: QueuedFile[]): Promise<boolean> {
    e.state = 'uploading';
    this.changed();
    for (const f of files) {
      const stored = await this.d.vault.get(f.ref);
      if (!stored) return this.fail(e, `${f.name}: the file is no longer on this device`);
      try {
        const a = await this.d.upload(stored);
        f.uploaded = { id: a.id, name: a.name, mime: a.mime, size: a.size };
        this.d.onUploaded?.(a, stored);
        await this.d.vault.saveQueue(this.entries);
        this.changed();
      } catch (err) {
        if (isRetryable(err)) {
          e.attempts++;
          e.state = 'waiting';
          e.error = messageOf(err);
          e.nextAttemptAt = this.d.now() + backoffDelay(e.attempts, this.d.random ?? Math.random, UPLOAD_BACKOFF);
          await this.d.vault.saveQueue(this.entries);
          this.changed();
          return false;
        }
        return this.fail(e, `${f.name}: ${messageOf(err)}`);
      }
    }
    e.state = 'waiting';
    e.error = null;
    return true;
  }

  private async fail(e: QueuedAction, reason: string): Promise<false> {
    e.state = 'failed';
    e.error = reason;
    await this.d.vault.saveQueue(this.entries);
    this.changed();
    return false;
  }

  /** Into the outbox (same id: a repeat is deduplicated), then out of the queue with its files. */
  private async handOver(e: QueuedAction): Promise<boolean> {
    try {
      await this.d.enqueue(this.commandOf(e));
    } catch (err) {
      return this.fail(e, messageOf(err));
    }
    const next = this.entries.filter((x) => x !== e);
    await this.d.vault.remove(e.files.map((f) => f.ref), next);
    this.entries = next;
    this.changed();
    return true;
  }
}

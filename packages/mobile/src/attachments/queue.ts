// The upload queue: replies with photos taken in a basement, sent when the network is back.
//
// The server takes a file first (`POST /api/v1/attachments`, which answers with its id) and a
// `send_reply` that references it by id after, so a reply with attachments cannot go into core's
// outbox until its files are uploaded. This queue sits in front of the outbox, one FIFO lane per
// conversation:
//  - a reply with files waits here (the files kept on the device, the entry in the local store's
//    meta, so both survive a restart) until every file is uploaded, then goes to the outbox;
//  - while a conversation has something waiting here, the agent's later actions on it (a text
//    reply, a note, resolve, …) queue behind it, so the server sees them in the order they were
//    made; with nothing waiting, actions go straight to the outbox as before;
//  - each entry's command id is fixed when it is queued, so an app killed between "handed to the
//    outbox" and "removed from the queue" hands over the same command again, which the outbox and
//    the server both deduplicate: the customer gets the reply once.
// Upload failures the network explains back off and retry; others (file too large, file gone)
// stop the lane with the reason, until the agent retries or discards the entry.
import type { Attachment, Command, Conversation, Intent, Message } from '@goutong/core';
import { applyToConversation, pendingMessageOf } from '@goutong/core';
import type { LocalFile } from '../app/services';

export const QUEUE_META_KEY = 'mobile.attachmentQueue';

export type QueuedState = 'waiting' | 'uploading' | 'failed';

export interface QueuedFile extends LocalFile {
  /** The server's attachment once uploaded. */
  uploaded: Pick<Attachment, 'id' | 'name' | 'mime' | 'size'> | null;
}

export interface QueuedCommand {
  /** Its command id in core's outbox and at the server. */
  id: string;
  conversationId: string;
  /** The action, without the attachments (filled in from `files` once uploaded). */
  intent: Intent;
  files: QueuedFile[];
  /** When the agent acted (the command's deviceTime). */
  deviceTime: number;
  state: QueuedState;
  attempts: number;
  nextAttemptAt: number;
  error: string | null;
}

export interface AttachmentQueueDeps {
  meta: { get(key: string): Promise<unknown>; set(key: string, value: unknown): Promise<void> };
  files: { remove(ref: string): Promise<void> };
  upload(file: LocalFile): Promise<Attachment>;
  /** Straight to core's outbox (client.dispatch). */
  dispatch(intent: Intent): Promise<string>;
  /** Into core's outbox with a given id and device time (client.outbox.enqueue). */
  enqueue(command: Command): Promise<unknown>;
  isOnline(): boolean;
  now(): number;
  newId(): string;
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
  onChange?(): void;
  log?(message: string, fields?: Record<string, unknown>): void;
}

/** Retry delay after `attempts` failed uploads: 2 s doubling to 5 min, with ±20 % jitter. */
export function uploadBackoff(attempts: number, random: () => number = Math.random): number {
  const base = Math.min(300_000, 2_000 * 2 ** Math.max(0, attempts - 1));
  return Math.round(base * (0.8 + 0.4 * random()));
}

/** Whether an upload error is worth retrying (network trouble, 5xx, 429, 408), as core's TransportError says. */
export function isRetryable(e: unknown): boolean {
  const r = (e as { retryable?: unknown } | null)?.retryable;
  return typeof r === 'boolean' ? r : true;
}

const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** The conversation an action is on (a call logged by number has none yet). */
export function conversationOf(intent: Intent): string | null {
  const id = (intent as { conversationId?: unknown }).conversationId;
  return typeof id === 'string' ? id : null;
}

export class AttachmentQueue {
  private entries: QueuedCommand[] = [];
  private loaded = false;
  private running: Promise<void> | null = null;
  private again = false;
  private timer: unknown = null;
  private stopped = false;

  constructor(private readonly d: AttachmentQueueDeps) {}

  async load(): Promise<void> {
    if (this.loaded) return;
    const saved = await this.d.meta.get(QUEUE_META_KEY);
    // An upload cut off by a restart starts again.
    this.entries = Array.isArray(saved) ? (saved as QueuedCommand[]).map((e) => (e.state === 'uploading' ? { ...e, state: 'waiting' } : e)) : [];
    this.loaded = true;
  }

  list(): QueuedCommand[] {
    return this.entries.map((e) => ({ ...e, files: e.files.map((f) => ({ ...f })) }));
  }

  /** Entries of one conversation, in order. */
  of(conversationId: string): QueuedCommand[] {
    return this.list().filter((e) => e.conversationId === conversationId);
  }

  get size(): number {
    return this.entries.length;
  }

  /**
   * Takes an action: straight to the outbox when it has no files and nothing of its conversation
   * waits here; else queued. Resolves with its command id once it is durable.
   */
  async submit(intent: Intent, files: readonly LocalFile[] = []): Promise<{ id: string; queued: boolean }> {
    await this.load();
    const conversationId = conversationOf(intent);
    const behind = conversationId !== null && this.entries.some((e) => e.conversationId === conversationId);
    if (files.length === 0 && !behind) return { id: await this.d.dispatch(intent), queued: false };
    if (conversationId === null) throw new Error('only conversation actions can wait for uploads');
    if (files.length > 0 && intent.type !== 'send_reply') throw new Error('only replies carry attachments');
    const entry: QueuedCommand = {
      id: this.d.newId(),
      conversationId,
      intent,
      files: files.map((f) => ({ ref: f.ref, name: f.name, mime: f.mime, size: f.size, uploaded: null })),
      deviceTime: this.d.now(),
      state: 'waiting',
      attempts: 0,
      nextAttemptAt: 0,
      error: null,
    };
    this.entries.push(entry);
    await this.persist();
    this.kick();
    return { id: entry.id, queued: true };
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

  /** Starts (or restarts) the work: call on start, when the network comes back, after changes. */
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
    if (this.timer !== null) this.d.clearTimer(this.timer);
    this.timer = null;
  }

  /** Pending messages to show in a conversation's timeline (the reply with its files waiting to upload). */
  pendingMessages(conversationId: string, agent: { id: string; tenantId: string }): Message[] {
    const out: Message[] = [];
    for (const e of this.entries) {
      if (e.conversationId !== conversationId) continue;
      const m = pendingMessageOf(this.commandOf(e, true), agent);
      if (!m) continue;
      out.push({
        ...m,
        meta: { ...m.meta, queued: true, queueState: e.state, queueError: e.error, files: e.files.map((f) => ({ ref: f.ref, name: f.name, mime: f.mime, size: f.size, uploaded: f.uploaded !== null })) },
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

  private commandOf(e: QueuedCommand, forDisplay = false): Command {
    const base = { ...e.intent, id: e.id, deviceTime: e.deviceTime } as Command;
    if (base.type !== 'send_reply' || e.files.length === 0) return base;
    const attachments = e.files.map((f) => (f.uploaded ? { ...f.uploaded } : { id: `local:${f.ref}`, name: f.name, mime: f.mime, size: f.size }));
    return { ...base, attachments: forDisplay ? attachments : attachments.filter((a) => !a.id.startsWith('local:')) };
  }

  private async work(): Promise<void> {
    if (this.timer !== null) this.d.clearTimer(this.timer);
    this.timer = null;
    let wakeAt = Infinity;
    const lanes = [...new Set(this.entries.map((e) => e.conversationId))];
    for (const lane of lanes) {
      for (;;) {
        if (this.stopped) return;
        const head = this.entries.find((e) => e.conversationId === lane);
        if (!head || head.state === 'failed') break;
        const pendingFiles = head.files.filter((f) => f.uploaded === null);
        if (pendingFiles.length > 0) {
          if (!this.d.isOnline()) break; // the network monitor kicks us when it is back
          if (head.nextAttemptAt > this.d.now()) {
            wakeAt = Math.min(wakeAt, head.nextAttemptAt);
            break;
          }
          if (!(await this.uploadAll(head, pendingFiles))) {
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
  private async uploadAll(e: QueuedCommand, files: QueuedFile[]): Promise<boolean> {
    e.state = 'uploading';
    this.d.onChange?.();
    for (const f of files) {
      try {
        const a = await this.d.upload(f);
        if (!this.entries.includes(e)) return false; // discarded meanwhile
        f.uploaded = { id: a.id, name: a.name, mime: a.mime, size: a.size };
        await this.persist();
      } catch (err) {
        e.attempts += 1;
        if (isRetryable(err)) {
          e.state = 'waiting';
          e.nextAttemptAt = this.d.now() + uploadBackoff(e.attempts);
          e.error = messageOf(err);
        } else {
          e.state = 'failed';
          e.error = messageOf(err);
        }
        this.d.log?.('attachment upload failed', { id: e.id, file: f.name, retry: e.state === 'waiting', error: e.error });
        await this.persist();
        return false;
      }
    }
    e.state = 'waiting';
    e.error = null;
    return true;
  }

  /** Gives the entry to core's outbox and drops it from the queue (and its files from the device). */
  private async handOver(e: QueuedCommand): Promise<boolean> {
    if (!this.entries.includes(e)) return true; // discarded meanwhile
    try {
      await this.d.enqueue(this.commandOf(e));
    } catch (err) {
      // core refused the command (invalid): nothing will change that by waiting.
      e.state = 'failed';
      e.error = messageOf(err);
      await this.persist();
      return false;
    }
    this.entries = this.entries.filter((x) => x !== e);
    await this.persist();
    await this.removeFiles(e);
    return true;
  }

  private async removeFiles(e: QueuedCommand): Promise<void> {
    for (const f of e.files) await this.d.files.remove(f.ref).catch(() => undefined);
  }

  private async persist(): Promise<void> {
    await this.d.meta.set(QUEUE_META_KEY, this.entries);
    this.d.onChange?.();
  }
}

import type { Conversation } from '../../domain/model.js';
import { conversationOf } from '../../commands/commands.js';
import type { ClientChange } from '../client.js';
import type { AssignmentWatcher, Transition } from './assignmentWatcher.js';
import { coalesceChanges, type Schedule } from './changeStream.js';
import { conversationNotices, messageNotice, type Notice, type NotifyAgent, type NotifyContext } from './notificationPolicy.js';
import type { ViewClient, ViewClock, ViewStore } from './ports.js';
import type { ReadState } from './readState.js';
import { ViewState } from './store.js';

/** An action of this device on a conversation (assign, reply) keeps its assignment from being news this long. */
export const OWN_ACTION_MS = 10 * 60_000;
/** Messages read per changed conversation when looking for mentions and SLA warnings. */
const RECENT_MESSAGES = 20;
/** Keys of notices already shown, kept (the newest) to drop repeats. */
const SHOWN_LIMIT = 500;

export interface NotificationSnapshot {
  /** The badge: the agent's conversations with unread customer messages. */
  badge: number;
  /** Notices shown in this session (newest last, at most 50). */
  recent: readonly Notice[];
  /** The session's history line; null until the first sync completed. */
  baselineSeq: number | null;
}

export interface NotificationOptions {
  client: ViewClient;
  store: ViewStore;
  clock: ViewClock;
  watcher: AssignmentWatcher;
  readState: ReadState;
  me: () => NotifyAgent;
  /** Shows a notice (OS notification, browser Notification, in-app banner). */
  deliver: (notice: Notice) => void | Promise<unknown>;
  /** Whether notices are wanted (a setting); the badge is kept either way. */
  enabled?: () => boolean;
  schedule?: Schedule;
}

/**
 * Applies the notification policy to what arrives: waits for the session's first sync (what it
 * brings is history), then hands each new notice to `deliver` once, and keeps the badge count.
 */
export class NotificationWatcher {
  readonly state = new ViewState<NotificationSnapshot>({ badge: 0, recent: [], baselineSeq: null });
  private readonly own = new Map<string, number>();
  private readonly shown = new Set<string>();
  private offs: Array<() => void> = [];
  private work: Promise<void> = Promise.resolve();

  constructor(private readonly o: NotificationOptions) {}

  async start(): Promise<void> {
    this.stop();
    const { client, watcher } = this.o;
    this.offs.push(
      watcher.onTransitions((t) => this.enqueue(() => this.onTransitions(t))),
      coalesceChanges(client.changes, (c) => this.onChange(c), this.o.schedule),
      this.o.readState.subscribe(() => this.updateBadge()),
      watcher.state.subscribe(() => this.updateBadge()),
    );
    this.noteOwnActions();
    if (client.connectivity.value.lastSyncedAt !== null) await this.setBaseline();
    else {
      const off = client.connectivity.subscribe((s) => {
        if (s.lastSyncedAt === null || this.state.getSnapshot().baselineSeq !== null) return;
        off();
        void this.enqueue(() => this.setBaseline());
      });
      this.offs.push(off);
    }
    this.updateBadge();
  }

  stop(): void {
    for (const off of this.offs) off();
    this.offs = [];
  }

  idle(): Promise<void> {
    return this.work;
  }

  /** This device acted on the conversation (the watcher also sees its outbox by itself). */
  noteOwnAction(conversationId: string): void {
    this.own.set(conversationId, this.o.clock.now());
  }

  private enqueue(fn: () => Promise<void> | void): Promise<void> {
    this.work = this.work.then(fn).catch(() => undefined);
    return this.work;
  }

  private async setBaseline(): Promise<void> {
    if (this.state.getSnapshot().baselineSeq !== null) return;
    const { checkpoint } = await this.o.store.getCheckpoint();
    this.state.set({ baselineSeq: checkpoint });
  }

  private context(): NotifyContext {
    const now = this.o.clock.now();
    for (const [id, at] of this.own) if (now - at > OWN_ACTION_MS) this.own.delete(id);
    return { me: this.o.me(), baselineSeq: this.state.getSnapshot().baselineSeq, ownActions: new Set(this.own.keys()) };
  }

  private noteOwnActions(): void {
    for (const e of this.o.client.outboxEntries()) {
      if (e.state === 'acked') continue;
      const id = conversationOf(e.command);
      if (id && !this.own.has(id)) this.own.set(id, e.createdAt);
    }
  }

  private onChange(c: ClientChange): void {
    if (c.outbox) this.noteOwnActions();
    const ids = c.messageConversationIds;
    if (ids?.length) void this.enqueue(() => this.checkMessages(ids));
  }

  private async onTransitions(transitions: Transition[]): Promise<void> {
    this.noteOwnActions();
    const ctx = this.context();
    for (const t of transitions) for (const n of conversationNotices(t.before, t.after, ctx)) await this.show(n);
  }

  private async checkMessages(conversationIds: readonly string[]): Promise<void> {
    const ctx = this.context();
    if (ctx.baselineSeq === null) return;
    for (const id of conversationIds) {
      const msgs = await this.o.client.messages(id, { limit: RECENT_MESSAGES });
      let conv: Conversation | null | undefined;
      for (const m of msgs.slice().reverse()) {
        if (m.seq <= ctx.baselineSeq) continue;
        conv ??= this.o.watcher.get(id) ?? (await this.o.client.conversation(id));
        const n = messageNotice(m, conv, ctx);
        if (n) await this.show(n);
      }
    }
  }

  private async show(n: Notice): Promise<void> {
    if (this.shown.has(n.key)) return;
    this.shown.add(n.key);
    if (this.shown.size > SHOWN_LIMIT) this.shown.delete(this.shown.values().next().value as string);
    this.state.set({ recent: [...this.state.getSnapshot().recent, n].slice(-50) });
    if (this.o.enabled && !this.o.enabled()) return;
    try {
      await this.o.deliver(n);
    } catch {
      /* the host could not show it (permission): the badge and the list still say it */
    }
  }

  private updateBadge(): void {
    const rs = this.o.readState;
    const badge = this.o.watcher.mine().filter((c) => rs.isUnread(c)).length;
    this.state.set({ badge });
  }
}

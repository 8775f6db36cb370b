import type { Message } from '../../domain/model.js';
import type { OutboxEntry } from '../../ports/storage.js';
import { conversationOf, type Command } from '../../commands/commands.js';
import type { ClientChange } from '../client.js';
import { coalesceChanges, type Schedule } from './changeStream.js';
import { deliveryOf, failureReasonOf, isDeliverable, STUCK_AFTER_MS, summarizeCommand, type CommandSummary, type DeliveryView } from './delivery.js';
import type { ViewClient, ViewClock, ViewStore } from './ports.js';
import { ViewState } from './store.js';

/** One thing that did not go out, or waits too long: an outbox command or a reply the provider refused. */
export interface DeliveryProblem {
  /** The command id (= the message id of a reply or note). */
  id: string;
  conversationId: string | null;
  source: 'outbox' | 'provider';
  summary: CommandSummary;
  delivery: DeliveryView;
  at: number;
}

export interface DeliverySnapshot {
  /** Everything that failed: rejected commands, failed uploads and replies the provider refused. */
  failed: number;
  /** Waiting longer than the threshold, or behind a provider that does not answer. */
  stuck: number;
  /** Conversations with a failed or stuck message (list rows mark them). */
  conversationIds: readonly string[];
  problems: readonly DeliveryProblem[];
  /** Refused replies already sent again or dismissed (their message stays failed; no second resend). */
  dismissed: readonly string[];
}

const DISMISSED_KEY = 'views.deliveryDismissed';
/** Messages read per conversation when looking for provider failures. */
const RECENT = 20;
/** How often waiting messages are looked at again (to notice they became stuck). */
const RECHECK_MS = 15_000;

export interface DeliveryTrackerOptions {
  client: ViewClient;
  store: ViewStore;
  clock: ViewClock;
  stuckAfterMs?: number;
  schedule?: Schedule;
}

/**
 * Counts what did not go out, for the top bar, the list rows and the outbox: the outbox's failed
 * commands, replies of this agent that the provider refused (from the message facts), and what is
 * stuck. A refused reply stays counted until it is sent again or dismissed.
 */
export class DeliveryTracker {
  readonly state = new ViewState<DeliverySnapshot>({ failed: 0, stuck: 0, conversationIds: [], problems: [], dismissed: [] });
  /** Provider-side problems by message id. */
  private readonly serverSide = new Map<string, { message: Message; delivery: DeliveryView }>();
  private dismissed = new Set<string>();
  private off: (() => void) | null = null;
  private timer: unknown = null;
  private work: Promise<void> = Promise.resolve();

  constructor(private readonly o: DeliveryTrackerOptions) {}

  /** `watch`: conversations to look through at start (e.g. the agent's own). */
  async start(watch: readonly string[] = []): Promise<void> {
    this.stop();
    const raw = await this.o.store.getMeta<unknown>(DISMISSED_KEY);
    this.dismissed = new Set(Array.isArray(raw) ? raw.filter((x): x is string => typeof x === 'string') : []);
    this.off = coalesceChanges(this.o.client.changes, (c) => this.onChange(c), this.o.schedule);
    await this.enqueue(() => this.scan(watch));
    this.arm();
  }

  /** Looks through more conversations (one the agent opened, say). */
  watch(conversationIds: readonly string[]): Promise<void> {
    return this.enqueue(() => this.scan(conversationIds));
  }

  stop(): void {
    this.off?.();
    this.off = null;
    if (this.timer !== null) this.o.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  idle(): Promise<void> {
    return this.work;
  }

  /** Retry: the outbox or upload command again, or (refused by the provider) the same reply as a new message. */
  async retry(id: string): Promise<void> {
    if (this.dismissed.has(id)) return;
    const server = this.serverSide.get(id);
    if (server) {
      const m = server.message;
      await this.o.client.dispatch({ type: 'send_reply', conversationId: m.conversationId, text: m.text, ...(m.subject ? { subject: m.subject } : {}), ...(m.attachments.length ? { attachments: m.attachments } : {}) });
      await this.dismiss(id);
      return;
    }
    await this.o.client.retry(id);
  }

  /** Discard: drops a failed command from the outbox, or stops counting a refused reply. */
  async discard(id: string): Promise<void> {
    if (this.serverSide.has(id)) return this.dismiss(id);
    await this.o.client.discard(id);
  }

  private async dismiss(id: string): Promise<void> {
    this.dismissed.add(id);
    this.serverSide.delete(id);
    await this.o.store.setMeta(DISMISSED_KEY, [...this.dismissed].slice(-1000));
    this.publish();
  }

  private enqueue(fn: () => Promise<void> | void): Promise<void> {
    this.work = this.work.then(fn).catch(() => undefined);
    return this.work;
  }

  private onChange(c: ClientChange): void {
    const ids = c.messageConversationIds;
    if (ids?.length) void this.enqueue(() => this.scan(ids));
    else if (c.outbox || c.reset) this.publish();
  }

  private arm(): void {
    if (this.timer !== null) this.o.clock.clearTimeout(this.timer);
    this.timer = this.o.clock.setTimeout(() => {
      this.timer = null;
      if (!this.off) return;
      const waiting = [...this.serverSide.values()].filter((s) => s.delivery.state !== 'failed').map((s) => s.message.conversationId);
      void this.enqueue(() => this.scan([...new Set(waiting)])).then(() => this.arm());
    }, RECHECK_MS);
  }

  private async scan(conversationIds: readonly string[]): Promise<void> {
    const me = this.o.client.agent.id;
    const now = this.o.clock.now();
    for (const id of conversationIds) {
      const msgs = await this.o.client.messages(id, { limit: RECENT });
      for (const m of msgs) {
        if (!isDeliverable(m) || m.authorId !== me) continue;
        // Outbox entries are counted from the outbox itself.
        if (this.o.client.outboxEntries().some((e) => e.id === m.id && e.state !== 'acked')) continue;
        const d = deliveryOf(m, { now, ...(this.o.stuckAfterMs !== undefined ? { stuckAfterMs: this.o.stuckAfterMs } : {}) });
        if (d && d.stage === 'server' && (d.state === 'failed' || d.stuck) && !this.dismissed.has(m.id)) this.serverSide.set(m.id, { message: m, delivery: d });
        else this.serverSide.delete(m.id);
      }
    }
    this.publish();
  }

  private publish(): void {
    const now = this.o.clock.now();
    const stuckAfter = this.o.stuckAfterMs ?? STUCK_AFTER_MS;
    const problems: DeliveryProblem[] = [];
    for (const e of this.o.client.outboxEntries()) {
      const p = outboxProblem(e, now, stuckAfter);
      if (p) problems.push(p);
    }
    for (const u of this.o.client.uploads?.list() ?? []) {
      if (u.state !== 'failed') continue;
      const summary = summarizeCommand({ ...u.intent, id: u.id, deviceTime: u.deviceTime } as Command);
      problems.push({ id: u.id, conversationId: u.conversationId, source: 'outbox', summary, delivery: { state: 'failed', stage: 'device', stuck: false, reason: 'upload_failed', detail: u.error, retry: 'upload' }, at: u.deviceTime });
    }
    for (const { message: m, delivery } of this.serverSide.values()) {
      problems.push({ id: m.id, conversationId: m.conversationId, source: 'provider', summary: { kind: 'reply', conversationId: m.conversationId, detail: summarizeText(m.text) }, delivery, at: m.createdAt });
    }
    problems.sort((a, b) => b.at - a.at);
    const failed = problems.filter((p) => p.delivery.state === 'failed').length;
    this.state.set({ dismissed: [...this.dismissed], failed, stuck: problems.length - failed, conversationIds: [...new Set(problems.map((p) => p.conversationId).filter((x): x is string => x !== null))], problems });
  }
}

function summarizeText(t: string): string {
  const s = t.replace(/\s+/g, ' ').trim();
  return s.length > 80 ? `${s.slice(0, 79)}…` : s;
}

function outboxProblem(e: OutboxEntry, now: number, stuckAfter: number): DeliveryProblem | null {
  if (e.state === 'acked') return null;
  const summary = summarizeCommand(e.command);
  if (e.state === 'failed') {
    const delivery: DeliveryView = { state: 'failed', stage: 'device', stuck: false, reason: failureReasonOf(e.error?.code, e.error?.message), detail: e.error?.message ?? null, retry: 'outbox' };
    return { id: e.id, conversationId: conversationOf(e.command), source: 'outbox', summary, delivery, at: e.createdAt };
  }
  if (now - e.createdAt <= stuckAfter) return null;
  return { id: e.id, conversationId: conversationOf(e.command), source: 'outbox', summary, delivery: { state: e.state === 'inflight' ? 'sending' : 'queued', stage: 'device', stuck: true, reason: null, detail: null, retry: null }, at: e.createdAt };
}

import type { Conversation } from '../../domain/model.js';
import type { ClientChange } from '../client.js';
import { coalesceChanges, type Schedule } from './changeStream.js';
import { inMyQueue, isMine, type NotifyAgent } from './notificationPolicy.js';
import type { ViewClient } from './ports.js';
import { ViewState } from './store.js';

/** A conversation that entered, changed in, or left the agent's set (theirs or their queue). */
export interface Transition {
  before: Conversation | null;
  after: Conversation;
}

export interface AssignmentSnapshot {
  /** Ids of the active conversations assigned to the agent, newest activity first. */
  mine: readonly string[];
  /** Ids of the active unassigned conversations in the agent's teams. */
  queue: readonly string[];
  ready: boolean;
}

/** How many rows each set reads at start (the newest activity first). */
const WATCH_LIMIT = 500;

/**
 * Keeps the agent's conversations and their queue from the local database as facts arrive, and
 * tells listeners what changed (the notification watcher, the badge). Reads nothing from the
 * server itself.
 */
export class AssignmentWatcher {
  readonly state = new ViewState<AssignmentSnapshot>({ mine: [], queue: [], ready: false });
  private known = new Map<string, Conversation>();
  private readonly listeners = new Set<(t: Transition[]) => void>();
  private off: (() => void) | null = null;
  private work: Promise<void> = Promise.resolve();

  constructor(
    private readonly client: ViewClient,
    private readonly me: () => NotifyAgent,
    private readonly schedule?: Schedule,
  ) {}

  async start(): Promise<void> {
    this.stop();
    this.off = coalesceChanges(this.client.changes, (c) => this.enqueue(c), this.schedule);
    await this.enqueue({ reset: true });
  }

  stop(): void {
    this.off?.();
    this.off = null;
  }

  /** Resolves once the changes heard so far are processed. */
  idle(): Promise<void> {
    return this.work;
  }

  onTransitions(fn: (t: Transition[]) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** The known conversations assigned to the agent. */
  mine(): Conversation[] {
    const me = this.me();
    return [...this.known.values()].filter((c) => isMine(c, me));
  }

  get(id: string): Conversation | null {
    return this.known.get(id) ?? null;
  }

  private enqueue(change: ClientChange): Promise<void> {
    if (!change.reset && !change.conversationIds?.length && !change.outbox) return this.work;
    this.work = this.work.then(() => this.apply(change)).catch(() => undefined);
    return this.work;
  }

  private async apply(change: ClientChange): Promise<void> {
    const me = this.me();
    const transitions: Transition[] = [];
    if (change.reset) {
      const [mine, queue] = await Promise.all([
        this.client.queryConversations({ assigneeId: me.id, status: ['open', 'pending'], sort: 'lastActivity', limit: WATCH_LIMIT }),
        this.client.queryConversations({ assigneeId: null, status: ['open', 'pending'], sort: 'lastActivity', limit: WATCH_LIMIT }),
      ]);
      const next = new Map<string, Conversation>();
      for (const c of [...mine, ...queue.filter((q) => inMyQueue(q, me))]) next.set(c.id, c);
      for (const c of next.values()) transitions.push({ before: this.known.get(c.id) ?? null, after: c });
      this.known = next;
    }
    // An outbox change may be this agent's own action (assign, reply): the overlay moves rows.
    const ids = new Set(change.conversationIds ?? []);
    if (change.outbox) for (const e of this.client.outboxEntries()) if ('conversationId' in e.command && e.command.conversationId) ids.add(e.command.conversationId);
    for (const id of ids) {
      if (change.reset && this.known.has(id)) continue;
      const c = await this.client.conversation(id);
      const before = this.known.get(id) ?? null;
      if (!c) {
        this.known.delete(id);
        continue;
      }
      if (isMine(c, me) || inMyQueue(c, me)) this.known.set(id, c);
      else this.known.delete(id);
      if (before === null || before.seq !== c.seq || before.assigneeId !== c.assigneeId || before.status !== c.status) transitions.push({ before, after: c });
    }
    const rows = [...this.known.values()].sort((a, b) => b.lastMessageAt - a.lastMessageAt);
    this.state.set({ mine: rows.filter((c) => isMine(c, me)).map((c) => c.id), queue: rows.filter((c) => inMyQueue(c, me)).map((c) => c.id), ready: true });
    if (transitions.length) for (const l of [...this.listeners]) l(transitions);
  }
}

// The visitor's durable outbox: a message is written to storage before anything is sent, and leaves
// it only when the server acknowledged it after its commit (201, or 200 for a duplicate). The client
// id is the idempotency key, so a retry after a lost answer stores nothing twice. Failures that may
// pass later (offline, 5xx, 429) are retried with exponential backoff and jitter; a refusal (4xx) is
// kept as a visible failed state with its reason.
import { backoffDelay } from '@goutong/core';

export interface ContactFields {
  name?: string;
  email?: string;
  phone?: string;
}

export interface OutboxItem {
  clientId: string;
  text: string;
  deviceTime: number;
  attachments: string[];
  /** Names of the attached files, shown while the message is pending. */
  files: string[];
  /** Files kept in the browser (IndexedDB keys) until uploaded; each upload adds its reference to `attachments`. */
  blobs?: string[];
  preChat?: ContactFields;
  offline?: ContactFields;
  state: 'pending' | 'failed';
  attempts: number;
  nextAt: number;
  error?: string;
}

/** localStorage-like (tests pass a Map-backed one). */
export interface KeyValue {
  getItem(k: string): string | null;
  setItem(k: string, v: string): void;
}

export type SendOutcome = { kind: 'acked'; body: unknown } | { kind: 'retry'; reason: string; retryAfterMs?: number } | { kind: 'refused'; reason: string };

export const BACKOFF = { baseMs: 1000, maxMs: 30_000, jitter: 0.2 } as const;

export class Outbox {
  private flushing: Promise<void> | null = null;
  constructor(
    private readonly kv: KeyValue,
    private readonly key: string,
    private readonly now: () => number = Date.now,
    private readonly random: () => number = Math.random,
  ) {}

  items(): OutboxItem[] {
    try {
      const raw = JSON.parse(this.kv.getItem(this.key) ?? '[]') as unknown;
      return Array.isArray(raw) ? (raw as OutboxItem[]).filter((i) => typeof i?.clientId === 'string') : [];
    } catch {
      return [];
    }
  }

  private save(items: OutboxItem[]): void {
    this.kv.setItem(this.key, JSON.stringify(items));
  }

  /** Persists a new message first: nothing else happens before it is stored. */
  add(item: Omit<OutboxItem, 'state' | 'attempts' | 'nextAt'>): OutboxItem {
    const full: OutboxItem = { ...item, state: 'pending', attempts: 0, nextAt: 0 };
    this.save([...this.items(), full]);
    return full;
  }

  /** Records progress of a message (an uploaded file's reference) without changing its place. */
  update(clientId: string, patch: Partial<Pick<OutboxItem, 'attachments' | 'blobs'>>): void {
    this.save(this.items().map((i) => (i.clientId === clientId ? { ...i, ...patch } : i)));
  }

  remove(clientId: string): void {
    this.save(this.items().filter((i) => i.clientId !== clientId));
  }

  /** A failed message sent again by the visitor (same client id: still exactly once). */
  retry(clientId: string): void {
    this.save(this.items().map((i) => (i.clientId === clientId ? { ...i, state: 'pending', attempts: 0, nextAt: 0, error: undefined } : i)) as OutboxItem[]);
  }

  /** The connection came back: every pending message is due now (the backoff was for an unreachable server). */
  wake(): void {
    this.save(this.items().map((i) => (i.state === 'pending' ? { ...i, nextAt: 0 } : i)));
  }

  /** When the next pending message is due (ms from now), or null when nothing waits. */
  nextDueIn(): number | null {
    const pending = this.items().filter((i) => i.state === 'pending');
    if (pending.length === 0) return null;
    return Math.max(0, Math.min(...pending.map((i) => i.nextAt)) - this.now());
  }

  /**
   * Sends due messages in order, one at a time (a later one waits while an earlier one backs off, so
   * the agent reads them in the order written). Concurrent calls share one pass.
   */
  flush(send: (item: OutboxItem) => Promise<SendOutcome>, onAck: (item: OutboxItem, body: unknown) => void = () => {}): Promise<void> {
    if (this.flushing) return this.flushing;
    const self = { pass: null as Promise<void> | null };
    self.pass = (async () => {
      await Promise.resolve();
      try {
        for (;;) {
          const next = this.items().find((i) => i.state === 'pending');
          if (!next || next.nextAt > this.now()) return;
          const outcome = await send(next).catch((e: unknown): SendOutcome => ({ kind: 'retry', reason: String(e) }));
          if (outcome.kind === 'acked') {
            this.remove(next.clientId);
            onAck(next, outcome.body);
            continue;
          }
          const attempts = next.attempts + 1;
          const update: Partial<OutboxItem> =
            outcome.kind === 'refused'
              ? { state: 'failed', error: outcome.reason, attempts }
              : { attempts, error: outcome.reason, nextAt: this.now() + Math.max(outcome.retryAfterMs ?? 0, backoffDelay(attempts, this.random, BACKOFF)) };
          this.save(this.items().map((i) => (i.clientId === next.clientId ? { ...i, ...update } : i)));
          if (outcome.kind === 'retry') return;
        }
      } finally {
        if (this.flushing === self.pass) this.flushing = null;
      }
    })();
    this.flushing = self.pass;
    return self.pass;
  }
}

/** Maps an HTTP answer to the outbox's outcome. */
export function outcomeOf(status: number, body: unknown, retryAfter: string | null): SendOutcome {
  if (status === 200 || status === 201) return { kind: 'acked', body };
  const message = (body as { error?: { message?: string } } | null)?.error?.message ?? `HTTP ${status}`;
  if (status === 429 || status === 408 || status >= 500) return { kind: 'retry', reason: message, ...(retryAfter && /^\d+$/.test(retryAfter) ? { retryAfterMs: Number(retryAfter) * 1000 } : {}) };
  return { kind: 'refused', reason: message };
}

import type { Clock, TimerHandle } from '../ports/platform.js';

interface Timer {
  id: number;
  at: number;
  /** Tie-breaker: timers due at the same time run in the order they were set. */
  order: number;
  fn: () => void;
}

export interface FakeClockOptions {
  /** Start time in ms since the epoch (default 2026-01-01T00:00:00Z). */
  start?: number;
  /**
   * Lets pending promise callbacks run. The default yields one real macrotask (setImmediate or
   * setTimeout(0) when the host has one), which drains every queued microtask; without a host
   * timer it falls back to a burst of resolved promises.
   */
  flush?: () => Promise<void>;
}

/** A real macrotask yield (Node, browsers), looked up at runtime: core's lib has no timer globals. */
function hostFlush(): () => Promise<void> {
  const g = globalThis as unknown as {
    setImmediate?: (fn: () => void) => unknown;
    setTimeout?: (fn: () => void, ms: number) => unknown;
  };
  if (typeof g.setImmediate === 'function') {
    const si = g.setImmediate;
    return () => new Promise<void>((resolve) => void si(resolve));
  }
  if (typeof g.setTimeout === 'function') {
    const st = g.setTimeout;
    return () => new Promise<void>((resolve) => void st(resolve, 0));
  }
  return async () => {
    for (let i = 0; i < 200; i++) await Promise.resolve();
  };
}

export const DEFAULT_FAKE_START = Date.UTC(2026, 0, 1);

/**
 * A deterministic Clock for tests. Time moves only when the test says so.
 *
 *  - `advance(ms)` / `runAll()` run due timers synchronously, in (due time, insertion) order;
 *  - `tick(ms)` / `runUntilIdle()` do the same but flush pending promise callbacks before and
 *    after every timer, because the client awaits its store and transport inside timers and
 *    the follow-up work (the next timer it sets) only exists once those promises settled.
 */
export class FakeClock implements Clock {
  private current: number;
  private timers = new Map<number, Timer>();
  private nextId = 1;
  private nextOrder = 0;
  private readonly flushFn: () => Promise<void>;
  /** How many timers have run (a cheap progress measure for tests). */
  fired = 0;

  constructor(options: FakeClockOptions = {}) {
    this.current = options.start ?? DEFAULT_FAKE_START;
    this.flushFn = options.flush ?? hostFlush();
  }

  now(): number {
    return this.current;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = this.nextId++;
    const delay = Number.isFinite(ms) ? Math.max(0, ms) : 0;
    this.timers.set(id, { id, at: this.current + delay, order: this.nextOrder++, fn });
    return id;
  }

  clearTimeout(handle: TimerHandle): void {
    if (typeof handle === 'number') this.timers.delete(handle);
  }

  /** Number of timers waiting. */
  get pending(): number {
    return this.timers.size;
  }

  /** Due time of the next timer, or null. */
  nextDue(): number | null {
    return this.peek()?.at ?? null;
  }

  /** Moves time forward by `ms`, running every timer that falls due (including ones set meanwhile). */
  advance(ms: number, limit = 100_000): void {
    const until = this.current + Math.max(0, ms);
    for (let n = 0; ; n++) {
      const t = this.peek();
      if (!t || t.at > until) break;
      if (n >= limit) throw new Error(`FakeClock.advance: more than ${limit} timers, probably a timer loop`);
      this.fire(t);
    }
    this.current = until;
  }

  /** Runs timers until none is left (synchronously). Throws after `limit` timers (a timer loop). */
  runAll(limit = 100_000): void {
    for (let n = 0; ; n++) {
      const t = this.peek();
      if (!t) return;
      if (n >= limit) throw new Error(`FakeClock.runAll: more than ${limit} timers, probably a timer loop`);
      this.fire(t);
    }
  }

  /** Lets pending promise callbacks run without moving time. */
  flush(): Promise<void> {
    return this.flushFn();
  }

  /**
   * Async advance: flushes promises, then runs the due timers of the next `ms` one by one,
   * flushing promises after each, and ends at now + ms.
   */
  async tick(ms = 0, limit = 100_000): Promise<void> {
    const until = this.current + Math.max(0, ms);
    await this.flushFn();
    for (let n = 0; ; n++) {
      const t = this.peek();
      if (!t || t.at > until) break;
      if (n >= limit) throw new Error(`FakeClock.tick: more than ${limit} timers, probably a timer loop`);
      this.fire(t);
      await this.flushFn();
    }
    this.current = until;
    await this.flushFn();
  }

  /**
   * Runs timers (flushing promises between them) until no timer is left, or time passed
   * `maxMs` from now, or `maxTimers` fired. Resolves with whether the system became quiet.
   */
  async runUntilIdle(opts: { maxMs?: number; maxTimers?: number } = {}): Promise<boolean> {
    const limitAt = this.current + (opts.maxMs ?? 3_600_000);
    const maxTimers = opts.maxTimers ?? 1_000_000;
    await this.flushFn();
    for (let n = 0; n < maxTimers; n++) {
      const t = this.peek();
      if (!t) return true;
      if (t.at > limitAt) {
        this.current = limitAt;
        return false;
      }
      this.fire(t);
      await this.flushFn();
    }
    return this.timers.size === 0;
  }

  private peek(): Timer | undefined {
    let best: Timer | undefined;
    for (const t of this.timers.values()) {
      if (!best || t.at < best.at || (t.at === best.at && t.order < best.order)) best = t;
    }
    return best;
  }

  private fire(t: Timer): void {
    this.timers.delete(t.id);
    if (t.at > this.current) this.current = t.at;
    this.fired++;
    t.fn();
  }
}

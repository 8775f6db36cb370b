import { describe, expect, it } from 'vitest';
import type { Command } from '../commands/commands.js';
import type { OutboxEntry } from '../ports/storage.js';
import { silentLogger } from '../ports/platform.js';
import { TransportError, type Transport } from '../ports/transport.js';
import type { CommandBatchResponse, CommandOutcome } from '../protocol/wire.js';
import { Uuidv7Generator } from '../util/uuidv7.js';
import { FakeClock } from '../testing/fakeClock.js';
import { MemoryStore } from '../testing/memoryStore.js';
import { mulberry32, seededBytes } from '../testing/testNetwork.js';
import { InvalidCommandError, Outbox } from './outbox.js';

interface Deferred<T> {
  promise: Promise<T>;
  resolve(v: T): void;
  reject(e: unknown): void;
}
function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A transport whose push answers are written by the test, one call at a time. */
class ScriptedTransport implements Transport {
  calls: Array<{ commands: Command[]; at: number; d: Deferred<CommandBatchResponse> }> = [];
  constructor(private readonly clock: FakeClock) {}
  push(commands: readonly Command[]): Promise<CommandBatchResponse> {
    const d = deferred<CommandBatchResponse>();
    this.calls.push({ commands: [...commands], at: this.clock.now(), d });
    return d.promise;
  }
  pull(): never {
    throw new Error('not used');
  }
  messages(): never {
    throw new Error('not used');
  }
  openSocket(): never {
    throw new Error('not used');
  }
  last() {
    const c = this.calls[this.calls.length - 1];
    if (!c) throw new Error('no push yet');
    return c;
  }
  ids(i: number): string[] {
    return this.calls[i]!.commands.map((c) => c.id);
  }
}

let idSeed = 0;
function setup(opts: { random?: () => number; store?: MemoryStore; batchSize?: number } = {}) {
  const clock = new FakeClock();
  const store = opts.store ?? new MemoryStore();
  const transport = new ScriptedTransport(clock);
  const random = opts.random ?? (() => 0.5);
  const outbox = new Outbox({ store, transport, clock, random, logger: silentLogger, ...(opts.batchSize ? { batchSize: opts.batchSize } : {}) });
  const ids = new Uuidv7Generator(() => clock.now(), seededBytes(mulberry32(++idSeed)));
  const reply = (conversationId: string, text = 'hello'): Command => ({ id: ids.next(), deviceTime: clock.now(), type: 'send_reply', conversationId, text });
  const status = (conversationId: string, s: 'open' | 'resolved' = 'resolved'): Command => ({ id: ids.next(), deviceTime: clock.now(), type: 'set_status', conversationId, status: s });
  const contact = (contactId: string, name: string): Command => ({ id: ids.next(), deviceTime: clock.now(), type: 'update_contact', contactId, name });
  return { clock, store, transport, outbox, reply, status, contact };
}

let seqCounter = 100;
function appliedAll(commands: Command[]): CommandBatchResponse {
  return { results: commands.map((c): CommandOutcome => ({ id: c.id, outcome: 'applied', seq: ++seqCounter })) };
}

describe('Outbox', () => {
  it('persists a command before anything is sent, and refuses invalid ones', async () => {
    const { clock, store, transport, outbox, reply } = setup();
    const events: string[] = [];
    const put = store.outboxPut.bind(store);
    store.outboxPut = async (e: OutboxEntry) => {
      events.push(`put:${e.state}`);
      await put(e);
    };
    const push = transport.push.bind(transport);
    transport.push = (cmds) => {
      events.push(`push:${cmds.length}`);
      return push(cmds);
    };
    outbox.setCanSend(true);
    const c = reply('c1');
    const entry = await outbox.enqueue(c);
    expect(entry).toMatchObject({ id: c.id, state: 'pending', lane: 'conversation:c1', attempts: 0 });
    expect((await store.outboxList()).map((e) => e.id)).toEqual([c.id]);
    await clock.flush();
    expect(events).toEqual(['put:pending', 'push:1']);

    await expect(outbox.enqueue({ ...reply('c1'), text: '   ' })).rejects.toBeInstanceOf(InvalidCommandError);
    await expect(outbox.enqueue({ type: 'send_reply', id: 'not-a-uuid', deviceTime: 1, conversationId: 'c1', text: 'x' })).rejects.toThrow(/UUIDv7/);
    expect(await store.outboxList()).toHaveLength(1);
  });

  it('does not queue anything when the store cannot persist it', async () => {
    const { clock, store, transport, outbox, reply } = setup();
    store.outboxPut = async () => {
      throw new Error('disk full');
    };
    outbox.setCanSend(true);
    await expect(outbox.enqueue(reply('c1'))).rejects.toThrow('disk full');
    await clock.flush();
    expect(transport.calls).toHaveLength(0);
    expect(outbox.list()).toHaveLength(0);
  });

  it('is idempotent per command id', async () => {
    const { store, outbox, reply } = setup();
    const c = reply('c1');
    await outbox.enqueue(c);
    await outbox.enqueue(c);
    expect(outbox.list()).toHaveLength(1);
    expect(await store.outboxList()).toHaveLength(1);
  });

  it('sends the head of every lane in one request and keeps each lane in order', async () => {
    const { clock, transport, outbox, reply, status, contact } = setup();
    const a1 = reply('a');
    const a2 = status('a');
    const b1 = reply('b');
    const k1 = contact('k', 'Kim');
    for (const c of [a1, b1, a2, k1]) await outbox.enqueue(c);
    expect(transport.calls).toHaveLength(0); // cannot send yet
    outbox.setCanSend(true);
    await clock.flush();
    expect(transport.calls).toHaveLength(1);
    expect(transport.ids(0)).toEqual([a1.id, b1.id, a2.id, k1.id]);

    // While the request is in flight, a new command of lane a waits for it.
    const a3 = reply('a', 'third');
    const c1 = reply('c');
    await outbox.enqueue(a3);
    await outbox.enqueue(c1);
    await clock.flush();
    expect(transport.calls).toHaveLength(1);

    transport.last().d.resolve(appliedAll(transport.last().commands));
    await clock.flush();
    expect(transport.calls).toHaveLength(2);
    expect(transport.ids(1)).toEqual([a3.id, c1.id]);
  });

  it('caps a request at batchSize and sends the rest right after', async () => {
    const { clock, transport, outbox, reply } = setup({ batchSize: 2 });
    const cmds = [reply('a'), reply('b'), reply('c')];
    for (const c of cmds) await outbox.enqueue(c);
    outbox.setCanSend(true);
    await clock.flush();
    expect(transport.ids(0)).toEqual([cmds[0]!.id, cmds[1]!.id]);
    transport.last().d.resolve(appliedAll(transport.last().commands));
    await clock.flush();
    expect(transport.ids(1)).toEqual([cmds[2]!.id]);
  });

  it('backs off exponentially with jitter on network errors and 5xx, and blocks only the failing lane', async () => {
    const randoms = [0, 0.999, 0.5, 0.5, 0.5];
    let r = 0;
    const { clock, transport, outbox, reply } = setup({ random: () => randoms[r++ % randoms.length]! });
    outbox.setCanSend(true);
    const a1 = reply('a');
    await outbox.enqueue(a1);
    await clock.flush();
    const t0 = clock.now();
    transport.last().d.reject(new TransportError('network', 'offline'));
    await clock.flush();
    // attempt 1: 1000 ms ± 20 %, random 0 → 800 ms
    expect(outbox.list()[0]).toMatchObject({ state: 'pending', attempts: 1, nextAttemptAt: t0 + 800 });
    expect(outbox.counts()).toEqual({ pending: 1, failed: 0 });

    // Another command of lane a waits behind a1; lane b goes at once.
    const a2 = reply('a', 'second');
    const b1 = reply('b');
    await outbox.enqueue(a2);
    await outbox.enqueue(b1);
    await clock.flush();
    expect(transport.calls).toHaveLength(2);
    expect(transport.ids(1)).toEqual([b1.id]);
    transport.last().d.resolve(appliedAll(transport.last().commands));
    const fired = clock.fired;
    await clock.tick(799);
    expect(transport.calls).toHaveLength(2);
    // One timer for the head's backoff, not a 0 ms loop over the entries waiting behind it.
    expect(clock.fired - fired).toBeLessThan(3);
    await clock.tick(1);
    expect(transport.calls).toHaveLength(3);
    expect(transport.ids(2)).toEqual([a1.id, a2.id]);
    expect(transport.last().at).toBe(t0 + 800);

    // a1's attempt 2: 2000 ms ± 20 %, random 0.999 → 2399 ms; a2's attempt 1: random 0.5 → 1000 ms.
    // A 503 is retryable too. a2 is due first but waits for the head of its lane.
    const t1 = clock.now();
    transport.last().d.reject(new TransportError('http', 'unavailable', 503, 'unavailable'));
    await clock.flush();
    expect(outbox.list().filter((e) => e.state === 'pending').map((e) => [e.attempts, e.nextAttemptAt - t1])).toEqual([
      [2, 2399],
      [1, 1000],
    ]);
    await clock.tick(2398);
    expect(transport.calls).toHaveLength(3);
    await clock.tick(1);
    expect(transport.calls).toHaveLength(4);
    expect(transport.ids(3)).toEqual([a1.id, a2.id]);

    // attempt 3 (a1) with random 0.5: exactly 4000 ms; 429 is retryable.
    const t2 = clock.now();
    transport.last().d.reject(new TransportError('http', 'slow down', 429, 'rate_limited'));
    await clock.flush();
    expect(outbox.list()[0]!.nextAttemptAt).toBe(t2 + 4000);
  });

  it('caps the backoff at 30 s', async () => {
    const { clock, transport, outbox, reply } = setup();
    outbox.setCanSend(true);
    await outbox.enqueue(reply('a'));
    for (let i = 1; i <= 8; i++) {
      await clock.runUntilIdle();
      const now = clock.now();
      transport.last().d.reject(new TransportError('network', 'offline'));
      await clock.flush();
      expect(outbox.list()[0]!.nextAttemptAt - now).toBe(Math.min(30_000, 1000 * 2 ** (i - 1)));
    }
  });

  it('retries at once when connectivity comes back, not after the backoff', async () => {
    const { clock, transport, outbox, reply } = setup();
    outbox.setCanSend(true);
    await outbox.enqueue(reply('a'));
    await clock.flush();
    transport.last().d.reject(new TransportError('network', 'offline'));
    await clock.flush();
    outbox.setCanSend(false);
    await clock.tick(10_000);
    expect(transport.calls).toHaveLength(1);
    outbox.setCanSend(true);
    await clock.flush();
    expect(transport.calls).toHaveLength(2);
  });

  it('turns a rejection into a visible failed entry with the reason; the lane goes on', async () => {
    const { clock, store, transport, outbox, reply, status } = setup();
    const a1 = reply('a');
    const a2 = status('a');
    await outbox.enqueue(a1);
    await outbox.enqueue(a2);
    outbox.setCanSend(true);
    await clock.flush();
    expect(transport.ids(0)).toEqual([a1.id, a2.id]);
    transport.last().d.resolve({
      results: [
        { id: a1.id, outcome: 'rejected', error: { code: 'conflict', message: 'the conversation is closed' } },
        { id: a2.id, outcome: 'applied', seq: 7 },
      ],
    });
    await clock.flush();
    expect(outbox.list().map((e) => [e.state, e.error])).toEqual([
      ['failed', { code: 'conflict', message: 'the conversation is closed' }],
      ['acked', null],
    ]);
    expect(outbox.counts()).toEqual({ pending: 0, failed: 1 });
    expect(outbox.unconfirmed().map((e) => e.id)).toEqual([a2.id]);
    expect((await store.outboxList()).find((e) => e.id === a1.id)?.state).toBe('failed');

    const a3 = reply('a', 'after the failure');
    await outbox.enqueue(a3);
    await clock.flush();
    expect(transport.ids(1)).toEqual([a3.id]);
  });

  it('fails the whole batch on a non-retryable HTTP error, keeps it pending on 401', async () => {
    const { clock, transport, outbox, reply } = setup();
    outbox.setCanSend(true);
    const a1 = reply('a');
    await outbox.enqueue(a1);
    await clock.flush();
    transport.last().d.reject(new TransportError('auth', 'token expired', 401, 'unauthorized'));
    await clock.flush();
    expect(outbox.list()[0]).toMatchObject({ state: 'pending', attempts: 1 });
    await clock.runUntilIdle();
    transport.last().d.reject(new TransportError('http', 'too big', 413, 'payload_too_large'));
    await clock.flush();
    expect(outbox.list()[0]).toMatchObject({ state: 'failed', error: { code: 'payload_too_large', message: 'too big' } });
  });

  it('treats a command missing from the answer as transient', async () => {
    const { clock, transport, outbox, reply } = setup();
    const a1 = reply('a');
    const b1 = reply('b');
    await outbox.enqueue(a1);
    await outbox.enqueue(b1);
    outbox.setCanSend(true);
    await clock.flush();
    transport.last().d.resolve({ results: [{ id: b1.id, outcome: 'applied', seq: 3 }] });
    await clock.flush();
    expect(outbox.list().map((e) => [e.id, e.state, e.attempts])).toEqual([
      [a1.id, 'pending', 1],
      [b1.id, 'acked', 0],
    ]);
    await clock.runUntilIdle();
    expect(transport.ids(1)).toEqual([a1.id]);
  });

  it('retries a failed command at the end of its lane with the same id, or discards it', async () => {
    const { clock, store, transport, outbox, reply } = setup();
    const a1 = reply('a');
    const b1 = reply('b');
    await outbox.enqueue(a1);
    await outbox.enqueue(b1);
    outbox.setCanSend(true);
    await clock.flush();
    const rejected = (c: Command): CommandOutcome => ({ id: c.id, outcome: 'rejected', error: { code: 'forbidden', message: 'no' } });
    transport.last().d.resolve({ results: [rejected(a1), rejected(b1)] });
    await clock.flush();
    const a2 = reply('a', 'later');
    await outbox.enqueue(a2);
    await clock.flush();
    transport.last().d.resolve(appliedAll(transport.last().commands));
    await clock.flush();

    await outbox.retry(a1.id);
    expect(outbox.list().map((e) => e.id)).toEqual([b1.id, a2.id, a1.id]);
    expect(outbox.list()[2]).toMatchObject({ state: 'inflight', attempts: 0, error: null });
    await clock.flush();
    expect(transport.ids(2)).toEqual([a1.id]);

    await outbox.discard(b1.id);
    expect(outbox.list().map((e) => e.id)).not.toContain(b1.id);
    expect((await store.outboxList()).map((e) => e.id)).not.toContain(b1.id);
    // Only failed entries may be retried or discarded.
    await outbox.discard(a2.id);
    expect(outbox.list().map((e) => e.id)).toContain(a2.id);
  });

  it('keeps acknowledged entries until pulled facts reach their seq', async () => {
    const { clock, store, transport, outbox, reply } = setup();
    const acks: number[] = [];
    outbox.acknowledged.on((s) => acks.push(s));
    const a1 = reply('a');
    const b1 = reply('b');
    await outbox.enqueue(a1);
    await outbox.enqueue(b1);
    outbox.setCanSend(true);
    await clock.flush();
    transport.last().d.resolve({
      results: [
        { id: a1.id, outcome: 'applied', seq: 11 },
        { id: b1.id, outcome: 'duplicate', seq: 9 },
      ],
    });
    await clock.flush();
    expect(acks).toEqual([11]);
    expect(outbox.list().map((e) => [e.state, e.ackSeq])).toEqual([
      ['acked', 11],
      ['acked', 9],
    ]);
    expect(outbox.counts()).toEqual({ pending: 0, failed: 0 });
    expect(outbox.unconfirmed()).toHaveLength(2);
    await outbox.confirmUpTo(10);
    expect(outbox.list().map((e) => e.id)).toEqual([a1.id]);
    expect((await store.outboxList()).map((e) => e.id)).toEqual([a1.id]);
    await outbox.confirmUpTo(11);
    expect(outbox.list()).toEqual([]);
    expect(await store.outboxList()).toEqual([]);
  });

  it('reports in-flight entries and counts through `changed`', async () => {
    const { clock, transport, outbox, reply } = setup();
    const seen: string[][] = [];
    outbox.changed.on((l) => seen.push(l.map((e) => e.state)));
    await outbox.enqueue(reply('a'));
    outbox.setCanSend(true);
    await clock.flush();
    expect(outbox.counts()).toEqual({ pending: 1, failed: 0 });
    transport.last().d.resolve(appliedAll(transport.last().commands));
    await clock.flush();
    expect(seen).toEqual([[], ['pending'], ['inflight'], ['acked']]);
  });

  it('restores its entries from the store in their order and continues numbering after them', async () => {
    const first = setup();
    const cmds = [first.reply('a'), first.status('a'), first.reply('b')];
    for (const c of cmds) await first.outbox.enqueue(c);
    const second = setup({ store: first.store });
    await second.outbox.load();
    expect(second.outbox.list().map((e) => e.id)).toEqual(cmds.map((c) => c.id));
    const a3 = second.reply('a', 'after restart');
    await second.outbox.enqueue(a3);
    expect(second.outbox.list().map((e) => e.id)).toEqual([...cmds.map((c) => c.id), a3.id]);
    second.outbox.setCanSend(true);
    await second.clock.flush();
    expect(second.transport.ids(0)).toEqual([cmds[0]!.id, cmds[1]!.id, cmds[2]!.id, a3.id]);
  });

  it('keeps device order when a command is queued while the outbox is still loading', async () => {
    const first = setup();
    const old = [first.reply('a', 'one'), first.reply('a', 'two')];
    for (const c of old) await first.outbox.enqueue(c);
    const second = setup({ store: first.store });
    const fresh = second.reply('a', 'three');
    // The UI may dispatch while the app is still starting.
    const loading = second.outbox.load();
    await second.outbox.enqueue(fresh);
    await loading;
    expect(second.outbox.list().map((e) => e.id)).toEqual([old[0]!.id, old[1]!.id, fresh.id]);
    second.outbox.setCanSend(true);
    await second.clock.flush();
    expect(second.transport.ids(0)).toEqual([old[0]!.id, old[1]!.id, fresh.id]);
  });

  it('stops sending after stop()', async () => {
    const { clock, transport, outbox, reply } = setup();
    outbox.setCanSend(true);
    await outbox.enqueue(reply('a'));
    await clock.flush();
    transport.last().d.reject(new TransportError('network', 'offline'));
    await clock.flush();
    outbox.stop();
    await clock.tick(60_000);
    expect(transport.calls).toHaveLength(1);
    expect(clock.pending).toBe(0);
  });
});

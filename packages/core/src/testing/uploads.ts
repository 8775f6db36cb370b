// Test doubles for the upload queue's side of the outbox (core's tests and the apps' adapter tests).
import { Command } from '../commands/commands.js';
import type { Intent } from '../client/client.js';
import type { IdGenerator } from '../ports/platform.js';
import { UploadQueue, type UploadPorts } from '../client/uploads.js';
import { FakeClock } from './fakeClock.js';
import { createMemoryStoreData, MemoryStore, type MemoryStoreData } from './memoryStore.js';

/**
 * The outbox as the upload queue sees it: `dispatch` records intents sent straight through,
 * `enqueue` validates commands like the outbox does (and throws the same way) and records them.
 */
export function outboxRecorder() {
  const r = {
    dispatched: [] as Intent[],
    enqueued: [] as Command[],
    async dispatch(intent: Intent): Promise<string> {
      r.dispatched.push(intent);
      return `direct-${r.dispatched.length}`;
    },
    async enqueue(command: Command): Promise<void> {
      const parsed = Command.safeParse(command);
      if (!parsed.success) throw new Error(parsed.error.issues[0]!.message);
      r.enqueued.push(parsed.data);
    },
  };
  return r;
}

/** UUIDv7-shaped ids in order: 01900001-…, 01900002-…. */
export function sequentialIds(): IdGenerator {
  let n = 0;
  return { next: () => `0190${String(++n).padStart(4, '0')}-0000-7000-8000-000000000000` };
}

/**
 * An upload queue over a MemoryStore (pass `data` to restart over the same device database), a
 * FakeClock and the outbox recorder, with the given ports (the host adapter under test).
 */
export function testUploadQueue<D>(
  ports: UploadPorts<D>,
  o: { data?: MemoryStoreData; clock?: FakeClock; ids?: IdGenerator; outbox?: ReturnType<typeof outboxRecorder> } = {},
): UploadQueue<D> {
  const outbox = o.outbox ?? outboxRecorder();
  return new UploadQueue<D>({
    ...ports,
    store: new MemoryStore({ data: o.data ?? createMemoryStoreData() }),
    clock: o.clock ?? new FakeClock(),
    ids: o.ids ?? sequentialIds(),
    random: () => 0.5,
    dispatch: outbox.dispatch,
    enqueue: outbox.enqueue,
  });
}

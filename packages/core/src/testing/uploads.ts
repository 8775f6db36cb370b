// Test doubles for the upload queue's side of the outbox (core's tests and the apps' adapter tests).
import { Command } from '../commands/commands.js';
import type { Intent } from '../client/client.js';
import type { IdGenerator } from '../ports/platform.js';

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

import type { ClientChange } from '../client.js';

/** Where client changes come from (GoutongClient.changes). */
export interface ChangeSource {
  on(listener: (change: ClientChange) => void): () => void;
}

/** Schedules a callback later (default: the next macrotask). */
export type Schedule = (fn: () => void) => void;

/** Every host (browsers, Node, uni-app) has a global setTimeout; core's lib has no DOM types. */
const nextMacrotask: Schedule = (fn) => void (globalThis as unknown as { setTimeout(fn: () => void, ms: number): unknown }).setTimeout(fn, 0);

function union(a: readonly string[] | undefined, b: readonly string[] | undefined): string[] | undefined {
  if (!a) return b ? [...new Set(b)] : undefined;
  if (!b) return [...a];
  return [...new Set([...a, ...b])];
}

/**
 * The one coalescing rule for client changes: id lists are united (an id once), flags are or-ed,
 * the checkpoint is the highest seen. Two changes merged describe everything either described.
 */
export function mergeChanges(a: ClientChange, b: ClientChange): ClientChange {
  const out: ClientChange = {};
  const conversationIds = union(a.conversationIds, b.conversationIds);
  const messageConversationIds = union(a.messageConversationIds, b.messageConversationIds);
  const contactIds = union(a.contactIds, b.contactIds);
  if (conversationIds) out.conversationIds = conversationIds;
  if (messageConversationIds) out.messageConversationIds = messageConversationIds;
  if (contactIds) out.contactIds = contactIds;
  if (a.directory || b.directory) out.directory = true;
  if (a.reset || b.reset) out.reset = true;
  if (a.outbox || b.outbox) out.outbox = true;
  if (a.checkpoint !== undefined || b.checkpoint !== undefined) out.checkpoint = Math.max(a.checkpoint ?? 0, b.checkpoint ?? 0);
  return out;
}

/**
 * Calls `fn` once per burst of client changes (a pull of many pages, an outbox move) with the
 * burst merged by `mergeChanges`, so a view re-reads the local database once. Returns the
 * unsubscribe function (a burst still waiting is dropped).
 */
export function coalesceChanges(source: ChangeSource, fn: (change: ClientChange) => void, schedule: Schedule = nextMacrotask): () => void {
  let queued: ClientChange | null = null;
  let live = true;
  const off = source.on((change) => {
    if (queued) {
      queued = mergeChanges(queued, change);
      return;
    }
    queued = mergeChanges({}, change);
    schedule(() => {
      const c = queued;
      queued = null;
      if (c && live) fn(c);
    });
  });
  return () => {
    live = false;
    queued = null;
    off();
  };
}

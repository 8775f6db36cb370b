import type { ClientChange } from '@goutong/core';
import { currentServices } from '../app/services';

/**
 * Calls `fn` after client changes (pulled facts, outbox moves), at most once per macrotask, so a
 * burst of changes re-reads the local database once. Returns the unsubscribe function.
 */
export function onClientChange(fn: (change: ClientChange) => void): () => void {
  const client = currentServices()?.client;
  if (!client) return () => undefined;
  let queued: ClientChange | null = null;
  return client.changes.on((change) => {
    if (queued) {
      Object.assign(queued, change);
      return;
    }
    queued = { ...change };
    setTimeout(() => {
      const c = queued!;
      queued = null;
      fn(c);
    }, 0);
  });
}

import { coalesceChanges, type ClientChange } from '@goutong/core';
import { currentServices } from '../app/services';

/**
 * Calls `fn` once per burst of client changes (pulled facts, outbox moves) with the burst merged
 * by core's one coalescing rule, so a burst re-reads the local database once. Returns the
 * unsubscribe function.
 */
export function onClientChange(fn: (change: ClientChange) => void): () => void {
  const client = currentServices()?.client;
  if (!client) return () => undefined;
  return coalesceChanges(client.changes, fn);
}

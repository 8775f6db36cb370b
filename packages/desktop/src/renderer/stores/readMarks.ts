// The agent's read marks, one source for the rows, the badge and the open conversation: the
// per-agent read fact (core FactReadState, the client's \`reads\`: a mark made on one device of the
// agent reaches the others), behind core's ReadState port; the device-local marks only without a client.
import { LocalReadState, type LocalStore, type ReadState } from '@goutong/core';
import { currentServices } from '../platform/services';

/** The read state of the signed-in agent (loaded once). */
export function readStateFor(store: LocalStore): { state: ReadState; loaded: Promise<void> } {
  const reads = currentServices()?.client.reads;
  if (reads) return { state: reads, loaded: reads.load() };
  return LocalReadState.shared(store, 'desktop.lastRead');
}

// The agent's read marks, one source for the rows, the badge and the open conversation. Kept on
// this device today (core's LocalReadState); a per-agent read fact synced by the server plugs in
// here behind core's ReadState port.
import { LocalReadState, type LocalStore, type ReadState } from '@goutong/core';

/** The read state of the signed-in agent's local store (loaded once per store). */
export function readStateFor(store: LocalStore): { state: ReadState; loaded: Promise<void> } {
  return LocalReadState.shared(store, 'mobile.lastRead');
}

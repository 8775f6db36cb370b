// The agent's read marks, one source for the inbox rows, the badge and the open conversation.
// Today's marks are kept on this device (core's LocalReadState); a per-agent read fact synced by
// the server plugs in here behind core's ReadState port.
import { LocalReadState, type LocalStore, type ReadState } from '@goutong/core';

const LAST_READ_KEY = 'desktop.lastRead';
let current: { store: LocalStore; state: ReadState; loaded: Promise<void> } | null = null;

/** The read state of the signed-in agent's local store (loaded once per store). */
export function readStateFor(store: LocalStore): { state: ReadState; loaded: Promise<void> } {
  if (current?.store !== store) {
    const state = new LocalReadState(store, LAST_READ_KEY);
    current = { store, state, loaded: state.load() };
  }
  return current;
}

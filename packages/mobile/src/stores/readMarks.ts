// The agent's read marks, one source for the rows, the badges and the open conversation. Kept on
// this device today (core's LocalReadState); a per-agent read fact synced by the server plugs in
// here behind core's ReadState port.
import { LocalReadState, type LocalStore, type ReadState } from '@goutong/core';

const LAST_READ_KEY = 'mobile.lastRead';
let marks: { store: LocalStore; state: ReadState; loaded: Promise<void> } | null = null;

/** The read state of the signed-in agent's local store (loaded once per store). */
export function readStateFor(store: LocalStore): { state: ReadState; loaded: Promise<void> } {
  if (marks?.store !== store) {
    const state = new LocalReadState(store, LAST_READ_KEY);
    marks = { store, state, loaded: state.load() };
  }
  return marks;
}

import type { GoutongClient } from '../client.js';
import type { LocalStore } from '../../ports/storage.js';
import type { Clock } from '../../ports/platform.js';

/** The parts of the local-first client the view models read (GoutongClient, or a test double of it). */
export type ViewClient = Pick<
  GoutongClient,
  'agent' | 'uploads' | 'changes' | 'connectivity' | 'conversation' | 'queryConversations' | 'countConversations' | 'messages' | 'loadMessagesFromServer' | 'outboxEntries' | 'retry' | 'discard' | 'dispatch'
>;

/** The device store's meta and checkpoint (for baselines and small per-device marks). */
export type ViewStore = Pick<LocalStore, 'getMeta' | 'setMeta' | 'getCheckpoint'>;

/** Timers and the time (the FakeClock in tests). */
export type ViewClock = Clock;

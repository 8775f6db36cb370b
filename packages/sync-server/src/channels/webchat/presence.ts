import * as decoding from 'lib0/decoding';
import { parseDocName } from '@goutong/core';

/** One entry of a Yjs awareness update (y-protocols: count, then clientID, clock, JSON state; `null` = gone). */
export interface AwarenessEntry {
  clientId: number;
  clock: number;
  state: unknown;
}

export function decodeAwarenessUpdate(update: Uint8Array): AwarenessEntry[] {
  const dec = decoding.createDecoder(update);
  const n = decoding.readVarUint(dec);
  const out: AwarenessEntry[] = [];
  for (let i = 0; i < n; i++) {
    const clientId = decoding.readVarUint(dec);
    const clock = decoding.readVarUint(dec);
    out.push({ clientId, clock, state: JSON.parse(decoding.readVarString(dec)) as unknown });
  }
  return out;
}

/**
 * Follows the agents' presence on conversation documents (what the agent apps announce while they
 * write a reply) and reports, per conversation, which agent types a REPLY now. Internal notes never
 * show: a visitor must not learn that a note is being written.
 */
export class AgentTypingTracker {
  private docs = new Map<string, Map<number, { name: string; reply: boolean }>>();

  /** Applies an update; returns the conversation and its replying agent (or null) when the update concerned one. */
  apply(docName: string, update: Uint8Array): { conversationId: string; agent: { name: string } | null } | null {
    const doc = parseDocName(docName);
    if (!doc) return null;
    let entries: AwarenessEntry[];
    try {
      entries = decodeAwarenessUpdate(update);
    } catch {
      return null;
    }
    const states = this.docs.get(docName) ?? new Map<number, { name: string; reply: boolean }>();
    for (const e of entries) {
      const s = e.state as { name?: unknown; typing?: unknown } | null;
      if (!s || typeof s !== 'object') states.delete(e.clientId);
      else states.set(e.clientId, { name: typeof s.name === 'string' ? s.name.slice(0, 200) : '', reply: s.typing === 'reply' });
    }
    if (states.size === 0) this.docs.delete(docName);
    else this.docs.set(docName, states);
    const typing = [...states.values()].find((s) => s.reply);
    return { conversationId: doc.conversationId, agent: typing ? { name: typing.name } : null };
  }
}

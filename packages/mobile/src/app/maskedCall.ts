// [trust] Calling a number the phone only holds masked (`138****5678`, the agent has no pii.view):
// dialling the mask reaches nobody and the clear number never comes to the device. The server binds
// the agent's own phone (A, from Settings) and the customer's number (B) to a privacy number X with
// the phone inbox's provider (AXB, `POST /api/v1/voice/privacy-bindings`); the app dials X, which
// reaches B only from A and only until the binding expires. When no phone inbox has a provider, or
// the agent has not set their number, the app says why instead of dialling.
import { isMaskedNumber, TransportError } from '@goutong/core';
import type { ServerApi } from './services';

/** Why a masked number cannot be called (each has a message in the locale files: contact.masked.<problem>). */
export type MaskedCallProblem = 'noPrivacyNumber' | 'noOwnNumber' | 'noConversation' | 'provider' | 'offline' | 'refused';

export class MaskedCallError extends Error {
  override readonly name = 'MaskedCallError';
  constructor(readonly problem: MaskedCallProblem, message: string) {
    super(message);
  }
}

export interface PrivacyBinding {
  id: string;
  /** X: what the dialer dials. */
  virtualNumber: string;
  /** The customer's number as the agent may see it (masked). */
  display: string;
  expiresAt: number;
}

/** Whether a number must go through a privacy number (the device holds it masked). */
export const needsPrivacyNumber = (n: string): boolean => isMaskedNumber(n);

/** Validates the server's answer (a boundary): X must be a dialable number. */
export function parsePrivacyBinding(v: unknown): PrivacyBinding {
  const o = (typeof v === 'object' && v !== null ? v : {}) as Record<string, unknown>;
  if (typeof o.id !== 'string' || typeof o.virtualNumber !== 'string' || !/^\+?[0-9]{3,20}$/.test(o.virtualNumber) || typeof o.display !== 'string' || typeof o.expiresAt !== 'number') {
    throw new MaskedCallError('refused', 'unexpected answer to the privacy-number request');
  }
  return { id: o.id, virtualNumber: o.virtualNumber, display: o.display, expiresAt: o.expiresAt };
}

/** Asks the server for a privacy number to call the contact of `conversationId` from `myNumber`. */
export async function privacyNumberFor(api: ServerApi, o: { conversationId: string | null; identity?: number; myNumber: string | null }): Promise<PrivacyBinding> {
  if (!o.conversationId) throw new MaskedCallError('noConversation', 'open the contact from a conversation to call a masked number');
  const myNumber = o.myNumber?.trim() ?? '';
  if (!/^\+?[0-9][0-9 -]{4,30}$/.test(myNumber)) throw new MaskedCallError('noOwnNumber', 'set your own phone number in Settings to call a masked number');
  if (!api.postJson) throw new MaskedCallError('refused', 'this platform cannot ask the server');
  try {
    return parsePrivacyBinding(
      await api.postJson('/api/v1/voice/privacy-bindings', { conversationId: o.conversationId, agentPhone: myNumber, ...(o.identity !== undefined ? { identity: o.identity } : {}) }),
    );
  } catch (e) {
    if (e instanceof MaskedCallError) throw e;
    if (e instanceof TransportError) {
      if (e.code === 'no_privacy_number') throw new MaskedCallError('noPrivacyNumber', e.message);
      if (e.kind === 'network') throw new MaskedCallError('offline', e.message);
      if (e.status === 503) throw new MaskedCallError('provider', e.message);
    }
    throw new MaskedCallError('refused', e instanceof Error ? e.message : String(e));
  }
}

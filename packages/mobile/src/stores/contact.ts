import { defineStore } from 'pinia';
import type { Contact } from '@goutong/core';
import { requireServices, useDevice } from '../app/services';

export const CALL_OUTCOMES = ['answered', 'no_answer', 'busy', 'failed'] as const;
export type CallOutcome = (typeof CALL_OUTCOMES)[number];

export interface CallRecord {
  phoneNumber: string;
  startedAt: number;
}

/**
 * The text of the call log entry. Core has no call command yet, so a call made from the phone's
 * dialer is logged as an internal note (an outbox command like any other) with a fixed format the
 * desktop can recognise: "📞 <number> · <start ISO> · <minutes> min · <outcome>".
 */
export function callNoteText(call: CallRecord, minutes: number, outcome: CallOutcome): string {
  return `📞 ${call.phoneNumber} · ${new Date(call.startedAt).toISOString()} · ${minutes} min · ${outcome}`;
}

/** The contact card, and phone calls through the dialer logged on the conversation. */
export const useContactStore = defineStore('contact', {
  state: () => ({
    contact: null as Contact | null,
    conversationId: null as string | null,
    /** The call placed from this card, waiting for its outcome to be entered. */
    activeCall: null as CallRecord | null,
    error: null as string | null,
  }),
  getters: {
    phoneNumbers: (s): string[] => (s.contact?.identities ?? []).filter((i) => i.channel === 'sms' || i.channel === 'voice').map((i) => i.identifier),
  },
  actions: {
    async load(contactId: string, conversationId: string | null): Promise<void> {
      this.contact = await requireServices().client.contact(contactId);
      this.conversationId = conversationId;
      this.error = null;
    },

    async call(phoneNumber: string): Promise<void> {
      const device = useDevice();
      const startedAt = device.now();
      try {
        await device.makePhoneCall(phoneNumber);
        this.activeCall = { phoneNumber, startedAt };
      } catch (e) {
        this.error = e instanceof Error ? e.message : String(e);
      }
    },

    /** Logs the call on the conversation (an outbox command: offline too). */
    async logCall(minutes: number, outcome: CallOutcome): Promise<void> {
      if (!this.activeCall || !this.conversationId) return;
      const m = Number.isFinite(minutes) && minutes >= 0 ? Math.round(minutes) : 0;
      await requireServices().client.dispatch({ type: 'add_note', conversationId: this.conversationId, text: callNoteText(this.activeCall, m, outcome) });
      this.activeCall = null;
    },

    cancelCall(): void {
      this.activeCall = null;
    },
  },
});

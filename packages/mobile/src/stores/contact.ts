import { defineStore } from 'pinia';
import { CALL_OUTCOMES, type CallOutcome, type Contact, type Intent } from '@goutong/core';
import { requireServices, useDevice } from '../app/services';
import { MaskedCallError, needsPrivacyNumber, privacyNumberFor, type MaskedCallProblem } from '../app/maskedCall';
import { useSessionStore } from './session';
import { useUploadsStore } from './uploads';

export { CALL_OUTCOMES, type CallOutcome };

/** Where the agent's own number is kept (Settings), the `from` of calls placed from this phone. */
export const MY_NUMBER_KEY = 'myPhoneNumber';

export interface CallRecord {
  /** What the dialer dialled (a privacy number X for a masked contact number). */
  phoneNumber: string;
  /** [trust] The contact's number as shown (masked) when the call went through a privacy number. */
  shown?: string;
  /** When the dialer was opened. */
  startedAt: number;
  /** When the app came back to the foreground after the call (its end, as near as the app can tell). */
  returnedAt: number | null;
}

export interface CallOutcomeInput {
  outcome: CallOutcome;
  /** Talk time in seconds (answered and transferred calls). */
  talkSeconds: number;
  notes?: string;
}

/**
 * Reads a duration typed by the agent: "3" (minutes), "2:30" (minutes:seconds), "2.5" (minutes).
 * Null when it is not a duration.
 */
export function parseDuration(text: string): number | null {
  const t = text.trim().replace('：', ':');
  if (!t) return 0;
  const ms = /^(\d{1,3}):([0-5]?\d)$/.exec(t);
  if (ms) return Number(ms[1]) * 60 + Number(ms[2]);
  if (/^\d{1,3}([.,]\d+)?$/.test(t)) return Math.round(Number(t.replace(',', '.')) * 60);
  return null;
}

/** "m:ss" for a number of seconds. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/**
 * The `log_call` command for a call placed from the phone's dialer: outbound, from the agent's
 * number (or name) to the contact's, started when the dialer opened and ended when the app came
 * back (or now); an answered call's talk time ends at that end.
 */
export function callIntent(conversationId: string, call: CallRecord, input: CallOutcomeInput, from: string, now: number): Intent {
  const endedAt = Math.max(call.startedAt, call.returnedAt ?? now);
  const talked = input.outcome === 'answered' || input.outcome === 'transferred';
  const talkMs = Math.max(0, Math.round(input.talkSeconds)) * 1000;
  const answeredAt = talked ? Math.max(call.startedAt, endedAt - talkMs) : null;
  const notes = input.notes?.trim();
  return {
    type: 'log_call',
    conversationId,
    direction: 'out',
    from: from.trim().slice(0, 64) || 'mobile',
    to: call.phoneNumber.trim().slice(0, 64),
    startedAt: call.startedAt,
    answeredAt,
    endedAt,
    outcome: input.outcome,
    ...(notes ? { notes } : {}),
  };
}

let stopForeground: (() => void) | null = null;

/** The contact card, and phone calls through the dialer logged on the conversation (`log_call`). */
export const useContactStore = defineStore('contact', {
  state: () => ({
    contact: null as Contact | null,
    conversationId: null as string | null,
    /** The call placed from this card, waiting for its outcome to be entered. */
    activeCall: null as CallRecord | null,
    error: null as string | null,
    /** [trust] Why a masked number could not be called (the page explains it: contact.masked.<problem>). */
    maskedProblem: null as MaskedCallProblem | null,
  }),
  getters: {
    phoneNumbers: (s): string[] => (s.contact?.identities ?? []).filter((i) => i.channel === 'sms' || i.channel === 'voice').map((i) => i.identifier),
    /** Seconds from the dialer opening to the app coming back: what the form offers as talk time. */
    elapsedSeconds: (s): number => (s.activeCall?.returnedAt ? Math.round((s.activeCall.returnedAt - s.activeCall.startedAt) / 1000) : 0),
  },
  actions: {
    async load(contactId: string, conversationId: string | null): Promise<void> {
      this.contact = await requireServices().client.contact(contactId);
      this.conversationId = conversationId;
      this.error = null;
      this.maskedProblem = null;
    },

    /**
     * Opens the dialer for one of the contact's numbers (`identity`: its index in the contact's
     * identities). [trust] A number held masked is never dialled: the server gives a privacy number
     * bound to the agent's own phone (app/maskedCall.ts), and the dialer dials that.
     */
    async call(phoneNumber: string, identity?: number): Promise<void> {
      const device = useDevice();
      this.maskedProblem = null;
      let dial = phoneNumber;
      let shown: string | undefined;
      if (needsPrivacyNumber(phoneNumber)) {
        try {
          const b = await privacyNumberFor(requireServices().api, { conversationId: this.conversationId, ...(identity !== undefined ? { identity } : {}), myNumber: device.settings.get(MY_NUMBER_KEY) });
          dial = b.virtualNumber;
          shown = b.display;
        } catch (e) {
          this.maskedProblem = e instanceof MaskedCallError ? e.problem : 'refused';
          this.error = e instanceof Error ? e.message : String(e);
          return;
        }
      }
      const startedAt = device.now();
      try {
        await device.makePhoneCall(dial);
        this.activeCall = { phoneNumber: dial, ...(shown ? { shown } : {}), startedAt, returnedAt: null };
        // The dialer covers the app; its return marks the end of the call.
        stopForeground?.();
        stopForeground =
          device.onForeground?.(() => {
            if (this.activeCall && this.activeCall.returnedAt === null) this.activeCall = { ...this.activeCall, returnedAt: device.now() };
            stopForeground?.();
            stopForeground = null;
          }) ?? null;
      } catch (e) {
        this.error = e instanceof Error ? e.message : String(e);
      }
    },

    /** Logs the call on the conversation: a `log_call` command in the outbox (offline too). */
    async logCall(input: CallOutcomeInput): Promise<boolean> {
      if (!this.activeCall || !this.conversationId) return false;
      const device = useDevice();
      const agent = useSessionStore().agent;
      const from = device.settings.get(MY_NUMBER_KEY) ?? agent?.name ?? agent?.email ?? 'mobile';
      try {
        await useUploadsStore().submit(callIntent(this.conversationId, this.activeCall, input, from, device.now()));
        this.activeCall = null;
        this.error = null;
        return true;
      } catch (e) {
        this.error = e instanceof Error ? e.message : String(e);
        return false;
      }
    },

    cancelCall(): void {
      stopForeground?.();
      stopForeground = null;
      this.activeCall = null;
    },
  },
});

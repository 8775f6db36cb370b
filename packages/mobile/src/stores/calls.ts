// The agent's call log on the phone: every call (softphone, dialer, IVR) and voicemail on the
// conversations the device holds, newest first, with direction, outcome, talk time, the recording
// and its transcript. Read from the device's database (works offline); recordings play from the
// server once online.
import { defineStore } from 'pinia';
import type { Attachment, Conversation, Message, MessageTranscript } from '@goutong/core';
import { currentServices } from '../app/services';

export interface CallEntry {
  messageId: string;
  conversationId: string;
  contactName: string;
  kind: 'call' | 'voicemail';
  direction: 'in' | 'out';
  /** answered, missed, busy, rejected, transferred, failed; voicemail for a voicemail. */
  outcome: string;
  seconds: number;
  at: number;
  recording: Pick<Attachment, 'id' | 'name' | 'mime'> | null;
  transcript: MessageTranscript | null;
  /** How it was transferred, conferenced or monitored (softphone meta). */
  transferKind: 'blind' | 'attended' | null;
  conference: boolean;
}

interface CallMeta {
  direction?: 'in' | 'out';
  outcome?: string;
  durationSeconds?: number;
  transferKind?: 'blind' | 'attended';
  conference?: string[];
}

/** The call log entries of these conversations' messages (pure). */
export function callEntries(conversations: readonly Pick<Conversation, 'id' | 'contactName'>[], messages: readonly Message[]): CallEntry[] {
  const names = new Map(conversations.map((c) => [c.id, c.contactName]));
  const out: CallEntry[] = [];
  for (const m of messages) {
    const meta = m.meta as { call?: CallMeta; voicemail?: { durationSeconds?: number }; transcript?: MessageTranscript };
    const isCall = m.kind === 'call' && meta.call?.direction !== undefined;
    const isVoicemail = m.kind === 'voice' && meta.voicemail !== undefined;
    if (!isCall && !isVoicemail) continue;
    const audio = m.attachments.find((a) => a.mime.startsWith('audio/')) ?? null;
    out.push({
      messageId: m.id,
      conversationId: m.conversationId,
      contactName: names.get(m.conversationId) ?? '',
      kind: isCall ? 'call' : 'voicemail',
      direction: isCall ? meta.call!.direction! : 'in',
      outcome: isCall ? (meta.call!.outcome ?? 'answered') : 'voicemail',
      seconds: Math.max(0, Math.round((isCall ? meta.call!.durationSeconds : meta.voicemail!.durationSeconds) ?? 0)),
      at: m.createdAt,
      recording: audio ? { id: audio.id, name: audio.name, mime: audio.mime } : null,
      transcript: meta.transcript ?? null,
      transferKind: isCall ? (meta.call!.transferKind ?? null) : null,
      conference: isCall && (meta.call!.conference?.length ?? 0) > 0,
    });
  }
  return out.sort((a, b) => b.at - a.at || (a.messageId < b.messageId ? 1 : -1));
}

export const useCallLogStore = defineStore('callLog', {
  state: () => ({ entries: [] as CallEntry[], loading: false, playing: null as string | null, error: null as string | null }),
  actions: {
    /** Reads the calls of the agent's conversations from the device (the most recent `limit` conversations). */
    async load(limit = 200): Promise<void> {
      const s = currentServices();
      if (!s) return;
      this.loading = true;
      try {
        const convs = await s.client.queryConversations({ sort: 'lastActivity', limit });
        const messages: Message[] = [];
        for (const c of convs) messages.push(...(await s.client.messages(c.id, { limit: 200 })).filter((m) => m.kind === 'call' || m.kind === 'voice'));
        this.entries = callEntries(convs, messages);
      } finally {
        this.loading = false;
      }
    },

    /** A playable address of an entry's recording (signed by the server), or null offline. */
    async recordingUrl(e: CallEntry): Promise<string | null> {
      if (!e.recording) return null;
      try {
        return (await currentServices()?.api.attachmentUrl(e.recording)) ?? null;
      } catch (err) {
        this.error = err instanceof Error ? err.message : String(err);
        return null;
      }
    },
  },
});

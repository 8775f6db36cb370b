import type { Conversation, Message } from '../domain/model.js';
import type { Fact } from './facts.js';
import { previewOf } from '../domain/policy.js';

/**
 * Transcripts of voicemail and call recordings: the state a transcription job shows on its call
 * message (`meta.transcript`), the retry policy, and what a change writes. The server's
 * transcription worker asks these; nothing else decides them.
 */

export type TranscriptState = 'pending' | 'running' | 'done' | 'failed';

export interface MessageTranscript {
  state: TranscriptState;
  /** The recognised text (done). */
  text: string | null;
  /** Seconds of audio transcribed: what the provider bills (done). */
  seconds: number | null;
  provider: string;
  language: 'en' | 'zh';
  attempts: number;
  /** Why the last attempt failed (failed, or pending before a retry). */
  error: string | null;
  /** When the next attempt runs (pending after a failure). */
  nextAttemptAt: number | null;
  /** Cost of the transcription, from the inbox's price per minute. */
  cost?: { amount: number; currency: string };
  updatedAt: number;
}

/** Attempts before a transcript is marked failed for good (an admin may retry it). */
export const TRANSCRIPT_MAX_ATTEMPTS = 5;

/** Delay before attempt `attempts + 1`: exponential from 5 s, capped at 10 min, with `jitter` ∈ [0, 1) adding up to 20 %. */
export function transcriptRetryDelay(attempts: number, jitter: number): number {
  const base = Math.min(600_000, 5_000 * 2 ** Math.max(0, attempts - 1));
  return Math.round(base * (1 + 0.2 * Math.min(Math.max(jitter, 0), 0.999)));
}

/** After a failed attempt: retry later, or failed when the attempts are used up (or the error is final). */
export function transcriptAfterFailure(prev: MessageTranscript, o: { error: string; retryable: boolean; now: number; jitter: number }): MessageTranscript {
  const final = !o.retryable || prev.attempts >= TRANSCRIPT_MAX_ATTEMPTS;
  return {
    ...prev,
    state: final ? 'failed' : 'pending',
    error: o.error.slice(0, 500),
    nextAttemptAt: final ? null : o.now + transcriptRetryDelay(prev.attempts, o.jitter),
    updatedAt: o.now,
  };
}

/** Cost of `seconds` of transcription at a price per started minute. */
export function transcriptCost(seconds: number, pricePerMinute: number | undefined, currency: string | undefined): { amount: number; currency: string } | undefined {
  if (pricePerMinute === undefined || !currency) return undefined;
  return { amount: Math.round(Math.ceil(seconds / 60) * pricePerMinute * 10_000) / 10_000, currency };
}

/** The text local search reads for a transcript (the conversation preview carries it while the voicemail is the latest message). */
export function transcriptPreview(message: Pick<Message, 'text' | 'kind' | 'subject'>, t: MessageTranscript): string {
  return previewOf(t.state === 'done' && t.text ? { ...message, text: `${message.text} — ${t.text}` } : message);
}

/**
 * The facts of a transcript change on a message: the message's `meta.transcript` (a new seq, so
 * devices get it) and, when the message is still its conversation's latest and the text is in,
 * the conversation preview with the text (what local search reads).
 */
export function decideTranscript(message: Message, conversation: Conversation | null, t: MessageTranscript, o: { seq: number; now: number }): Fact[] {
  const facts: Fact[] = [{ kind: 'message_transcript', messageId: message.id, meta: { ...message.meta, transcript: t } }];
  if (conversation && t.state === 'done' && conversation.lastMessageAt === message.createdAt && conversation.lastMessagePreview === previewOf(message)) {
    facts.push({ kind: 'conversation', conversation: { ...conversation, lastMessagePreview: transcriptPreview(message, t), updatedAt: o.now, seq: o.seq }, isNew: false });
  }
  return facts;
}

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decideTranscript, transcriptAfterFailure, transcriptCost, transcriptRetryDelay, TRANSCRIPT_MAX_ATTEMPTS, type MessageTranscript } from './transcripts.js';
import type { Conversation, Message } from '../domain/model.js';

const t0: MessageTranscript = { state: 'running', text: null, seconds: null, provider: 'pocketsphinx', language: 'en', attempts: 1, error: null, nextAttemptAt: null, updatedAt: 0 };

describe('transcript rules', () => {
  it('retries with growing, capped, jittered delays', () => {
    expect(transcriptRetryDelay(1, 0)).toBe(5_000);
    expect(transcriptRetryDelay(2, 0)).toBe(10_000);
    expect(transcriptRetryDelay(30, 0)).toBe(600_000);
    fc.assert(fc.property(fc.integer({ min: 1, max: 50 }), fc.double({ min: 0, max: 1, noNaN: true }), (n, j) => {
      const d = transcriptRetryDelay(n, j);
      return d >= transcriptRetryDelay(n, 0) && d <= transcriptRetryDelay(n, 0) * 1.2 && d <= 720_000;
    }));
  });
  it('a retryable failure goes back to pending until the attempts are used up; a final one fails at once', () => {
    expect(transcriptAfterFailure(t0, { error: 'timeout', retryable: true, now: 1000, jitter: 0 })).toMatchObject({ state: 'pending', error: 'timeout', nextAttemptAt: 6000 });
    expect(transcriptAfterFailure({ ...t0, attempts: TRANSCRIPT_MAX_ATTEMPTS }, { error: 'x', retryable: true, now: 1, jitter: 0 })).toMatchObject({ state: 'failed', nextAttemptAt: null });
    expect(transcriptAfterFailure(t0, { error: 'AuthFailure', retryable: false, now: 1, jitter: 0 })).toMatchObject({ state: 'failed' });
  });
  it('costs started minutes', () => {
    expect(transcriptCost(61, 0.5, 'CNY')).toEqual({ amount: 1, currency: 'CNY' });
    expect(transcriptCost(60, 0.5, 'CNY')).toEqual({ amount: 0.5, currency: 'CNY' });
    expect(transcriptCost(60, undefined, 'CNY')).toBeUndefined();
  });
  it('writes the transcript on the message, and the preview only while the voicemail is the latest message', () => {
    const message = { id: 'm1', text: 'Voicemail · 0:05', kind: 'voice', subject: null, createdAt: 100, meta: { voicemail: { callId: 'c' } } } as unknown as Message;
    const conv = { id: 'c1', lastMessageAt: 100, lastMessagePreview: 'Voicemail · 0:05', seq: 3, updatedAt: 100 } as unknown as Conversation;
    const done: MessageTranscript = { ...t0, state: 'done', text: 'call me back' };
    const facts = decideTranscript(message, conv, done, { seq: 9, now: 200 });
    expect(facts[0]).toEqual({ kind: 'message_transcript', messageId: 'm1', meta: { voicemail: { callId: 'c' }, transcript: done } });
    expect(facts[1]).toMatchObject({ kind: 'conversation', isNew: false, conversation: { lastMessagePreview: 'Voicemail · 0:05 — call me back', seq: 9, updatedAt: 200 } });
    expect(decideTranscript(message, { ...conv, lastMessageAt: 150 }, done, { seq: 9, now: 200 })).toHaveLength(1);
    expect(decideTranscript(message, conv, t0, { seq: 9, now: 200 })).toHaveLength(1);
  });
});

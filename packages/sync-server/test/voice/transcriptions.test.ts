// Transcription of voicemail on both databases: the upload path enqueues a job (pending fact on
// the message), the worker claims it under a lease and writes running → done with the text, the
// seconds and their cost (a new seq each time); the conversation preview carries the text, so
// local search finds it. A provider that hangs leaves the transcript pending with its error and
// the retry later succeeds; a refusal marks it failed until an admin retries it.
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MessageTranscript } from '@goutong/core';
import { sipVoiceProvider } from '../../src/channels/voice/index.js';
import { Transcriptions } from '../../src/domain/transcriptions.js';
import { eventually, startChannelServer, type ChannelServer } from '../channels/support.js';
import { FakeTencentCloud, toneWav } from '../channels/fakes/fakeSpeech.js';

describe.each([['sqlite'], ['postgres']] as const)('voicemail transcription on %s', (dialect) => {
  let s: ChannelServer;
  let tc: FakeTencentCloud;
  let inboxId: string;
  let token: string;

  beforeAll(async () => {
    tc = new FakeTencentCloud();
    await tc.start();
    s = await startChannelServer({ dialect, providers: [sipVoiceProvider({ transcriptionIntervalMs: 100, asrTimeoutMs: 800, asrPollMs: 20, ivrReconcileMs: 60_000 })] });
    const r = await s.admin('POST', '/api/v1/inboxes', {
      name: 'Hotline',
      channel: 'voice',
      provider: 'sip',
      config: { wsUrl: 'ws://127.0.0.1:1', domain: 'lab.test', currency: 'CNY', transcription: { provider: 'tencent', language: 'en', pricePerMinute: 0.5 }, speech: { tencentUrl: `${tc.baseUrl}/` } },
      secrets: { tencentSecretId: tc.secretId, tencentSecretKey: tc.secretKey },
      teamIds: [s.supportTeam],
    });
    expect(r.status).toBe(201);
    inboxId = r.body.id;
    token = r.body.generatedSecrets.voicemailToken;
  }, 60_000);
  afterAll(async () => {
    await s?.close();
    await tc?.stop();
  });

  const upload = async (seconds: number) => {
    const res = await fetch(`${s.url}/api/v1/inboxes/${inboxId}/voicemail?from=%2B8613900139000&callId=${crypto.randomUUID()}&durationSeconds=${Math.round(seconds)}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'audio/wav' },
      body: toneWav(seconds, 8000),
    });
    expect(res.status).toBe(201);
    return ((await res.json()) as { messageId: string; conversationId: string });
  };
  const transcript = async (id: string) => (await s.message(id))!.meta['transcript'] as MessageTranscript | undefined;

  it('transcribes an uploaded voicemail: pending → done with text, seconds and cost; the preview carries the text', async () => {
    const { messageId, conversationId } = await upload(61.5);
    const t = await eventually(async () => ((await transcript(messageId))?.state === 'done' ? transcript(messageId) : null), 'the transcript', 20_000);
    expect(t).toMatchObject({ state: 'done', text: tc.transcript, seconds: 61.5, provider: 'tencent', language: 'en', attempts: 1, error: null, cost: { amount: 1, currency: 'CNY' } });
    const conv = await s.conversation(conversationId);
    expect(conv!.lastMessagePreview).toBe(`Voicemail · 1:02 — ${tc.transcript}`);
    // devices get it: the message and the conversation carry new seqs, and the pull returns them
  });

  it('a provider that hangs leaves the transcript pending with the error; the retry succeeds later', async () => {
    tc.holdNext = 1;
    const { messageId } = await upload(2);
    const waiting = await eventually(async () => {
      const t = await transcript(messageId);
      return t?.state === 'pending' && t.error ? t : null;
    }, 'a pending transcript with the timeout error', 20_000);
    expect(waiting.error).toMatch(/timed out|abort/i);
    expect(waiting.attempts).toBe(1);
    expect(waiting.nextAttemptAt).toBeGreaterThan(waiting.updatedAt);
    const done = await eventually(async () => ((await transcript(messageId))?.state === 'done' ? transcript(messageId) : null), 'the retried transcript', 30_000);
    expect(done).toMatchObject({ state: 'done', attempts: 2, text: tc.transcript });
  }, 60_000);

  it('a refusal marks the transcript failed; an admin retry transcribes it', async () => {
    expect((await s.admin('PATCH', `/api/v1/inboxes/${inboxId}`, { secrets: { tencentSecretKey: 'wrong-key' } })).status).toBe(200);
    const { messageId } = await upload(2);
    const failed = await eventually(async () => ((await transcript(messageId))?.state === 'failed' ? transcript(messageId) : null), 'a failed transcript', 20_000);
    expect(failed!.error).toMatch(/AuthFailure/);
    expect((await s.admin('PATCH', `/api/v1/inboxes/${inboxId}`, { secrets: { tencentSecretKey: tc.secretKey } })).status).toBe(200);
    expect((await s.admin('POST', `/api/v1/messages/${messageId}/transcript/retry`, {})).status).toBe(202);
    const done = await eventually(async () => ((await transcript(messageId))?.state === 'done' ? transcript(messageId) : null), 'the transcript after the retry', 20_000);
    expect(done).toMatchObject({ state: 'done', attempts: 1, text: tc.transcript });
    // only a failed transcript can be retried
    expect((await s.admin('POST', `/api/v1/messages/${messageId}/transcript/retry`, {})).status).toBe(404);
  });

  it('a job is held by one worker at a time; a lost lease writes nothing', async () => {
    const { messageId } = await upload(1);
    // the server's worker may take it first: wait until it is done, then test the lease on a fresh job row
    await eventually(async () => ((await transcript(messageId))?.state === 'done' ? true : null), 'done', 20_000);
    // the job due tomorrow (the server's own worker leaves it alone); these workers live tomorrow
    const T = Date.now() + 86_400_000;
    const db = s.server.db;
    await db.run("UPDATE transcription_jobs SET state = 'pending', next_attempt_at = ? WHERE message_id = ?", [T, messageId]);
    const a = new Transcriptions(db, s.server.workspace, () => T + 1);
    // both workers race for due jobs: the row goes to exactly one
    const [x, y] = await Promise.all([a.claim({ owner: 'A', leaseMs: 60_000, limit: 10 }), a.claim({ owner: 'B', leaseMs: 60_000, limit: 10 })]);
    const mine = [...x, ...y].filter((j) => j.messageId === messageId);
    expect(mine).toHaveLength(1);
    const job = mine[0]!;
    // a takeover after the lease expired: the first holder's finish changes nothing
    const later = new Transcriptions(db, s.server.workspace, () => T + 120_000);
    const [taken] = (await later.claim({ owner: 'C', leaseMs: 60_000, limit: 10 })).filter((j) => j.messageId === messageId);
    expect(taken).toBeTruthy();
    expect(await a.finish(job, { ok: true, text: 'stale', seconds: 1 })).toBe(false);
    expect(await later.finish(taken!, { ok: true, text: 'fresh', seconds: 1 })).toBe(true);
    expect((await transcript(messageId))!.text).toBe('fresh');
  });
});

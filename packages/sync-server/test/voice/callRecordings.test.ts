// Transcription of softphone call recordings: a `log_call` with its recording (uploaded first, as
// the softphone does) gets the voicemail's transcription job once it is committed; the call record
// is there at once (pending transcript), the worker writes done with the text — pocketsphinx with
// espeak-ng audio — and the message is found by the transcript's words. A failing ASR marks the
// transcript failed (the call untouched) and a retry transcribes it; a recording that is not WAV
// fails for good with a clear error.
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Uuidv7Generator, type MessageTranscript } from '@goutong/core';
import { sipVoiceProvider } from '../../src/channels/voice/index.js';
import { runPipeline } from '../../src/voice/proc.js';
import { recordingOf } from '../../src/voice/callRecordings.js';
import { eventually, startChannelServer, type ChannelServer } from '../channels/support.js';
import { FakeTencentCloud, toneWav } from '../channels/fakes/fakeSpeech.js';

const ids = new Uuidv7Generator(Date.now, (n) => crypto.randomBytes(n));
const uuid = () => ids.next();

async function logRecordedCall(s: ChannelServer, inboxId: string, o: { phone: string; audio: Buffer; mime: string; name: string }) {
  const up = await fetch(`${s.url}/api/v1/attachments?name=${encodeURIComponent(o.name)}`, { method: 'POST', headers: { authorization: `Bearer ${s.token}`, 'content-type': o.mime }, body: o.audio });
  expect(up.status).toBe(201);
  const attachment = (await up.json()) as Record<string, unknown>;
  const id = uuid();
  const t = Date.now() - 60_000;
  const r = await s.admin('POST', '/api/v1/commands', {
    commands: [{ type: 'log_call', id, deviceTime: t, inboxId, phone: o.phone, direction: 'in', from: o.phone, to: '1001', startedAt: t, answeredAt: t + 2000, endedAt: t + 30_000, outcome: 'answered', attachments: [attachment] }],
  });
  expect(r.body.results[0]).toMatchObject({ outcome: 'applied' });
  return id;
}

describe('recordingOf', () => {
  it('is the first audio attachment of a call message', () => {
    const a = (id: string, mime: string) => ({ id, name: id, mime, size: 1 });
    expect(recordingOf({ kind: 'call', attachments: [a('x', 'image/png'), a('r', 'audio/wav')] })).toBe('r');
    expect(recordingOf({ kind: 'call', attachments: [] })).toBeNull();
    expect(recordingOf({ kind: 'voice', attachments: [a('r', 'audio/wav')] })).toBeNull();
  });
});

describe('softphone call recordings through pocketsphinx (espeak-ng audio)', () => {
  let s: ChannelServer;
  let inboxId: string;

  beforeAll(async () => {
    s = await startChannelServer({ dialect: 'sqlite', providers: [sipVoiceProvider({ transcriptionIntervalMs: 100, ivrReconcileMs: 60_000 })] });
    inboxId = await s.createInbox({ name: 'Phones', channel: 'voice', provider: 'sip', config: { wsUrl: 'ws://127.0.0.1:1', domain: 'lab.test', transcription: { provider: 'pocketsphinx', language: 'en' } }, secrets: {} });
  }, 60_000);
  afterAll(async () => {
    await s?.close();
  });

  it('a recorded call is logged at once, then transcribed: done with text, and searchable', async () => {
    // what the softphone uploads: mono 16-bit PCM WAV (espeak-ng speaks at 22.05 kHz; the ASR resamples)
    const audio = await runPipeline([{ cmd: 'espeak-ng', args: ['-v', 'en-us', '-s', '120', '--stdin', '--stdout'] }], 'my order number is one two three four');
    const id = await logRecordedCall(s, inboxId, { phone: '+8613700137000', audio, mime: 'audio/wav', name: 'call.wav' });
    const logged = await s.message(id);
    expect(logged).toMatchObject({ kind: 'call', meta: { call: { outcome: 'answered' } } });
    const t = await eventually(async () => {
      const x = (await s.message(id))!.meta['transcript'] as MessageTranscript | undefined;
      return x?.state === 'done' || x?.state === 'failed' ? x : null;
    }, 'the transcript', 150_000);
    expect(t).toMatchObject({ state: 'done', provider: 'pocketsphinx', language: 'en', attempts: 1, error: null });
    // pocketsphinx's general English model on synthetic speech: deterministic, and the digits come through
    expect(t.text).toMatch(/\bthree\b/);
    expect(t.seconds).toBeGreaterThan(1.5);
    // the server's search index has the transcript's words on the call message
    const word = t.text!.split(' ').find((w) => w.length >= 4) ?? 'three';
    const found = await s.admin('GET', `/api/v1/search?q=${encodeURIComponent(word)}`);
    expect(found.status).toBe(200);
    expect(JSON.stringify(found.body)).toContain(id);
  }, 180_000);
});

describe.each([['sqlite'], ['postgres']] as const)('softphone call recordings with a failing ASR on %s', (dialect) => {
  let s: ChannelServer;
  let tc: FakeTencentCloud;
  let inboxId: string;

  beforeAll(async () => {
    tc = new FakeTencentCloud();
    await tc.start();
    s = await startChannelServer({ dialect, providers: [sipVoiceProvider({ transcriptionIntervalMs: 100, asrTimeoutMs: 2000, asrPollMs: 20, ivrReconcileMs: 60_000 })] });
    inboxId = await s.createInbox({
      name: 'Phones',
      channel: 'voice',
      provider: 'sip',
      config: { wsUrl: 'ws://127.0.0.1:1', domain: 'lab.test', currency: 'CNY', transcription: { provider: 'tencent', language: 'zh', pricePerMinute: 0.5 }, speech: { tencentUrl: `${tc.baseUrl}/` } },
      secrets: { tencentSecretId: tc.secretId, tencentSecretKey: 'wrong-key' },
    });
  }, 60_000);
  afterAll(async () => {
    await s?.close();
    await tc?.stop();
  });

  const transcript = async (id: string) => (await s.message(id))!.meta['transcript'] as MessageTranscript | undefined;

  it('marks the transcript failed (the call stays logged); a retry transcribes it with its cost', async () => {
    const id = await logRecordedCall(s, inboxId, { phone: '+8613700137001', audio: toneWav(3, 8000), mime: 'audio/wav', name: 'call.wav' });
    const failed = await eventually(async () => ((await transcript(id))?.state === 'failed' ? transcript(id) : null), 'a failed transcript', 30_000);
    expect(failed!.error).toMatch(/AuthFailure/);
    expect(await s.message(id)).toMatchObject({ kind: 'call', meta: { call: { outcome: 'answered', durationSeconds: 28 } } });
    expect((await s.admin('PATCH', `/api/v1/inboxes/${inboxId}`, { secrets: { tencentSecretKey: tc.secretKey } })).status).toBe(200);
    expect((await s.admin('POST', `/api/v1/messages/${id}/transcript/retry`, {})).status).toBe(202);
    const done = await eventually(async () => ((await transcript(id))?.state === 'done' ? transcript(id) : null), 'the transcript after the retry', 30_000);
    expect(done).toMatchObject({ state: 'done', text: tc.transcript, seconds: 3, provider: 'tencent', cost: { amount: 0.5, currency: 'CNY' } });
    expect((await s.admin('PATCH', `/api/v1/inboxes/${inboxId}`, { secrets: { tencentSecretKey: 'wrong-key' } })).status).toBe(200);
  }, 90_000);

  it('a recording that is not PCM WAV (an old webm one) fails for good with a clear error', async () => {
    const id = await logRecordedCall(s, inboxId, { phone: '+8613700137002', audio: Buffer.from('1a45dfa3a34286810142f7810142f2', 'hex'), mime: 'audio/webm', name: 'call.webm' });
    const failed = await eventually(async () => ((await transcript(id))?.state === 'failed' ? transcript(id) : null), 'a failed transcript', 30_000);
    expect(failed!.error).toMatch(/WAV/);
    expect(failed!.attempts).toBe(1);
  }, 60_000);

  it('a call without a recording gets no transcription job; one job per recording', async () => {
    const t = Date.now() - 10_000;
    const id = uuid();
    const r = await s.admin('POST', '/api/v1/commands', { commands: [{ type: 'log_call', id, deviceTime: t, inboxId, phone: '+8613700137003', direction: 'out', from: '1001', to: '+8613700137003', startedAt: t, endedAt: t + 5000, outcome: 'missed' }] });
    expect(r.body.results[0]).toMatchObject({ outcome: 'applied' });
    const withRec = await logRecordedCall(s, inboxId, { phone: '+8613700137004', audio: toneWav(1, 8000), mime: 'audio/wav', name: 'call.wav' });
    await eventually(async () => ((await transcript(withRec))?.state === 'failed' ? true : null), 'the recorded call failed (wrong key)', 30_000);
    expect(await s.count('SELECT COUNT(*) AS n FROM transcription_jobs WHERE message_id = ?', [id])).toBe(0);
    expect(await s.count('SELECT COUNT(*) AS n FROM transcription_jobs WHERE message_id = ?', [withRec])).toBe(1);
    expect((await s.message(id))!.meta['transcript']).toBeUndefined();
  }, 60_000);
});

// Cloud speech adapters against protocol fakes that verify what the real services verify: Aliyun
// NLS (CreateToken with the POP v1 signature, RESTful TTS with the token, file transcription with
// a link the fake downloads) and Tencent Cloud (TC3-HMAC-SHA256 on TextToVoice, CreateRecTask,
// DescribeTaskStatus). Wrong keys are refused; 5xx is retryable, a refusal is not; a hang times out.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aliyunFileAsr, aliyunTts, tencentAsr, tencentTts } from '../../src/voice/cloud.js';
import { SpeechEndpoints } from '../../src/voice/config.js';
import { AsrError } from '../../src/voice/asr.js';
import { rms } from '../../src/voice/audio.js';
import { FakeAliyunNls, FakeTencentCloud, toneWav } from './fakes/fakeSpeech.js';

const f = { fetch: globalThis.fetch };

describe('cloud speech adapters against protocol fakes', () => {
  const ali = new FakeAliyunNls();
  const tc = new FakeTencentCloud();
  let files: http.Server;
  let fileUrl = '';
  const recording = toneWav(3.2, 8000);

  beforeAll(async () => {
    await ali.start();
    await tc.start();
    files = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'audio/wav' }).end(recording));
    await new Promise<void>((r) => files.listen(0, '127.0.0.1', () => r()));
    fileUrl = `http://127.0.0.1:${(files.address() as AddressInfo).port}/vm.wav?sig=x`;
  });
  afterAll(async () => {
    await ali.stop();
    await tc.stop();
    await new Promise((r) => files.close(r));
  });

  const aliEndpoints = () => SpeechEndpoints.parse({ aliyunTokenUrl: `${ali.baseUrl}/token`, aliyunTtsUrl: `${ali.baseUrl}/stream/v1/tts`, aliyunFileTransUrl: `${ali.baseUrl}/filetrans` });
  const aliSecrets = () => ({ aliyunAccessKeyId: ali.accessKeyId, aliyunAccessKeySecret: ali.accessKeySecret, aliyunAppKey: ali.appKey });
  const tcEndpoints = () => SpeechEndpoints.parse({ tencentUrl: `${tc.baseUrl}/` });
  const tcSecrets = () => ({ tencentSecretId: tc.secretId, tencentSecretKey: tc.secretKey });

  it('Aliyun TTS: a signed CreateToken, then the token on each synthesis (cached), WAV resampled to 8 kHz', async () => {
    const tts = aliyunTts({ endpoints: aliEndpoints(), secrets: aliSecrets(), ...f });
    const a = await tts.synthesize({ text: '欢迎致电', language: 'zh' });
    const b = await tts.synthesize({ text: 'Press two for support', language: 'en' });
    expect(ali.tokens.size).toBe(1);
    expect(ali.synthesized.map((x) => [x.text, x.voice])).toEqual([['欢迎致电', 'xiaoyun'], ['Press two for support', 'abby']]);
    expect(a.length).toBe(4000); // 0.5 s at 8 kHz
    expect(b.length).toBeCloseTo(0.05 * 21 * 8000, -2);
    expect(rms(b)).toBeGreaterThan(3000);
    const wrong = aliyunTts({ endpoints: aliEndpoints(), secrets: { ...aliSecrets(), aliyunAccessKeySecret: 'nope' }, ...f });
    await expect(wrong.synthesize({ text: 'x', language: 'en' })).rejects.toThrow(/SignatureDoesNotMatch/);
  });

  it('Aliyun file transcription: SubmitTask with the recording link, GetTaskResult until SUCCESS', async () => {
    const asr = aliyunFileAsr({ endpoints: aliEndpoints(), secrets: aliSecrets(), pollMs: 20, ...f });
    const t = await asr.transcribe({ wav: recording, language: 'zh', audioUrl: fileUrl });
    expect(t).toEqual({ text: ali.transcript, seconds: 3.2 });
    expect([...ali.tasks.values()][0]).toMatchObject({ bytes: recording.length, link: fileUrl, polls: 2 });
    await expect(asr.transcribe({ wav: recording, language: 'zh' })).rejects.toMatchObject({ retryable: false });
  });

  it('Tencent Cloud TTS and recording recognition with TC3-HMAC-SHA256', async () => {
    const tts = tencentTts({ endpoints: tcEndpoints(), secrets: tcSecrets(), ...f });
    const pcm = await tts.synthesize({ text: '请按二', language: 'zh' });
    expect(pcm.length).toBe(4000);
    const asr = tencentAsr({ endpoints: tcEndpoints(), secrets: tcSecrets(), pollMs: 20, ...f });
    expect(await asr.transcribe({ wav: recording, language: 'en' })).toEqual({ text: tc.transcript, seconds: 3.2 });
    expect([...tc.tasks.values()]).toEqual([{ seconds: 3.2, engine: '8k_en' }]);
    expect(tc.calls.map((c) => `${c.service}:${c.action}`)).toEqual(['tts:TextToVoice', 'asr:CreateRecTask', 'asr:DescribeTaskStatus']);
    const wrong = tencentAsr({ endpoints: tcEndpoints(), secrets: { ...tcSecrets(), tencentSecretKey: 'bad' }, pollMs: 20, ...f });
    const e = await wrong.transcribe({ wav: recording, language: 'en' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(AsrError);
    expect(e).toMatchObject({ retryable: false, message: expect.stringMatching(/AuthFailure\.SignatureFailure/) });
  });

  it('a provider that fails is retryable, one that hangs times out', async () => {
    tc.failNext = 1;
    const asr = tencentAsr({ endpoints: tcEndpoints(), secrets: tcSecrets(), pollMs: 20, ...f });
    await expect(asr.transcribe({ wav: recording, language: 'en' })).rejects.toMatchObject({ retryable: true });
    tc.holdNext = 1;
    const slow = tencentAsr({ endpoints: tcEndpoints(), secrets: tcSecrets(), pollMs: 20, timeoutMs: 300, ...f });
    await expect(slow.transcribe({ wav: recording, language: 'en' })).rejects.toThrow();
  });
});

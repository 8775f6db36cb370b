import crypto from 'node:crypto';
import type http from 'node:http';
import { HttpFake } from './httpFake.js';
import { fakeAliyunSign } from './fakeAliyun.js';

/** A 16-bit mono WAV of a tone (what the fakes "synthesize"): `rate` differs from 8 kHz so the client must resample. */
export function toneWav(seconds: number, rate = 16000, freq = 440): Buffer {
  const n = Math.round(seconds * rate);
  const data = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i++) data.writeInt16LE(Math.round(9000 * Math.sin((2 * Math.PI * freq * i) / rate)), i * 2);
  const h = Buffer.alloc(44);
  h.write('RIFF', 0, 'ascii');
  h.writeUInt32LE(36 + data.length, 4);
  h.write('WAVEfmt ', 8, 'ascii');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(1, 22);
  h.writeUInt32LE(rate, 24);
  h.writeUInt32LE(rate * 2, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36, 'ascii');
  h.writeUInt32LE(data.length, 40);
  return Buffer.concat([h, data]);
}

/** Seconds of a PCM WAV (the fake's own reading of the RIFF header). */
function wavSeconds(b: Buffer): number | null {
  if (b.length < 44 || b.toString('ascii', 0, 4) !== 'RIFF' || b.toString('ascii', 8, 12) !== 'WAVE') return null;
  const rate = b.readUInt32LE(24);
  const channels = b.readUInt16LE(22);
  return (b.length - 44) / (rate * 2 * channels);
}

/**
 * Aliyun Intelligent Speech Interaction double, from the documentation: `CreateToken` (POP RPC,
 * signature v1 checked: access key, HMAC-SHA1, timestamp, nonce) under `/token/`; RESTful TTS
 * `POST /stream/v1/tts` (JSON with appkey and a token it issued and that has not expired; answers
 * WAV as audio/mpeg like the service); file transcription `SubmitTask` / `GetTaskResult` (signed
 * RPC) under `/filetrans/`, which downloads `file_link` itself and answers RUNNING once, then SUCCESS.
 */
export class FakeAliyunNls extends HttpFake {
  readonly accessKeyId = `LTAI${crypto.randomBytes(8).toString('hex')}`;
  readonly accessKeySecret = crypto.randomBytes(15).toString('base64url');
  readonly appKey = crypto.randomBytes(8).toString('hex');
  readonly tokens = new Map<string, number>();
  readonly synthesized: { text: string; voice: string; token: string }[] = [];
  readonly tasks = new Map<string, { bytes: number; seconds: number; polls: number; link: string }>();
  tokenTtlS = 3600;
  /** The transcript text every task answers. */
  transcript = '您好，我想查询订单状态';
  private nonces = new Set<string>();

  protected async handle(req: http.IncomingMessage, body: Buffer, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const json = (status: number, o: Record<string, unknown>) => res.writeHead(status, { 'content-type': 'application/json;charset=utf-8' }).end(JSON.stringify(o));
    if (url.pathname === '/stream/v1/tts' && req.method === 'POST') {
      let b: Record<string, unknown>;
      try {
        b = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
      } catch {
        return json(400, { status: 40000000, message: 'bad json' });
      }
      const exp = this.tokens.get(String(b['token']));
      if (exp === undefined || exp < Date.now()) return json(403, { task_id: '', result: '', status: 40000001, message: 'The token is invalid!' });
      if (b['appkey'] !== this.appKey) return json(400, { status: 40020105, message: 'APPKEY_NOT_EXIST' });
      if (typeof b['text'] !== 'string' || !b['text'] || b['format'] !== 'wav' || b['sample_rate'] !== 8000) return json(400, { status: 40000002, message: 'bad parameters' });
      this.synthesized.push({ text: b['text'], voice: String(b['voice'] ?? ''), token: String(b['token']) });
      res.writeHead(200, { 'content-type': 'audio/mpeg' }).end(toneWav(Math.max(0.5, b['text'].length * 0.05)));
      return;
    }
    const params: Record<string, string> = {};
    for (const [k, v] of url.searchParams) params[k] = v;
    if (req.method === 'POST') for (const [k, v] of new URLSearchParams(body.toString('utf8'))) params[k] = v;
    const rid = crypto.randomUUID().toUpperCase();
    const answer = (status: number, o: Record<string, unknown>) => json(status, { RequestId: rid, ...o });
    if (params.AccessKeyId !== this.accessKeyId) return answer(404, { Code: 'InvalidAccessKeyId.NotFound', Message: 'Specified access key is not found.' });
    if (params.Signature !== fakeAliyunSign(req.method ?? 'GET', params, this.accessKeySecret)) return answer(400, { Code: 'SignatureDoesNotMatch', Message: 'Specified signature is not matched with our calculation.' });
    if (Math.abs(Date.now() - Date.parse(params.Timestamp ?? '')) > 15 * 60_000) return answer(400, { Code: 'InvalidTimeStamp.Expired', Message: 'expired' });
    if (!params.SignatureNonce || this.nonces.has(params.SignatureNonce)) return answer(400, { Code: 'SignatureNonceUsed', Message: 'nonce used' });
    this.nonces.add(params.SignatureNonce);
    if (url.pathname.startsWith('/token') && params.Action === 'CreateToken' && params.Version === '2019-02-28') {
      const id = crypto.randomBytes(16).toString('hex');
      const exp = Math.floor(Date.now() / 1000) + this.tokenTtlS;
      this.tokens.set(id, exp * 1000);
      return answer(200, { ErrMsg: '', Token: { UserId: '1', Id: id, ExpireTime: exp } });
    }
    if (url.pathname.startsWith('/filetrans') && params.Version === '2018-08-17' && params.Action === 'SubmitTask') {
      let task: Record<string, unknown>;
      try {
        task = JSON.parse(params.Task ?? '') as Record<string, unknown>;
      } catch {
        return answer(200, { StatusCode: 41050001, StatusText: 'USER_BIZDURATION_QUOTA_EXCEED' });
      }
      if (task['appkey'] !== this.appKey) return answer(200, { StatusCode: 41050002, StatusText: 'APPKEY_NOT_EXIST' });
      const link = String(task['file_link'] ?? '');
      const file = await fetch(link).catch(() => null);
      const bytes = file && file.ok ? Buffer.from(await file.arrayBuffer()) : null;
      const seconds = bytes ? wavSeconds(bytes) : null;
      if (!bytes || seconds === null) return answer(200, { StatusCode: 41050008, StatusText: 'FILE_DOWNLOAD_FAILED' });
      const id = crypto.randomBytes(16).toString('hex');
      this.tasks.set(id, { bytes: bytes.length, seconds, polls: 0, link });
      return answer(200, { TaskId: id, StatusCode: 21050000, StatusText: 'SUCCESS' });
    }
    if (url.pathname.startsWith('/filetrans') && params.Version === '2018-08-17' && params.Action === 'GetTaskResult') {
      const t = this.tasks.get(params.TaskId ?? '');
      if (!t) return answer(200, { StatusCode: 41050003, StatusText: 'TASK_NOT_EXIST' });
      if (t.polls++ === 0) return answer(200, { TaskId: params.TaskId, StatusCode: 21050001, StatusText: 'RUNNING' });
      return answer(200, {
        TaskId: params.TaskId, StatusCode: 21050000, StatusText: 'SUCCESS', BizDuration: Math.round(t.seconds * 1000),
        Result: { Sentences: [{ EndTime: Math.round(t.seconds * 1000), BeginTime: 0, Text: this.transcript, ChannelId: 0 }] },
      });
    }
    return answer(404, { Code: 'InvalidAction.NotFound', Message: 'Specified api is not found' });
  }
}

/** The fake's own TC3-HMAC-SHA256 (from Tencent Cloud's documentation, not shared with the server's code). */
function tc3(secretKey: string, service: string, date: string, timestamp: string, canonical: string): string {
  const h = (k: Buffer | string, d: string) => crypto.createHmac('sha256', k).update(d).digest();
  const scope = `${date}/${service}/tc3_request`;
  const toSign = `TC3-HMAC-SHA256\n${timestamp}\n${scope}\n${crypto.createHash('sha256').update(canonical).digest('hex')}`;
  return crypto.createHmac('sha256', h(h(h(`TC3${secretKey}`, date), service), 'tc3_request')).update(toSign).digest('hex');
}

/**
 * Tencent Cloud API double: every call is `POST /` with X-TC-Action/Version/Timestamp and a
 * TC3-HMAC-SHA256 Authorization it verifies (secret id, scope date and service, signed headers,
 * signature over the canonical request, timestamp within 5 minutes). `TextToVoice` (tts) answers a
 * base64 WAV; `CreateRecTask` (asr, audio inline) and `DescribeTaskStatus` answer a transcript.
 */
export class FakeTencentCloud extends HttpFake {
  readonly secretId = `AKID${crypto.randomBytes(10).toString('hex')}`;
  readonly secretKey = crypto.randomBytes(16).toString('hex');
  readonly calls: { action: string; service: string }[] = [];
  readonly tasks = new Map<number, { seconds: number; engine: string }>();
  transcript = 'I would like to check the status of my order';
  private nextTask = 1000;

  protected handle(req: http.IncomingMessage, body: Buffer, res: http.ServerResponse): void {
    const rid = crypto.randomUUID();
    const reply = (o: Record<string, unknown>) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ Response: { ...o, RequestId: rid } }));
    const fail = (Code: string, Message: string) => reply({ Error: { Code, Message } });
    const action = String(req.headers['x-tc-action'] ?? '');
    const ts = String(req.headers['x-tc-timestamp'] ?? '');
    const auth = String(req.headers['authorization'] ?? '');
    const m = /^TC3-HMAC-SHA256 Credential=([^/]+)\/(\d{4}-\d{2}-\d{2})\/([a-z]+)\/tc3_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/.exec(auth);
    if (!m) return fail('AuthFailure.SignatureFailure', 'The provided credentials could not be validated.');
    const [, id, date, service, signed, sig] = m;
    if (id !== this.secretId) return fail('AuthFailure.SecretIdNotFound', 'The SecretId is not found.');
    if (Math.abs(Date.now() / 1000 - Number(ts)) > 300 || new Date(Number(ts) * 1000).toISOString().slice(0, 10) !== date) return fail('AuthFailure.SignatureExpire', 'Signature expired.');
    const names = signed!.split(';');
    if (!names.includes('content-type') || !names.includes('host')) return fail('AuthFailure.SignatureFailure', 'content-type and host must be signed');
    const canonicalHeaders = names.map((n) => `${n}:${String(req.headers[n] ?? '').trim().toLowerCase()}\n`).join('');
    const canonical = `POST\n/\n\n${canonicalHeaders}\n${signed}\n${crypto.createHash('sha256').update(body).digest('hex')}`;
    if (tc3(this.secretKey, service!, date!, ts, canonical) !== sig) return fail('AuthFailure.SignatureFailure', 'The provided credentials could not be validated.');
    let p: Record<string, unknown>;
    try {
      p = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
    } catch {
      return fail('InvalidParameter', 'body is not JSON');
    }
    this.calls.push({ action, service: service! });
    if (service === 'tts' && action === 'TextToVoice' && req.headers['x-tc-version'] === '2019-08-23') {
      if (typeof p['Text'] !== 'string' || !p['SessionId']) return fail('InvalidParameter.MissingParameter', 'Text and SessionId are required');
      return reply({ Audio: toneWav(Math.max(0.5, p['Text'].length * 0.05)).toString('base64'), SessionId: p['SessionId'] });
    }
    if (service === 'asr' && action === 'CreateRecTask' && req.headers['x-tc-version'] === '2019-06-14') {
      if (p['SourceType'] !== 1 || typeof p['Data'] !== 'string' || !/^(8k|16k)_/.test(String(p['EngineModelType']))) return fail('InvalidParameter', 'SourceType 1 with Data and an EngineModelType');
      const audio = Buffer.from(p['Data'], 'base64');
      if (audio.length !== p['DataLen']) return fail('InvalidParameterValue', 'DataLen does not match Data');
      const seconds = wavSeconds(audio);
      if (seconds === null) return fail('FailedOperation.ErrorDownFile', 'not an audio file');
      const taskId = this.nextTask++;
      this.tasks.set(taskId, { seconds, engine: String(p['EngineModelType']) });
      return reply({ Data: { TaskId: taskId } });
    }
    if (service === 'asr' && action === 'DescribeTaskStatus') {
      const t = this.tasks.get(Number(p['TaskId']));
      if (!t) return fail('InvalidParameterValue', 'no such task');
      return reply({ Data: { TaskId: p['TaskId'], Status: 2, StatusStr: 'success', Result: `[0:0.000,0:${t.seconds.toFixed(3)}]  ${this.transcript}\n`, ErrorMsg: '', AudioDuration: t.seconds } });
    }
    return fail('InvalidAction', `no action ${action}`);
  }
}

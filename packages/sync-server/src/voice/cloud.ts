import crypto from 'node:crypto';
import { aliyunSignature, aliyunTimestamp } from '../channels/aliyun/index.js';
import { egressFetch } from '../net/egress.js';
import { AsrError, wavSeconds, type SpeechToText } from './asr.js';
import type { SpeechEndpoints } from './config.js';
import { TtsError, wavTo8k, type TextToSpeech } from './tts.js';

/**
 * Cloud speech adapters, each implementing the provider's documented HTTP API:
 *
 * - Aliyun Intelligent Speech Interaction (NLS): a token from `CreateToken` (POP RPC, signature v1
 *   HMAC-SHA1, cached until it expires), RESTful TTS `POST /stream/v1/tts` with that token; file
 *   transcription (录音文件识别) `SubmitTask` / `GetTaskResult` (POP RPC, signed), which fetches the
 *   recording from a link (the attachment's signed URL on this server's public address).
 * - Tencent Cloud: `TextToVoice` (tts, 2019-08-23) and `CreateRecTask` / `DescribeTaskStatus`
 *   (asr, 2019-06-14), signed with TC3-HMAC-SHA256; the recording goes inline (base64).
 */

interface CloudOptions {
  endpoints: SpeechEndpoints;
  secrets: Record<string, string>;
  fetch?: typeof fetch;
  timeoutMs?: number;
  /** Polling interval of asynchronous transcription tasks (ms). */
  pollMs?: number;
  now?: () => number;
}

const need = (s: Record<string, string>, k: string, what: string): string => {
  const v = s[k];
  if (!v) throw new AsrError(`${what}: secret ${k} is not set`, false);
  return v;
};

async function jsonOf(res: Response, what: string): Promise<Record<string, unknown>> {
  const text = await res.text();
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new AsrError(`${what}: HTTP ${res.status}, not JSON: ${text.slice(0, 200)}`, res.status >= 500 || res.status === 429);
  }
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    }, { once: true });
  });

function withTimeout(signal: AbortSignal | undefined, ms: number | undefined): AbortSignal | undefined {
  if (!ms) return signal;
  return signal ? AbortSignal.any([signal, AbortSignal.timeout(ms)]) : AbortSignal.timeout(ms);
}

// ----- Aliyun -------------------------------------------------------------------------------

function aliyunRpcParams(action: string, version: string, accessKeyId: string, region: string, now: number, extra: Record<string, string>): Record<string, string> {
  return {
    AccessKeyId: accessKeyId,
    Action: action,
    Format: 'JSON',
    RegionId: region,
    SignatureMethod: 'HMAC-SHA1',
    SignatureNonce: crypto.randomUUID(),
    SignatureVersion: '1.0',
    Timestamp: aliyunTimestamp(now),
    Version: version,
    ...extra,
  };
}

async function aliyunRpc(o: CloudOptions, base: string, method: 'GET' | 'POST', action: string, version: string, extra: Record<string, string>, signal?: AbortSignal): Promise<Record<string, unknown>> {
  const id = need(o.secrets, 'aliyunAccessKeyId', 'Aliyun');
  const secret = need(o.secrets, 'aliyunAccessKeySecret', 'Aliyun');
  const params = aliyunRpcParams(action, version, id, o.endpoints.aliyunRegion, (o.now ?? Date.now)(), extra);
  params['Signature'] = aliyunSignature(method, params, secret);
  const f = o.fetch ?? egressFetch;
  const qs = new URLSearchParams(params).toString();
  const res =
    method === 'GET'
      ? await f(`${base.replace(/\/$/, '')}/?${qs}`, { ...(signal ? { signal } : {}) })
      : await f(`${base.replace(/\/$/, '')}/`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: qs, ...(signal ? { signal } : {}) });
  const body = await jsonOf(res, `Aliyun ${action}`);
  if (!res.ok) throw new AsrError(`Aliyun ${action}: ${String(body['Code'] ?? res.status)} ${String(body['Message'] ?? '')}`, res.status >= 500 || res.status === 429);
  return body;
}

const tokens = new Map<string, { id: string; expiresAt: number }>();

/** An NLS token (CreateToken), cached per access key until a minute before it expires. */
export async function aliyunToken(o: CloudOptions, signal?: AbortSignal): Promise<string> {
  const key = `${o.endpoints.aliyunTokenUrl ?? ''}|${o.secrets['aliyunAccessKeyId'] ?? ''}|${crypto.createHash('sha256').update(o.secrets['aliyunAccessKeySecret'] ?? '').digest('hex')}`;
  const now = (o.now ?? Date.now)();
  const hit = tokens.get(key);
  if (hit && hit.expiresAt - 60_000 > now) return hit.id;
  const base = o.endpoints.aliyunTokenUrl ?? `https://nls-meta.${o.endpoints.aliyunRegion}.aliyuncs.com`;
  const body = await aliyunRpc(o, base, 'GET', 'CreateToken', '2019-02-28', {}, signal);
  const t = body['Token'] as { Id?: unknown; ExpireTime?: unknown } | undefined;
  if (!t || typeof t.Id !== 'string') throw new AsrError('Aliyun CreateToken: no token in the answer');
  tokens.set(key, { id: t.Id, expiresAt: Number(t.ExpireTime ?? 0) * 1000 });
  return t.Id;
}

/** Aliyun NLS RESTful TTS (token-based), WAV at 8 kHz. */
export function aliyunTts(o: CloudOptions): TextToSpeech {
  return {
    name: 'aliyun-tts',
    async synthesize(req, outer) {
      const signal = withTimeout(outer, o.timeoutMs);
      try {
        const token = await aliyunToken(o, signal);
        const url = o.endpoints.aliyunTtsUrl ?? `https://nls-gateway-${o.endpoints.aliyunRegion}.aliyuncs.com/stream/v1/tts`;
        const res = await (o.fetch ?? egressFetch)(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ appkey: need(o.secrets, 'aliyunAppKey', 'Aliyun'), token, text: req.text, format: 'wav', sample_rate: 8000, voice: req.voice ?? (req.language === 'zh' ? 'xiaoyun' : 'abby') }),
          ...(signal ? { signal } : {}),
        });
        const type = res.headers.get('content-type') ?? '';
        if (!res.ok || !type.startsWith('audio/')) {
          const b = await jsonOf(res, 'Aliyun TTS').catch((e: unknown) => ({ message: String(e) }));
          throw new TtsError(`Aliyun TTS: HTTP ${res.status} ${String((b as Record<string, unknown>)['message'] ?? '')}`);
        }
        return await wavTo8k(Buffer.from(await res.arrayBuffer()), signal);
      } catch (e) {
        throw e instanceof TtsError ? e : new TtsError(`Aliyun TTS: ${e instanceof Error ? e.message : String(e)}`);
      }
    },
  };
}

/** Aliyun file transcription (录音文件识别, filetrans 2018-08-17): SubmitTask with the recording's link, then GetTaskResult until done. */
export function aliyunFileAsr(o: CloudOptions): SpeechToText {
  return {
    name: 'aliyun-filetrans',
    async transcribe(input, outer) {
      const signal = withTimeout(outer, o.timeoutMs);
      if (!input.audioUrl) throw new AsrError('Aliyun file transcription needs the recording reachable by URL: set the speech public base URL', false);
      const base = o.endpoints.aliyunFileTransUrl ?? `https://filetrans.${o.endpoints.aliyunRegion}.aliyuncs.com`;
      const task = JSON.stringify({ appkey: need(o.secrets, 'aliyunAppKey', 'Aliyun'), file_link: input.audioUrl, version: '4.0', enable_words: false });
      const sub = await aliyunRpc(o, base, 'POST', 'SubmitTask', '2018-08-17', { Task: task }, signal);
      if (sub['StatusText'] !== 'SUCCESS' || typeof sub['TaskId'] !== 'string') throw new AsrError(`Aliyun SubmitTask: ${String(sub['StatusText'])}`, false);
      for (;;) {
        await sleep(o.pollMs ?? 2000, signal);
        const r = await aliyunRpc(o, base, 'GET', 'GetTaskResult', '2018-08-17', { TaskId: sub['TaskId'] }, signal);
        const st = String(r['StatusText']);
        if (st === 'RUNNING' || st === 'QUEUEING') continue;
        if (st === 'SUCCESS' || st === 'SUCCESS_WITH_NO_VALID_FRAGMENT') {
          const sentences = ((r['Result'] as { Sentences?: { Text?: string }[] } | undefined)?.Sentences ?? []).map((x) => x.Text ?? '');
          const ms = Number(r['BizDuration'] ?? NaN);
          return { text: sentences.join(' ').trim(), seconds: Number.isFinite(ms) ? ms / 1000 : wavSeconds(input.wav) };
        }
        throw new AsrError(`Aliyun file transcription: ${st}`, false);
      }
    },
  };
}

// ----- Tencent Cloud ------------------------------------------------------------------------

const hmac = (key: Buffer | string, data: string) => crypto.createHmac('sha256', key).update(data, 'utf8').digest();
const sha256hex = (s: string) => crypto.createHash('sha256').update(s, 'utf8').digest('hex');

/** The TC3-HMAC-SHA256 Authorization header of a JSON POST to `/` (signed headers content-type and host). */
export function tc3Authorization(o: { secretId: string; secretKey: string; service: string; host: string; timestamp: number; payload: string }): string {
  const date = new Date(o.timestamp * 1000).toISOString().slice(0, 10);
  const canonical = ['POST', '/', '', `content-type:application/json; charset=utf-8\nhost:${o.host}\n`, 'content-type;host', sha256hex(o.payload)].join('\n');
  const scope = `${date}/${o.service}/tc3_request`;
  const toSign = ['TC3-HMAC-SHA256', String(o.timestamp), scope, sha256hex(canonical)].join('\n');
  const key = hmac(hmac(hmac(`TC3${o.secretKey}`, date), o.service), 'tc3_request');
  const sig = crypto.createHmac('sha256', key).update(toSign, 'utf8').digest('hex');
  return `TC3-HMAC-SHA256 Credential=${o.secretId}/${scope}, SignedHeaders=content-type;host, Signature=${sig}`;
}

async function tencentCall(o: CloudOptions, service: 'tts' | 'asr', action: string, version: string, body: Record<string, unknown>, signal?: AbortSignal): Promise<Record<string, unknown>> {
  const secretId = need(o.secrets, 'tencentSecretId', 'Tencent Cloud');
  const secretKey = need(o.secrets, 'tencentSecretKey', 'Tencent Cloud');
  const url = new URL(o.endpoints.tencentUrl ?? `https://${service}.tencentcloudapi.com/`);
  const payload = JSON.stringify(body);
  const timestamp = Math.floor((o.now ?? Date.now)() / 1000);
  const res = await (o.fetch ?? egressFetch)(url.toString(), {
    method: 'POST',
    headers: {
      authorization: tc3Authorization({ secretId, secretKey, service, host: url.host, timestamp, payload }),
      'content-type': 'application/json; charset=utf-8',
      'x-tc-action': action,
      'x-tc-timestamp': String(timestamp),
      'x-tc-version': version,
      'x-tc-region': o.endpoints.tencentRegion,
    },
    body: payload,
    ...(signal ? { signal } : {}),
  });
  const json = await jsonOf(res, `Tencent ${action}`);
  const r = (json['Response'] ?? {}) as Record<string, unknown>;
  const err = r['Error'] as { Code?: string; Message?: string } | undefined;
  if (!res.ok || err) {
    const code = err?.Code ?? String(res.status);
    throw new AsrError(`Tencent ${action}: ${code} ${err?.Message ?? ''}`.trim(), res.status >= 500 || /InternalError|RequestLimitExceeded|ResourceUnavailable/.test(code));
  }
  return r;
}

/** Tencent Cloud TTS `TextToVoice`, WAV at 8 kHz. */
export function tencentTts(o: CloudOptions): TextToSpeech {
  return {
    name: 'tencent-tts',
    async synthesize(req, outer) {
      const signal = withTimeout(outer, o.timeoutMs);
      try {
        const r = await tencentCall(o, 'tts', 'TextToVoice', '2019-08-23', {
          Text: req.text,
          SessionId: crypto.randomUUID(),
          SampleRate: 8000,
          Codec: 'wav',
          PrimaryLanguage: req.language === 'zh' ? 1 : 2,
          VoiceType: req.voice ? Number(req.voice) : req.language === 'zh' ? 101001 : 101050,
        }, signal);
        if (typeof r['Audio'] !== 'string') throw new TtsError('Tencent TextToVoice: no audio in the answer');
        return await wavTo8k(Buffer.from(r['Audio'], 'base64'), signal);
      } catch (e) {
        throw e instanceof TtsError ? e : new TtsError(`Tencent TTS: ${e instanceof Error ? e.message : String(e)}`);
      }
    },
  };
}

/** Tencent Cloud recording recognition `CreateRecTask` (8 kHz engine, audio inline) and `DescribeTaskStatus`. */
export function tencentAsr(o: CloudOptions): SpeechToText {
  return {
    name: 'tencent-asr',
    async transcribe(input, outer) {
      const signal = withTimeout(outer, o.timeoutMs);
      const created = await tencentCall(o, 'asr', 'CreateRecTask', '2019-06-14', {
        EngineModelType: input.language === 'zh' ? '8k_zh' : '8k_en',
        ChannelNum: 1,
        ResTextFormat: 0,
        SourceType: 1,
        Data: input.wav.toString('base64'),
        DataLen: input.wav.length,
      }, signal);
      const taskId = (created['Data'] as { TaskId?: number } | undefined)?.TaskId;
      if (taskId === undefined) throw new AsrError('Tencent CreateRecTask: no TaskId');
      for (;;) {
        await sleep(o.pollMs ?? 2000, signal);
        const r = await tencentCall(o, 'asr', 'DescribeTaskStatus', '2019-06-14', { TaskId: taskId }, signal);
        const d = (r['Data'] ?? {}) as { Status?: number; Result?: string; ErrorMsg?: string; AudioDuration?: number };
        if (d.Status === 0 || d.Status === 1) continue;
        if (d.Status === 2) {
          // "[0:0.020,0:2.380]  text\n" per sentence
          const text = (d.Result ?? '').split('\n').map((l) => l.replace(/^\[[^\]]*\]\s*/, '').trim()).filter(Boolean).join(' ');
          return { text, seconds: typeof d.AudioDuration === 'number' ? d.AudioDuration : wavSeconds(input.wav) };
        }
        throw new AsrError(`Tencent recognition failed: ${d.ErrorMsg ?? 'unknown'}`, false);
      }
    },
  };
}

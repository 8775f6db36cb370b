// [trust] Privacy numbers (AXB, 号码隐私保护) for click-to-call from a phone's own dialer: the
// provider binds the agent's phone A and the customer's number B to a virtual number X for a while;
// the agent dials X and the provider connects A to B, so the agent's phone never holds B. The
// server asks for the binding (domain/callIntents.ts, the call-intents writer) and releases it.
//
// Adapter: Aliyun Dyplsapi (号码隐私保护) `BindAxb` / `UnbindSubscription`, RPC style with the v1
// signature (HMAC-SHA1, the same as Dysmsapi: channels/aliyun). Config `privacyNumber` of a voice
// inbox; the access key is the inbox's `aliyunAccessKeyId` / `aliyunAccessKeySecret` secrets.
import crypto from 'node:crypto';
import { z } from 'zod';
import { aliyunPercentEncode, aliyunPhone, aliyunSignature, aliyunTimestamp } from '../aliyun/index.js';
import { egressFetch, providerErrorExcerpt } from '../../net/egress.js';
import { label } from '../label.js';

export const PrivacyNumberSettings = z
  .object({
    provider: z.literal('aliyun').meta(label('Provider', '服务商')),
    /** The number pool (号码池 Key) of the Aliyun account. */
    poolKey: z.string().min(1).max(64).regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, _ and -').meta(label('Number pool key', '号码池 Key')),
    endpoint: z.string().url().default('https://dyplsapi.aliyuncs.com').meta(label('API endpoint', '接口地址')),
    regionId: z.string().min(1).max(32).default('cn-hangzhou'),
    /** How long a binding lives: the agent dials within it; the provider drops it afterwards. */
    bindingSeconds: z.number().int().min(60).max(24 * 3600).default(600).meta(label('Binding lifetime (s)', '绑定有效期（秒）')),
    /** Ask the provider to record the calls through X. */
    record: z.boolean().default(false).meta(label('Provider records calls', '服务商录音')),
    timeoutMs: z.number().int().min(500).max(30_000).default(8_000),
  })
  .strict()
  .meta(label('Privacy number (AXB) for calls from phones', '隐私号（AXB）：手机外呼'));
export type PrivacyNumberSettings = z.infer<typeof PrivacyNumberSettings>;

export interface AxbBinding {
  /** The provider's subscription id (to release it). */
  subsId: string;
  /** X: what the agent dials. */
  virtualNumber: string;
}

/** A refusal or failure of the provider, with its code (safe to show). */
export class PrivacyNumberError extends Error {
  override readonly name = 'PrivacyNumberError';
  constructor(readonly providerCode: string, message: string) {
    super(message);
  }
}

export interface PrivacyNumberProvider {
  bind(o: { a: string; b: string; expiresAt: number; outId: string }): Promise<AxbBinding>;
  unbind(o: AxbBinding): Promise<void>;
}

/** Aliyun's `Expiration`: China Standard Time, `yyyy-MM-dd HH:mm:ss`. */
export function cstExpiration(ms: number): string {
  return new Date(ms + 8 * 3600_000).toISOString().slice(0, 19).replace('T', ' ');
}

/** A number as Dyplsapi takes it: mainland numbers without +86 (landlines with their area code), digits only. */
export function dyplsNumber(n: string): string {
  const s = aliyunPhone(n.replace(/[()\s.-]/g, ''));
  return s.startsWith('86') && s.length === 13 ? s.slice(2) : s;
}

export function aliyunPrivacyNumber(
  cfg: PrivacyNumberSettings,
  secrets: { accessKeyId: string; accessKeySecret: string },
  opts: { fetch?: typeof fetch; now?: () => number } = {},
): PrivacyNumberProvider {
  const doFetch = opts.fetch ?? egressFetch;
  const now = opts.now ?? Date.now;
  const call = async (action: string, extra: Record<string, string>): Promise<Record<string, unknown>> => {
    const params: Record<string, string> = {
      AccessKeyId: secrets.accessKeyId,
      Action: action,
      Format: 'JSON',
      RegionId: cfg.regionId,
      SignatureMethod: 'HMAC-SHA1',
      SignatureNonce: crypto.randomUUID(),
      SignatureVersion: '1.0',
      Timestamp: aliyunTimestamp(now()),
      Version: '2017-05-25',
      ...extra,
    };
    params.Signature = aliyunSignature('POST', params, secrets.accessKeySecret);
    const body = Object.entries(params).map(([k, v]) => `${aliyunPercentEncode(k)}=${aliyunPercentEncode(v)}`).join('&');
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), cfg.timeoutMs);
    let text: string;
    try {
      const res = await doFetch(`${cfg.endpoint.replace(/\/+$/, '')}/`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body, signal: ac.signal });
      text = await res.text();
    } catch (e) {
      throw new PrivacyNumberError('Unreachable', `the privacy-number provider cannot be reached: ${(e as Error).name === 'AbortError' ? `no answer within ${cfg.timeoutMs} ms` : (e as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
    let json: Record<string, unknown>;
    try {
      json = z.record(z.string(), z.unknown()).parse(JSON.parse(text));
    } catch {
      throw new PrivacyNumberError('BadAnswer', `the privacy-number provider answered ${providerErrorExcerpt(text)}`);
    }
    if (json.Code !== 'OK') throw new PrivacyNumberError(String(json.Code ?? 'Unknown'), `the privacy-number provider refused ${action}: ${String(json.Code)} ${providerErrorExcerpt(json.Message ?? '')}`);
    return json;
  };
  const BindAnswer = z.object({ SecretBindDTO: z.object({ SubsId: z.union([z.string(), z.number()]).transform(String), SecretNo: z.string().min(3) }) });
  return {
    async bind({ a, b, expiresAt, outId }) {
      const json = await call('BindAxb', {
        PoolKey: cfg.poolKey,
        PhoneNoA: dyplsNumber(a),
        PhoneNoB: dyplsNumber(b),
        Expiration: cstExpiration(expiresAt),
        IsRecordingEnabled: String(cfg.record),
        OutId: outId,
      });
      const r = BindAnswer.safeParse(json);
      if (!r.success) throw new PrivacyNumberError('BadAnswer', 'the privacy-number provider gave no SecretBindDTO');
      return { subsId: r.data.SecretBindDTO.SubsId, virtualNumber: r.data.SecretBindDTO.SecretNo };
    },
    async unbind({ subsId, virtualNumber }) {
      await call('UnbindSubscription', { PoolKey: cfg.poolKey, SubsId: subsId, SecretNo: virtualNumber });
    },
  };
}

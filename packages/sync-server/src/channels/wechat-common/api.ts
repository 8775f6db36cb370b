import { z } from 'zod';
import type { Db } from '../../db/db.js';
import type { SendResult } from '../provider.js';
import { providerErrorExcerpt } from '../../net/egress.js';
import { cachedToken, dropToken, storeToken } from '../../domain/wechat.js';

/*
 * Calls to the WeChat (api.weixin.qq.com) and WeCom (qyapi.weixin.qq.com) server APIs: an
 * `access_token` query parameter on every call, answers `{errcode, errmsg, ...}` (errcode 0 or absent
 * = success). Tokens come from `cgi-bin/token` (Official Account: appid + secret) or
 * `cgi-bin/gettoken` (WeCom: corpid + corpsecret) with `expires_in` seconds (7200); they are cached
 * in the database for every server process (a new token invalidates the old one after 5 minutes,
 * so processes must share it), renewed 5 minutes before expiry, and renewed once when the platform
 * answers 40001 (invalid credential), 40014 (invalid token) or 42001 (token expired).
 */

/** errcodes that mean "the access_token is no good": renew it and try the call once more. */
export const TOKEN_ERRORS = new Set([40001, 40014, 42001]);
/** errcodes worth another try later: system busy, rate limits. */
export const RETRYABLE_ERRORS = new Set([-1, 45009, 45011, 45033]);

export const WECHAT_ERRORS: Record<number, string> = {
  [-1]: 'system busy',
  40001: 'invalid credential (access_token or AppSecret)',
  40003: 'invalid openid',
  40007: 'invalid media_id',
  40013: 'invalid appid',
  40014: 'invalid access_token',
  40125: 'invalid appsecret',
  40164: 'the server IP is not in the IP whitelist',
  42001: 'access_token expired',
  43004: 'the user has not followed the account',
  45009: 'API daily quota reached',
  45015: 'response out of time limit (the 48-hour window)',
  45047: 'too many customer-service messages',
  95000: 'invalid open_kfid',
  95001: 'customer-service send quota used up',
  95002: 'customer-service send quota used up',
  95013: 'session ended',
  95016: 'session state does not allow this',
  95017: 'the customer-service account does not accept API messages',
};

const Envelope = z.looseObject({ errcode: z.number().optional(), errmsg: z.string().optional() });
const TokenAnswer = z.looseObject({ access_token: z.string().min(1).max(2048), expires_in: z.number().int().positive() });

export type ApiAnswer = { ok: true; json: Record<string, unknown> } | { ok: false; outcome: Extract<SendResult, { kind: 'rejected' | 'retry' }>; errcode?: number };

export interface TokenSource {
  /** Cache key: provider + account (e.g. `wechat:<appid>` or `wecom:<corpid>:<agent secret hash>`). */
  key: string;
  /** The URL that hands out a token (with its credentials in the query). */
  tokenUrl: string;
  /** What to call the platform in messages. */
  platform: string;
}

export interface WechatApiOptions {
  db: Db;
  fetch: typeof fetch;
  timeoutMs: number;
  now?: () => number;
}

function failure(platform: string, errcode: number, errmsg: string | undefined): Extract<SendResult, { kind: 'rejected' | 'retry' }> {
  const text = errmsg || WECHAT_ERRORS[errcode] || 'unknown error';
  const reason = `${platform} error ${errcode}: ${providerErrorExcerpt(text)}${WECHAT_ERRORS[errcode] && errmsg && !errmsg.includes(WECHAT_ERRORS[errcode]) ? ` (${WECHAT_ERRORS[errcode]})` : ''}`;
  if (RETRYABLE_ERRORS.has(errcode)) return { kind: 'retry', reason, retryAfterMs: errcode === -1 ? 2000 : 60_000 };
  return { kind: 'rejected', reason, code: `wechat_${errcode}` };
}

/** A WeChat/WeCom API client for one server: token cache, renew-once, error mapping. */
export class WechatApi {
  private readonly now: () => number;
  /** One token fetch at a time per key in this process. */
  private inflight = new Map<string, Promise<string | ApiAnswer>>();
  constructor(private readonly o: WechatApiOptions) {
    this.now = o.now ?? Date.now;
  }

  private async fetchJson(url: string, init: RequestInit, platform: string): Promise<ApiAnswer> {
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), this.o.timeoutMs);
    let res: Response;
    let text: string;
    try {
      res = await this.o.fetch(url, { ...init, signal: ac.signal });
      text = await res.text();
    } catch (e) {
      const err = e as Error & { cause?: { code?: string } };
      const why = err.name === 'AbortError' ? `no answer within ${this.o.timeoutMs} ms` : (err.cause?.code ?? err.message);
      return { ok: false, outcome: { kind: 'retry', reason: `${platform} unreachable: ${why}` } };
    } finally {
      clearTimeout(timer);
    }
    let json: unknown = null;
    try {
      json = JSON.parse(text);
    } catch {
      /* not JSON */
    }
    const env = Envelope.safeParse(json);
    if (!env.success) {
      const reason = `${platform} answered HTTP ${res.status} without JSON: ${providerErrorExcerpt(text)}`;
      if (res.status >= 500 || res.status === 429 || res.status === 408 || res.status < 300) return { ok: false, outcome: { kind: 'retry', reason } };
      return { ok: false, outcome: { kind: 'rejected', reason, code: `http_${res.status}` } };
    }
    const code = env.data.errcode ?? 0;
    if (code !== 0) return { ok: false, outcome: failure(platform, code, env.data.errmsg), errcode: code };
    if (res.status >= 500) return { ok: false, outcome: { kind: 'retry', reason: `${platform} answered HTTP ${res.status}` } };
    return { ok: true, json: env.data as Record<string, unknown> };
  }

  /** A valid token (cached, or fetched now), or why there is none. */
  async token(src: TokenSource): Promise<string | ApiAnswer> {
    const hit = await cachedToken(this.o.db, src.key);
    if (hit && hit.expiresAt - 300_000 > this.now()) return hit.token;
    let p = this.inflight.get(src.key);
    if (!p) {
      p = this.fetchToken(src).finally(() => this.inflight.delete(src.key));
      this.inflight.set(src.key, p);
    }
    return p;
  }

  private async fetchToken(src: TokenSource): Promise<string | ApiAnswer> {
    const a = await this.fetchJson(src.tokenUrl, { method: 'GET' }, src.platform);
    if (!a.ok) {
      // A token endpoint refusing the credentials is a configuration problem: say so.
      return a.errcode !== undefined && !RETRYABLE_ERRORS.has(a.errcode)
        ? { ok: false, outcome: { kind: 'rejected', reason: `${a.outcome.reason} (getting an access_token: check the credentials)`, code: a.outcome.kind === 'rejected' ? (a.outcome.code ?? 'wechat_token') : 'wechat_token' }, errcode: a.errcode }
        : a;
    }
    const t = TokenAnswer.safeParse(a.json);
    if (!t.success) return { ok: false, outcome: { kind: 'retry', reason: `${src.platform} token answer without access_token/expires_in` } };
    const now = this.now();
    await storeToken(this.o.db, src.key, t.data.access_token, now + t.data.expires_in * 1000, now);
    return t.data.access_token;
  }

  /**
   * Calls `url` (which gets `access_token=` appended) with a fresh or cached token; renews the token
   * once when the platform says it is invalid or expired.
   */
  async call(src: TokenSource, url: string, init: () => RequestInit): Promise<ApiAnswer> {
    for (let attempt = 0; ; attempt++) {
      const token = await this.token(src);
      if (typeof token !== 'string') return token;
      const a = await this.fetchJson(withToken(url, token), init(), src.platform);
      if (!a.ok && a.errcode !== undefined && TOKEN_ERRORS.has(a.errcode) && attempt === 0) {
        await dropToken(this.o.db, src.key, token);
        continue;
      }
      return a;
    }
  }

  /**
   * Downloads a file (media/get): the bytes with the platform's content type and file name, or the
   * JSON error the platform answers instead. Renews the token once like `call`.
   */
  async download(src: TokenSource, url: string, maxBytes: number): Promise<{ ok: true; bytes: Buffer; mime: string | null; name: string | null } | ApiAnswer> {
    for (let attempt = 0; ; attempt++) {
      const token = await this.token(src);
      if (typeof token !== 'string') return token;
      const ac = new AbortController();
      const timer = setTimeout(() => ac.abort(), this.o.timeoutMs);
      try {
        const res = await this.o.fetch(withToken(url, token), { signal: ac.signal });
        const mime = res.headers.get('content-type');
        const declared = Number(res.headers.get('content-length') ?? NaN);
        if (Number.isFinite(declared) && declared > maxBytes) return { ok: false, outcome: { kind: 'rejected', reason: `media of ${declared} bytes exceeds ${maxBytes}`, code: 'too_large' } };
        const bytes = Buffer.from(await res.arrayBuffer());
        if (bytes.length > maxBytes) return { ok: false, outcome: { kind: 'rejected', reason: `media exceeds ${maxBytes} bytes`, code: 'too_large' } };
        const isJson = /json|text\/plain/i.test(mime ?? '') || (bytes[0] === 0x7b && bytes.length < 4096);
        if (isJson || res.status !== 200) {
          let j: unknown = null;
          try {
            j = JSON.parse(bytes.toString('utf8'));
          } catch {
            /* bytes */
          }
          const env = Envelope.safeParse(j);
          if (env.success && (env.data.errcode ?? 0) !== 0) {
            const code = env.data.errcode!;
            if (TOKEN_ERRORS.has(code) && attempt === 0) {
              await dropToken(this.o.db, src.key, token);
              continue;
            }
            return { ok: false, outcome: failure(src.platform, code, env.data.errmsg), errcode: code };
          }
          if (res.status !== 200) {
            const reason = `${src.platform} media answered HTTP ${res.status}`;
            return { ok: false, outcome: res.status >= 500 ? { kind: 'retry', reason } : { kind: 'rejected', reason, code: `http_${res.status}` } };
          }
        }
        return { ok: true, bytes, mime: mime ? mime.split(';')[0]!.trim() : null, name: fileNameOf(res.headers.get('content-disposition')) };
      } catch (e) {
        const err = e as Error & { cause?: { code?: string } };
        return { ok: false, outcome: { kind: 'retry', reason: `${src.platform} media unreachable: ${err.name === 'AbortError' ? `no answer within ${this.o.timeoutMs} ms` : (err.cause?.code ?? err.message)}` } };
      } finally {
        clearTimeout(timer);
      }
    }
  }
}

export function withToken(url: string, token: string): string {
  return `${url}${url.includes('?') ? '&' : '?'}access_token=${encodeURIComponent(token)}`;
}

/** `attachment; filename="a.jpg"` (or filename*=UTF-8''…) → the bare file name. */
export function fileNameOf(disposition: string | null): string | null {
  if (!disposition) return null;
  const star = /filename\*\s*=\s*(?:UTF-8'')?([^;]+)/i.exec(disposition);
  if (star) {
    try {
      return decodeURIComponent(star[1]!.trim().replace(/^"|"$/g, '')).replace(/[\\/]/g, '_').slice(0, 200) || null;
    } catch {
      /* fall through */
    }
  }
  const m = /filename\s*=\s*"?([^";]+)"?/i.exec(disposition);
  return m ? m[1]!.trim().replace(/[\\/]/g, '_').slice(0, 200) || null : null;
}

/** A multipart/form-data body with one file field (media upload). */
export function multipartFile(field: string, name: string, mime: string, bytes: Buffer): { body: Buffer; contentType: string } {
  const boundary = `----goutong${Math.random().toString(16).slice(2)}${Date.now().toString(16)}`;
  const safeName = name.replace(/["\r\n\\]/g, '_');
  const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="${safeName}"; filelength=${bytes.length}\r\nContent-Type: ${mime}\r\n\r\n`, 'utf8');
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`, 'utf8');
  return { body: Buffer.concat([head, bytes, tail]), contentType: `multipart/form-data; boundary=${boundary}` };
}

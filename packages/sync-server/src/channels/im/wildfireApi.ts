import crypto from 'node:crypto';
import { z } from 'zod';
import { isInteger, isSafeNumber, parse as parseLossless } from 'lossless-json';
import type { SendResult } from '../provider.js';
import { providerErrorExcerpt } from '../../net/egress.js';

/*
 * WildfireChat (野火IM) Server API and Robot API client.
 *
 * Sources (read for this code):
 * - wildfirechat/docs `md/server/admin_api/README.md`: every call is a POST with a JSON body and the
 *   headers `nonce`, `timestamp` (epoch milliseconds) and `sign = sha1(nonce + "|" + SECRET + "|" + timestamp)`;
 *   answers `{code, msg, result}`, code 0 = success. Worked example: nonce 76616, secret 123456,
 *   timestamp 1558350862502 → b98f9b0717f59febccf1440067a7f50d9b31bdde.
 * - wildfirechat/im-server `broker/src/main/java/com/xiaoleilu/loServer/action/admin/AdminAction.java`
 *   (`preAction`): lowercase or capitalised header names; missing headers → 239, older than 2 h → 243,
 *   wrong sign → 244; `action/Action.java` (`doAction`) answers such failures with HTTP 200 and
 *   `{"code":244,"msg":"auth failure","result":{...}}` (the docs say 401: both are handled).
 * - wildfirechat/im-server `common/src/main/java/cn/wildfirechat/common/ErrorCode.java`: codes and messages.
 * - wildfirechat/docs `md/server/robot_api/README.md`: the Robot API (port 80) signs the same way with
 *   the robot's secret and adds the header `rid` (the robot's user id); `/robot/message/send {conv, payload}`.
 * - `/admin/message/send {sender, conv:{type,target,line}, payload}` → `{messageUid, timestamp}`
 *   (docs `md/server/admin_api/message_api.md`, im-server `SendMessageData`).
 * Message ids are 64-bit longs ((ms since 2018) << 21 | node | seq, about 5.9e17 today), above
 * Number.MAX_SAFE_INTEGER: bodies are parsed with lossless-json and ids kept as decimal strings.
 */

/** `sign` header: lowercase hex SHA-1 of `nonce|secret|timestamp`. */
export function wildfireSign(nonce: string, secret: string, timestamp: string): string {
  return crypto.createHash('sha1').update(`${nonce}|${secret}|${timestamp}`, 'utf8').digest('hex');
}

/** The signing headers of one request (a fresh nonce and the current time in ms). */
export function wildfireHeaders(secret: string, opts: { rid?: string; now?: number; nonce?: string } = {}): Record<string, string> {
  const nonce = opts.nonce ?? String(crypto.randomInt(100_000, 2_000_000_000));
  const timestamp = String(opts.now ?? Date.now());
  return {
    'content-type': 'application/json; charset=utf-8',
    nonce,
    timestamp,
    sign: wildfireSign(nonce, secret, timestamp),
    ...(opts.rid ? { rid: opts.rid } : {}),
  };
}

/**
 * JSON.parse without precision loss: integers beyond 2^53 become bigint, everything else a number.
 * (The official JS SDK uses JSON.parse and corrupts message ids.)
 */
export function parseWildfireJson(text: string): unknown {
  return parseLossless(text, null, (s: string) => (isInteger(s) && !isSafeNumber(s) ? BigInt(s) : Number(s)));
}

/** A 64-bit id (number, bigint or digit string) as its exact decimal string. */
export const Int64Id = z
  .union([z.bigint(), z.number().int().nonnegative(), z.string().regex(/^\d{1,20}$/)])
  .transform((v) => BigInt(v))
  .refine((v) => v >= 0n && v <= 0x7fffffffffffffffn, 'a 64-bit id')
  .transform((v) => v.toString());

/** A JSON number that may have been parsed as bigint (timestamps, types, sizes). */
export const Num = z.union([z.number(), z.bigint()]).transform((v) => Number(v));

/** WildfireChat error codes (im-server ErrorCode.java) worth another try later. */
export const RETRYABLE_CODES = new Set([
  4, // server error
  249, // timeout
  250, // over frequency (rate limit)
]);

export const WILDFIRE_ERRORS: Record<number, string> = {
  2: 'invalid data',
  4: 'server error',
  8: 'user forbidden',
  9: 'not in group',
  10: 'invalid message',
  22: 'not licensed',
  27: 'robot no token',
  239: 'api not signed or sign parameter not completion',
  241: 'group is muted',
  242: 'sensitive matched',
  243: 'sign expired',
  244: 'auth failure',
  246: 'user in black list',
  247: 'forbidden send msg globally',
  248: 'no right to operate',
  249: 'timeout',
  250: 'over frequency',
  251: 'Invalid parameter',
  253: 'not exist',
  254: 'not implement',
};

export type WildfireCall =
  | { ok: true; httpStatus: number; code: number; msg: string; result: unknown }
  | { ok: false; outcome: SendResult };

const Envelope = z.object({ code: Num, msg: z.string().optional().default(''), result: z.unknown().optional() });

/** POSTs a signed request; transport failures and unusable answers come back as a send outcome. */
export async function callWildfire(
  doFetch: typeof fetch,
  url: string,
  secret: string,
  body: unknown,
  opts: { rid?: string; timeoutMs: number },
): Promise<WildfireCall> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), opts.timeoutMs);
  let res: Response;
  let text: string;
  try {
    res = await doFetch(url, {
      method: 'POST',
      headers: wildfireHeaders(secret, opts.rid ? { rid: opts.rid } : {}),
      body: JSON.stringify(body),
      signal: ac.signal,
    });
    text = await res.text();
  } catch (e) {
    const err = e as Error & { cause?: { code?: string } };
    const why = err.name === 'AbortError' ? `no answer within ${opts.timeoutMs} ms` : (err.cause?.code ?? err.message);
    return { ok: false, outcome: { kind: 'retry', reason: `WildfireChat unreachable: ${why}` } };
  } finally {
    clearTimeout(timer);
  }
  let env: z.infer<typeof Envelope> | null = null;
  try {
    const r = Envelope.safeParse(parseWildfireJson(text));
    if (r.success) env = r.data;
  } catch {
    /* not JSON: a proxy's error page */
  }
  if (env) return { ok: true, httpStatus: res.status, code: env.code, msg: env.msg, result: env.result };
  const reason = `WildfireChat answered HTTP ${res.status} without its {code,msg,result} envelope: ${providerErrorExcerpt(text)}`;
  if (res.status >= 500 || res.status === 408 || res.status === 429) return { ok: false, outcome: { kind: 'retry', reason } };
  if (res.status >= 200 && res.status < 300) return { ok: false, outcome: { kind: 'retry', reason } };
  return { ok: false, outcome: { kind: 'rejected', reason, code: `http_${res.status}` } };
}

/** Maps a non-zero WildfireChat code to our outcome: rate limits and server errors retry, the rest fail with the provider's reason. */
export function wildfireFailure(code: number, msg: string, httpStatus: number): SendResult {
  const text = msg || WILDFIRE_ERRORS[code] || 'unknown error';
  const reason = `WildfireChat error ${code}: ${providerErrorExcerpt(text)}${httpStatus !== 200 ? ` (HTTP ${httpStatus})` : ''}`;
  if (RETRYABLE_CODES.has(code) || httpStatus >= 500) return { kind: 'retry', reason, ...(code === 250 ? { retryAfterMs: 2000 } : {}) };
  return { kind: 'rejected', reason, code: `wildfire_${code}` };
}

export const SendMessageResult = z.object({ messageUid: Int64Id, timestamp: Num.optional() });

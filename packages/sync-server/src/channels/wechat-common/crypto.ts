import crypto from 'node:crypto';
import { safeEqual } from '../../auth/crypto.js';

/*
 * The message signature and encryption of WeChat Official Accounts (公众号 "安全模式") and of WeCom
 * callbacks (企业微信 / 微信客服), which are the same scheme (Tencent's WXBizMsgCrypt samples):
 *
 * - URL signature (Official Account, plaintext mode): `signature = sha1(sort([token, timestamp, nonce]).join(''))`,
 *   lowercase hex, the strings sorted lexicographically.
 * - Message signature (safe mode, WeCom): `msg_signature = sha1(sort([token, timestamp, nonce, Encrypt]).join(''))`.
 * - AESKey = Base64_Decode(EncodingAESKey + "="): 43 characters → 32 bytes; AES-256-CBC, IV = the
 *   key's first 16 bytes, PKCS#7 padding to a multiple of 32 bytes (not 16).
 * - Plaintext = random(16 bytes) + msg_len (4 bytes, network byte order) + msg + receiveId, where the
 *   receiveId is the Official Account's AppID or the WeCom CorpID; it must match on decryption.
 * Worked examples of the samples are the unit tests (test/channels/wechat.crypto.unit.test.ts).
 */

export class WechatCryptoError extends Error {
  override readonly name = 'WechatCryptoError';
  constructor(
    readonly code: 'bad_signature' | 'bad_key' | 'bad_ciphertext' | 'bad_receive_id',
    message: string,
  ) {
    super(message);
  }
}

/** sha1 of the sorted parts, concatenated (lowercase hex). */
export function wechatSignature(...parts: string[]): string {
  return crypto.createHash('sha1').update([...parts].sort().join(''), 'utf8').digest('hex');
}

/** Constant-time check of a signature the platform sent (lowercase hex expected; case-insensitive). */
export function signatureMatches(given: string | undefined, parts: string[]): boolean {
  if (typeof given !== 'string' || !/^[0-9a-fA-F]{40}$/.test(given)) return false;
  return safeEqual(given.toLowerCase(), wechatSignature(...parts));
}

/** A signed timestamp too far from our clock (a replay of an old request). */
export function staleTimestamp(timestamp: string, maxAgeSeconds: number, nowMs: number): boolean {
  return maxAgeSeconds > 0 && Math.abs(Math.floor(nowMs / 1000) - Number(timestamp)) > maxAgeSeconds;
}

/** The 32-byte AES key of an EncodingAESKey (43 characters of base64 without its final "="). */
export function aesKeyOf(encodingAesKey: string): Buffer {
  if (!/^[A-Za-z0-9+/]{43}$/.test(encodingAesKey)) throw new WechatCryptoError('bad_key', 'EncodingAESKey must be 43 characters of A–Z, a–z, 0–9');
  const key = Buffer.from(`${encodingAesKey}=`, 'base64');
  if (key.length !== 32) throw new WechatCryptoError('bad_key', 'EncodingAESKey does not decode to 32 bytes');
  return key;
}

const BLOCK = 32;

/** Encrypts a message for `receiveId` (AppID / CorpID); `random16` only for reproducible tests. */
export function wechatEncrypt(encodingAesKey: string, receiveId: string, msg: string, random16?: Buffer): string {
  const key = aesKeyOf(encodingAesKey);
  const body = Buffer.from(msg, 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length, 0);
  const rnd = random16 ?? crypto.randomBytes(16);
  if (rnd.length !== 16) throw new WechatCryptoError('bad_key', 'the random prefix is 16 bytes');
  const plain = Buffer.concat([rnd, len, body, Buffer.from(receiveId, 'utf8')]);
  const pad = BLOCK - (plain.length % BLOCK);
  const padded = Buffer.concat([plain, Buffer.alloc(pad, pad)]);
  const c = crypto.createCipheriv('aes-256-cbc', key, key.subarray(0, 16));
  c.setAutoPadding(false);
  return Buffer.concat([c.update(padded), c.final()]).toString('base64');
}

/**
 * Decrypts a base64 `Encrypt` value; checks the padding, the length field and that the trailing
 * receiveId is `expectedReceiveId` (when given). Returns the message and the receiveId found.
 */
export function wechatDecrypt(encodingAesKey: string, encrypted: string, expectedReceiveId?: string): { message: string; receiveId: string } {
  const key = aesKeyOf(encodingAesKey);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encrypted)) throw new WechatCryptoError('bad_ciphertext', 'Encrypt is not base64');
  const data = Buffer.from(encrypted, 'base64');
  if (data.length === 0 || data.length % 16 !== 0) throw new WechatCryptoError('bad_ciphertext', 'Encrypt is not a whole number of AES blocks');
  let plain: Buffer;
  try {
    const d = crypto.createDecipheriv('aes-256-cbc', key, key.subarray(0, 16));
    d.setAutoPadding(false);
    plain = Buffer.concat([d.update(data), d.final()]);
  } catch {
    throw new WechatCryptoError('bad_ciphertext', 'Encrypt does not decrypt');
  }
  const pad = plain[plain.length - 1]!;
  if (pad < 1 || pad > BLOCK || pad > plain.length || !plain.subarray(plain.length - pad).every((b) => b === pad)) {
    throw new WechatCryptoError('bad_ciphertext', 'bad padding (wrong EncodingAESKey?)');
  }
  const unpadded = plain.subarray(0, plain.length - pad);
  if (unpadded.length < 20) throw new WechatCryptoError('bad_ciphertext', 'plaintext too short');
  const len = unpadded.readUInt32BE(16);
  if (20 + len > unpadded.length) throw new WechatCryptoError('bad_ciphertext', 'bad message length');
  const message = unpadded.subarray(20, 20 + len).toString('utf8');
  const receiveId = unpadded.subarray(20 + len).toString('utf8');
  if (expectedReceiveId !== undefined && receiveId !== expectedReceiveId) {
    throw new WechatCryptoError('bad_receive_id', `the message is for ${JSON.stringify(receiveId.slice(0, 64))}, not this account`);
  }
  return { message, receiveId };
}

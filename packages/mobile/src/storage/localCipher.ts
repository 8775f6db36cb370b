// [trust] Encryption at rest of the app's SQLite database (app-plus): every stored JSON document,
// search text, outbox entry, meta value and Yjs update is sealed with XChaCha20-Poly1305 under the
// device key (deviceKey.ts). Only ids, sort keys, statuses and labels stay readable, so SQLite can
// filter and order; what a person wrote or is called never reaches the file in clear.
import { base64ToBytes, bytesToBase64 } from './codec';
import { xchacha20poly1305Open, xchacha20poly1305Seal } from './xchacha';

const PREFIX = 'x1:';

export function utf8Encode(s: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      }
    }
    if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd; // a lone surrogate
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
  return Uint8Array.from(out);
}

export function utf8Decode(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; ) {
    const c = b[i]!;
    let cp: number;
    if (c < 0x80) {
      cp = c;
      i += 1;
    } else if (c >= 0xc0 && c < 0xe0) {
      cp = ((c & 31) << 6) | (b[i + 1]! & 63);
      i += 2;
    } else if (c >= 0xe0 && c < 0xf0) {
      cp = ((c & 15) << 12) | ((b[i + 1]! & 63) << 6) | (b[i + 2]! & 63);
      i += 3;
    } else {
      cp = ((c & 7) << 18) | ((b[i + 1]! & 63) << 12) | ((b[i + 2]! & 63) << 6) | (b[i + 3]! & 63);
      i += 4;
    }
    s += String.fromCodePoint(cp);
  }
  return s;
}

/** Seals and opens the stored text of a record. */
export interface LocalCipher {
  seal(plain: string): string;
  open(stored: string): string;
}

/**
 * Nonces: 16 random bytes drawn once per opened cipher, then an 8-byte counter. Never repeats
 * within a cipher's life, and two lives collide only if their 128-bit prefixes do; a secure random
 * source is asked once, not per record (it may be slow: SecureRandom through Native.js).
 */
function nonces(random: (n: number) => Uint8Array): () => Uint8Array {
  const prefix = random(16);
  if (prefix.length !== 16) throw new Error('the random source gave too few bytes');
  let counter = 0;
  return () => {
    const n = new Uint8Array(24);
    n.set(prefix, 0);
    let c = ++counter;
    for (let i = 16; i < 24; i++) {
      n[i] = c % 256;
      c = Math.floor(c / 256);
    }
    return n;
  };
}

/** A cipher with a 32-byte key; `random` (a secure source) seeds the nonces. */
export function localCipher(key: Uint8Array, random: (n: number) => Uint8Array): LocalCipher {
  if (key.length !== 32) throw new Error('the device key must be 32 bytes');
  const k = key.slice();
  const nextNonce = nonces(random);
  return {
    seal(plain) {
      const nonce = nextNonce();
      const sealed = xchacha20poly1305Seal(k, nonce, utf8Encode(plain));
      const out = new Uint8Array(24 + sealed.length);
      out.set(nonce, 0);
      out.set(sealed, 24);
      return PREFIX + bytesToBase64(out);
    },
    open(stored) {
      if (!stored.startsWith(PREFIX)) throw new Error('a stored record is not encrypted (or with an unknown format)');
      const bytes = base64ToBytes(stored.slice(PREFIX.length));
      return utf8Decode(xchacha20poly1305Open(k, bytes.subarray(0, 24), bytes.subarray(24)));
    },
  };
}

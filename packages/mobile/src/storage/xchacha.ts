// XChaCha20-Poly1305 (RFC 8439 with the extended 192-bit nonce of draft-irtf-cfrg-xchacha) in plain
// TypeScript: the app-plus JavaScript engines (Android, iOS) have no WebCrypto, and a 24-byte random
// nonce is safe to pick at random for every record (no counter to keep across restarts).
// Verified against Node's chacha20-poly1305 and the draft's HChaCha20 vector (test/xchacha.test.ts).

const SIGMA = [0x61707865, 0x3320646e, 0x79622d32, 0x6b206574];

function rotl(v: number, c: number): number {
  return (v << c) | (v >>> (32 - c));
}

function le32(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

function rounds(x: Uint32Array): void {
  const qr = (a: number, b: number, c: number, d: number) => {
    x[a] = (x[a]! + x[b]!) >>> 0; x[d] = rotl(x[d]! ^ x[a]!, 16) >>> 0;
    x[c] = (x[c]! + x[d]!) >>> 0; x[b] = rotl(x[b]! ^ x[c]!, 12) >>> 0;
    x[a] = (x[a]! + x[b]!) >>> 0; x[d] = rotl(x[d]! ^ x[a]!, 8) >>> 0;
    x[c] = (x[c]! + x[d]!) >>> 0; x[b] = rotl(x[b]! ^ x[c]!, 7) >>> 0;
  };
  for (let i = 0; i < 10; i++) {
    qr(0, 4, 8, 12); qr(1, 5, 9, 13); qr(2, 6, 10, 14); qr(3, 7, 11, 15);
    qr(0, 5, 10, 15); qr(1, 6, 11, 12); qr(2, 7, 8, 13); qr(3, 4, 9, 14);
  }
}

function state(key: Uint8Array, counter: number, nonce12: Uint8Array): Uint32Array {
  const s = new Uint32Array(16);
  s.set(SIGMA, 0);
  for (let i = 0; i < 8; i++) s[4 + i] = le32(key, i * 4);
  s[12] = counter >>> 0;
  for (let i = 0; i < 3; i++) s[13 + i] = le32(nonce12, i * 4);
  return s;
}

/** HChaCha20: a subkey from a 256-bit key and a 128-bit nonce. */
export function hchacha20(key: Uint8Array, nonce16: Uint8Array): Uint8Array {
  const s = new Uint32Array(16);
  s.set(SIGMA, 0);
  for (let i = 0; i < 8; i++) s[4 + i] = le32(key, i * 4);
  for (let i = 0; i < 4; i++) s[12 + i] = le32(nonce16, i * 4);
  rounds(s);
  const out = new Uint8Array(32);
  const words = [s[0]!, s[1]!, s[2]!, s[3]!, s[12]!, s[13]!, s[14]!, s[15]!];
  words.forEach((w, i) => {
    out[i * 4] = w & 255; out[i * 4 + 1] = (w >>> 8) & 255; out[i * 4 + 2] = (w >>> 16) & 255; out[i * 4 + 3] = (w >>> 24) & 255;
  });
  return out;
}

/** ChaCha20 keystream XOR (RFC 8439 §2.4), starting at block `counter`. */
export function chacha20Xor(key: Uint8Array, nonce12: Uint8Array, counter: number, input: Uint8Array): Uint8Array {
  const out = new Uint8Array(input.length);
  const block = new Uint8Array(64);
  for (let off = 0, c = counter; off < input.length; off += 64, c++) {
    const init = state(key, c, nonce12);
    const x = init.slice();
    rounds(x);
    for (let i = 0; i < 16; i++) {
      const w = (x[i]! + init[i]!) >>> 0;
      block[i * 4] = w & 255; block[i * 4 + 1] = (w >>> 8) & 255; block[i * 4 + 2] = (w >>> 16) & 255; block[i * 4 + 3] = (w >>> 24) & 255;
    }
    const n = Math.min(64, input.length - off);
    for (let i = 0; i < n; i++) out[off + i] = input[off + i]! ^ block[i]!;
  }
  return out;
}

// BigInt() rather than literals: the app builds may target engines where the literal syntax is not
// transpiled, while the BigInt function exists (Android WebView/V8, iOS 14+ JavaScriptCore).
const B0 = BigInt(0);
const B1 = BigInt(1);
const B8 = BigInt(8);
const B255 = BigInt(255);

function leBig(b: Uint8Array): bigint {
  let v = B0;
  for (let i = b.length - 1; i >= 0; i--) v = (v << B8) | BigInt(b[i]!);
  return v;
}

const P1305 = (B1 << BigInt(130)) - BigInt(5);
const CLAMP = BigInt('0x0ffffffc0ffffffc0ffffffc0fffffff');
const MASK128 = (B1 << BigInt(128)) - B1;

/** Poly1305 (RFC 8439 §2.5) of `msg` with a one-time 32-byte key. */
export function poly1305(key: Uint8Array, msg: Uint8Array): Uint8Array {
  const r = leBig(key.subarray(0, 16)) & CLAMP;
  const s = leBig(key.subarray(16, 32));
  let acc = B0;
  for (let i = 0; i < msg.length; i += 16) {
    const chunk = msg.subarray(i, Math.min(i + 16, msg.length));
    const n = leBig(chunk) | (B1 << BigInt(chunk.length * 8));
    acc = ((acc + n) * r) % P1305;
  }
  let tag = (acc + s) & MASK128;
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) {
    out[i] = Number(tag & B255);
    tag >>= B8;
  }
  return out;
}

function pad16(n: number): number {
  return (16 - (n % 16)) % 16;
}

function macData(aad: Uint8Array, ct: Uint8Array): Uint8Array {
  const len = aad.length + pad16(aad.length) + ct.length + pad16(ct.length) + 16;
  const m = new Uint8Array(len);
  m.set(aad, 0);
  const ctAt = aad.length + pad16(aad.length);
  m.set(ct, ctAt);
  const lens = ctAt + ct.length + pad16(ct.length);
  const dv = new DataView(m.buffer);
  dv.setUint32(lens, aad.length >>> 0, true);
  dv.setUint32(lens + 4, Math.floor(aad.length / 2 ** 32), true);
  dv.setUint32(lens + 8, ct.length >>> 0, true);
  dv.setUint32(lens + 12, Math.floor(ct.length / 2 ** 32), true);
  return m;
}

function subkeyAndNonce(key: Uint8Array, nonce24: Uint8Array): [Uint8Array, Uint8Array] {
  if (key.length !== 32) throw new Error('XChaCha20-Poly1305: the key must be 32 bytes');
  if (nonce24.length !== 24) throw new Error('XChaCha20-Poly1305: the nonce must be 24 bytes');
  const sub = hchacha20(key, nonce24.subarray(0, 16));
  const n12 = new Uint8Array(12);
  n12.set(nonce24.subarray(16, 24), 4);
  return [sub, n12];
}

/** ChaCha20-Poly1305 AEAD (RFC 8439 §2.8): ciphertext followed by the 16-byte tag. */
export function chacha20poly1305Seal(key: Uint8Array, nonce12: Uint8Array, plain: Uint8Array, aad: Uint8Array = new Uint8Array(0)): Uint8Array {
  const otk = chacha20Xor(key, nonce12, 0, new Uint8Array(32));
  const ct = chacha20Xor(key, nonce12, 1, plain);
  const out = new Uint8Array(ct.length + 16);
  out.set(ct, 0);
  out.set(poly1305(otk, macData(aad, ct)), ct.length);
  return out;
}

/** Opens what chacha20poly1305Seal made; throws when the tag does not match. */
export function chacha20poly1305Open(key: Uint8Array, nonce12: Uint8Array, sealed: Uint8Array, aad: Uint8Array = new Uint8Array(0)): Uint8Array {
  if (sealed.length < 16) throw new Error('ChaCha20-Poly1305: sealed data too short');
  const ct = sealed.subarray(0, sealed.length - 16);
  const otk = chacha20Xor(key, nonce12, 0, new Uint8Array(32));
  const want = poly1305(otk, macData(aad, ct));
  const got = sealed.subarray(sealed.length - 16);
  let diff = 0;
  for (let i = 0; i < 16; i++) diff |= want[i]! ^ got[i]!;
  if (diff !== 0) throw new Error('ChaCha20-Poly1305: authentication failed (wrong key or altered data)');
  return chacha20Xor(key, nonce12, 1, ct);
}

export function xchacha20poly1305Seal(key: Uint8Array, nonce24: Uint8Array, plain: Uint8Array, aad?: Uint8Array): Uint8Array {
  const [sub, n12] = subkeyAndNonce(key, nonce24);
  return chacha20poly1305Seal(sub, n12, plain, aad);
}

export function xchacha20poly1305Open(key: Uint8Array, nonce24: Uint8Array, sealed: Uint8Array, aad?: Uint8Array): Uint8Array {
  const [sub, n12] = subkeyAndNonce(key, nonce24);
  return chacha20poly1305Open(sub, n12, sealed, aad);
}

// The pure XChaCha20-Poly1305 of the encrypted app database, checked against Node's ChaCha20-Poly1305
// (OpenSSL) and the HChaCha20 vector of draft-irtf-cfrg-xchacha §2.2.1.
import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { chacha20poly1305Open, chacha20poly1305Seal, hchacha20, poly1305, xchacha20poly1305Open, xchacha20poly1305Seal } from '../src/storage/xchacha';
import { localCipher, utf8Decode, utf8Encode } from '../src/storage/localCipher';

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/[\s:]/g, ''), 'hex'));

function nodeSeal(key: Uint8Array, nonce: Uint8Array, plain: Uint8Array, aad: Uint8Array): Uint8Array {
  const c = crypto.createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
  c.setAAD(aad, { plaintextLength: plain.length });
  return new Uint8Array(Buffer.concat([c.update(plain), c.final(), c.getAuthTag()]));
}

describe('XChaCha20-Poly1305', () => {
  it('Poly1305 matches RFC 8439 §2.5.2', () => {
    const key = hex('85:d6:be:78:57:55:6d:33:7f:44:52:fe:42:d5:06:a8:01:03:80:8a:fb:0d:b2:fd:4a:bf:f6:af:41:49:f5:1b');
    const tag = poly1305(key, new TextEncoder().encode('Cryptographic Forum Research Group'));
    expect(Buffer.from(tag).toString('hex')).toBe('a8061dc1305136c6c22b8baf0c0127a9');
  });

  it('HChaCha20 matches the draft vector', () => {
    const key = Uint8Array.from({ length: 32 }, (_, i) => i);
    const nonce = hex('000000090000004a0000000031415927');
    expect(Buffer.from(hchacha20(key, nonce)).toString('hex')).toBe('82413b4227b27bfed30e42508a877d73a0f9e4d58a74a853c12ec41326d3ecdc');
  });

  it('ChaCha20-Poly1305 equals OpenSSL for every length 0–300 (with and without AAD)', () => {
    for (let len = 0; len <= 300; len += 7) {
      const key = crypto.randomBytes(32);
      const nonce = crypto.randomBytes(12);
      const plain = crypto.randomBytes(len);
      const aad = len % 2 ? crypto.randomBytes(len % 29) : new Uint8Array(0);
      const ours = chacha20poly1305Seal(key, nonce, plain, aad);
      expect(Buffer.from(ours).equals(Buffer.from(nodeSeal(key, nonce, plain, aad))), `length ${len}`).toBe(true);
      expect(Buffer.from(chacha20poly1305Open(key, nonce, ours, aad)).equals(plain)).toBe(true);
    }
  });

  it('XChaCha20 is ChaCha20 under the HChaCha20 subkey; altered data or a wrong key is refused', () => {
    const key = crypto.randomBytes(32);
    const nonce = crypto.randomBytes(24);
    const plain = new TextEncoder().encode('客户 13812345678 wang.fang@example.com');
    const sealed = xchacha20poly1305Seal(key, nonce, plain);
    const sub = hchacha20(key, nonce.subarray(0, 16));
    const n12 = new Uint8Array(12);
    n12.set(nonce.subarray(16), 4);
    expect(Buffer.from(sealed).equals(Buffer.from(nodeSeal(sub, n12, plain, new Uint8Array(0))))).toBe(true);
    expect(new TextDecoder().decode(xchacha20poly1305Open(key, nonce, sealed))).toBe('客户 13812345678 wang.fang@example.com');
    const altered = sealed.slice();
    altered[3]! ^= 1;
    expect(() => xchacha20poly1305Open(key, nonce, altered)).toThrow(/authentication failed/);
    expect(() => xchacha20poly1305Open(crypto.randomBytes(32), nonce, sealed)).toThrow(/authentication failed/);
  });

  it('the record cipher round-trips any text (UTF-8 of CJK and emoji) with a fresh nonce each time', () => {
    const c = localCipher(crypto.randomBytes(32), (n) => crypto.randomBytes(n));
    for (const text of ['', 'a', '张三 身份证 11010519491231002X 😀', '\u{1F600}'.repeat(100)]) {
      expect(Buffer.from(utf8Encode(text)).equals(Buffer.from(text, 'utf8'))).toBe(true);
      expect(utf8Decode(utf8Encode(text))).toBe(text);
      const a = c.seal(text);
      expect(a.startsWith('x1:')).toBe(true);
      expect(c.seal(text)).not.toBe(a);
      expect(c.open(a)).toBe(text);
    }
    expect(() => c.open('{"clear":true}')).toThrow(/not encrypted/);
  });
});

// A FAKE of the part of Android that src/storage/deviceKey.ts reaches through HTML5+ Native.js
// (`plus.android`): java.security.KeyStore ("AndroidKeyStore"), javax.crypto.KeyGenerator,
// KeyGenParameterSpec.Builder, javax.crypto.Cipher ("AES/GCM/NoPadding"), GCMParameterSpec and
// java.security.SecureRandom, backed by node:crypto. It keeps to the platform's documented behaviour
// where the app depends on it:
//  - Java byte[] crosses the bridge as arrays of signed bytes (-128..127); anything else is refused;
//  - keystore keys never leave it (`getEncoded()` is null) and only serve the purposes, block modes
//    and paddings they were generated for;
//  - GCM encryption with a keystore key refuses a caller-provided IV (randomized encryption is
//    required by default) and makes its own 12-byte IV, read back with `getIV()`; decryption needs
//    GCMParameterSpec(128, iv) and fails with AEADBadTagException on any altered byte;
//  - `unavailable` makes KeyStore.getInstance("AndroidKeyStore") throw (builds or devices without it).
// It is not Android: it cannot show that the real keystore keeps keys in hardware; it shows that the
// app's calls, in this order with these arguments, wrap and unwrap the device key.
import crypto from 'node:crypto';
import type { NativeAndroid } from '../src/storage/deviceKey';

const ENCRYPT_MODE = 1;
const DECRYPT_MODE = 2;

class JavaException extends Error {
  constructor(readonly javaClass: string, message: string) {
    super(`${javaClass}: ${message}`);
  }
}

function fromJava(a: unknown, what: string): Buffer {
  if (!Array.isArray(a) || a.some((x) => !Number.isInteger(x) || x < -128 || x > 127)) throw new JavaException('java.lang.IllegalArgumentException', `${what} is not a byte[] of signed bytes`);
  return Buffer.from(a.map((x: number) => x & 255));
}
const toJava = (b: Buffer): number[] => Array.from(b, (x) => (x > 127 ? x - 256 : x));

interface KeystoreKey {
  readonly kind: 'keystore-key';
  readonly alias: string;
  readonly purposes: number;
  readonly blockModes: string[];
  readonly paddings: string[];
  /** held by the fake only: the bridge never hands it out */
  readonly material: Buffer;
}
interface Builder {
  kind: 'builder';
  alias: string;
  purposes: number;
  blockModes: string[];
  paddings: string[];
  keySize: number;
}
interface Spec extends Omit<Builder, 'kind'> {
  kind: 'spec';
}
interface GcmSpec {
  kind: 'gcm-spec';
  tagBits: number;
  iv: Buffer;
}
interface CipherObj {
  kind: 'cipher';
  mode: number | null;
  key: KeystoreKey | null;
  iv: Buffer | null;
}
interface KeyStoreObj {
  kind: 'keystore';
  loaded: boolean;
}
interface KeyGenObj {
  kind: 'keygen';
  spec: Spec | null;
}

export class FakeAndroidKeystore implements NativeAndroid {
  /** The keystore's entries (alias → key); a test may delete one, as a reset of the lock screen does. */
  readonly entries = new Map<string, KeystoreKey>();
  /** Every call through the bridge: `Class.method` or `method`. */
  readonly calls: string[] = [];
  unavailable = false;

  importClass(name: string): unknown {
    this.calls.push(`importClass ${name}`);
    switch (name) {
      case 'java.security.KeyStore':
        return {
          getInstance: (type: string): KeyStoreObj => {
            if (type !== 'AndroidKeyStore') throw new JavaException('java.security.KeyStoreException', `${type} not found`);
            if (this.unavailable) throw new JavaException('java.security.KeyStoreException', 'AndroidKeyStore not available');
            return { kind: 'keystore', loaded: false };
          },
        };
      case 'javax.crypto.KeyGenerator':
        return {
          getInstance: (alg: string, provider: string): KeyGenObj => {
            if (alg !== 'AES' || provider !== 'AndroidKeyStore') throw new JavaException('java.security.NoSuchAlgorithmException', `${alg}/${provider}`);
            if (this.unavailable) throw new JavaException('java.security.NoSuchProviderException', 'AndroidKeyStore');
            return { kind: 'keygen', spec: null };
          },
        };
      case 'javax.crypto.Cipher':
        return {
          getInstance: (transformation: string): CipherObj => {
            if (transformation !== 'AES/GCM/NoPadding') throw new JavaException('java.security.NoSuchAlgorithmException', transformation);
            return { kind: 'cipher', mode: null, key: null, iv: null };
          },
        };
      default:
        throw new JavaException('java.lang.ClassNotFoundException', name);
    }
  }

  newObject(name: string, ...args: unknown[]): unknown {
    this.calls.push(`new ${name}`);
    switch (name) {
      case 'android.security.keystore.KeyGenParameterSpec$Builder': {
        const [alias, purposes] = args;
        if (typeof alias !== 'string' || typeof purposes !== 'number') throw new JavaException('java.lang.IllegalArgumentException', 'Builder(String, int)');
        return { kind: 'builder', alias, purposes, blockModes: [], paddings: [], keySize: 0 } satisfies Builder;
      }
      case 'javax.crypto.spec.GCMParameterSpec': {
        const [tagBits, iv] = args;
        if (typeof tagBits !== 'number') throw new JavaException('java.lang.IllegalArgumentException', 'GCMParameterSpec(int, byte[])');
        return { kind: 'gcm-spec', tagBits, iv: fromJava(iv, 'iv') } satisfies GcmSpec;
      }
      case 'java.security.SecureRandom':
        return { kind: 'random' };
      default:
        throw new JavaException('java.lang.ClassNotFoundException', name);
    }
  }

  invoke(obj: unknown, method: string, ...args: unknown[]): unknown {
    const o = obj as { kind?: string } | null;
    this.calls.push(`${o?.kind ?? 'null'}.${method}`);
    switch (`${o?.kind}.${method}`) {
      case 'keystore.load':
        (o as KeyStoreObj).loaded = true;
        return undefined;
      case 'keystore.containsAlias':
        this.loaded(o as KeyStoreObj);
        return this.entries.has(String(args[0]));
      case 'keystore.getKey':
        this.loaded(o as KeyStoreObj);
        return this.entries.get(String(args[0])) ?? null;
      case 'keystore.deleteEntry':
        this.loaded(o as KeyStoreObj);
        this.entries.delete(String(args[0]));
        return undefined;
      case 'builder.setBlockModes':
        (o as Builder).blockModes = this.strings(args);
        return o;
      case 'builder.setEncryptionPaddings':
        (o as Builder).paddings = this.strings(args);
        return o;
      case 'builder.setKeySize':
        (o as Builder).keySize = Number(args[0]);
        return o;
      case 'builder.build': {
        const { kind: _, ...b } = o as Builder;
        return { kind: 'spec', ...b } satisfies Spec;
      }
      case 'keygen.init': {
        const spec = args[0] as Spec | undefined;
        if (spec?.kind !== 'spec') throw new JavaException('java.security.InvalidAlgorithmParameterException', 'not a KeyGenParameterSpec');
        if (spec.keySize !== 128 && spec.keySize !== 192 && spec.keySize !== 256) throw new JavaException('java.security.InvalidAlgorithmParameterException', `key size ${spec.keySize}`);
        (o as KeyGenObj).spec = spec;
        return undefined;
      }
      case 'keygen.generateKey': {
        const spec = (o as KeyGenObj).spec;
        if (!spec) throw new JavaException('java.lang.IllegalStateException', 'not initialized');
        const key: KeystoreKey = { kind: 'keystore-key', alias: spec.alias, purposes: spec.purposes, blockModes: spec.blockModes, paddings: spec.paddings, material: crypto.randomBytes(spec.keySize / 8) };
        this.entries.set(spec.alias, key);
        return key;
      }
      case 'keystore-key.getEncoded':
        return null; // keystore keys are not extractable
      case 'cipher.init':
        return this.cipherInit(o as CipherObj, args);
      case 'cipher.getIV':
        return (o as CipherObj).iv ? toJava((o as CipherObj).iv!) : null;
      case 'cipher.doFinal':
        return this.doFinal(o as CipherObj, fromJava(args[0], 'input'));
      case 'random.generateSeed':
        return toJava(crypto.randomBytes(Number(args[0])));
      default:
        throw new JavaException('java.lang.NoSuchMethodException', `${o?.kind}.${method}`);
    }
  }

  private loaded(ks: KeyStoreObj): void {
    if (!ks.loaded) throw new JavaException('java.security.KeyStoreException', 'KeyStore not initialized (load(null) first)');
  }

  private strings(args: unknown[]): string[] {
    // Native.js passes a JS array for Java varargs String...
    const a = args.length === 1 && Array.isArray(args[0]) ? args[0] : args;
    if (a.some((x) => typeof x !== 'string')) throw new JavaException('java.lang.IllegalArgumentException', 'String...');
    return a as string[];
  }

  private cipherInit(c: CipherObj, [mode, key, spec]: unknown[]): undefined {
    const k = key as KeystoreKey | null;
    if (k?.kind !== 'keystore-key') throw new JavaException('java.security.InvalidKeyException', 'not a keystore key');
    if (!this.entries.has(k.alias) || this.entries.get(k.alias) !== k) throw new JavaException('android.security.keystore.KeyPermanentlyInvalidatedException', 'key deleted');
    if (!k.blockModes.includes('GCM') || !k.paddings.includes('NoPadding')) throw new JavaException('java.security.InvalidKeyException', 'incompatible block mode or padding');
    if (mode === ENCRYPT_MODE) {
      if (!(k.purposes & ENCRYPT_MODE)) throw new JavaException('java.security.InvalidKeyException', 'encryption not permitted');
      if (spec !== undefined) throw new JavaException('java.security.InvalidAlgorithmParameterException', 'Caller-provided IV not permitted');
      Object.assign(c, { mode, key: k, iv: crypto.randomBytes(12) });
    } else if (mode === DECRYPT_MODE) {
      if (!(k.purposes & DECRYPT_MODE)) throw new JavaException('java.security.InvalidKeyException', 'decryption not permitted');
      const g = spec as GcmSpec | undefined;
      if (g?.kind !== 'gcm-spec' || g.tagBits !== 128 || g.iv.length !== 12) throw new JavaException('java.security.InvalidAlgorithmParameterException', 'GCMParameterSpec(128, 12-byte iv) required');
      Object.assign(c, { mode, key: k, iv: g.iv });
    } else throw new JavaException('java.security.InvalidParameterException', `mode ${String(mode)}`);
    return undefined;
  }

  private doFinal(c: CipherObj, input: Buffer): number[] {
    if (!c.key || !c.iv || c.mode === null) throw new JavaException('java.lang.IllegalStateException', 'Cipher not initialized');
    const { key, iv, mode } = c;
    // A GCM cipher cannot be reused with the same IV for encryption: it must be initialised again.
    Object.assign(c, { mode: null, key: null });
    if (mode === ENCRYPT_MODE) {
      const e = crypto.createCipheriv('aes-256-gcm', key.material, iv);
      return toJava(Buffer.concat([e.update(input), e.final(), e.getAuthTag()]));
    }
    if (input.length < 16) throw new JavaException('javax.crypto.AEADBadTagException', 'input too short');
    const d = crypto.createDecipheriv('aes-256-gcm', key.material, iv);
    d.setAuthTag(input.subarray(input.length - 16));
    try {
      return toJava(Buffer.concat([d.update(input.subarray(0, input.length - 16)), d.final()]));
    } catch {
      throw new JavaException('javax.crypto.AEADBadTagException', 'mac check in GCM failed');
    }
  }
}

/**
 * Audio plumbing of the voice endpoint: G.711 (PCMU/PCMA) and 16-bit PCM WAV files. Prompts and
 * recordings are 8 kHz mono 16-bit PCM inside the server (`Pcm`).
 */

export const SAMPLE_RATE = 8000;
/** Samples in one 20 ms RTP packet at 8 kHz. */
export const FRAME_SAMPLES = 160;

/** 8 kHz mono 16-bit PCM. */
export type Pcm = Int16Array;

const BIAS = 0x84;
const CLIP = 32635;

/** ITU-T G.711 µ-law encoding of one sample. */
export function linearToUlaw(sample: number): number {
  let s = Math.max(-32768, Math.min(32767, Math.round(sample)));
  const sign = s < 0 ? 0x80 : 0;
  if (s < 0) s = -s;
  if (s > CLIP) s = CLIP;
  s += BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (s & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (s >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

export function ulawToLinear(u: number): number {
  const v = ~u & 0xff;
  const sign = v & 0x80;
  const exponent = (v >> 4) & 0x07;
  const mantissa = v & 0x0f;
  const s = (((mantissa << 3) + BIAS) << exponent) - BIAS;
  return sign ? -s : s;
}

/** ITU-T G.711 A-law encoding of one sample. */
export function linearToAlaw(sample: number): number {
  let s = Math.max(-32768, Math.min(32767, Math.round(sample))) >> 3;
  let mask: number;
  if (s >= 0) mask = 0xd5;
  else {
    mask = 0x55;
    s = -s - 1;
  }
  const seg = [0x1f, 0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff].findIndex((end) => s <= end);
  if (seg === -1) return 0x7f ^ mask;
  const aval = (seg << 4) | (seg < 2 ? (s >> 1) & 0x0f : (s >> seg) & 0x0f);
  return aval ^ mask;
}

export function alawToLinear(a: number): number {
  const v = a ^ 0x55;
  let t = (v & 0x0f) << 4;
  const seg = (v & 0x70) >> 4;
  if (seg === 0) t += 8;
  else if (seg === 1) t += 0x108;
  else t = (t + 0x108) << (seg - 1);
  return v & 0x80 ? t : -t;
}

export type G711 = 'PCMU' | 'PCMA';

export function encodeG711(codec: G711, pcm: ArrayLike<number>): Buffer {
  const out = Buffer.alloc(pcm.length);
  const enc = codec === 'PCMU' ? linearToUlaw : linearToAlaw;
  for (let i = 0; i < pcm.length; i++) out[i] = enc(pcm[i]!);
  return out;
}

export function decodeG711(codec: G711, bytes: Uint8Array): Pcm {
  const out = new Int16Array(bytes.length);
  const dec = codec === 'PCMU' ? ulawToLinear : alawToLinear;
  for (let i = 0; i < bytes.length; i++) out[i] = dec(bytes[i]!);
  return out;
}

/** A 16-bit mono PCM WAV file. */
export function wavFile(pcm: Pcm, rate = SAMPLE_RATE): Buffer {
  const data = Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength);
  const h = Buffer.alloc(44);
  h.write('RIFF', 0, 'ascii');
  h.writeUInt32LE(36 + data.length, 4);
  h.write('WAVE', 8, 'ascii');
  h.write('fmt ', 12, 'ascii');
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

export class AudioFormatError extends Error {}

/** Reads a 16-bit PCM WAV file (mono, or the first channel): its samples and rate. */
export function readWav(buf: Buffer): { pcm: Pcm; rate: number } {
  if (buf.length < 12 || buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') throw new AudioFormatError('not a RIFF/WAVE file');
  let off = 12;
  let fmt: { format: number; channels: number; rate: number; bits: number } | null = null;
  while (off + 8 <= buf.length) {
    const id = buf.toString('ascii', off, off + 4);
    let size = buf.readUInt32LE(off + 4);
    const body = off + 8;
    // espeak-ng writes 0x7fffffff sizes when it streams to stdout.
    if (body + size > buf.length) size = buf.length - body;
    if (id === 'fmt ') fmt = { format: buf.readUInt16LE(body), channels: buf.readUInt16LE(body + 2), rate: buf.readUInt32LE(body + 4), bits: buf.readUInt16LE(body + 14) };
    if (id === 'data') {
      if (!fmt || fmt.format !== 1 || fmt.bits !== 16) throw new AudioFormatError('only 16-bit PCM WAV is supported');
      const n = Math.floor(size / (2 * fmt.channels));
      const pcm = new Int16Array(n);
      for (let i = 0; i < n; i++) pcm[i] = buf.readInt16LE(body + i * 2 * fmt.channels);
      return { pcm, rate: fmt.rate };
    }
    off = body + size + (size & 1);
  }
  throw new AudioFormatError('no data chunk');
}

/** Root-mean-square level of samples (0 … 32767). */
export function rms(pcm: ArrayLike<number>): number {
  if (pcm.length === 0) return 0;
  let sum = 0;
  for (let i = 0; i < pcm.length; i++) sum += pcm[i]! * pcm[i]!;
  return Math.sqrt(sum / pcm.length);
}

/** A 1 kHz beep (before a voicemail recording). */
export function beep(ms = 400, freq = 1000): Pcm {
  const n = Math.round((SAMPLE_RATE * ms) / 1000);
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.round(8000 * Math.sin((2 * Math.PI * freq * i) / SAMPLE_RATE));
  return out;
}

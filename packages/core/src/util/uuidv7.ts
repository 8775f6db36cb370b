const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/**
 * RFC 9562 UUIDv7: 48-bit millisecond timestamp, version 7, 74 random bits.
 * Within one generator ids are strictly increasing even inside one millisecond
 * (the 12-bit rand_a field is used as a counter, method 1 of RFC 9562 §6.2).
 */
export class Uuidv7Generator {
  private lastMs = -1;
  private counter = 0;
  constructor(private readonly now: () => number, private readonly randomBytes: (n: number) => Uint8Array) {}

  next(): string {
    let ms = this.now();
    if (ms <= this.lastMs) {
      ms = this.lastMs;
      this.counter++;
      if (this.counter > 0xfff) {
        ms = this.lastMs + 1;
        this.counter = 0;
      }
    } else {
      this.counter = this.randomBytes(2).reduce((a, b) => (a << 8) | b, 0) & 0x3ff;
    }
    this.lastMs = ms;
    const b = this.randomBytes(16);
    b[0] = Math.floor(ms / 2 ** 40) & 0xff;
    b[1] = Math.floor(ms / 2 ** 32) & 0xff;
    b[2] = (ms >>> 24) & 0xff;
    b[3] = (ms >>> 16) & 0xff;
    b[4] = (ms >>> 8) & 0xff;
    b[5] = ms & 0xff;
    b[6] = 0x70 | ((this.counter >>> 8) & 0x0f);
    b[7] = this.counter & 0xff;
    b[8] = 0x80 | ((b[8] ?? 0) & 0x3f);
    let s = '';
    for (let i = 0; i < 16; i++) {
      s += HEX[b[i] ?? 0];
      if (i === 3 || i === 5 || i === 7 || i === 9) s += '-';
    }
    return s;
  }
}

export const UUID_V7_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** Milliseconds encoded in a UUIDv7. */
export function uuidv7Time(id: string): number {
  const hex = id.replace(/-/g, '').slice(0, 12);
  return parseInt(hex, 16);
}

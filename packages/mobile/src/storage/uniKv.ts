// A key/value layer on uni-app's synchronous storage (uni.getStorageSync & co.), with size
// accounting and transparent splitting of values larger than a per-key limit (WeChat: 1 MB a key,
// 10 MB in all). Values are strings; sizes are counted as UTF-8 bytes of key + value.

import { utf8Length } from './codec';

/** The part of uni's storage API used here (same names and shapes as `uni.*`). */
export interface UniStorageApi {
  getStorageSync(key: string): unknown;
  setStorageSync(key: string, data: unknown): void;
  removeStorageSync(key: string): void;
  getStorageInfoSync(): { keys: string[]; currentSize?: number; limitSize?: number };
}

export interface UniKvOptions {
  /** Prefix of every key this layer owns. */
  prefix: string;
  /** Largest value written under one key, in bytes; longer values are split into parts. */
  maxValueBytes: number;
}

const PART_MARK = '\u0001parts:';

export class UniKv {
  private readonly sizes = new Map<string, number>();
  private total = 0;

  constructor(
    private readonly uni: UniStorageApi,
    private readonly o: UniKvOptions,
  ) {}

  private partKey(key: string, i: number): string {
    return `${this.o.prefix}~${i}~${key}`;
  }

  private isPartKey(fullKey: string): boolean {
    return fullKey.startsWith(`${this.o.prefix}~`);
  }

  /** Keys (without the prefix) of every stored value, read once at start. */
  scan(): string[] {
    const out: string[] = [];
    for (const full of this.uni.getStorageInfoSync().keys) {
      if (!full.startsWith(this.o.prefix) || this.isPartKey(full)) continue;
      out.push(full.slice(this.o.prefix.length));
    }
    return out;
  }

  get(key: string): string | null {
    const raw = this.uni.getStorageSync(this.o.prefix + key);
    if (typeof raw !== 'string' || raw === '') {
      this.forget(key);
      return null;
    }
    let text = raw;
    if (raw.startsWith(PART_MARK)) {
      const n = Number(raw.slice(PART_MARK.length));
      text = '';
      for (let i = 0; i < n; i++) {
        const part = this.uni.getStorageSync(this.partKey(key, i));
        if (typeof part !== 'string') return null; // torn write: treat as missing
        text += part;
      }
    }
    if (!this.sizes.has(key)) this.account(key, this.sizeOf(key, text));
    return text;
  }

  set(key: string, value: string): void {
    if (value === '') throw new Error('UniKv cannot store an empty string');
    const size = this.sizeOf(key, value);
    const previousParts = this.partsOf(key);
    const full = this.o.prefix + key;
    if (utf8Length(full) + utf8Length(value) <= this.o.maxValueBytes) {
      this.uni.setStorageSync(full, value);
      for (let i = 0; i < previousParts; i++) this.uni.removeStorageSync(this.partKey(key, i));
    } else {
      const parts = this.split(value);
      // Parts first, the head last: a reader never follows a head to parts that are not there yet.
      parts.forEach((p, i) => this.uni.setStorageSync(this.partKey(key, i), p));
      this.uni.setStorageSync(full, `${PART_MARK}${parts.length}`);
      for (let i = parts.length; i < previousParts; i++) this.uni.removeStorageSync(this.partKey(key, i));
    }
    this.account(key, size);
  }

  remove(key: string): void {
    const parts = this.partsOf(key);
    this.uni.removeStorageSync(this.o.prefix + key);
    for (let i = 0; i < parts; i++) this.uni.removeStorageSync(this.partKey(key, i));
    this.forget(key);
  }

  /** Bytes used by this layer's values (after `scan` + `get` of every key, or the writes made). */
  get usedBytes(): number {
    return this.total;
  }

  bytesOf(key: string): number {
    return this.sizes.get(key) ?? 0;
  }

  private sizeOf(key: string, value: string): number {
    return utf8Length(this.o.prefix + key) + utf8Length(value);
  }

  private partsOf(key: string): number {
    const raw = this.uni.getStorageSync(this.o.prefix + key);
    return typeof raw === 'string' && raw.startsWith(PART_MARK) ? Number(raw.slice(PART_MARK.length)) : 0;
  }

  /** Splits a value into parts that fit the per-key limit (a UTF-8 char is at most 4 bytes). */
  private split(value: string): string[] {
    const budget = Math.max(1024, this.o.maxValueBytes - 256);
    const chars = Math.floor(budget / 4);
    const parts: string[] = [];
    let i = 0;
    while (i < value.length) {
      let end = Math.min(value.length, i + chars);
      // Never split a surrogate pair.
      if (end < value.length && (value.charCodeAt(end - 1) & 0xfc00) === 0xd800) end--;
      parts.push(value.slice(i, end));
      i = end;
    }
    return parts;
  }

  private account(key: string, size: number): void {
    this.total += size - (this.sizes.get(key) ?? 0);
    this.sizes.set(key, size);
  }

  private forget(key: string): void {
    this.total -= this.sizes.get(key) ?? 0;
    this.sizes.delete(key);
  }
}

// Small platform-free codecs for the storage adapters: SQL literals (plus.sqlite has no bound
// parameters), base64 (Yjs updates as text; no Buffer, and btoa is missing in some app engines)
// and UTF-8 sizes (uni storage quotas).

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_INDEX: Record<string, number> = {};
for (let i = 0; i < B64.length; i++) B64_INDEX[B64[i]!] = i;

export function bytesToBase64(bytes: Uint8Array): string {
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += B64[(n >> 18) & 63]! + B64[(n >> 12) & 63]! + B64[(n >> 6) & 63]! + B64[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i]! << 16;
    out += B64[(n >> 18) & 63]! + B64[(n >> 12) & 63]! + '==';
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += B64[(n >> 18) & 63]! + B64[(n >> 12) & 63]! + B64[(n >> 6) & 63]! + '=';
  }
  return out;
}

export function base64ToBytes(text: string): Uint8Array {
  const clean = text.replace(/=+$/, '');
  if (clean.length % 4 === 1) throw new Error('invalid base64 length');
  const out = new Uint8Array(Math.floor((clean.length * 3) / 4));
  let o = 0;
  for (let i = 0; i < clean.length; i += 4) {
    const c0 = B64_INDEX[clean[i]!];
    const c1 = B64_INDEX[clean[i + 1]!];
    const c2 = i + 2 < clean.length ? B64_INDEX[clean[i + 2]!] : 0;
    const c3 = i + 3 < clean.length ? B64_INDEX[clean[i + 3]!] : 0;
    if (c0 === undefined || c1 === undefined || c2 === undefined || c3 === undefined) throw new Error('invalid base64 character');
    const n = (c0 << 18) | (c1 << 12) | (c2 << 6) | c3;
    out[o++] = (n >> 16) & 255;
    if (i + 2 < clean.length) out[o++] = (n >> 8) & 255;
    if (i + 3 < clean.length) out[o++] = n & 255;
  }
  return out;
}

/** UTF-8 encoding (lone surrogates become U+FFFD, like TextEncoder). */
export function utf8Bytes(text: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    let cp = text.charCodeAt(i);
    if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < text.length) {
      const lo = text.charCodeAt(i + 1);
      if (lo >= 0xdc00 && lo <= 0xdfff) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        i++;
      } else cp = 0xfffd;
    } else if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;
    if (cp < 0x80) out.push(cp);
    else if (cp < 0x800) out.push(0xc0 | (cp >> 6), 0x80 | (cp & 63));
    else if (cp < 0x10000) out.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63));
    else out.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 63), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63));
  }
  return Uint8Array.from(out);
}

/** Size in bytes of a string stored as UTF-8 (what storage quotas count), without allocating. */
export function utf8Length(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** Surrogate code units (lone or paired); NUL is checked with includes(). */
const SURROGATE = /[\ud800-\udfff]/;

/**
 * A string as an SQL literal. NUL (which native bridges may cut strings at) and surrogates are sent
 * as a UTF-8 blob cast to TEXT; everything else as a quoted literal with quotes doubled.
 */
export function sqlString(value: string): string {
  if (value.includes('\u0000') || SURROGATE.test(value)) {
    let hex = '';
    for (const b of utf8Bytes(value)) hex += (b < 16 ? '0' : '') + b.toString(16);
    return `CAST(X'${hex}' AS TEXT)`;
  }
  return `'${value.replace(/'/g, "''")}'`;
}

/** A finite number as an SQL literal (integers stay integers). */
export function sqlNumber(value: number): string {
  if (!Number.isFinite(value)) throw new Error(`not a finite number: ${value}`);
  return Number.isInteger(value) ? value.toFixed(0) : String(value);
}

export function sqlValue(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return 'NULL';
  return typeof value === 'number' ? sqlNumber(value) : sqlString(value);
}

export function sqlList(values: readonly (string | number)[]): string {
  return `(${values.map(sqlValue).join(', ')})`;
}

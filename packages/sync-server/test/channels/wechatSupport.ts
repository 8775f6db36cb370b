import crypto from 'node:crypto';
/** A UUIDv7 for a client command id. */
export function uuid7(): string {
  const t = Date.now().toString(16).padStart(12, '0');
  const r = crypto.randomBytes(10).toString('hex');
  return `${t.slice(0, 8)}-${t.slice(8, 12)}-7${r.slice(0, 3)}-${((parseInt(r[3]!, 16) & 3) | 8).toString(16)}${r.slice(4, 7)}-${r.slice(7, 19)}`;
}

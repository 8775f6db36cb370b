import { z } from 'zod';
import { hmacHex, safeEqual } from './crypto.js';

/** `sid`: the session (refresh-token family) the token belongs to; the server checks it is still live. */
const Claims = z.object({ sub: z.string(), tid: z.string(), sid: z.string().min(1).max(64).optional(), role: z.string(), iat: z.number(), exp: z.number() });
export type Claims = z.infer<typeof Claims> & { sid: string };

export type TokenCheck = { ok: true; claims: Claims } | { ok: false; reason: 'malformed' | 'bad_signature' | 'expired' };

const b64 = (s: string) => Buffer.from(s).toString('base64url');
const HEADER = b64(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));

/** HS256 JSON Web Tokens for short-lived access. */
export class AccessTokens {
  constructor(private readonly secret: string, private readonly ttlSeconds: number) {}

  get ttl(): number {
    return this.ttlSeconds;
  }

  issue(c: { agentId: string; tenantId: string; role: string; sessionId: string }, nowMs = Date.now()): string {
    const iat = Math.floor(nowMs / 1000);
    const payload = b64(JSON.stringify({ sub: c.agentId, tid: c.tenantId, sid: c.sessionId, role: c.role, iat, exp: iat + this.ttlSeconds }));
    const sig = Buffer.from(hmacHex(this.secret, `${HEADER}.${payload}`), 'hex').toString('base64url');
    return `${HEADER}.${payload}.${sig}`;
  }

  verify(token: string, nowMs = Date.now()): TokenCheck {
    const parts = token.split('.');
    if (parts.length !== 3 || parts[0] !== HEADER) return { ok: false, reason: 'malformed' };
    const expected = Buffer.from(hmacHex(this.secret, `${parts[0]}.${parts[1]}`), 'hex').toString('base64url');
    if (!safeEqual(expected, parts[2] ?? '')) return { ok: false, reason: 'bad_signature' };
    let claims: z.infer<typeof Claims>;
    try {
      claims = Claims.parse(JSON.parse(Buffer.from(parts[1] ?? '', 'base64url').toString('utf8')));
    } catch {
      return { ok: false, reason: 'malformed' };
    }
    if (claims.exp * 1000 <= nowMs) return { ok: false, reason: 'expired' };
    // Tokens without a session predate session checks: they cannot be revoked, so they are refused.
    if (!claims.sid) return { ok: false, reason: 'malformed' };
    return { ok: true, claims: { ...claims, sid: claims.sid } };
  }
}

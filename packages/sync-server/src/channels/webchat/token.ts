import crypto from 'node:crypto';
import { z } from 'zod';
import { hmacHex, safeEqual } from '../../auth/crypto.js';

/** Visitors keep their token for half a year; a new session renews it. */
export const VISITOR_TTL_S = 180 * 24 * 3600;

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64url');
const unb64 = (s: string) => Buffer.from(s, 'base64url').toString('utf8');

/** `<inboxId>.<mac>`: the public token of a web inbox in the snippet (not guessable from the id alone). */
export function inboxToken(key: string, inboxId: string): string {
  return `${inboxId}.${hmacHex(key, `webchat-inbox:${inboxId}`).slice(0, 20)}`;
}

export function inboxIdOfToken(key: string, token: string): string | null {
  const i = token.lastIndexOf('.');
  if (i < 1) return null;
  const id = token.slice(0, i);
  return safeEqual(inboxToken(key, id), token) ? id : null;
}

const VisitorClaims = z.object({
  v: z.literal(1),
  /** inbox id */
  i: z.string().min(1).max(128),
  /** the visitor's contact identifier on the web channel: `visitor:<uuid>` or `user:<host user id>` */
  s: z.string().min(3).max(220),
  /** issued at (s) */
  t: z.number().int(),
});
export type VisitorClaims = z.infer<typeof VisitorClaims>;

export function newVisitorIdentifier(): string {
  return `visitor:${crypto.randomUUID()}`;
}

export function signVisitor(key: string, inboxId: string, subject: string, nowS = Math.floor(Date.now() / 1000)): string {
  const body = b64(JSON.stringify({ v: 1, i: inboxId, s: subject, t: nowS } satisfies VisitorClaims));
  return `${body}.${hmacHex(key, `webchat-visitor:${body}`)}`;
}

/** The claims of a visitor token of this inbox, or null (forged, other inbox, expired, malformed). */
export function verifyVisitor(key: string, inboxId: string, token: string, nowS = Math.floor(Date.now() / 1000)): VisitorClaims | null {
  const [body, mac, extra] = token.split('.');
  if (!body || !mac || extra !== undefined) return null;
  if (!safeEqual(hmacHex(key, `webchat-visitor:${body}`), mac)) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(unb64(body));
  } catch {
    return null;
  }
  const c = VisitorClaims.safeParse(raw);
  if (!c.success || c.data.i !== inboxId || c.data.t > nowS + 60 || nowS - c.data.t > VISITOR_TTL_S) return null;
  return c.data;
}

/** What the host site computes on its server: HMAC-SHA256(identity secret, user id), hex. */
export function identityHash(identitySecret: string, identifier: string): string {
  return hmacHex(identitySecret, identifier);
}

const Staged = z.object({ t: z.string(), id: z.string(), name: z.string(), mime: z.string(), size: z.number().int().nonnegative(), sha256: z.string().regex(/^[0-9a-f]{64}$/), s: z.string() });
export type StagedFile = Omit<z.infer<typeof Staged>, 't' | 's'>;

/** A staged upload, signed for the visitor who uploaded it: the message refers to it without the server trusting its metadata. */
export function signStaged(key: string, subject: string, f: StagedFile): string {
  const body = b64(JSON.stringify({ ...f, t: 'staged', s: subject }));
  return `${body}.${hmacHex(key, `webchat-staged:${body}`)}`;
}

export function verifyStaged(key: string, subject: string, ref: string): StagedFile | null {
  const [body, mac, extra] = ref.split('.');
  if (!body || !mac || extra !== undefined || !safeEqual(hmacHex(key, `webchat-staged:${body}`), mac)) return null;
  try {
    const r = Staged.safeParse(JSON.parse(unb64(body)));
    if (!r.success || r.data.s !== subject) return null;
    const { id, name, mime, size, sha256 } = r.data;
    return { id, name, mime, size, sha256 };
  } catch {
    return null;
  }
}

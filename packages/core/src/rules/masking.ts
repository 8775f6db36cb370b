import { z } from 'zod';
import type { Contact, Conversation, Message } from '../domain/model.js';

/**
 * Masking of personal data: the one place that detects and masks it. The server applies it to every
 * row it sends to a principal without `pii.view` (rules/permissions.ts), so a device never stores
 * the clear value. Pure and deterministic.
 */
export const PII_KINDS = ['email', 'cn_id', 'bank_card', 'cn_mobile', 'phone_intl', 'cn_landline', 'custom'] as const;
export type PiiKind = (typeof PII_KINDS)[number];

export interface PiiMatch {
  kind: PiiKind;
  start: number;
  end: number;
  value: string;
  /** The admin pattern's name (kind `custom`). */
  pattern?: string;
}

// ----- check digits ----------------------------------------------------------------------

const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK = '10X98765432';

/** A Chinese resident identity number: 18 characters, the last the ISO 7064 MOD 11-2 check digit (0-9 or X). */
export function isValidCnId(s: string): boolean {
  if (!/^\d{17}[\dXx]$/.test(s)) return false;
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(s[i]) * ID_WEIGHTS[i]!;
  if (ID_CHECK[sum % 11] !== s[17]!.toUpperCase()) return false;
  // The birth date (positions 7-14) must be a plausible date.
  const y = Number(s.slice(6, 10));
  const m = Number(s.slice(10, 12));
  const d = Number(s.slice(12, 14));
  return y >= 1900 && y <= 2100 && m >= 1 && m <= 12 && d >= 1 && d <= 31;
}

/** The Luhn check of a card number (digits only). */
export function luhnValid(digits: string): boolean {
  if (!/^\d+$/.test(digits)) return false;
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let n = Number(digits[i]);
    if (double) {
      n *= 2;
      if (n > 9) n -= 9;
    }
    sum += n;
    double = !double;
  }
  return sum % 10 === 0;
}

// ----- admin-defined patterns --------------------------------------------------------------

/** The longest text a pattern is run on at once (longer text is scanned in windows of this size). */
export const CUSTOM_PATTERN_WINDOW = 4096;
const MAX_CUSTOM_MATCHES = 200;

/**
 * Why a pattern is refused: JavaScript regular expressions cannot be interrupted, so the guard is
 * static. Nested or adjacent unbounded quantifiers (the catastrophic-backtracking shapes),
 * backreferences and lookarounds are refused; the pattern is bounded in size, and the text it runs
 * on is bounded by CUSTOM_PATTERN_WINDOW.
 */
export function unsafePatternReason(source: string): string | null {
  if (source.length === 0) return 'the pattern is empty';
  if (source.length > 200) return 'the pattern is longer than 200 characters';
  try {
    new RegExp(source, 'u');
  } catch (e) {
    return `not a valid regular expression: ${(e as Error).message}`;
  }
  if (/\\[1-9]|\\k</.test(source)) return 'backreferences are not allowed';
  if (/\(\?<?[=!]/.test(source)) return 'lookarounds are not allowed';
  // A group that contains a quantifier and is itself quantified: (a+)+, (a|b*)*, (x{2,})+ ...
  const stripped = source.replace(/\\./g, 'x').replace(/\[[^\]]*\]/g, 'x');
  if (/\([^()]*[+*}][^()]*\)\s*[+*{]/.test(stripped)) return 'nested quantifiers are not allowed (catastrophic backtracking)';
  if (/[+*]\??[+*{]/.test(stripped)) return 'adjacent quantifiers are not allowed';
  if (new RegExp(source, 'u').test('')) return 'the pattern matches the empty string';
  return null;
}

export const MaskPatternSpec = z
  .object({
    name: z.string().trim().min(1).max(64),
    pattern: z.string().min(1).max(200),
  })
  .strict()
  .superRefine((p, ctx) => {
    const why = unsafePatternReason(p.pattern);
    if (why) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['pattern'], message: why });
  });
export type MaskPatternSpec = z.infer<typeof MaskPatternSpec>;

/** Compiled admin patterns (compile once per request, not per string). */
export interface MaskPattern {
  name: string;
  regex: RegExp;
}

export function compilePatterns(specs: readonly MaskPatternSpec[]): MaskPattern[] {
  return specs.filter((s) => unsafePatternReason(s.pattern) === null).map((s) => ({ name: s.name, regex: new RegExp(s.pattern, 'gu') }));
}

// ----- detection ---------------------------------------------------------------------------

const EMAIL = /[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*\.[A-Za-z]{2,24}/g;
const CN_ID = /(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])/g;
const CARD = /(?<![0-9+])\d(?:[ -]?\d){12,18}(?![0-9])/g;
const CN_MOBILE = /(?<![0-9+])(?:(?:\+|00)?86[ -]?)?1[3-9]\d(?:[ -]?\d{4}){2}(?![0-9])/g;
const PHONE_INTL = /(?<![0-9])\+[1-9](?:[ -]?\d){7,14}(?![0-9])/g;
const CN_LANDLINE = /(?<![0-9])(?:\(0\d{2,3}\)|0\d{2,3})[ -]?\d{7,8}(?![0-9])/g;

function each(re: RegExp, text: string, kind: PiiKind, accept: (v: string) => boolean, out: PiiMatch[]): void {
  re.lastIndex = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (accept(m[0])) out.push({ kind, start: m.index, end: m.index + m[0].length, value: m[0] });
  }
}

const digitsOf = (s: string) => s.replace(/\D/g, '');

/** Every piece of personal data in a text, non-overlapping, in text order (earlier kinds win an overlap). */
export function detectPii(text: string, patterns: readonly MaskPattern[] = []): PiiMatch[] {
  if (!text) return [];
  const found: PiiMatch[] = [];
  each(EMAIL, text, 'email', () => true, found);
  each(CN_ID, text, 'cn_id', isValidCnId, found);
  each(CARD, text, 'bank_card', (v) => {
    const d = digitsOf(v);
    return d.length >= 13 && d.length <= 19 && luhnValid(d);
  }, found);
  each(CN_MOBILE, text, 'cn_mobile', () => true, found);
  each(PHONE_INTL, text, 'phone_intl', (v) => {
    const n = digitsOf(v).length;
    return n >= 8 && n <= 15;
  }, found);
  each(CN_LANDLINE, text, 'cn_landline', () => true, found);
  for (const p of patterns) {
    let count = 0;
    for (let base = 0; base < text.length && count < MAX_CUSTOM_MATCHES; base += CUSTOM_PATTERN_WINDOW) {
      const window = text.slice(base, base + CUSTOM_PATTERN_WINDOW);
      p.regex.lastIndex = 0;
      for (let m = p.regex.exec(window); m && count < MAX_CUSTOM_MATCHES; m = p.regex.exec(window)) {
        if (m[0].length === 0) {
          p.regex.lastIndex++;
          continue;
        }
        found.push({ kind: 'custom', start: base + m.index, end: base + m.index + m[0].length, value: m[0], pattern: p.name });
        count++;
      }
    }
  }
  // Keep the first-found (higher-priority) match of any overlap.
  const kept: PiiMatch[] = [];
  for (const m of found) if (!kept.some((k) => m.start < k.end && k.start < m.end)) kept.push(m);
  return kept.sort((a, b) => a.start - b.start);
}

// ----- masking -----------------------------------------------------------------------------

/** Replaces every digit (and X of an ID) in `s` except the first `keepStart` and last `keepEnd` digits by `*`, keeping separators. */
function starDigits(s: string, keepStart: number, keepEnd: number): string {
  const total = s.replace(/[^0-9Xx]/g, '').length;
  let i = 0;
  let out = '';
  for (const ch of s) {
    if (/[0-9Xx]/.test(ch)) {
      out += i < keepStart || i >= total - keepEnd ? ch : '*';
      i++;
    } else out += ch;
  }
  return out;
}

export function maskValue(m: Pick<PiiMatch, 'kind' | 'value'>): string {
  const v = m.value;
  switch (m.kind) {
    case 'email': {
      const at = v.lastIndexOf('@');
      return `${v.slice(0, 1)}***${v.slice(at)}`;
    }
    case 'cn_id':
      return starDigits(v, 3, 4);
    case 'bank_card':
      return starDigits(v, 0, 4);
    case 'cn_mobile': {
      // 138****5678: the prefix (+86, 0086) and the first 3 digits of the number stay, then four stars.
      const d = digitsOf(v);
      const prefixDigits = d.length - 11;
      return starDigits(v, prefixDigits + 3, 4);
    }
    case 'phone_intl':
      return starDigits(v, 2, 4);
    case 'cn_landline': {
      const area = /^\(?0\d{2,3}\)?/.exec(v)?.[0] ?? '';
      return `${area}${starDigits(v.slice(area.length), 0, 4)}`;
    }
    case 'custom':
      return v.replace(/[^\s\-_.@]/gu, '*');
    default: {
      const never: never = m.kind;
      throw new Error(`unknown kind ${String(never)}`);
    }
  }
}

/** The text with every detected piece of personal data masked. */
export function maskText(text: string, patterns: readonly MaskPattern[] = []): string {
  const found = detectPii(text, patterns);
  if (found.length === 0) return text;
  let out = '';
  let at = 0;
  for (const m of found) {
    out += text.slice(at, m.start) + maskValue(m);
    at = m.end;
  }
  return out + text.slice(at);
}

const maskNullable = (s: string | null, p: readonly MaskPattern[]): string | null => (s === null ? null : maskText(s, p));

function maskDeep(v: unknown, p: readonly MaskPattern[], depth = 0): unknown {
  if (typeof v === 'string') return maskText(v, p);
  if (depth > 8 || v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map((x) => maskDeep(x, p, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = maskDeep(x, p, depth + 1);
  return out;
}

/** Every string inside a JSON value masked (audit details, provider metadata). */
export function maskJson<T>(v: T, p: readonly MaskPattern[] = []): T {
  return maskDeep(v, p) as T;
}

/** An attachment's file name, wherever it is shown (message rows, a download's Content-Disposition). */
export function maskFileName(name: string, p: readonly MaskPattern[] = []): string {
  return maskText(name, p);
}

export function maskConversation(c: Conversation, p: readonly MaskPattern[] = []): Conversation {
  return { ...c, contactName: maskText(c.contactName, p), subject: maskNullable(c.subject, p), lastMessagePreview: maskText(c.lastMessagePreview, p) };
}

export function maskMessage(m: Message, p: readonly MaskPattern[] = []): Message {
  return {
    ...m,
    text: maskText(m.text, p),
    subject: maskNullable(m.subject, p),
    statusReason: maskNullable(m.statusReason, p),
    attachments: m.attachments.map((a) => ({ ...a, name: maskFileName(a.name, p) })),
    meta: maskDeep(m.meta, p) as Message['meta'],
  };
}

/**
 * [fields] A value that is personal data as a whole (a custom field of type phone or email): masked
 * like detected data when the detector recognises it, otherwise every letter and digit but the last
 * two (an email keeps its first character and its domain), so a short or local number never leaks.
 */
export function maskPersonalValue(v: string, p: readonly MaskPattern[] = []): string {
  const masked = maskText(v, p);
  if (masked !== v || v.length === 0) return masked;
  const at = v.lastIndexOf('@');
  if (at > 0) return maskValue({ kind: 'email', value: v });
  const total = v.replace(/[^\p{L}\p{N}]/gu, '').length;
  let i = 0;
  let out = '';
  for (const ch of v) {
    if (/[\p{L}\p{N}]/u.test(ch)) {
      out += i >= total - 2 ? ch : '*';
      i++;
    } else out += ch;
  }
  return out;
}

/** `personalKeys`: attribute keys whose whole value is personal data (core `personalAttributeKeys` of the custom fields). */
export function maskContact(c: Contact, p: readonly MaskPattern[] = [], personalKeys: readonly string[] = []): Contact {
  const attributes: Record<string, string> = {};
  for (const [k, v] of Object.entries(c.attributes)) attributes[k] = personalKeys.includes(k) ? maskPersonalValue(v, p) : maskText(v, p);
  return { ...c, name: maskText(c.name, p), identities: c.identities.map((i) => ({ ...i, identifier: maskText(i.identifier, p) })), attributes };
}

// ----- values coming back from a device ------------------------------------------------------

/**
 * Whether `incoming` is a masked rendering of `clear` (every run of `*` stands for hidden
 * characters, the rest is equal). A device without pii.view only ever saw the masked value: when it
 * sends that value back (a contact edit that kept a field), the clear value must stay.
 */
export function isMaskedFormOf(incoming: string, clear: string, patterns: readonly MaskPattern[] = []): boolean {
  if (!incoming.includes('*') || incoming === clear) return false;
  if (maskText(clear, patterns) === incoming) return true;
  const parts = incoming.split(/\*+/);
  if (parts.length > 21) return false;
  // Literal pieces in order, each run of stars standing for at least one character (linear scan, no regex).
  let at = 0;
  for (let i = 0; i < parts.length; i++) {
    const piece = parts[i]!;
    if (i === 0) {
      if (!clear.startsWith(piece)) return false;
      at = piece.length;
      continue;
    }
    if (i === parts.length - 1) return clear.length - piece.length >= at + 1 && clear.endsWith(piece);
    const j = clear.indexOf(piece, at + 1);
    if (j < 0) return false;
    at = j + piece.length;
  }
  return false;
}

/** The value to store for a field a device sent: the clear value when the device sent its masked form back. */
export function keepClearValue(incoming: string, clear: string | undefined, patterns: readonly MaskPattern[] = []): string {
  return clear !== undefined && isMaskedFormOf(incoming, clear, patterns) ? clear : incoming;
}

/**
 * SMS segment counting (3GPP TS 23.038 / 23.040).
 *
 * GSM-7: 160 septets in one message; concatenated messages carry a 6-octet UDH, leaving 153 septets
 * each. Characters of the extension table (`^{}\[~]|€` and form feed) take two septets (ESC + char)
 * and an escape pair is never split across two segments.
 * UCS-2: any character outside GSM-7 switches the whole message to UCS-2: 70 UTF-16 code units in
 * one message, 67 per segment when concatenated; a surrogate pair (emoji) is never split.
 * `cn` is the rule Chinese carriers and Aliyun bill by: 70 characters in one message, 67 per segment
 * when longer, whatever the characters (the signature 【…】 counts too).
 *
 * The one segment rule of the product: the SMS channels price by it and the composer's counter
 * shows it (`smsSegmentRuleOf` picks the rule for a provider).
 */

const GSM7_BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
const GSM7_EXTENSION = '^{}\\[~]|€\f';

const basic = new Set(GSM7_BASIC);
const extension = new Set(GSM7_EXTENSION);

export type SmsEncoding = 'GSM-7' | 'UCS-2';
export type SegmentRule = 'gsm' | 'cn';

export interface SegmentCount {
  encoding: SmsEncoding;
  /** How many SMS the text is sent as (at least 1). */
  segments: number;
  /** Septets (GSM-7) or UTF-16 code units (UCS-2); characters under the `cn` rule. */
  units: number;
  /** Units per segment for this length (160/153, 70/67). */
  perSegment: number;
}

/** True when every character of the text exists in the GSM-7 default alphabet or its extension. */
export function isGsm7(text: string): boolean {
  for (const ch of text) if (!basic.has(ch) && !extension.has(ch)) return false;
  return true;
}

/** Septets of a GSM-7 text (extension characters count two). */
export function gsm7Length(text: string): number {
  let n = 0;
  for (const ch of text) n += extension.has(ch) ? 2 : 1;
  return n;
}

/** Fills segments of `cap` units from items of size 1 or 2 without splitting an item. */
function pack(sizes: number[], cap: number): number {
  let segments = 1;
  let used = 0;
  for (const s of sizes) {
    if (used + s > cap) {
      segments++;
      used = 0;
    }
    used += s;
  }
  return segments;
}

export function countSegments(text: string, rule: SegmentRule = 'gsm'): SegmentCount {
  if (rule === 'cn') {
    const units = [...text].length;
    if (units <= 70) return { encoding: isGsm7(text) ? 'GSM-7' : 'UCS-2', segments: 1, units, perSegment: 70 };
    return { encoding: isGsm7(text) ? 'GSM-7' : 'UCS-2', segments: Math.ceil(units / 67), units, perSegment: 67 };
  }
  if (isGsm7(text)) {
    const sizes = [...text].map((ch) => (extension.has(ch) ? 2 : 1));
    const units = sizes.reduce((a, b) => a + b, 0);
    if (units <= 160) return { encoding: 'GSM-7', segments: 1, units, perSegment: 160 };
    return { encoding: 'GSM-7', segments: pack(sizes, 153), units, perSegment: 153 };
  }
  // UCS-2 (really UTF-16: characters outside the BMP take a surrogate pair, two units).
  const sizes = [...text].map((ch) => ch.length);
  const units = text.length;
  if (units <= 70) return { encoding: 'UCS-2', segments: 1, units, perSegment: 70 };
  return { encoding: 'UCS-2', segments: pack(sizes, 67), units, perSegment: 67 };
}

/** The cost of a message: segments × the configured price per segment (rounded to 1e-6). */
export function smsCost(segments: number, pricePerSegment: number, currency: string): { amount: number; currency: string; units: number } {
  return { amount: Math.round(segments * pricePerSegment * 1e6) / 1e6, currency, units: segments };
}

/** The segment rule an SMS provider bills by: Aliyun counts characters (70/67), the others GSM-7/UCS-2. */
export function smsSegmentRuleOf(provider: string | null | undefined): SegmentRule {
  return provider === 'aliyun' ? 'cn' : 'gsm';
}

/** What the composer shows while typing an SMS: the count, and how many units the last segment still takes. */
export interface SmsCounter extends SegmentCount {
  /** Units left in the current (last) segment before another one starts. */
  remaining: number;
}

export function smsCounter(text: string, rule: SegmentRule = 'gsm'): SmsCounter {
  const c = countSegments(text, rule);
  return { ...c, remaining: Math.max(0, c.segments * c.perSegment - c.units) };
}

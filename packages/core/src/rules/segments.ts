import { z } from 'zod';
import { Channel, Id, Millis, type Contact } from '../domain/model.js';
import { assertNever } from '../util/assert.js';

/**
 * [segments] Segments of customers defined by rules on their attributes, identities and last
 * contact: the ONE evaluation used by the server (the segment's contact list, offers) and by the
 * devices offline (the tags of the contact panel, the composer's offers). Pure.
 */
export const SEGMENT_ATTRIBUTE_OPS = ['eq', 'neq', 'contains', 'in', 'gt', 'gte', 'lt', 'lte', 'set', 'unset'] as const;
export const SegmentAttributeOp = z.enum(SEGMENT_ATTRIBUTE_OPS);
export type SegmentAttributeOp = z.infer<typeof SegmentAttributeOp>;

const Key = z.string().min(1).max(64);

export const SegmentCondition = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('attribute'),
      key: Key,
      op: SegmentAttributeOp,
      /** eq/neq/contains/gt/gte/lt/lte: the value compared (numbers compare as numbers, `YYYY-MM-DD` dates as dates). */
      value: z.string().max(200).optional(),
      /** in: the list. */
      values: z.array(z.string().max(200)).max(100).optional(),
    })
    .strict()
    .superRefine((c, ctx) => {
      if (c.op === 'in' && !(c.values && c.values.length > 0)) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['values'], message: '`in` needs a list of values' });
      if (c.op !== 'in' && c.op !== 'set' && c.op !== 'unset' && c.value === undefined) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['value'], message: `\`${c.op}\` needs a value` });
    }),
  /** The contact has an identity (phone, email, IM id) on this channel. */
  z.object({ kind: z.literal('identity'), channel: Channel }).strict(),
  /** The contact's latest conversation activity is within the last N days. */
  z.object({ kind: z.literal('last_contacted'), withinDays: z.number().int().min(1).max(3650) }).strict(),
]);
export type SegmentCondition = z.infer<typeof SegmentCondition>;

export const SegmentRuleSet = z
  .object({
    /** all: every condition holds (AND); any: at least one (OR). */
    match: z.enum(['all', 'any']),
    conditions: z.array(SegmentCondition).min(1).max(20),
  })
  .strict();
export type SegmentRuleSet = z.infer<typeof SegmentRuleSet>;

export const SegmentInput = z
  .object({
    name: z.string().trim().min(1).max(100),
    description: z.string().trim().max(500).default(''),
    rule: SegmentRuleSet,
  })
  .strict();
export type SegmentInput = z.infer<typeof SegmentInput>;

export const Segment = z.object({
  id: Id,
  tenantId: Id,
  name: z.string(),
  description: z.string(),
  rule: SegmentRuleSet,
  createdAt: Millis,
  updatedAt: Millis,
});
export type Segment = z.infer<typeof Segment>;

/** What a segment is evaluated on. */
export interface SegmentSubject {
  contact: Pick<Contact, 'attributes' | 'identities'>;
  /** The latest activity (last message) of any of the contact's conversations; null when none is known. */
  lastContactedAt: number | null;
  now: number;
}

const DAY_MS = 86_400_000;
const NUMBER_RE = /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i;
const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;
const fold = (s: string) => s.trim().toLowerCase();

/** a < b: -1, equal: 0, a > b: 1; null when the two are not both numbers or both dates. */
export function compareValues(a: string, b: string): -1 | 0 | 1 | null {
  const x = a.trim();
  const y = b.trim();
  if (NUMBER_RE.test(x) && NUMBER_RE.test(y)) {
    const d = Number(x) - Number(y);
    return d < 0 ? -1 : d > 0 ? 1 : 0;
  }
  if (DATE_RE.test(x) && DATE_RE.test(y)) return x < y ? -1 : x > y ? 1 : 0;
  return null;
}

/** Equality of two attribute values: numbers by value, anything else trimmed and case-folded. */
function same(a: string, b: string): boolean {
  const c = compareValues(a, b);
  return c !== null ? c === 0 : fold(a) === fold(b);
}

export function conditionHolds(c: SegmentCondition, s: SegmentSubject): boolean {
  switch (c.kind) {
    case 'attribute': {
      const raw = s.contact.attributes[c.key];
      const v = raw === undefined || raw.trim() === '' ? undefined : raw;
      switch (c.op) {
        case 'set':
          return v !== undefined;
        case 'unset':
          return v === undefined;
        case 'eq':
          return v !== undefined && same(v, c.value ?? '');
        case 'neq':
          return v === undefined || !same(v, c.value ?? '');
        case 'contains':
          return v !== undefined && fold(v).includes(fold(c.value ?? ''));
        case 'in':
          return v !== undefined && (c.values ?? []).some((x) => same(v, x));
        case 'gt':
        case 'gte':
        case 'lt':
        case 'lte': {
          if (v === undefined) return false;
          const cmp = compareValues(v, c.value ?? '');
          if (cmp === null) return false;
          return c.op === 'gt' ? cmp > 0 : c.op === 'gte' ? cmp >= 0 : c.op === 'lt' ? cmp < 0 : cmp <= 0;
        }
        default:
          return assertNever(c.op, 'segment operator');
      }
    }
    case 'identity':
      return s.contact.identities.some((i) => i.channel === c.channel);
    case 'last_contacted':
      return s.lastContactedAt !== null && s.lastContactedAt <= s.now && s.now - s.lastContactedAt <= c.withinDays * DAY_MS;
    default:
      return assertNever(c, 'segment condition');
  }
}

/** Whether a contact is in a segment. */
export function matchesSegment(rule: SegmentRuleSet, s: SegmentSubject): boolean {
  return rule.match === 'all' ? rule.conditions.every((c) => conditionHolds(c, s)) : rule.conditions.some((c) => conditionHolds(c, s));
}

/** The segments a contact is in, in the given order. */
export function segmentsOf<T extends Pick<Segment, 'rule'>>(segments: readonly T[], s: SegmentSubject): T[] {
  return segments.filter((g) => matchesSegment(g.rule, s));
}

/** The attribute keys a rule reads (to tell an admin which fields a segment depends on). */
export function segmentKeys(rule: SegmentRuleSet): string[] {
  return [...new Set(rule.conditions.flatMap((c) => (c.kind === 'attribute' ? [c.key] : [])))];
}

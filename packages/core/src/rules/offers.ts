import { z } from 'zod';
import { Id, Millis } from '../domain/model.js';
import { matchesSegment, type Segment, type SegmentSubject } from './segments.js';

/**
 * [offers] Targeted offers: an admin's text for the customers of one segment, live within a
 * validity window. Which offers the composer suggests for a customer is decided here, once, for the
 * server and for the devices (which cache the offers like canned responses). Using one is a fact:
 * a reply sent with `offerId` (core `SendReply`), counted in the reports.
 */
const Text = z.string().trim().max(2000);

const OfferBody = z
  .object({
    title: z.string().trim().min(1).max(200),
    /** One text for every language... */
    text: Text.nullable().default(null),
    /** ...or one per interface language (either may be missing: the other or `text` is used). */
    textZh: Text.nullable().default(null),
    textEn: Text.nullable().default(null),
    segmentId: Id,
    validFrom: Millis.nullable().default(null),
    validTo: Millis.nullable().default(null),
    active: z.boolean().default(true),
  })
  .strict();

function refineOffer(o: { text?: string | null; textZh?: string | null; textEn?: string | null; validFrom?: number | null; validTo?: number | null }, ctx: z.RefinementCtx): void {
  if (!o.text && !o.textZh && !o.textEn) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['text'], message: 'an offer needs a text (or a Chinese or English text)' });
  if (o.validFrom != null && o.validTo != null && o.validTo <= o.validFrom) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['validTo'], message: 'validTo must be after validFrom' });
}

export const OfferInput = OfferBody.superRefine(refineOffer);
export type OfferInput = z.infer<typeof OfferInput>;
export const OfferPatch = OfferBody.partial().strict();
export type OfferPatch = z.infer<typeof OfferPatch>;

export const Offer = z.object({
  id: Id,
  tenantId: Id,
  title: z.string(),
  text: z.string().nullable(),
  textZh: z.string().nullable(),
  textEn: z.string().nullable(),
  segmentId: Id,
  validFrom: Millis.nullable(),
  validTo: Millis.nullable(),
  active: z.boolean(),
  createdAt: Millis,
  updatedAt: Millis,
});
export type Offer = z.infer<typeof Offer>;

/** A patch applied to an offer, checked as a whole (an edit must leave a valid offer). */
export function patchedOffer(cur: OfferInput, patch: OfferPatch): { ok: true; offer: OfferInput } | { ok: false; message: string } {
  const r = OfferInput.safeParse({ ...cur, ...patch });
  return r.success ? { ok: true, offer: r.data } : { ok: false, message: r.error.issues.map((i) => `${i.path.join('.') || 'offer'}: ${i.message}`).join('; ') };
}

/** The offer's text for the interface language (Chinese for `zh*`), falling back to the other texts. */
export function offerText(o: Pick<Offer, 'text' | 'textZh' | 'textEn'>, locale: string): string {
  const zh = locale.toLowerCase().startsWith('zh');
  return (zh ? (o.textZh || o.text || o.textEn) : (o.textEn || o.text || o.textZh)) ?? '';
}

/** Whether an offer may be used at `now`: active and within its window (from inclusive, to exclusive). */
export function isOfferLive(o: Pick<Offer, 'active' | 'validFrom' | 'validTo'>, now: number): boolean {
  return o.active && (o.validFrom === null || now >= o.validFrom) && (o.validTo === null || now < o.validTo);
}

/**
 * The offers to suggest for a customer: live ones whose segment the customer is in, soonest ending
 * first (then by title). An offer whose segment is unknown (deleted) is never suggested.
 */
export function offersFor<O extends Pick<Offer, 'active' | 'validFrom' | 'validTo' | 'segmentId' | 'title'>>(
  offers: readonly O[],
  segments: readonly Pick<Segment, 'id' | 'rule'>[],
  subject: SegmentSubject,
): O[] {
  const byId = new Map(segments.map((s) => [s.id, s]));
  const memo = new Map<string, boolean>();
  const inSegment = (id: string): boolean => {
    if (!memo.has(id)) {
      const seg = byId.get(id);
      memo.set(id, seg !== undefined && matchesSegment(seg.rule, subject));
    }
    return memo.get(id)!;
  };
  return offers
    .filter((o) => isOfferLive(o, subject.now) && inSegment(o.segmentId))
    .sort((a, b) => (a.validTo ?? Infinity) - (b.validTo ?? Infinity) || a.title.localeCompare(b.title));
}

/** One row of the offers report. */
export interface OfferUsageRow {
  offerId: string;
  title: string;
  uses: number;
  conversations: number;
  agents: number;
}

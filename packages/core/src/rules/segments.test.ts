import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { compareValues, conditionHolds, matchesSegment, SegmentInput, segmentsOf, type SegmentCondition, type SegmentRuleSet, type SegmentSubject } from './segments.js';
import { isOfferLive, offersFor, offerText, OfferInput, patchedOffer, type Offer } from './offers.js';
import { conditionsHold } from './automation.js';
import type { Conversation } from '../domain/model.js';

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 11, 3, 12);
const subject = (attributes: Record<string, string>, over: Partial<SegmentSubject> = {}): SegmentSubject => ({
  contact: { attributes, identities: [] },
  lastContactedAt: null,
  now: NOW,
  ...over,
});
const attr = (key: string, op: Extract<SegmentCondition, { kind: 'attribute' }>['op'], value?: string, values?: string[]): SegmentCondition => ({
  kind: 'attribute', key, op, ...(value !== undefined ? { value } : {}), ...(values ? { values } : {}),
});

describe('segments: one rule for server and devices', () => {
  it('vip = true AND city = 上海', () => {
    const rule: SegmentRuleSet = { match: 'all', conditions: [attr('vip', 'eq', 'true'), attr('city', 'eq', '上海')] };
    expect(matchesSegment(rule, subject({ vip: 'true', city: '上海' }))).toBe(true);
    expect(matchesSegment(rule, subject({ vip: 'TRUE', city: ' 上海 ' }))).toBe(true);
    expect(matchesSegment(rule, subject({ vip: 'false', city: '上海' }))).toBe(false);
    expect(matchesSegment(rule, subject({ vip: 'true' }))).toBe(false);
    expect(matchesSegment({ ...rule, match: 'any' }, subject({ vip: 'false', city: '上海' }))).toBe(true);
  });

  it('compares numbers as numbers and dates as dates, never text with numbers', () => {
    expect(conditionHolds(attr('spend', 'gt', '1000'), subject({ spend: '999.5' }))).toBe(false);
    expect(conditionHolds(attr('spend', 'gt', '1000'), subject({ spend: '10000' }))).toBe(true); // "10000" < "1000" as text
    expect(conditionHolds(attr('spend', 'gte', '1e3'), subject({ spend: '1000' }))).toBe(true);
    expect(conditionHolds(attr('spend', 'eq', '1000'), subject({ spend: '1000.0' }))).toBe(true);
    expect(conditionHolds(attr('spend', 'lt', '10'), subject({ spend: 'abc' }))).toBe(false);
    expect(conditionHolds(attr('since', 'lt', '2026-01-01'), subject({ since: '2025-12-31' }))).toBe(true);
    expect(conditionHolds(attr('since', 'lte', '2026-01-01'), subject({ since: '2026-02-01' }))).toBe(false);
  });

  it('contains, in list, set, unset and neq', () => {
    expect(conditionHolds(attr('note', 'contains', 'GOLD'), subject({ note: 'gold member' }))).toBe(true);
    expect(conditionHolds(attr('city', 'in', undefined, ['北京', '上海']), subject({ city: '上海' }))).toBe(true);
    expect(conditionHolds(attr('city', 'in', undefined, ['北京', '上海']), subject({ city: '广州' }))).toBe(false);
    expect(conditionHolds(attr('city', 'set'), subject({ city: '' }))).toBe(false);
    expect(conditionHolds(attr('city', 'unset'), subject({}))).toBe(true);
    expect(conditionHolds(attr('city', 'neq', '上海'), subject({}))).toBe(true);
    expect(conditionHolds(attr('city', 'neq', '上海'), subject({ city: '上海' }))).toBe(false);
  });

  it('identity on a channel and last contacted within N days', () => {
    const s = subject({}, { contact: { attributes: {}, identities: [{ channel: 'sms', identifier: '+8613800138000' }] }, lastContactedAt: NOW - 3 * DAY });
    expect(conditionHolds({ kind: 'identity', channel: 'sms' }, s)).toBe(true);
    expect(conditionHolds({ kind: 'identity', channel: 'email' }, s)).toBe(false);
    expect(conditionHolds({ kind: 'last_contacted', withinDays: 3 }, s)).toBe(true);
    expect(conditionHolds({ kind: 'last_contacted', withinDays: 2 }, s)).toBe(false);
    expect(conditionHolds({ kind: 'last_contacted', withinDays: 2 }, subject({}))).toBe(false);
  });

  it('refuses malformed segments at the boundary', () => {
    expect(SegmentInput.safeParse({ name: 'x', rule: { match: 'all', conditions: [] } }).success).toBe(false);
    expect(SegmentInput.safeParse({ name: 'x', rule: { match: 'all', conditions: [{ kind: 'attribute', key: 'a', op: 'in' }] } }).success).toBe(false);
    expect(SegmentInput.safeParse({ name: 'x', rule: { match: 'all', conditions: [{ kind: 'attribute', key: 'a', op: 'gt' }] } }).success).toBe(false);
    expect(SegmentInput.safeParse({ name: 'x', rule: { match: 'all', conditions: [{ kind: 'identity', channel: 'fax' }] } }).success).toBe(false);
    expect(SegmentInput.safeParse({ name: 'x', rule: { match: 'all', conditions: [{ kind: 'attribute', key: 'a', op: 'set' }] } }).success).toBe(true);
  });

  // ----- properties -----
  const value = fc.oneof(fc.constantFrom('', 'true', 'false', '上海', '北京', 'gold', '2026-01-01'), fc.integer({ min: -1000, max: 1000 }).map(String), fc.string({ maxLength: 6 }));
  const attrs = fc.dictionary(fc.constantFrom('vip', 'city', 'spend', 'since'), value, { maxKeys: 4 });
  const cond: fc.Arbitrary<SegmentCondition> = fc.oneof(
    fc.record({ kind: fc.constant('attribute' as const), key: fc.constantFrom('vip', 'city', 'spend', 'since'), op: fc.constantFrom('eq', 'neq', 'contains', 'gt', 'gte', 'lt', 'lte', 'set', 'unset' as const), value }),
    fc.record({ kind: fc.constant('attribute' as const), key: fc.constantFrom('vip', 'city'), op: fc.constant('in' as const), values: fc.array(value, { minLength: 1, maxLength: 3 }) }),
    fc.record({ kind: fc.constant('identity' as const), channel: fc.constantFrom('sms' as const, 'email' as const, 'voice' as const) }),
    fc.record({ kind: fc.constant('last_contacted' as const), withinDays: fc.integer({ min: 1, max: 30 }) }),
  );
  const subj: fc.Arbitrary<SegmentSubject> = fc.record({
    contact: fc.record({ attributes: attrs, identities: fc.array(fc.record({ channel: fc.constantFrom('sms' as const, 'email' as const), identifier: fc.constant('x') }), { maxLength: 2 }) }),
    lastContactedAt: fc.option(fc.integer({ min: NOW - 60 * DAY, max: NOW }), { nil: null }),
    now: fc.constant(NOW),
  });

  it('all is the conjunction and any the disjunction of the conditions (property)', () => {
    fc.assert(fc.property(fc.array(cond, { minLength: 1, maxLength: 6 }), subj, (conditions, s) => {
      const each = conditions.map((c) => conditionHolds(c, s));
      expect(matchesSegment({ match: 'all', conditions }, s)).toBe(each.every(Boolean));
      expect(matchesSegment({ match: 'any', conditions }, s)).toBe(each.some(Boolean));
    }));
  });

  it('neq is the negation of eq, unset of set; gt and lte never both hold (property)', () => {
    fc.assert(fc.property(fc.constantFrom('vip', 'city', 'spend'), value, subj, (key, v, s) => {
      expect(conditionHolds(attr(key, 'neq', v), s)).toBe(!conditionHolds(attr(key, 'eq', v), s));
      expect(conditionHolds(attr(key, 'unset'), s)).toBe(!conditionHolds(attr(key, 'set'), s));
      expect(conditionHolds(attr(key, 'gt', v), s) && conditionHolds(attr(key, 'lte', v), s)).toBe(false);
      expect(conditionHolds(attr(key, 'in', undefined, [v]), s)).toBe(conditionHolds(attr(key, 'eq', v), s));
    }));
  });

  it('number comparison is antisymmetric and agrees with Number (property)', () => {
    fc.assert(fc.property(fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e9, max: 1e9 }), fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e9, max: 1e9 }), (a, b) => {
      const x = String(a);
      const y = String(b);
      const c = compareValues(x, y);
      expect(c).toBe(a < b ? -1 : a > b ? 1 : 0);
      expect(compareValues(y, x)).toBe(c === null ? null : c === 0 ? 0 : -c);
    }));
  });

  it('segmentsOf keeps exactly the matching segments, in order (property)', () => {
    fc.assert(fc.property(fc.array(fc.record({ id: fc.uuid(), rule: fc.record({ match: fc.constantFrom('all' as const, 'any' as const), conditions: fc.array(cond, { minLength: 1, maxLength: 3 }) }) }), { maxLength: 5 }), subj, (segs, s) => {
      expect(segmentsOf(segs, s)).toEqual(segs.filter((g) => matchesSegment(g.rule, s)));
    }));
  });
});

describe('offers', () => {
  const seg = { id: 'seg-vip', rule: { match: 'all' as const, conditions: [attr('vip', 'eq', 'true')] } };
  const offer = (over: Partial<Offer>): Offer => ({
    id: 'o1', tenantId: 't', title: 'VIP', text: null, textZh: '尊享九折', textEn: '10% off', segmentId: 'seg-vip', validFrom: null, validTo: null, active: true, createdAt: 0, updatedAt: 0, ...over,
  });

  it('suggests live offers of the segments the customer is in, soonest ending first', () => {
    const offers = [
      offer({ id: 'a', title: 'A' }),
      offer({ id: 'b', title: 'B', validTo: NOW + DAY }),
      offer({ id: 'c', title: 'C', active: false }),
      offer({ id: 'd', title: 'D', validFrom: NOW + DAY }),
      offer({ id: 'e', title: 'E', validTo: NOW }),
      offer({ id: 'f', title: 'F', segmentId: 'gone' }),
    ];
    expect(offersFor(offers, [seg], subject({ vip: 'true' })).map((o) => o.id)).toEqual(['b', 'a']);
    expect(offersFor(offers, [seg], subject({ vip: 'false' }))).toEqual([]);
  });

  it('the window is from inclusive, to exclusive', () => {
    expect(isOfferLive(offer({ validFrom: NOW }), NOW)).toBe(true);
    expect(isOfferLive(offer({ validTo: NOW }), NOW)).toBe(false);
  });

  it('texts per language fall back to the single text and the other language', () => {
    expect(offerText(offer({}), 'zh-CN')).toBe('尊享九折');
    expect(offerText(offer({}), 'en')).toBe('10% off');
    expect(offerText(offer({ textEn: null, text: 'Same for all' }), 'en')).toBe('Same for all');
    expect(offerText(offer({ textEn: null }), 'en')).toBe('尊享九折');
  });

  it('an offer needs a text and a window that ends after it starts, also after a patch', () => {
    expect(OfferInput.safeParse({ title: 'x', segmentId: 'seg' }).success).toBe(false);
    expect(OfferInput.safeParse({ title: 'x', segmentId: 'seg', text: 'hi', validFrom: 10, validTo: 5 }).success).toBe(false);
    const ok = OfferInput.parse({ title: 'x', segmentId: 'seg', textZh: '你好' });
    expect(ok.active).toBe(true);
    expect(patchedOffer(ok, { textZh: null }).ok).toBe(false);
    expect(patchedOffer(ok, { textEn: 'hi' }).ok).toBe(true);
  });
});

describe('automation: segment membership as a condition', () => {
  const seg = { id: 'seg', rule: { match: 'all' as const, conditions: [attr('vip', 'eq', 'true')] } };
  const conversation = { lastMessageAt: NOW } as Conversation;
  const base = { conversation, message: null, calendar: null, segments: [seg] };
  it('in / not_in the segment, by core matchesSegment', () => {
    const c = (attributes: Record<string, string>) => ({ id: 'c', tenantId: 't', name: 'x', identities: [], attributes, createdAt: 0, updatedAt: 0, seq: 1 });
    const inSeg = { match: 'all' as const, items: [{ field: 'segment' as const, op: 'in' as const, segmentIds: ['seg'] }] };
    const notIn = { match: 'all' as const, items: [{ field: 'segment' as const, op: 'not_in' as const, segmentIds: ['seg'] }] };
    expect(conditionsHold(inSeg, { ...base, contact: c({ vip: 'true' }) }, NOW)).toBe(true);
    expect(conditionsHold(inSeg, { ...base, contact: c({ vip: 'no' }) }, NOW)).toBe(false);
    expect(conditionsHold(notIn, { ...base, contact: c({ vip: 'no' }) }, NOW)).toBe(true);
    expect(conditionsHold(inSeg, { ...base, contact: null }, NOW)).toBe(false);
    expect(conditionsHold(inSeg, { ...base, segments: [], contact: c({ vip: 'true' }) }, NOW)).toBe(false); // a deleted segment holds no one
  });
});

import { describe, expect, it } from 'vitest';
import {
  HISTOGRAM_EXACT_BELOW,
  HISTOGRAM_MAX_RELATIVE_ERROR,
  histogramAdd,
  histogramAddBucket,
  histogramBucketLower,
  histogramBucketOf,
  histogramCount,
  histogramDistribution,
  histogramOf,
  histogramQuantile,
  mergeHistograms,
  type Histogram,
} from './reportHistogram.js';
import { distribution, percentile } from './reports.js';
import { seededRandom } from '../testing/fixtures.js';


const YEAR_S = 366 * 86_400;

describe('report histogram buckets', () => {
  it('has one bucket per second below 40 s, then 2.5 % wide buckets, monotonic, past a year', () => {
    for (let s = 0; s < HISTOGRAM_EXACT_BELOW; s += 1) expect(histogramBucketOf(s)).toBe(s);
    expect(histogramBucketOf(39.9)).toBe(39);
    expect(histogramBucketOf(40)).toBe(40);
    let prev = -1;
    for (let i = 0; i < 700; i += 1) {
      const lo = histogramBucketLower(i);
      const hi = histogramBucketLower(i + 1);
      expect(hi).toBeGreaterThan(lo);
      if (i >= HISTOGRAM_EXACT_BELOW) expect(hi / lo).toBeCloseTo(1.025, 9);
      expect(histogramBucketOf(lo)).toBe(i);
      expect(histogramBucketOf(hi - 1e-6 * hi)).toBe(i);
      expect(i).toBeGreaterThan(prev);
      prev = i;
    }
    expect(histogramBucketOf(YEAR_S)).toBeLessThan(600);
    expect(histogramBucketOf(10 * YEAR_S)).toBeGreaterThan(histogramBucketOf(YEAR_S));
  });

  it('puts zero, negative and non-finite durations in bucket 0', () => {
    expect(histogramBucketOf(0)).toBe(0);
    expect(histogramBucketOf(-5)).toBe(0);
    expect(histogramBucketOf(Number.NaN)).toBe(0);
    const h = histogramOf([-3, 0]);
    expect(h.get(0)).toEqual({ count: 2, min: 0, max: 0 });
  });
});

describe('report histogram quantiles', () => {
  it('answers null for no durations and the value itself for one', () => {
    expect(histogramQuantile(new Map(), 50)).toBeNull();
    expect(histogramDistribution(new Map())).toEqual({ count: 0, medianS: null, p90S: null });
    for (const v of [0, 1, 39, 40, 125, 3_600, YEAR_S + 17]) {
      expect(histogramDistribution(histogramOf([v]))).toEqual({ count: 1, medianS: v, p90S: v });
    }
  });

  it('is exact for zeros, for whole seconds below 40 and for buckets holding one distinct value', () => {
    expect(histogramDistribution(histogramOf([0, 0, 0]))).toEqual({ count: 3, medianS: 0, p90S: 0 });
    const small = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 35, 8, 9, 7, 9, 3, 2, 3, 8];
    expect(histogramDistribution(histogramOf(small))).toEqual(distribution(small));
    const few = [30, 60, 180, 600, 1800, 125, 300];
    expect(histogramDistribution(histogramOf(few))).toEqual(distribution(few));
    for (const p of [1, 10, 25, 50, 75, 90, 99, 100]) expect(histogramQuantile(histogramOf(few), p)).toBe(percentile([...few].sort((a, b) => a - b), p));
  });

  it('stays within the documented relative error of the exact percentile on random data (property)', () => {
    const r = seededRandom(11);
    const shapes: Array<[string, () => number]> = [
      ['uniform to a day', () => Math.floor(r() * 86_400)],
      ['log-uniform to a year', () => Math.floor(Math.exp(r() * Math.log(YEAR_S)))],
      ['exponential, mean 5 min', () => Math.round(-300 * Math.log(1 - r()))],
      ['mostly zero', () => (r() < 0.7 ? 0 : Math.floor(r() * 10_000))],
      ['real-valued', () => r() * 5_000],
    ];
    for (let trial = 0; trial < 60; trial += 1) {
      const [name, gen] = shapes[trial % shapes.length]!;
      const n = 1 + Math.floor(r() * (trial < 30 ? 50 : 5_000));
      const values = Array.from({ length: n }, gen);
      const sorted = [...values].sort((a, b) => a - b);
      const h = histogramOf(values);
      expect(histogramCount(h)).toBe(n);
      for (const p of [1, 10, 50, 90, 95, 99, 100]) {
        const exact = percentile(sorted, p)!;
        const est = histogramQuantile(h, p)!;
        const err = Math.abs(est - exact);
        expect(err, `${name}, n=${n}, p${p}: exact ${exact}, estimated ${est}`).toBeLessThanOrEqual(exact < HISTOGRAM_EXACT_BELOW ? 1 : exact * HISTOGRAM_MAX_RELATIVE_ERROR);
      }
      // Rounded to whole seconds (what reports show): still within the bound, plus half a second.
      const d = histogramDistribution(h);
      const exact = distribution(values);
      expect(Math.abs(d.medianS! - exact.medianS!)).toBeLessThanOrEqual(Math.max(1, exact.medianS! * HISTOGRAM_MAX_RELATIVE_ERROR + 0.5));
      expect(Math.abs(d.p90S! - exact.p90S!)).toBeLessThanOrEqual(Math.max(1, exact.p90S! * HISTOGRAM_MAX_RELATIVE_ERROR + 0.5));
    }
  });

  it('merges into the histogram of all the values, in any order and grouping', () => {
    const r = seededRandom(7);
    const values = Array.from({ length: 2_000 }, () => Math.floor(Math.exp(r() * 14)));
    const parts: Histogram[] = [histogramOf(values.slice(0, 500)), histogramOf(values.slice(500, 1_200)), histogramOf(values.slice(1_200))];
    const whole = histogramOf(values);
    expect(mergeHistograms(...parts)).toEqual(whole);
    expect(mergeHistograms(parts[2]!, parts[0]!, parts[1]!)).toEqual(whole);
    const viaBuckets: Histogram = new Map();
    for (const p of parts) for (const [i, b] of p) histogramAddBucket(viaBuckets, i, b);
    expect(viaBuckets).toEqual(whole);
    expect(mergeHistograms()).toEqual(new Map());
    // Merging leaves its inputs alone.
    const before = JSON.stringify([...parts[0]!]);
    mergeHistograms(parts[0]!, parts[0]!);
    expect(JSON.stringify([...parts[0]!])).toBe(before);
    expect(histogramAdd(new Map(), 5, 0)).toEqual(new Map());
  });
});

/**
 * [reports] Duration histograms: the percentiles of a report (median, P90) from per-hour bucket counts
 * instead of every duration row, so a year answers from a few hundred buckets.
 *
 * Buckets have fixed boundaries, the same everywhere (the server stores bucket indexes):
 * - bucket `i` for `0 ≤ i < EXACT_BELOW` holds the durations in [i, i + 1) seconds (whole seconds are exact);
 * - above, bucket `EXACT_BELOW + k` holds [EXACT_BELOW·(1 + WIDTH)^k, EXACT_BELOW·(1 + WIDTH)^(k+1)), 2.5 % wide.
 * A year (31.6 M s) is bucket ~590; there is no upper limit (the index grows with the logarithm).
 *
 * Each bucket keeps its count and the smallest and largest duration it holds. A quantile walks the
 * merged buckets to the one holding the nearest rank (the same rank `percentile` uses) and interpolates
 * between that bucket's smallest and largest duration by the rank's place inside it. The answer lies
 * between two durations of the same bucket as the exact nearest-rank percentile, so its error is under
 * the bucket's width: **less than 2.5 % relative** (0 below 40 s and wherever a bucket holds one distinct
 * value, e.g. a handful of durations).
 */

/** Durations below this many seconds get one bucket per second. */
export const HISTOGRAM_EXACT_BELOW = 40;
/** Relative width of the logarithmic buckets. */
export const HISTOGRAM_WIDTH = 0.025;
/** The documented bound on a quantile's relative error (see above). */
export const HISTOGRAM_MAX_RELATIVE_ERROR = HISTOGRAM_WIDTH;

const LOG_STEP = Math.log1p(HISTOGRAM_WIDTH);

/** The lower boundary (seconds, inclusive) of bucket `i`. */
export function histogramBucketLower(i: number): number {
  return i < HISTOGRAM_EXACT_BELOW ? i : HISTOGRAM_EXACT_BELOW * Math.exp((i - HISTOGRAM_EXACT_BELOW) * LOG_STEP);
}

/** The bucket a duration (seconds; negative and non-finite count as 0) falls in. */
export function histogramBucketOf(seconds: number): number {
  const s = Number.isFinite(seconds) && seconds > 0 ? seconds : 0;
  if (s < HISTOGRAM_EXACT_BELOW) return Math.floor(s);
  let i = HISTOGRAM_EXACT_BELOW + Math.floor(Math.log(s / HISTOGRAM_EXACT_BELOW) / LOG_STEP);
  // Floating point at a boundary: settle on lower(i) ≤ s < lower(i + 1).
  while (i > HISTOGRAM_EXACT_BELOW && histogramBucketLower(i) > s) i -= 1;
  while (histogramBucketLower(i + 1) <= s) i += 1;
  return i;
}

export interface HistogramBucket {
  count: number;
  /** Smallest and largest duration (seconds) the bucket holds. */
  min: number;
  max: number;
}

/** Bucket index → bucket. */
export type Histogram = Map<number, HistogramBucket>;

const clampSeconds = (s: number): number => (Number.isFinite(s) && s > 0 ? s : 0);

/** Adds `count` durations of `seconds` (mutates and returns `h`). */
export function histogramAdd(h: Histogram, seconds: number, count = 1): Histogram {
  if (count <= 0) return h;
  const s = clampSeconds(seconds);
  const i = histogramBucketOf(s);
  const b = h.get(i);
  if (b) {
    b.count += count;
    b.min = Math.min(b.min, s);
    b.max = Math.max(b.max, s);
  } else h.set(i, { count, min: s, max: s });
  return h;
}

/** Adds a stored bucket (a row of several hours or dimensions) into `h` (mutates and returns it). */
export function histogramAddBucket(h: Histogram, index: number, b: HistogramBucket): Histogram {
  if (b.count <= 0) return h;
  const cur = h.get(index);
  if (cur) {
    cur.count += b.count;
    cur.min = Math.min(cur.min, b.min);
    cur.max = Math.max(cur.max, b.max);
  } else h.set(index, { ...b });
  return h;
}

/** The histogram of some durations. */
export function histogramOf(values: Iterable<number>): Histogram {
  const h: Histogram = new Map();
  for (const v of values) histogramAdd(h, v);
  return h;
}

/** One histogram of several (none is changed). */
export function mergeHistograms(...hs: readonly Histogram[]): Histogram {
  const out: Histogram = new Map();
  for (const h of hs) for (const [i, b] of h) histogramAddBucket(out, i, b);
  return out;
}

export const histogramCount = (h: Histogram): number => {
  let n = 0;
  for (const b of h.values()) n += b.count;
  return n;
};

/**
 * The p-th percentile (0–100) by nearest rank, as `percentile` defines it on the exact values, estimated
 * from the buckets (relative error < HISTOGRAM_MAX_RELATIVE_ERROR). Null for an empty histogram.
 */
export function histogramQuantile(h: Histogram, p: number): number | null {
  const n = histogramCount(h);
  if (n === 0) return null;
  const rank = Math.min(n, Math.max(1, Math.ceil((p / 100) * n)));
  const indexes = [...h.keys()].sort((a, b) => a - b);
  let before = 0;
  for (const i of indexes) {
    const b = h.get(i)!;
    if (b.count <= 0) continue;
    if (before + b.count >= rank) {
      const k = rank - before; // 1…count inside the bucket
      return b.count === 1 || b.max === b.min ? (k === b.count ? b.max : b.min) : b.min + ((b.max - b.min) * (k - 1)) / (b.count - 1);
    }
    before += b.count;
  }
  return h.get(indexes[indexes.length - 1]!)!.max;
}

/** A report's distribution (count, median, P90) from a histogram; durations rounded to whole seconds. */
export function histogramDistribution(h: Histogram): { count: number; medianS: number | null; p90S: number | null } {
  const round = (v: number | null) => (v === null ? null : Math.round(v));
  return { count: histogramCount(h), medianS: round(histogramQuantile(h, 50)), p90S: round(histogramQuantile(h, 90)) };
}

import { describe, expect, it } from 'vitest';
import { bucketOfStarts, bucketStart, bucketsOf } from './reports.js';
import { seededRandom } from '../testing/fixtures.js';

describe('bucketOfStarts', () => {
  it('places a time in the same hour or local day as bucketStart does, in zones with DST and half-hour offsets', () => {
    const rnd = seededRandom(11);
    const from = Date.UTC(2026, 0, 1, 7, 20);
    const to = Date.UTC(2027, 0, 1, 7, 20);
    for (const tz of ['UTC', 'Asia/Shanghai', 'America/New_York', 'Europe/Berlin', 'Asia/Kolkata', 'Australia/Adelaide']) {
      for (const interval of ['hour', 'day'] as const) {
        const starts = bucketsOf(from, to, interval, tz);
        for (let i = 0; i < 400; i += 1) {
          const at = from + Math.floor(rnd() * (to - from));
          expect(bucketOfStarts(starts, at), `${tz} ${interval} ${new Date(at).toISOString()}`).toBe(bucketStart(at, interval, tz));
        }
        // Before the first bucket: none.
        expect(bucketOfStarts(starts, starts[0]! - 1)).toBeNull();
      }
    }
    expect(bucketOfStarts([], 5)).toBeNull();
  });
});

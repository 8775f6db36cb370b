import { describe, expect, it } from 'vitest';
import { volumeRows, type VolumeSums } from './volume.js';

const sums = (key: string, n: Partial<VolumeSums> = {}): VolumeSums => ({ key, opened: 0, resolved: 0, msgs_in: 0, msgs_out: 0, calls: 0, calls_missed: 0, ...n });

describe('volumeRows', () => {
  it('folds UTC hours into the 24 local hours of the zone, zeros included', () => {
    // 01:00 UTC is 09:00 in Shanghai; 17:00 UTC is 01:00 the next day there.
    const h1 = Date.UTC(2026, 10, 2, 1);
    const rows = volumeRows('hourOfDay', [sums(String(h1), { opened: 2, msgs_in: 3 }), sums(String(h1 + 86_400_000), { opened: 1 }), sums(String(Date.UTC(2026, 10, 2, 17)), { calls: 4, calls_missed: 1 })], 'Asia/Shanghai');
    expect(rows).toHaveLength(24);
    expect(rows.map((r) => r.key)).toEqual(Array.from({ length: 24 }, (_, h) => String(h).padStart(2, '0')));
    expect(rows[9]).toMatchObject({ key: '09', conversationsOpened: 3, messagesIn: 3 });
    expect(rows[1]).toMatchObject({ key: '01', calls: 4, missedCalls: 1 });
    expect(rows.filter((r) => r.conversationsOpened + r.calls > 0).map((r) => r.key)).toEqual(['01', '09']);
    // The same sums in UTC land on other hours.
    expect(volumeRows('hourOfDay', [sums(String(h1), { opened: 2 })], 'UTC')[1]).toMatchObject({ conversationsOpened: 2 });
  });

  it('orders the other groups busiest first, names them and drops empty keys of nothing', () => {
    const rows = volumeRows('inbox', [sums('a', { opened: 1 }), sums('b', { opened: 5, msgs_in: 9 }), sums('c'), sums('', { msgs_out: 2 })], 'UTC', (k) => ({ a: 'Email', b: 'SMS' })[k] ?? null);
    expect(rows.map((r) => [r.key, r.label])).toEqual([['b', 'SMS'], ['', null], ['a', 'Email']]);
  });
});

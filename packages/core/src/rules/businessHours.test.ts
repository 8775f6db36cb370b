import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  addBusinessMillis,
  businessMillisBetween,
  calendarProblem,
  formatOpening,
  isOpen,
  isValidTimeZone,
  localTime,
  nextOpening,
  openIntervals,
  zonedTime,
  type Calendar,
} from './businessHours.js';

const H = 3_600_000;
/** Mon-Fri 09:00-12:00 and 13:00-18:00 in Shanghai; 2026-10-01 (National Day, a Thursday) closed; 2026-12-31 half day. */
const shanghai: Calendar = {
  timeZone: 'Asia/Shanghai',
  weekly: [1, 2, 3, 4, 5].flatMap((day) => [
    { day, open: '09:00', close: '12:00' },
    { day, open: '13:00', close: '18:00' },
  ]),
  holidays: [
    { date: '2026-10-01', name: '国庆节', hours: [] },
    { date: '2026-12-31', name: 'New Year eve', hours: [{ open: '09:00', close: '12:00' }] },
  ],
};
/** Shanghai is UTC+8 all year: local 09:00 is 01:00Z. */
const sh = (iso: string) => Date.parse(`${iso}+08:00`);

describe('business hours', () => {
  it('knows Shanghai wall time and opens on weekdays only', () => {
    expect(localTime(sh('2026-12-03T09:30:00'), 'Asia/Shanghai')).toMatchObject({ year: 2026, month: 12, day: 3, hour: 9, minute: 30, weekday: 4 });
    expect(isOpen(shanghai, sh('2026-12-03T09:30:00'))).toBe(true);
    expect(isOpen(shanghai, sh('2026-12-03T12:30:00'))).toBe(false); // lunch
    expect(isOpen(shanghai, sh('2026-12-03T18:00:00'))).toBe(false); // close is exclusive
    expect(isOpen(shanghai, sh('2026-12-05T10:00:00'))).toBe(false); // Saturday
    expect(isOpen(shanghai, sh('2026-10-01T10:00:00'))).toBe(false); // holiday
    expect(isOpen(shanghai, sh('2026-12-31T11:00:00'))).toBe(true); // half day, morning
    expect(isOpen(shanghai, sh('2026-12-31T14:00:00'))).toBe(false); // half day, afternoon
    expect(isOpen(null, 0)).toBe(true);
  });

  it('names the next opening', () => {
    expect(nextOpening(shanghai, sh('2026-12-04T19:00:00'))).toBe(sh('2026-12-07T09:00:00')); // Friday evening -> Monday
    expect(nextOpening(shanghai, sh('2026-12-03T12:10:00'))).toBe(sh('2026-12-03T13:00:00'));
    expect(nextOpening(shanghai, sh('2026-09-30T18:30:00'))).toBe(sh('2026-10-02T09:00:00')); // over the holiday
    expect(nextOpening(shanghai, sh('2026-12-03T10:00:00'))).toBe(sh('2026-12-03T10:00:00')); // open now
    expect(nextOpening({ timeZone: 'UTC', weekly: [], holidays: [] }, 0)).toBeNull();
    expect(formatOpening(sh('2026-12-07T09:00:00'), 'Asia/Shanghai')).toBe('2026-12-07 09:00 (Asia/Shanghai)');
  });

  it('counts business time and adds it (SLA due dates)', () => {
    // Friday 17:00 + 2 h of business time = Monday 10:00.
    expect(addBusinessMillis(shanghai, sh('2026-12-04T17:00:00'), 2 * H)).toBe(sh('2026-12-07T10:00:00'));
    expect(businessMillisBetween(shanghai, sh('2026-12-04T17:00:00'), sh('2026-12-07T10:00:00'))).toBe(2 * H);
    // A whole week is 5 days x 8 h.
    expect(businessMillisBetween(shanghai, sh('2026-12-07T00:00:00'), sh('2026-12-14T00:00:00'))).toBe(40 * H);
    expect(addBusinessMillis(null, 1000, 5)).toBe(1005);
    expect(businessMillisBetween(null, 10, 4)).toBe(0);
  });

  it('handles daylight saving time (America/New_York, 2026-03-08 and 2026-11-01)', () => {
    const ny: Calendar = { timeZone: 'America/New_York', weekly: [0, 1, 2, 3, 4, 5, 6].map((day) => ({ day, open: '00:00', close: '24:00' })), holidays: [] };
    // The spring-forward Sunday has 23 hours, the fall-back Sunday 25.
    expect(businessMillisBetween(ny, zonedTime(2026, 3, 8, 0, ny.timeZone), zonedTime(2026, 3, 9, 0, ny.timeZone))).toBe(23 * H);
    expect(businessMillisBetween(ny, zonedTime(2026, 11, 1, 0, ny.timeZone), zonedTime(2026, 11, 2, 0, ny.timeZone))).toBe(25 * H);
    // Round the clock, the whole range is one interval.
    expect(openIntervals(ny, zonedTime(2026, 3, 7, 0, ny.timeZone), zonedTime(2026, 3, 10, 0, ny.timeZone))).toHaveLength(1);
    // 09:00 local is 14:00Z before the switch and 13:00Z after it.
    expect(new Date(zonedTime(2026, 3, 6, 9 * 60, ny.timeZone)).toISOString()).toBe('2026-03-06T14:00:00.000Z');
    expect(new Date(zonedTime(2026, 3, 9, 9 * 60, ny.timeZone)).toISOString()).toBe('2026-03-09T13:00:00.000Z');
  });

  it('addBusinessMillis and businessMillisBetween agree (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: sh('2026-01-01T00:00:00'), max: sh('2027-01-01T00:00:00') }), fc.integer({ min: 0, max: 120 * H }), (from, amount) => {
        const due = addBusinessMillis(shanghai, from, amount);
        expect(due).not.toBeNull();
        expect(businessMillisBetween(shanghai, from, due!)).toBe(amount);
        if (amount > 0) expect(isOpen(shanghai, due! - 1)).toBe(true);
      }),
      { numRuns: 60 },
    );
  });

  it('refuses unknown zones, overlapping hours and bad holidays', () => {
    expect(isValidTimeZone('Asia/Shanghai')).toBe(true);
    expect(isValidTimeZone('Mars/Olympus')).toBe(false);
    expect(calendarProblem({ timeZone: 'Mars/Olympus', weekly: [], holidays: [] })).toMatch(/unknown time zone/);
    expect(calendarProblem({ timeZone: 'UTC', weekly: [{ day: 1, open: '09:00', close: '12:00' }, { day: 1, open: '11:00', close: '13:00' }], holidays: [] })).toMatch(/Monday: 09:00-12:00 overlaps 11:00-13:00/);
    expect(calendarProblem({ timeZone: 'UTC', weekly: [{ day: 2, open: '18:00', close: '09:00' }], holidays: [] })).toMatch(/closes before it opens/);
    expect(calendarProblem({ timeZone: 'UTC', weekly: [], holidays: [{ date: '2026-02-30', name: '', hours: [] }] })).toMatch(/not a date/);
    expect(calendarProblem({ timeZone: 'UTC', weekly: [], holidays: [{ date: '2026-05-01', name: '', hours: [] }, { date: '2026-05-01', name: '', hours: [] }] })).toMatch(/twice/);
    expect(calendarProblem(shanghai)).toBeNull();
  });
});

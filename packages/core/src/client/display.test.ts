import { describe, expect, it } from 'vitest';
import { dayOffset, isThemeChoice, isValidSnooze, resolveTheme, snoozeUntil, timeLabel, timeText, type TimeWording } from './display.js';

// Local times (the rules use the device's calendar, whatever its time zone).
const at = (y: number, mo: number, d: number, h = 0, mi = 0) => new Date(y, mo - 1, d, h, mi).getTime();
const NOW = at(2026, 12, 3, 15, 30);

describe('resolveTheme', () => {
  it('keeps a fixed choice and follows the system for "system"', () => {
    expect(resolveTheme('dark', false)).toBe('dark');
    expect(resolveTheme('light', true)).toBe('light');
    expect(resolveTheme('system', true)).toBe('dark');
    expect(resolveTheme('system', false)).toBe('light');
    expect(isThemeChoice('system')).toBe(true);
    expect(isThemeChoice('blue')).toBe(false);
  });
});

describe('timeLabel', () => {
  it('list rows: relative within the hour, then the time today, then calendar words and dates', () => {
    expect(timeLabel(NOW - 20_000, NOW, 'list')).toEqual({ kind: 'justNow' });
    expect(timeLabel(NOW - 3 * 60_000 - 5_000, NOW, 'list')).toEqual({ kind: 'minutesAgo', minutes: 3 });
    expect(timeLabel(NOW - 59 * 60_000, NOW, 'list')).toEqual({ kind: 'minutesAgo', minutes: 59 });
    expect(timeLabel(at(2026, 12, 3, 9, 5), NOW, 'list')).toEqual({ kind: 'today', at: at(2026, 12, 3, 9, 5) });
    expect(timeLabel(at(2026, 12, 2, 23, 59), NOW, 'list').kind).toBe('yesterday');
    expect(timeLabel(at(2026, 11, 20, 10), NOW, 'list').kind).toBe('thisYear');
    expect(timeLabel(at(2025, 12, 31, 10), NOW, 'list').kind).toBe('otherYear');
  });

  it('messages: today shows the clock time, never "minutes ago"', () => {
    expect(timeLabel(NOW - 3 * 60_000, NOW, 'message')).toEqual({ kind: 'today', at: NOW - 3 * 60_000 });
    expect(timeLabel(at(2026, 12, 3, 0, 1), NOW, 'message').kind).toBe('today');
    expect(timeLabel(at(2026, 12, 2, 18), NOW, 'message').kind).toBe('yesterday');
  });

  it('the future (a snooze) names tomorrow and later dates', () => {
    expect(timeLabel(at(2026, 12, 4, 9), NOW, 'message').kind).toBe('tomorrow');
    expect(timeLabel(at(2026, 12, 3, 18), NOW, 'message').kind).toBe('today');
    expect(timeLabel(at(2026, 12, 10, 9), NOW, 'message').kind).toBe('thisYear');
    expect(timeLabel(at(2027, 1, 2, 9), NOW, 'message').kind).toBe('otherYear');
  });

  it('counts calendar days across month and year ends', () => {
    expect(dayOffset(at(2026, 12, 31, 23), at(2027, 1, 1, 1))).toBe(-1);
    expect(dayOffset(at(2026, 3, 1, 0, 30), at(2026, 2, 28, 23))).toBe(1);
    expect(dayOffset(at(2026, 12, 3, 0), at(2026, 12, 3, 23, 59))).toBe(0);
  });
});

describe('timeText', () => {
  const p = (x: number) => String(x).padStart(2, '0');
  const w: TimeWording = {
    justNow: () => 'now',
    minutesAgo: (n) => `${n} min ago`,
    yesterday: () => 'Yesterday',
    yesterdayAt: (time) => `Yesterday ${time}`,
    tomorrowAt: (time) => `Tomorrow ${time}`,
    clock: (ms) => `${p(new Date(ms).getHours())}:${p(new Date(ms).getMinutes())}`,
    day: (ms, withYear) => `${withYear ? `${new Date(ms).getFullYear()}-` : ''}${p(new Date(ms).getMonth() + 1)}-${p(new Date(ms).getDate())}`,
  };
  it('words every label with the app\'s clock and day formats', () => {
    expect(timeText(NOW - 20_000, NOW, 'list', w)).toBe('now');
    expect(timeText(NOW - 3 * 60_000, NOW, 'list', w)).toBe('3 min ago');
    expect(timeText(NOW - 3 * 60_000, NOW, 'message', w)).toBe('15:27');
    expect(timeText(at(2026, 12, 2, 9, 12), NOW, 'list', w)).toBe('Yesterday');
    expect(timeText(at(2026, 12, 2, 9, 12), NOW, 'message', w)).toBe('Yesterday 09:12');
    expect(timeText(at(2026, 12, 4, 9), NOW, 'message', w)).toBe('Tomorrow 09:00');
    expect(timeText(at(2026, 11, 20, 10), NOW, 'list', w)).toBe('11-20');
    expect(timeText(at(2026, 11, 20, 10), NOW, 'message', w)).toBe('11-20 10:00');
    expect(timeText(at(2025, 12, 31, 10), NOW, 'list', w)).toBe('2025-12-31');
  });
});

describe('snooze presets', () => {
  it('an hour from now, tomorrow 09:00 and next Monday 09:00 (local time)', () => {
    expect(snoozeUntil('inOneHour', NOW)).toBe(NOW + 3_600_000);
    expect(snoozeUntil('tomorrowMorning', NOW)).toBe(at(2026, 12, 4, 9));
    // 2026-12-03 is a Thursday: next Monday is the 7th; from a Monday it is a week later.
    expect(snoozeUntil('nextWeek', NOW)).toBe(at(2026, 12, 7, 9));
    expect(snoozeUntil('nextWeek', at(2026, 12, 7, 8))).toBe(at(2026, 12, 14, 9));
    expect(snoozeUntil('tomorrowMorning', at(2026, 12, 31, 22))).toBe(at(2027, 1, 1, 9));
  });
  it('only a time in the future is a valid snooze', () => {
    expect(isValidSnooze(NOW + 3_600_000, NOW)).toBe(true);
    expect(isValidSnooze(NOW - 1, NOW)).toBe(false);
    expect(isValidSnooze(Number.NaN, NOW)).toBe(false);
  });
});

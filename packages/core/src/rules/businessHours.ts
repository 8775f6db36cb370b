import { z } from 'zod';
import { Id, Millis } from '../domain/model.js';

/**
 * Business hours: a weekly schedule and holidays in one IANA time zone. Auto-replies ("we open at
 * …"), SLA clocks (targets counted in business time) and routing read them through the functions
 * below; nothing else computes opening times. A missing calendar (null) means always open.
 *
 * Times of day are local wall-clock "HH:MM" (close may be "24:00"); days are 0 = Sunday … 6 =
 * Saturday, as `Date#getUTCDay`. A holiday closes its local date, or replaces its hours when it
 * names its own intervals (a half day).
 */

const HHMM = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$|^24:00$/, 'time of day must be HH:MM (00:00-24:00)');
const LocalDate = z.string().regex(/^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/, 'date must be YYYY-MM-DD');

export const OpenInterval = z.object({ open: HHMM, close: HHMM });
export type OpenInterval = z.infer<typeof OpenInterval>;

export const WeeklyHours = z.object({ day: z.number().int().min(0).max(6), open: HHMM, close: HHMM });
export type WeeklyHours = z.infer<typeof WeeklyHours>;

export const Holiday = z.object({
  date: LocalDate,
  name: z.string().max(200).default(''),
  /** Special hours for the day; empty: closed all day. */
  hours: z.array(OpenInterval).max(8).default([]),
});
export type Holiday = z.infer<typeof Holiday>;

/** What an admin writes (POST/PATCH /api/v1/business-hours). */
export const BusinessHoursInput = z.object({
  name: z.string().trim().min(1).max(200),
  timeZone: z.string().min(1).max(64),
  weekly: z.array(WeeklyHours).max(7 * 8),
  holidays: z.array(Holiday).max(1000).default([]),
});
export type BusinessHoursInput = z.infer<typeof BusinessHoursInput>;

export const BusinessHours = BusinessHoursInput.extend({
  id: Id,
  tenantId: Id,
  createdAt: Millis,
  updatedAt: Millis,
});
export type BusinessHours = z.infer<typeof BusinessHours>;

/** The part of a calendar the clock functions read. */
export type Calendar = Pick<BusinessHours, 'timeZone' | 'weekly' | 'holidays'>;

const DAY_MS = 86_400_000;
/** How far the functions look for an opening before they answer "never". */
const HORIZON_DAYS = 400;

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** Whether the runtime knows this IANA time zone (e.g. Asia/Shanghai). */
export function isValidTimeZone(timeZone: string): boolean {
  if (!/^[A-Za-z_+\-/0-9]{1,64}$/.test(timeZone)) return false;
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

export interface LocalTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  /** 0 = Sunday. */
  weekday: number;
}

/** The wall-clock time at `at` in the zone. */
export function localTime(at: number, timeZone: string): LocalTime {
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(at))) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  const year = parts['year']!;
  const month = parts['month']!;
  const day = parts['day']!;
  return {
    year,
    month,
    day,
    hour: parts['hour']! % 24,
    minute: parts['minute']!,
    second: parts['second']!,
    weekday: new Date(Date.UTC(year, month - 1, day)).getUTCDay(),
  };
}

/** The zone's offset from UTC at `at`, in ms (Asia/Shanghai: +8 h). */
function offsetAt(at: number, timeZone: string): number {
  const l = localTime(at, timeZone);
  const asUtc = Date.UTC(l.year, l.month - 1, l.day, l.hour, l.minute, l.second);
  return asUtc - Math.floor(at / 1000) * 1000;
}

/**
 * The instant of a local wall-clock time. In a DST gap the time that does not exist maps to the
 * instant the clock jumps over it; in an overlap, to the earlier of the two.
 */
export function zonedTime(year: number, month: number, day: number, minuteOfDay: number, timeZone: string): number {
  const guess = Date.UTC(year, month - 1, day) + minuteOfDay * 60_000;
  const first = guess - offsetAt(guess, timeZone);
  const second = guess - offsetAt(first, timeZone);
  if (second === first) return first;
  // Offsets differ around a transition: take the earlier candidate that maps back to the wall time.
  const candidates = [first, second].sort((a, b) => a - b);
  for (const c of candidates) {
    const l = localTime(c, timeZone);
    if (Date.UTC(l.year, l.month - 1, l.day) + (l.hour * 60 + l.minute) * 60_000 === guess) return c;
  }
  return Math.max(first, second);
}

const minutes = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
const dateKey = (y: number, m: number, d: number): string =>
  `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;

/** The local intervals (minutes of day) of one local date. */
function intervalsOf(cal: Calendar, year: number, month: number, day: number): Array<[number, number]> {
  const key = dateKey(year, month, day);
  const holiday = cal.holidays.find((h) => h.date === key);
  const weekday = new Date(Date.UTC(year, month - 1, day)).getUTCDay();
  const list = holiday ? holiday.hours : cal.weekly.filter((w) => w.day === weekday);
  return list
    .map((i) => [minutes(i.open), minutes(i.close)] as [number, number])
    .filter(([a, b]) => b > a)
    .sort((x, y) => x[0] - y[0]);
}

/**
 * The open intervals [start, end) in UTC ms that overlap [from, to), merged where they touch
 * (Friday 18:00-24:00 and Saturday 00:00-02:00 are one interval).
 */
export function openIntervals(cal: Calendar, from: number, to: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  if (to <= from) return out;
  const start = localTime(from - DAY_MS, cal.timeZone);
  let cursor = Date.UTC(start.year, start.month - 1, start.day);
  const last = to + DAY_MS;
  for (let guard = 0; cursor <= last + DAY_MS && guard < HORIZON_DAYS + 3; guard += 1, cursor += DAY_MS) {
    const d = new Date(cursor);
    const y = d.getUTCFullYear();
    const m = d.getUTCMonth() + 1;
    const day = d.getUTCDate();
    for (const [a, b] of intervalsOf(cal, y, m, day)) {
      const s = zonedTime(y, m, day, a, cal.timeZone);
      const e = zonedTime(y, m, day, b, cal.timeZone);
      const lo = Math.max(s, from);
      const hi = Math.min(e, to);
      if (hi <= lo) continue;
      const prev = out[out.length - 1];
      if (prev && lo <= prev[1]) prev[1] = Math.max(prev[1], hi);
      else out.push([lo, hi]);
    }
  }
  return out;
}

/** Whether the calendar is open at `at` (no calendar: always). */
export function isOpen(cal: Calendar | null, at: number): boolean {
  if (!cal) return true;
  return openIntervals(cal, at, at + 1).length > 0;
}

/** `at` when open, else the next opening within about a year, else null (a calendar with no hours). */
export function nextOpening(cal: Calendar | null, at: number): number | null {
  if (!cal) return at;
  for (let from = at; from < at + HORIZON_DAYS * DAY_MS; from += 14 * DAY_MS) {
    const first = openIntervals(cal, from, from + 14 * DAY_MS)[0];
    if (first) return first[0];
  }
  return null;
}

/** Business time (ms) elapsed between two instants (no calendar: wall time). */
export function businessMillisBetween(cal: Calendar | null, from: number, to: number): number {
  if (to <= from) return 0;
  if (!cal) return to - from;
  let sum = 0;
  // Bounded chunks keep the interval lists short for long spans (a year is 26 chunks).
  for (let a = from; a < to; a += 14 * DAY_MS) {
    for (const [s, e] of openIntervals(cal, a, Math.min(to, a + 14 * DAY_MS))) sum += e - s;
  }
  return sum;
}

/**
 * The instant at which `amount` ms of business time have passed since `from` (SLA due dates):
 * with no calendar, `from + amount`; null when the calendar never opens within about a year.
 */
export function addBusinessMillis(cal: Calendar | null, from: number, amount: number): number | null {
  if (amount <= 0) return from;
  if (!cal) return from + amount;
  let left = amount;
  for (let a = from; a < from + HORIZON_DAYS * DAY_MS; a += 14 * DAY_MS) {
    for (const [s, e] of openIntervals(cal, a, a + 14 * DAY_MS)) {
      if (e - s >= left) return s + left;
      left -= e - s;
    }
  }
  return null;
}

/** Why a calendar cannot be stored (null: it can). */
export function calendarProblem(input: Pick<BusinessHoursInput, 'timeZone' | 'weekly' | 'holidays'>): string | null {
  if (!isValidTimeZone(input.timeZone)) return `unknown time zone "${input.timeZone}" (use an IANA name such as Asia/Shanghai)`;
  const overlap = (list: Array<{ open: string; close: string }>, where: string): string | null => {
    const sorted = [...list].sort((a, b) => minutes(a.open) - minutes(b.open));
    for (const i of sorted) {
      if (minutes(i.close) <= minutes(i.open)) return `${where}: ${i.open}-${i.close} closes before it opens`;
    }
    for (let i = 1; i < sorted.length; i += 1) {
      if (minutes(sorted[i]!.open) < minutes(sorted[i - 1]!.close)) {
        return `${where}: ${sorted[i - 1]!.open}-${sorted[i - 1]!.close} overlaps ${sorted[i]!.open}-${sorted[i]!.close}`;
      }
    }
    return null;
  };
  const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
  for (let day = 0; day < 7; day += 1) {
    const p = overlap(input.weekly.filter((w) => w.day === day), DAYS[day]!);
    if (p) return p;
  }
  const seen = new Set<string>();
  for (const h of input.holidays) {
    if (seen.has(h.date)) return `holiday ${h.date} is listed twice`;
    seen.add(h.date);
    const [y, m, d] = h.date.split('-').map(Number) as [number, number, number];
    const real = new Date(Date.UTC(y, m - 1, d));
    if (real.getUTCMonth() !== m - 1) return `holiday ${h.date} is not a date`;
    const p = overlap(h.hours, `holiday ${h.date}`);
    if (p) return p;
  }
  return null;
}

/** An opening time as the customer reads it, in the calendar's zone: "2026-12-04 09:00 (Asia/Shanghai)". */
export function formatOpening(at: number, timeZone: string): string {
  const l = localTime(at, timeZone);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${l.year}-${pad(l.month)}-${pad(l.day)} ${pad(l.hour)}:${pad(l.minute)} (${timeZone})`;
}

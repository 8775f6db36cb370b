import { timeText, type TimeLabelMode, type TimeWording } from '@goutong/core';

/** The shapes times are written in (one formatter each per locale: building one costs more than using it). */
const CLOCK: Intl.DateTimeFormatOptions = { hour: '2-digit', minute: '2-digit' };
const DAY: Intl.DateTimeFormatOptions = { month: 'short', day: 'numeric' };
const DAY_YEAR: Intl.DateTimeFormatOptions = { year: 'numeric', month: 'short', day: 'numeric' };
const DAY_CLOCK: Intl.DateTimeFormatOptions = { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' };
const formatters = new WeakMap<Intl.DateTimeFormatOptions, Map<string, Intl.DateTimeFormat>>();

/** `new Date(ms).toLocale…String(locale, shape)`, with the formatter kept (a list re-render formats every row). */
function format(ms: number | Date, locale: string, shape: Intl.DateTimeFormatOptions): string {
  let byLocale = formatters.get(shape);
  if (!byLocale) formatters.set(shape, (byLocale = new Map()));
  let f = byLocale.get(locale);
  if (!f) byLocale.set(locale, (f = new Intl.DateTimeFormat(locale, shape)));
  return f.format(ms);
}

/** Short relative age: "now", "5m", "3h", "2d". */
export function shortAge(ms: number, t: (key: string, args?: Record<string, unknown>) => string): string {
  const m = Math.floor(ms / 60_000);
  if (m < 1) return t('time.now');
  if (m < 60) return t('time.m', { n: m });
  const h = Math.floor(m / 60);
  if (h < 48) return t('time.h', { n: h });
  return t('time.d', { n: Math.floor(h / 24) });
}

/** Time today, otherwise the date (with the year when not this year). */
export function timeOfDay(ms: number, locale: string, now = Date.now()): string {
  const d = new Date(ms);
  const n = new Date(now);
  if (d.toDateString() === n.toDateString()) return format(d, locale, CLOCK);
  if (d.getFullYear() === n.getFullYear()) return format(d, locale, DAY);
  return format(d, locale, DAY_YEAR);
}

export function dateTime(ms: number, locale: string): string {
  return format(ms, locale, DAY_CLOCK);
}

/** Splits email-style text into the new part and the quoted tail ("> …" lines or "On … wrote:"). */
export function splitQuoted(text: string): { body: string; quoted: string | null } {
  const lines = text.split('\n');
  const idx = lines.findIndex((l, i) => /^>/.test(l) || (/^(On .+ wrote:|在.+写道：)$/.test(l.trim()) && lines.slice(i + 1).some((x) => x.startsWith('>'))));
  if (idx <= 0) return { body: text, quoted: null };
  return { body: lines.slice(0, idx).join('\n').trimEnd(), quoted: lines.slice(idx).join('\n') };
}

/** How the desktop writes times (core's timeText): the UI language's words, the locale's clock and dates. */
export function timeWording(t: (key: string, args?: Record<string, unknown>) => string, locale: string): TimeWording {
  const clock = (ms: number) => format(ms, locale, CLOCK);
  return {
    justNow: () => t('look.time.justNow'),
    minutesAgo: (n) => t('look.time.minutesAgo', { n }),
    yesterday: () => t('look.time.yesterday'),
    yesterdayAt: (time) => t('look.time.yesterdayAt', { time }),
    tomorrowAt: (time) => t('look.time.tomorrowAt', { time }),
    clock,
    day: (ms, withYear) => format(ms, locale, withYear ? DAY_YEAR : DAY),
  };
}

/** A time as a list row or a message shows it (core's timeText rule, in the UI language). */
export function shownTime(ms: number, mode: TimeLabelMode, t: (key: string, args?: Record<string, unknown>) => string, locale: string, now = Date.now()): string {
  return timeText(ms, now, mode, timeWording(t, locale));
}

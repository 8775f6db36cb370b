import { timeText, type TimeLabelMode, type TimeWording } from '@goutong/core';

/** Short time for lists: HH:MM today, else MM-DD (or YYYY-MM-DD in another year). */
export function shortTime(ms: number, now: number = Date.now()): string {
  const d = new Date(ms);
  const n = new Date(now);
  const p = (x: number) => String(x).padStart(2, '0');
  if (d.toDateString() === n.toDateString()) return `${p(d.getHours())}:${p(d.getMinutes())}`;
  const md = `${p(d.getMonth() + 1)}-${p(d.getDate())}`;
  return d.getFullYear() === n.getFullYear() ? md : `${d.getFullYear()}-${md}`;
}

/** Full local date and time for message bubbles. */
export function fullTime(ms: number): string {
  const d = new Date(ms);
  const p = (x: number) => String(x).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** Index from a uni <picker> change event (detail.value is a number or a numeric string). */
export function pickerIndex(e: unknown): number {
  const v = (e as { detail?: { value?: unknown } }).detail?.value;
  return Number(v ?? 0);
}

/** A file size for people: 980 B, 12 KB, 3.4 MB. */
export function fileSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

type Translate = (key: string, args?: Record<string, unknown>) => string;

/** "14:05" in local time. */
export function clock(ms: number): string {
  const d = new Date(ms);
  const p = (x: number) => String(x).padStart(2, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** How the mobile app writes times (core's timeText): the UI language's words, "14:05" and "12-03" / "2025-12-03". */
export function timeWording(t: Translate): TimeWording {
  return {
    justNow: () => t('look.time.justNow'),
    minutesAgo: (n) => t('look.time.minutesAgo', { n }),
    yesterday: () => t('look.time.yesterday'),
    yesterdayAt: (time) => t('look.time.yesterdayAt', { time }),
    tomorrowAt: (time) => t('look.time.tomorrowAt', { time }),
    clock,
    day: (ms, withYear) => {
      const d = new Date(ms);
      const p = (x: number) => String(x).padStart(2, '0');
      const md = `${p(d.getMonth() + 1)}-${p(d.getDate())}`;
      return withYear ? `${d.getFullYear()}-${md}` : md;
    },
  };
}

/**
 * A time as a list row (`list`: "3 min ago" within the hour, then the time today, "Yesterday", a
 * date) or a message (`message`: the time today, "Yesterday 09:12", a date and time) shows it:
 * core's timeText rule (the same as the desktop), in the UI language.
 */
export function shownTime(ms: number, mode: TimeLabelMode, t: Translate, now: number = Date.now()): string {
  return timeText(ms, now, mode, timeWording(t));
}

/** Short waiting time: "5 min", "3 h", "2 d". */
export function waitingFor(ms: number, t: Translate): string {
  const m = Math.max(0, Math.floor(ms / 60_000));
  if (m < 60) return t('look.age.m', { n: m });
  const h = Math.floor(m / 60);
  if (h < 48) return t('look.age.h', { n: h });
  return t('look.age.d', { n: Math.floor(h / 24) });
}

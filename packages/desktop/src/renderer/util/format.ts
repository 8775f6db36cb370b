import { timeLabel, type TimeLabel, type TimeLabelMode } from '@goutong/core';

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
  if (d.toDateString() === n.toDateString()) return d.toLocaleTimeString(locale, { hour: '2-digit', minute: '2-digit' });
  if (d.getFullYear() === n.getFullYear()) return d.toLocaleDateString(locale, { month: 'short', day: 'numeric' });
  return d.toLocaleDateString(locale, { year: 'numeric', month: 'short', day: 'numeric' });
}

export function dateTime(ms: number, locale: string): string {
  return new Date(ms).toLocaleString(locale, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

/** Splits email-style text into the new part and the quoted tail ("> …" lines or "On … wrote:"). */
export function splitQuoted(text: string): { body: string; quoted: string | null } {
  const lines = text.split('\n');
  const idx = lines.findIndex((l, i) => /^>/.test(l) || (/^(On .+ wrote:|在.+写道：)$/.test(l.trim()) && lines.slice(i + 1).some((x) => x.startsWith('>'))));
  if (idx <= 0) return { body: text, quoted: null };
  return { body: lines.slice(0, idx).join('\n').trimEnd(), quoted: lines.slice(idx).join('\n') };
}

/** Turns core's TimeLabel into words: "3 min ago", "14:05", "Yesterday 09:12", "Nov 20". */
export function formatTimeLabel(label: TimeLabel, mode: TimeLabelMode, t: (key: string, args?: Record<string, unknown>) => string, locale: string): string {
  const clock = (ms: number) => new Date(ms).toLocaleTimeString(locale, { hour: '2-digit', minute: '2-digit' });
  switch (label.kind) {
    case 'justNow':
      return t('look.time.justNow');
    case 'minutesAgo':
      return t('look.time.minutesAgo', { n: label.minutes });
    case 'today':
      return clock(label.at);
    case 'yesterday':
      return mode === 'list' ? t('look.time.yesterday') : t('look.time.yesterdayAt', { time: clock(label.at) });
    case 'tomorrow':
      return t('look.time.tomorrowAt', { time: clock(label.at) });
    case 'thisYear': {
      const day = new Date(label.at).toLocaleDateString(locale, { month: 'short', day: 'numeric' });
      return mode === 'list' ? day : `${day} ${clock(label.at)}`;
    }
    case 'otherYear': {
      const day = new Date(label.at).toLocaleDateString(locale, { year: 'numeric', month: 'short', day: 'numeric' });
      return mode === 'list' ? day : `${day} ${clock(label.at)}`;
    }
  }
}

/** A time as a list row or a message shows it (core's timeLabel rule, in the UI language). */
export function shownTime(ms: number, mode: TimeLabelMode, t: (key: string, args?: Record<string, unknown>) => string, locale: string, now = Date.now()): string {
  return formatTimeLabel(timeLabel(ms, now, mode), mode, t, locale);
}

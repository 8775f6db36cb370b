// How the apps show time and which theme they use: client behaviour both apps (desktop and mobile)
// apply, decided once here. The apps only turn the result into words of the UI language.

/** The theme an agent chooses: a fixed one, or whatever the operating system prefers. */
export const THEME_CHOICES = ['system', 'light', 'dark'] as const;
export type ThemeChoice = (typeof THEME_CHOICES)[number];
export type Theme = 'light' | 'dark';

export function isThemeChoice(x: unknown): x is ThemeChoice {
  return typeof x === 'string' && (THEME_CHOICES as readonly string[]).includes(x);
}

/** The theme to apply: the agent's choice, or the system's preference when they chose "system". */
export function resolveTheme(choice: ThemeChoice, systemPrefersDark: boolean): Theme {
  switch (choice) {
    case 'light':
    case 'dark':
      return choice;
    case 'system':
      return systemPrefersDark ? 'dark' : 'light';
  }
}

/**
 * When something happened (or will happen), as a list row or a message shows it:
 * - `justNow`, `minutesAgo`: list rows only, less than an hour ago ("3 min ago");
 * - `today`: the time of day only (messages of today, list rows older than an hour);
 * - `yesterday` / `tomorrow`: the word and the time;
 * - `thisYear`: day and month (list) or day, month and time (message);
 * - `otherYear`: the full date.
 */
export type TimeLabel =
  | { kind: 'justNow' }
  | { kind: 'minutesAgo'; minutes: number }
  | { kind: 'today'; at: number }
  | { kind: 'yesterday'; at: number }
  | { kind: 'tomorrow'; at: number }
  | { kind: 'thisYear'; at: number }
  | { kind: 'otherYear'; at: number };

/** `list`: conversation rows (relative within the hour). `message`: bubbles and events (clock time). */
export type TimeLabelMode = 'list' | 'message';

const MINUTE = 60_000;

/** Calendar days from `now`'s local day to `at`'s local day (negative in the past). */
export function dayOffset(at: number, now: number): number {
  const a = new Date(at);
  const n = new Date(now);
  // Local midnights; Date.UTC on the local parts ignores daylight-saving jumps.
  const da = Date.UTC(a.getFullYear(), a.getMonth(), a.getDate());
  const dn = Date.UTC(n.getFullYear(), n.getMonth(), n.getDate());
  return Math.round((da - dn) / 86_400_000);
}

export function timeLabel(at: number, now: number, mode: TimeLabelMode): TimeLabel {
  const ago = now - at;
  if (mode === 'list' && ago >= -MINUTE && ago < 60 * MINUTE) {
    const minutes = Math.floor(Math.max(0, ago) / MINUTE);
    return minutes < 1 ? { kind: 'justNow' } : { kind: 'minutesAgo', minutes };
  }
  const days = dayOffset(at, now);
  if (days === 0) return { kind: 'today', at };
  if (days === -1) return { kind: 'yesterday', at };
  if (days === 1) return { kind: 'tomorrow', at };
  return new Date(at).getFullYear() === new Date(now).getFullYear() ? { kind: 'thisYear', at } : { kind: 'otherYear', at };
}

/**
 * How an app writes times in its UI language: the words (from its translations) and its clock and
 * date formats (desktop: the locale's "Dec 3"; mobile: "12-03"). `timeText` applies the one rule.
 */
export interface TimeWording {
  justNow: () => string;
  minutesAgo: (n: number) => string;
  yesterday: () => string;
  yesterdayAt: (time: string) => string;
  tomorrowAt: (time: string) => string;
  /** The time of day: "14:05". */
  clock: (at: number) => string;
  /** The day without the time, with the year when `withYear` ("Dec 3", "Dec 3, 2025"). */
  day: (at: number, withYear: boolean) => string;
}

/**
 * A time as a list row or a message shows it, in words: "3 min ago", "14:05", "Yesterday" (list) or
 * "Yesterday 09:12" (message), "Tomorrow 09:00", a day (list) or a day and time (message).
 */
export function timeText(at: number, now: number, mode: TimeLabelMode, w: TimeWording): string {
  const label = timeLabel(at, now, mode);
  switch (label.kind) {
    case 'justNow':
      return w.justNow();
    case 'minutesAgo':
      return w.minutesAgo(label.minutes);
    case 'today':
      return w.clock(label.at);
    case 'yesterday':
      return mode === 'list' ? w.yesterday() : w.yesterdayAt(w.clock(label.at));
    case 'tomorrow':
      return w.tomorrowAt(w.clock(label.at));
    case 'thisYear':
    case 'otherYear': {
      const day = w.day(label.at, label.kind === 'otherYear');
      return mode === 'list' ? day : `${day} ${w.clock(label.at)}`;
    }
  }
}

/** The quick choices a snooze offers (besides a chosen date and time): in an hour, tomorrow 09:00, next Monday 09:00. */
export type SnoozePreset = 'inOneHour' | 'tomorrowMorning' | 'nextWeek';
export const SNOOZE_PRESETS: readonly SnoozePreset[] = ['inOneHour', 'tomorrowMorning', 'nextWeek'];

/** When a snooze preset ends, in local time (09:00 is the start of a working day). */
export function snoozeUntil(preset: SnoozePreset, now: number): number {
  switch (preset) {
    case 'inOneHour':
      return now + 3_600_000;
    case 'tomorrowMorning': {
      const d = new Date(now);
      return new Date(d.getFullYear(), d.getMonth(), d.getDate() + 1, 9, 0, 0, 0).getTime();
    }
    case 'nextWeek': {
      const d = new Date(now);
      const toMonday = ((8 - d.getDay()) % 7) || 7;
      return new Date(d.getFullYear(), d.getMonth(), d.getDate() + toMonday, 9, 0, 0, 0).getTime();
    }
  }
}

/** A snooze must end in the future (at least a minute from now). */
export function isValidSnooze(until: number, now: number): boolean {
  return Number.isFinite(until) && until > now + 60_000;
}

import { isOpen, type Calendar } from './businessHours.js';

/**
 * The IVR menu decision: which menu a caller hears (in hours or out of hours, from the inbox's
 * business-hours calendar) and what a key press does. Pure: the SIP media endpoint asks these
 * functions and carries out the answer; nothing else maps digits to actions.
 */

export type IvrDigit = '0' | '1' | '2' | '3' | '4' | '5' | '6' | '7' | '8' | '9' | '*' | '#';
export const IVR_DIGITS: readonly IvrDigit[] = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '#'];

/** What a menu choice does. */
export type IvrAction =
  /** Put the caller in a team's queue (queues/ACD take over from here). */
  | { type: 'queue'; teamId: string }
  /** Record a voicemail after the beep. */
  | { type: 'voicemail' }
  /** Ring the operator (any available agent of the inbox). */
  | { type: 'operator' }
  /** Say the menu again. */
  | { type: 'repeat' };

/** One menu: the greeting, the menu prompt and the digit → action table. */
export interface IvrMenu {
  greeting: string;
  prompt: string;
  options: Partial<Record<IvrDigit, IvrAction>>;
}

export interface IvrConfig {
  /**
   * The inbox's business-hours calendar (its ops `businessHoursId`): when set it decides in or out
   * of hours, over the IVR's own `hours`.
   */
  calendar?: Calendar | null;
  /** The IVR's own calendar, used when the inbox has none; null (or absent) with no inbox calendar: always in hours. */
  hours?: Calendar | null;
  inHours: IvrMenu;
  /** The menu out of hours; absent: the in-hours menu is used at all times. */
  outOfHours?: IvrMenu | null;
  /** How often the menu is said again after no or a wrong key before `fallback` applies. */
  maxRepeats: number;
  /** What happens when the caller never chooses (or keeps pressing wrong keys). */
  fallback: IvrAction;
}

export type IvrVariant = 'in_hours' | 'out_of_hours';

/** The calendar the IVR follows: the inbox's business hours when it has them, else the IVR's own `hours`. */
export function ivrCalendar(cfg: Pick<IvrConfig, 'calendar' | 'hours'>): Calendar | null {
  return cfg.calendar ?? cfg.hours ?? null;
}

/** The menu a call that arrives at `at` hears. */
export function ivrMenuAt(cfg: IvrConfig, at: number): { variant: IvrVariant; menu: IvrMenu } {
  if (cfg.outOfHours && !isOpen(ivrCalendar(cfg), at)) return { variant: 'out_of_hours', menu: cfg.outOfHours };
  return { variant: 'in_hours', menu: cfg.inHours };
}

/** What the endpoint does next after a key press (or a timeout without one). */
export type IvrStep =
  | { kind: 'act'; action: Exclude<IvrAction, { type: 'repeat' }>; variant: IvrVariant; digit: IvrDigit | null }
  | { kind: 'replay'; reason: 'repeat' | 'invalid' | 'no_input'; repeats: number; variant: IvrVariant };

/**
 * The decision on a key press: `digit` null means the caller pressed nothing before the timeout;
 * `repeats` is how often the menu was already said again on this call.
 */
export function ivrDecide(cfg: IvrConfig, input: { at: number; digit: IvrDigit | null; repeats: number }): IvrStep {
  const { variant, menu } = ivrMenuAt(cfg, input.at);
  const action = input.digit === null ? undefined : menu.options[input.digit];
  const reason: 'repeat' | 'invalid' | 'no_input' = input.digit === null ? 'no_input' : action === undefined ? 'invalid' : 'repeat';
  if (action && action.type !== 'repeat') return { kind: 'act', action, variant, digit: input.digit };
  // An explicit "repeat" is what the caller asked for: it never turns into the fallback.
  if (action?.type === 'repeat') return { kind: 'replay', reason, repeats: input.repeats + 1, variant };
  if (input.repeats >= cfg.maxRepeats) {
    const fb = cfg.fallback;
    return fb.type === 'repeat' ? { kind: 'act', action: { type: 'voicemail' }, variant, digit: input.digit } : { kind: 'act', action: fb, variant, digit: input.digit };
  }
  return { kind: 'replay', reason, repeats: input.repeats + 1, variant };
}

/** Reads a DTMF event code (RFC 4733: 0–9, 10 = *, 11 = #) or a SIP INFO `Signal=` value as a digit. */
export function ivrDigitOf(v: number | string): IvrDigit | null {
  if (typeof v === 'number') {
    if (v >= 0 && v <= 9) return String(v) as IvrDigit;
    return v === 10 ? '*' : v === 11 ? '#' : null;
  }
  const s = v.trim();
  if (s === '10') return '*';
  if (s === '11') return '#';
  return (IVR_DIGITS as readonly string[]).includes(s) ? (s as IvrDigit) : null;
}

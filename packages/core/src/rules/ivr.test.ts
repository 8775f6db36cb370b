import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ivrDecide, ivrDigitOf, ivrMenuAt, IVR_DIGITS, type IvrConfig } from './ivr.js';

/** Mon-Fri 09:00-18:00 Shanghai (UTC+8). */
const cfg: IvrConfig = {
  hours: { timeZone: 'Asia/Shanghai', weekly: [1, 2, 3, 4, 5].map((day) => ({ day, open: '09:00', close: '18:00' })), holidays: [] },
  inHours: {
    greeting: 'Welcome',
    prompt: 'Press one for sales, two for support, zero for an agent, nine to hear this again',
    options: { '1': { type: 'queue', teamId: 'sales' }, '2': { type: 'queue', teamId: 'support' }, '0': { type: 'operator' }, '9': { type: 'repeat' } },
  },
  outOfHours: { greeting: 'We are closed', prompt: 'Press one to leave a message', options: { '1': { type: 'voicemail' } } },
  maxRepeats: 2,
  fallback: { type: 'voicemail' },
};
// 2026-12-02 is a Wednesday: 10:00 Shanghai = 02:00Z; 20:00 Shanghai = 12:00Z.
const inHours = Date.UTC(2026, 11, 2, 2, 0);
const outOfHours = Date.UTC(2026, 11, 2, 12, 0);

describe('IVR menu decision', () => {
  it('picks the in-hours or out-of-hours menu from the calendar', () => {
    expect(ivrMenuAt(cfg, inHours).variant).toBe('in_hours');
    expect(ivrMenuAt(cfg, outOfHours)).toEqual({ variant: 'out_of_hours', menu: cfg.outOfHours });
    expect(ivrMenuAt({ ...cfg, outOfHours: null }, outOfHours).variant).toBe('in_hours');
    expect(ivrMenuAt({ ...cfg, hours: null }, outOfHours).variant).toBe('in_hours');
  });
  it('maps a digit to the action of the menu that applies', () => {
    expect(ivrDecide(cfg, { at: inHours, digit: '2', repeats: 0 })).toEqual({ kind: 'act', action: { type: 'queue', teamId: 'support' }, variant: 'in_hours', digit: '2' });
    expect(ivrDecide(cfg, { at: inHours, digit: '0', repeats: 0 })).toMatchObject({ kind: 'act', action: { type: 'operator' } });
    // "2" means nothing out of hours: the menu is said again
    expect(ivrDecide(cfg, { at: outOfHours, digit: '2', repeats: 0 })).toEqual({ kind: 'replay', reason: 'invalid', repeats: 1, variant: 'out_of_hours' });
    expect(ivrDecide(cfg, { at: outOfHours, digit: '1', repeats: 0 })).toMatchObject({ kind: 'act', action: { type: 'voicemail' } });
  });
  it('repeats on request, and falls back after too many wrong or missing keys', () => {
    expect(ivrDecide(cfg, { at: inHours, digit: '9', repeats: 5 })).toEqual({ kind: 'replay', reason: 'repeat', repeats: 6, variant: 'in_hours' });
    expect(ivrDecide(cfg, { at: inHours, digit: null, repeats: 1 })).toEqual({ kind: 'replay', reason: 'no_input', repeats: 2, variant: 'in_hours' });
    expect(ivrDecide(cfg, { at: inHours, digit: null, repeats: 2 })).toEqual({ kind: 'act', action: { type: 'voicemail' }, variant: 'in_hours', digit: null });
    expect(ivrDecide({ ...cfg, fallback: { type: 'operator' } }, { at: inHours, digit: '7', repeats: 2 })).toMatchObject({ kind: 'act', action: { type: 'operator' } });
  });
  it('always ends: with any keys, a caller reaches an action within maxRepeats + 1 non-repeat presses', () => {
    fc.assert(
      fc.property(fc.array(fc.option(fc.constantFrom(...IVR_DIGITS.filter((d) => d !== '9')), { nil: null }), { minLength: 3, maxLength: 3 }), fc.boolean(), (keys, open) => {
        let repeats = 0;
        for (const digit of keys) {
          const step = ivrDecide(cfg, { at: open ? inHours : outOfHours, digit, repeats });
          if (step.kind === 'act') return true;
          repeats = step.repeats;
        }
        return false;
      }),
    );
  });
  it('reads RFC 4733 event codes and SIP INFO signals', () => {
    expect(ivrDigitOf(2)).toBe('2');
    expect(ivrDigitOf(10)).toBe('*');
    expect(ivrDigitOf(11)).toBe('#');
    expect(ivrDigitOf(12)).toBeNull();
    expect(ivrDigitOf(' 2 ')).toBe('2');
    expect(ivrDigitOf('#')).toBe('#');
    expect(ivrDigitOf('A')).toBeNull();
  });
});

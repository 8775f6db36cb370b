import { describe, expect, it } from 'vitest';
import { callFigures } from './reports.js';

describe('callFigures: what a call counts in the reports', () => {
  it('an answered or transferred call counts its talk time; an unanswered inbound one is missed', () => {
    expect(callFigures({ call: { direction: 'in', outcome: 'answered', durationSeconds: 125.4 } })).toEqual({ answered: true, missed: false, abandoned: false, seconds: 125 });
    expect(callFigures({ call: { direction: 'out', outcome: 'transferred', durationSeconds: 30 } })).toEqual({ answered: true, missed: false, abandoned: false, seconds: 30 });
    expect(callFigures({ call: { direction: 'in', outcome: 'missed', durationSeconds: 40 } })).toEqual({ answered: false, missed: true, abandoned: false, seconds: 0 });
    // An outbound call nobody picked up is not a missed call of the centre.
    expect(callFigures({ call: { direction: 'out', outcome: 'busy', durationSeconds: 0 } })).toEqual({ answered: false, missed: false, abandoned: false, seconds: 0 });
  });

  it('a caller who hung up waiting in a queue abandoned; one sent on by overflow did not', () => {
    expect(callFigures({ call: { direction: 'in', outcome: 'missed', durationSeconds: 95 }, ivr: { queue: { result: 'hangup', waitSeconds: 80 } } }).abandoned).toBe(true);
    expect(callFigures({ call: { direction: 'in', outcome: 'missed' }, ivr: { queue: { result: 'overflow' } } })).toEqual({ answered: false, missed: true, abandoned: false, seconds: 0 });
    // Answered through the queue: neither missed nor abandoned.
    expect(callFigures({ call: { direction: 'in', outcome: 'answered', durationSeconds: 60 }, ivr: { queue: { result: 'answered' } } })).toEqual({ answered: true, missed: false, abandoned: false, seconds: 60 });
  });

  it('a malformed call reads as nothing answered and no time', () => {
    expect(callFigures({})).toEqual({ answered: false, missed: false, abandoned: false, seconds: 0 });
    expect(callFigures({ call: { direction: 'in', outcome: 'answered', durationSeconds: 'long' } })).toEqual({ answered: true, missed: false, abandoned: false, seconds: 0 });
    expect(callFigures({ call: { direction: 'in', outcome: 'answered', durationSeconds: -5 } }).seconds).toBe(0);
  });
});

import { describe, expect, it } from 'vitest';
import { csatReport } from './csatReport.js';

describe('csatReport', () => {
  it('folds grouped counts into average, distribution, satisfied share, response rate and per agent', () => {
    const r = csatReport(
      [
        { agentId: 'a', rating: 5, n: 3 },
        { agentId: 'a', rating: 2, n: 1 },
        { agentId: 'b', rating: 4, n: 1 },
        { agentId: null, rating: 1, n: 1 },
        { agentId: 'b', rating: 9, n: 4 }, // not a rating: ignored
      ],
      10,
      (id) => ({ a: 'Alice', b: 'Bob' })[id] ?? null,
    );
    expect(r.distribution).toEqual([1, 1, 0, 1, 3]);
    expect(r.responses).toBe(6);
    expect(r.average).toBe(3.67); // (1 + 2 + 4 + 15) / 6
    expect(r.satisfied).toBe(0.667); // four of six gave 4 or 5
    expect(r.responseRate).toBe(0.6);
    expect(r.agents).toEqual([
      { agentId: 'a', name: 'Alice', responses: 4, average: 4.25, satisfied: 0.75 },
      { agentId: 'b', name: 'Bob', responses: 1, average: 4, satisfied: 1 },
      { agentId: null, name: null, responses: 1, average: 1, satisfied: 0 },
    ]);
  });

  it('has no figures without answers, and no rate without surveys sent', () => {
    expect(csatReport([], 0)).toEqual({ sent: 0, responses: 0, responseRate: null, average: null, satisfied: null, distribution: [0, 0, 0, 0, 0], agents: [] });
    expect(csatReport([], 4).responseRate).toBe(0);
  });
});

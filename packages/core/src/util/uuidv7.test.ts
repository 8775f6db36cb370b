import { describe, expect, it } from 'vitest';
import { UUID_V7_RE, Uuidv7Generator, uuidv7Time } from './uuidv7.js';

describe('Uuidv7Generator', () => {
  it('makes valid, strictly increasing ids that encode the time', () => {
    let t = 1_700_000_000_000;
    let seed = 1;
    const rnd = (n: number) => Uint8Array.from({ length: n }, () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff);
    const gen = new Uuidv7Generator(() => t, rnd);
    const ids: string[] = [];
    for (let i = 0; i < 5000; i++) {
      if (i % 1000 === 0) t += 1;
      ids.push(gen.next());
    }
    for (const id of ids) expect(id).toMatch(UUID_V7_RE);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    expect(uuidv7Time(ids[0]!)).toBe(1_700_000_000_001);
  });
});

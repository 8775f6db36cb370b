import { describe, expect, it } from 'vitest';
import { nextMirrorChunk } from '../src/rxdbStore.js';

/** The mirror loader sizes its reads by time: each read should take about one 8 ms slice of a frame. */
describe('mirror chunk sized by time', () => {
  it('grows while reads are fast and shrinks when they are slow, within bounds', () => {
    // 200 rows in 1 ms: 1,600 would fit in 8 ms; half-way there.
    expect(nextMirrorChunk(200, 200, 1)).toBe(900);
    // 200 rows in 40 ms: 40 would fit; half-way, not below the floor.
    expect(nextMirrorChunk(200, 200, 40)).toBe(120);
    expect(nextMirrorChunk(50, 50, 500)).toBe(50);
    // Never past the ceiling, even for reads that took no measurable time.
    expect(nextMirrorChunk(4_000, 4_000, 0)).toBe(4_000);
    // A read at the budget keeps the size.
    expect(nextMirrorChunk(300, 300, 8)).toBe(300);
  });

  it('converges on the size that fits the slice for a steady cost per row', () => {
    const msPerRow = 0.02; // 400 rows per 8 ms
    let chunk = 200;
    for (let i = 0; i < 12; i++) chunk = nextMirrorChunk(chunk, chunk, chunk * msPerRow);
    expect(Math.abs(chunk - 400)).toBeLessThanOrEqual(2);
  });

  it('keeps the size when a read returned nothing', () => {
    expect(nextMirrorChunk(700, 0, 3)).toBe(700);
  });
});

import fs from 'node:fs';

/**
 * The server's clock. In production it is `Date.now`. Under test (`GOUTONG_TEST_CLOCK=<file>`), every
 * process adds the offset (ms) written in that file, so a test moves time forward for all server
 * processes at once (SLA breaches, snooze wake-ups, grace periods) without waiting.
 */
export interface ServerClock {
  now(): number;
  /** Test clocks only: moves time forward for every process reading the same file. */
  advance(ms: number): void;
  readonly adjustable: boolean;
}

export function serverClock(testClockFile: string | null): ServerClock {
  if (!testClockFile) {
    return {
      now: () => Date.now(),
      advance: () => {
        throw new Error('the clock can only be moved under GOUTONG_TEST_CLOCK');
      },
      adjustable: false,
    };
  }
  const offset = (): number => {
    try {
      const n = Number(fs.readFileSync(testClockFile, 'utf8').trim());
      return Number.isFinite(n) ? n : 0;
    } catch {
      return 0;
    }
  };
  return {
    now: () => Date.now() + offset(),
    advance: (ms: number) => {
      fs.writeFileSync(testClockFile, String(offset() + ms));
    },
    adjustable: true,
  };
}

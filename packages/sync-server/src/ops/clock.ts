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
  /** Test clocks only: stops the clock at `at` (it then moves only by `advance`), for exact figures. */
  freeze(at: number): void;
  readonly adjustable: boolean;
}

export function serverClock(testClockFile: string | null): ServerClock {
  if (!testClockFile) {
    return {
      now: () => Date.now(),
      advance: () => {
        throw new Error('the clock can only be moved under GOUTONG_TEST_CLOCK');
      },
      freeze: () => {
        throw new Error('the clock can only be frozen under GOUTONG_TEST_CLOCK');
      },
      adjustable: false,
    };
  }
  /** The file holds an offset added to the real time ("120000"), or a frozen time ("=1764748800000"). */
  const read = (): { frozen: boolean; value: number } => {
    try {
      const text = fs.readFileSync(testClockFile, 'utf8').trim();
      const frozen = text.startsWith('=');
      const n = Number(frozen ? text.slice(1) : text);
      return Number.isFinite(n) ? { frozen, value: n } : { frozen: false, value: 0 };
    } catch {
      return { frozen: false, value: 0 };
    }
  };
  return {
    now: () => {
      const r = read();
      return r.frozen ? r.value : Date.now() + r.value;
    },
    advance: (ms: number) => {
      const r = read();
      fs.writeFileSync(testClockFile, r.frozen ? `=${r.value + ms}` : String(r.value + ms));
    },
    freeze: (at: number) => fs.writeFileSync(testClockFile, `=${at}`),
    adjustable: true,
  };
}

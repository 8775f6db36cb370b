/**
 * A background worker's rhythm: a pass every `intervalMs`, one more at once when kicked (a commit
 * made work), never two passes at a time (a kick during a pass runs one more after it), and a stop
 * that waits for the pass in progress. The relay worker and the ops bus run on it.
 */
export class PassLoop {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped: boolean;

  constructor(
    private readonly o: {
      pass: () => Promise<unknown>;
      intervalMs: number;
      onError: (e: unknown) => void;
      /** Whether kicks before start() are ignored (else they run a pass). */
      startStopped?: boolean;
    },
  ) {
    this.stopped = o.startStopped ?? false;
  }

  start(): void {
    this.stopped = false;
    const loop = () => {
      if (this.stopped) return;
      this.kick();
      this.timer = setTimeout(loop, this.o.intervalMs);
      this.timer.unref();
    };
    loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.idle();
  }

  /** Runs a pass now, or right after the one in progress. */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.o
      .pass()
      .then(() => undefined)
      .catch((e: unknown) => this.o.onError(e))
      .finally(() => {
        this.running = null;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  /** Resolves when no pass is in progress. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }
}

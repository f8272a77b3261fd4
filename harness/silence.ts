// How long the guest has been silent, as the harness could see it: time the harness itself was
// not scheduled (a starved event loop has not read what the guest printed meanwhile) does not count.
export class Silence {
  private lastProgress: number;
  private lastTick: number;

  constructor(
    now: number,
    /** How often tick() is called, in ms. */
    private readonly tickMs: number,
  ) {
    this.lastProgress = now;
    this.lastTick = now;
  }

  progress(now: number): void {
    this.lastProgress = now;
  }

  /** Called every tickMs: returns ms of guest silence, less any gap in which the harness did not run. */
  tick(now: number): number {
    const stalled = now - this.lastTick - this.tickMs;
    if (stalled > 4 * this.tickMs) this.lastProgress += stalled;
    this.lastTick = now;
    return now - this.lastProgress;
  }
}

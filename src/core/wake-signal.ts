// How a projection runner waits between batches: until woken (new events, a state change) or until a
// timeout (the slow fallback poll). A wake-up that arrives while the runner is busy is kept, not lost.
export class WakeSignal {
  /** A wake-up arrived since the runner last looked. */
  private pending = true;
  private wakeUp: (() => void) | undefined;

  /** Something may have changed: the next wait returns at once, and a wait in progress ends now. */
  wake(): void {
    this.pending = true;
    this.wakeUp?.();
  }

  /** The runner looks now: wake-ups before this are taken into account. */
  take(): void {
    this.pending = false;
  }

  /** Whether a wake-up arrived since the last take(). */
  get woken(): boolean {
    return this.pending;
  }

  /** Resolves after `ms`, or at once on a wake-up (one that arrived already, or `stopping` holds). */
  wait(ms: number, stopping: () => boolean): Promise<void> {
    return new Promise<void>((resolve) => {
      if (this.pending || stopping()) return resolve();
      const done = () => {
        clearTimeout(timer);
        this.wakeUp = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeUp = done;
    });
  }
}

// How many events a projection step asks for: while it keeps reading full batches (catching up) each
// next one doubles, up to a maximum, so that fewer, larger writes touch each read-model row fewer times;
// live traffic brings short batches and sets it back.
export class BatchSize {
  private size: number;

  constructor(
    private readonly base: number,
    private readonly max: number,
  ) {
    this.size = base;
  }

  get current(): number {
    return this.size;
  }

  /** After a round of steps: `busy` when one read a full batch. */
  next(busy: boolean): void {
    this.size = busy ? Math.min(this.size * 2, this.max) : this.base;
  }
}

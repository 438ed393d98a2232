// What the page remembers for its charts: the last 15 minutes of samples, as uPlot's column arrays
// (times in seconds, then one array per series). Nothing is kept on the server for it.

export const WINDOW_SECONDS = 15 * 60;

export class Series {
  readonly times: number[] = [];
  readonly columns: number[][];

  constructor(columns: number) {
    this.columns = Array.from({ length: columns }, () => []);
  }

  add(time: number, values: readonly number[]): void {
    // A sample older than the last (a reconnect that replays the head) would fold the line back on itself.
    const last = this.times.at(-1);
    if (last !== undefined && time <= last) return;
    this.times.push(time);
    for (const [i, value] of values.entries()) this.columns[i]?.push(value);
    const oldest = time - WINDOW_SECONDS;
    let drop = 0;
    while (drop < this.times.length && this.times[drop]! < oldest) drop++;
    if (drop > 0) {
      this.times.splice(0, drop);
      for (const column of this.columns) column.splice(0, drop);
    }
  }

  /** uPlot's data: [times, ...columns]. */
  data(): [number[], ...number[][]] {
    return [this.times, ...this.columns];
  }

  latest(column: number): number | undefined {
    return this.columns[column]?.at(-1);
  }
}

/** Events per second between successive samples of the log's sequence. */
export class RateOf {
  private last: { time: number; count: number } | undefined;

  /** The rate since the previous sample, or undefined for the first one. */
  next(time: number, count: number): number | undefined {
    const previous = this.last;
    this.last = { time, count };
    if (!previous || time <= previous.time) return undefined;
    return Math.max(0, (count - previous.count) / (time - previous.time));
  }
}

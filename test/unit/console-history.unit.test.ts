// The console's chart history: a 15-minute window of samples in uPlot's columns, and rates from the log's
// successive samples.
import { describe, expect, it } from 'vitest';
import { RateOf, Series, WINDOW_SECONDS } from '../../console/src/history.ts';

describe('console history', () => {
  it('keeps the last 15 minutes of samples, in uPlot columns', () => {
    const series = new Series(2);
    for (let t = 0; t <= WINDOW_SECONDS + 10; t += 5) series.add(t, [t, t / 10]);
    const [times, events, seconds] = series.data();
    expect(times[0]).toBe(10);
    expect(times.at(-1)).toBe(WINDOW_SECONDS + 10);
    expect(events).toEqual(times);
    expect(seconds).toEqual(times.map((t) => t / 10));
    expect(series.latest(0)).toBe(WINDOW_SECONDS + 10);
  });

  it('leaves out a sample that is not newer than the last (a reconnect sends the head again)', () => {
    const series = new Series(1);
    series.add(100, [1]);
    series.add(100, [2]);
    series.add(99, [3]);
    expect(series.data()).toEqual([[100], [1]]);
  });

  it('rates: none for the first sample, then events over seconds, never below zero', () => {
    const rate = new RateOf();
    expect(rate.next(10, 100)).toBeUndefined();
    expect(rate.next(12, 150)).toBe(25);
    expect(rate.next(13, 150)).toBe(0);
    expect(rate.next(13, 160)).toBeUndefined(); // no time between them
    expect(rate.next(14, 150)).toBe(0); // the sequence read lower (cannot happen, but no negative rate)
  });
});

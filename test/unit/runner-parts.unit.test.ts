// The projection runner's parts: its wake signal keeps a wake-up that came while it was busy, and its
// batch size doubles while catching up and falls back with live traffic.
import { describe, expect, it } from 'vitest';
import { BatchSize } from '../../src/core/batch-size.ts';
import { WakeSignal } from '../../src/core/wake-signal.ts';

const never = () => false;

describe('wake signal', () => {
  it('a wake-up before the wait ends the wait at once; after take() the wait runs to its time', async () => {
    const signal = new WakeSignal();
    signal.take();
    signal.wake();
    await signal.wait(60_000, never); // would time the test out if the wake-up were lost
    signal.take();
    expect(signal.woken).toBe(false);
    let done = false;
    const waiting = signal.wait(50, never).then(() => {
      done = true;
    });
    for (let turn = 0; turn < 10; turn++) await new Promise((resolve) => setImmediate(resolve));
    expect(done).toBe(false);
    await waiting;
  });

  it('a wake-up during the wait ends it; so does stopping', async () => {
    const signal = new WakeSignal();
    signal.take();
    const waiting = signal.wait(60_000, never);
    signal.wake();
    await waiting;
    signal.take();
    await signal.wait(60_000, () => true);
  });
});

describe('batch size', () => {
  it('doubles after each full batch up to its maximum, and is back to its base after a short one', () => {
    const size = new BatchSize(100, 500);
    const seen = [size.current];
    for (let i = 0; i < 4; i++) {
      size.next(true);
      seen.push(size.current);
    }
    size.next(false);
    seen.push(size.current);
    expect(seen).toEqual([100, 200, 400, 500, 500, 100]);
  });
});

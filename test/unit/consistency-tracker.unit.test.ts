// The consistency tracker: positions only move forward, waits resolve on the advance that reaches their
// token (pushed, never polled), time out as stale, and end when their client leaves.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createConsistencyTracker } from '../../src/core/consistency-tracker.ts';
import type { Position } from '../../src/core/position.ts';

const at = (n: number): Position => ({ tx: BigInt(n), pos: BigInt(n) });

describe('consistency tracker', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('keeps the furthest position of each projection and tells subscribers of each advance', () => {
    const tracker = createConsistencyTracker(['a', 'b']);
    const heard: string[] = [];
    const unsubscribe = tracker.subscribe((p) => heard.push(`${p.projection}@${p.position!.pos}`));
    tracker.advance('a', at(2));
    tracker.advance('a', at(1)); // backwards: ignored
    tracker.advance('a', at(2)); // no move: ignored
    tracker.advance('b', at(3));
    unsubscribe();
    tracker.advance('a', at(4));
    expect(heard).toEqual(['a@2', 'b@3']);
    expect([tracker.position('a'), tracker.position('b'), tracker.position('c')]).toEqual([at(4), at(3), null]);
    expect(tracker.projections()).toEqual(['a', 'b']);
  });

  it('a token is reached when every named projection has passed it', () => {
    const tracker = createConsistencyTracker(['a', 'b']);
    tracker.advance('a', at(5));
    expect(tracker.reached(at(5), ['a'])).toBe(true);
    expect(tracker.reached(at(5), ['a', 'b'])).toBe(false);
    expect(tracker.reached({ tx: 5n, pos: 6n }, ['a'])).toBe(false);
  });

  it('a wait resolves on the advance that reaches its token, and not before', async () => {
    const tracker = createConsistencyTracker(['a', 'b']);
    let result: Awaited<ReturnType<typeof tracker.waitFor>> | undefined;
    void tracker.waitFor(at(3), ['a', 'b'], 5000).then((r) => (result = r));
    tracker.advance('a', at(3), null, 'step-a');
    tracker.advance('b', at(2), null, 'step-b2');
    await Promise.resolve();
    expect(result).toBeUndefined();
    tracker.advance('b', at(3), null, 'step-b3');
    await Promise.resolve();
    // Each projection's part of the wait, and the step (its trace) that ended it.
    expect(result).toMatchObject({
      stale: false,
      projections: [
        { projection: 'a', step: 'step-a' },
        { projection: 'b', step: 'step-b3' },
      ],
    });
    for (const part of result!.projections) expect(part.waitedMs).toBeGreaterThanOrEqual(0);
  });

  it('a wait already reached resolves at once', async () => {
    const tracker = createConsistencyTracker(['a']);
    tracker.advance('a', at(7));
    expect(await tracker.waitFor(at(3), ['a'], 5000)).toMatchObject({ stale: false });
  });

  it('a wait that is not reached in time answers stale, and is forgotten', async () => {
    const tracker = createConsistencyTracker(['a']);
    const waiting = tracker.waitFor(at(3), ['a'], 1000);
    await vi.advanceTimersByTimeAsync(999);
    let settled = false;
    void waiting.then(() => (settled = true));
    await Promise.resolve();
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await waiting).toMatchObject({ stale: true, projections: [{ projection: 'a', waitedMs: null }] });
    expect([vi.getTimerCount(), tracker.waiting()]).toEqual([0, 0]);
    tracker.advance('a', at(3)); // nothing is left to resolve
  });

  it('a wait whose client left ends at once as stale, timer and all', async () => {
    const tracker = createConsistencyTracker(['a']);
    const left = new AbortController();
    const waiting = tracker.waitFor(at(3), ['a'], 60_000, left.signal);
    expect(tracker.waiting()).toBe(1);
    left.abort();
    expect(await waiting).toMatchObject({ stale: true, projections: [{ projection: 'a', waitedMs: null }] });
    expect(vi.getTimerCount()).toBe(0);
    const gone = new AbortController();
    gone.abort();
    expect(await tracker.waitFor(at(3), ['a'], 60_000, gone.signal)).toMatchObject({ stale: true });
    expect(vi.getTimerCount()).toBe(0);
  });

  describe('following a process manager (causal read-your-writes)', () => {
    // `stock` handles what the process manager `pm` appends; `orders` does not.
    const causal = () => createConsistencyTracker(['orders', 'pm', 'stock'], { stock: ['pm'] });

    it('waits for the process to pass the token, then for the projection to reach what the process appended', async () => {
      const tracker = causal();
      let result: { stale: boolean } | undefined;
      void tracker.waitFor(at(5), ['stock'], 5000).then((r) => (result = r));
      tracker.advance('stock', at(6)); // past the token, but the process has not reacted to it yet
      await Promise.resolve();
      expect(result).toBeUndefined();
      tracker.advance('pm', at(7), at(9)); // reacted: its commands appended events up to 9
      await Promise.resolve();
      expect(result).toBeUndefined();
      expect(tracker.reached(at(5), ['stock'])).toBe(false);
      tracker.advance('stock', at(9));
      await Promise.resolve();
      expect(result).toMatchObject({ stale: false });
      expect(tracker.reached(at(5), ['stock', 'orders'])).toBe(false); // orders is not there yet
      tracker.advance('orders', at(5));
      expect(tracker.reached(at(5), ['stock', 'orders'])).toBe(true);
    });

    it('fixes the target once the process has passed the token, so that a busy process cannot keep it moving', async () => {
      const tracker = causal();
      tracker.advance('pm', at(5), at(6));
      let result: { stale: boolean } | undefined;
      void tracker.waitFor(at(5), ['stock'], 5000).then((r) => (result = r));
      tracker.advance('pm', at(20), at(30)); // later work of the process, after the token
      tracker.advance('stock', at(6));
      await Promise.resolve();
      expect(result).toMatchObject({ stale: false });
    });

    it('a projection that follows no process waits for the token only', async () => {
      const tracker = causal();
      tracker.advance('orders', at(5));
      expect(await tracker.waitFor(at(5), ['orders'], 5000)).toMatchObject({ stale: false });
    });
  });
});

// The read-your-writes middleware's check that a token is in the log (core/consistency-middleware.ts):
// a position this process committed answers it without reading the log's head; anything past what is
// known still reads it, and a token past the head is refused.
import { describe, expect, it } from 'vitest';
import { SYSTEM_CALLER } from '../../src/core/caller.ts';
import { createConsistencyWaits } from '../../src/core/consistency-middleware.ts';
import { createConsistencyTracker } from '../../src/core/consistency-tracker.ts';
import type { Position } from '../../src/core/position.ts';

const at = (pos: number): Position => ({ tx: 10n, pos: BigInt(pos) });

function setUp(head: Position | null) {
  const tracker = createConsistencyTracker(['orders']);
  let headReads = 0;
  const waits = createConsistencyWaits(tracker, {
    timeoutMs: 1000,
    projectionsBehind: { order: ['orders'] },
    lastPosition: async () => {
      headReads++;
      return head;
    },
    maxWaits: 10,
  });
  return { tracker, waits, headReads: () => headReads };
}

describe('consistency waits: is the token in the log', () => {
  it('takes a committed position as known, reading the head only for tokens past it', async () => {
    const { waits, headReads } = setUp(at(9));
    waits.committed(at(5));
    await waits.check(at(5));
    await waits.check(at(3));
    expect(headReads()).toBe(0);
    await waits.check(at(7)); // past what was committed here: the head says it is there
    expect(headReads()).toBe(1);
    await expect(waits.check(at(12))).rejects.toThrow(/ahead of the event log/);
    expect(headReads()).toBe(2);
  });

  it('waits for a committed token without reading the head, until the projection reaches it', async () => {
    const { tracker, waits, headReads } = setUp(null);
    waits.committed(at(4));
    const consistency = { after: at(4), stale: false };
    let ran = false;
    const done = waits.middleware({ name: 'order', params: {}, context: { caller: SYSTEM_CALLER, consistency } }, async () => {
      ran = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(ran).toBe(false);
    tracker.advance('orders', at(4));
    await done;
    expect(ran).toBe(true);
    expect(consistency.stale).toBe(false);
    expect(headReads()).toBe(0);
  });
});

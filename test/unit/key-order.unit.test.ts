// runInKeyOrder: items that share a key run in their order, the others side by side; a failure waits
// for everything to settle and then rejects.
import { describe, expect, it } from 'vitest';
import { runInKeyOrder } from '../../src/core/key-order.ts';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('runInKeyOrder', () => {
  it('runs items that share a key in order, and items that share none at the same time', async () => {
    const log: string[] = [];
    let running = 0;
    let most = 0;
    const items = [
      { name: 'a1', keys: ['a'], ms: 30 },
      { name: 'b1', keys: ['b'], ms: 10 },
      { name: 'a2', keys: ['a', 'c'], ms: 5 },
      { name: 'c1', keys: ['c'], ms: 1 },
      { name: 'd1', keys: ['d'], ms: 1 },
    ];
    await runInKeyOrder(
      items,
      (item) => item.keys,
      async (item) => {
        running++;
        most = Math.max(most, running);
        log.push(`start ${item.name}`);
        await tick(item.ms);
        log.push(`end ${item.name}`);
        running--;
      },
    );
    const at = (entry: string) => log.indexOf(entry);
    expect(at('start a2')).toBeGreaterThan(at('end a1')); // shares a
    expect(at('start c1')).toBeGreaterThan(at('end a2')); // shares c with a2, so waits for it (and a1 before it)
    expect(at('start b1')).toBeLessThan(at('end a1')); // shares nothing with a1
    expect(at('start d1')).toBeLessThan(at('end a1'));
    expect(most).toBeGreaterThan(1);
  });

  it('lets every item settle before it rejects with the first failure', async () => {
    const done: string[] = [];
    const run = runInKeyOrder(
      ['x', 'y', 'x2'],
      (item) => [item[0]!],
      async (item) => {
        if (item === 'x') throw new Error('x failed');
        await tick(10);
        done.push(item);
      },
    );
    await expect(run).rejects.toThrow('x failed');
    expect(done.sort()).toEqual(['x2', 'y']);
  });
});

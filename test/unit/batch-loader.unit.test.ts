import { describe, expect, it } from 'vitest';
import { createBatchLoader } from '../../src/core/batch-loader.ts';

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('batch loader', () => {
  it('loads the keys asked for together in one call, once per key, and answers each', async () => {
    const calls: string[][] = [];
    const load = createBatchLoader(async (keys: string[]) => {
      calls.push(keys);
      return new Map(keys.filter((k) => k !== 'missing').map((k) => [k, k.toUpperCase()]));
    });
    const results = await Promise.all([load('a'), load('b'), load('a'), load('missing')]);
    expect(results).toEqual(['A', 'B', 'A', undefined]);
    expect(calls).toEqual([['a', 'b', 'missing']]);
    expect(await load('c')).toBe('C');
    expect(calls).toHaveLength(2);
  });

  it('asks apart in time, loads apart', async () => {
    const calls: string[][] = [];
    const load = createBatchLoader(async (keys: string[]) => (calls.push(keys), new Map(keys.map((k) => [k, 1]))));
    const first = load('a');
    await tick();
    const second = load('b');
    await Promise.all([first, second]);
    expect(calls).toEqual([['a'], ['b']]);
  });

  it('splits at maxBatch', async () => {
    const calls: number[][] = [];
    const load = createBatchLoader(async (keys: number[]) => (calls.push(keys), new Map(keys.map((k) => [k, k * 2]))), { maxBatch: 2 });
    expect(await Promise.all([1, 2, 3, 4, 5].map(load))).toEqual([2, 4, 6, 8, 10]);
    expect(calls).toEqual([[1, 2], [3, 4], [5]]);
  });

  it('a failed load fails every request of its batch, and the next batch starts afresh', async () => {
    let fail = true;
    const load = createBatchLoader(async (keys: string[]) => {
      if (fail) throw new Error('database away');
      return new Map(keys.map((k) => [k, k]));
    });
    const results = await Promise.allSettled([load('a'), load('b')]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    fail = false;
    expect(await load('a')).toBe('a');
  });
});

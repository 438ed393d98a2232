// The micro-batcher: calls made in one turn of the event loop share one loadMany, at most maxBatch at a
// time; each call gets its own answer, whether a value, an Error or a promise that settles on its own.
import { describe, expect, it } from 'vitest';
import { createMicroBatcher } from '../../src/core/micro-batch.ts';

describe('micro-batcher', () => {
  it('batches the calls of one turn, up to maxBatch, and a lone call goes at once', async () => {
    const batches: number[][] = [];
    const load = createMicroBatcher(
      async (keys: readonly number[]) => {
        batches.push([...keys]);
        return keys.map((k) => k * 10);
      },
      { maxBatch: 3 },
    );
    expect(await Promise.all([1, 2, 3, 4, 5].map(load))).toEqual([10, 20, 30, 40, 50]);
    expect(batches).toEqual([
      [1, 2, 3],
      [4, 5],
    ]);
    expect(await load(6)).toBe(60);
    expect(batches.at(-1)).toEqual([6]);
  });

  it('answers each call on its own: a value, an Error for that call only, or a promise that settles later', async () => {
    let release!: (value: string) => void;
    const later = new Promise<string>((resolve) => (release = resolve));
    const rejected = Promise.reject(new Error('c failed later'));
    rejected.catch(() => {});
    const load = createMicroBatcher(async (keys: readonly string[]) =>
      keys.map((k) => (k === 'b' ? new Error('b failed') : k === 'c' ? rejected : k === 'd' ? later : k.toUpperCase())),
    );
    const answer = (k: string) =>
      load(k).then(
        (v) => ({ v }),
        (e: Error) => ({ e: e.message }),
      );
    const [a, b, c, d] = [answer('a'), answer('b'), answer('c'), answer('d')];
    expect(await a).toEqual({ v: 'A' });
    expect(await b).toEqual({ e: 'b failed' });
    expect(await c).toEqual({ e: 'c failed later' });
    let settled = false;
    void d.then(() => (settled = true));
    await new Promise((r) => setImmediate(r));
    expect(settled).toBe(false); // the others did not wait for it
    release('D');
    expect(await d).toEqual({ v: 'D' });
  });
});

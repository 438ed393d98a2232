// LiveExecution and LiveSubscriber against a fake run: runs never overlap and a burst folds into one next
// run at the newest position; a result that reads the same is not sent again; keys are watched before
// they are read and dropped when no longer read; the last client to leave frees everything.
import type { ExecutionResult } from 'graphql';
import { describe, expect, it } from 'vitest';
import type { Position } from '../../src/core/position.ts';
import { LiveExecution } from '../../src/graphql/live-execution.ts';

const at = (pos: number): Position => ({ tx: 1n, pos: BigInt(pos) });

function fakeExecution(read: (run: number) => { keys: string[]; data: unknown }) {
  const runs: (Position | undefined)[] = [];
  const watched = new Set<string>();
  let release: (() => void) | undefined;
  let held = false;
  let disposed = false;
  const execution = new LiveExecution(
    {
      async run(session, record) {
        runs.push(session);
        const { keys, data } = read(runs.length);
        for (const key of keys) record('p', key);
        if (held) await new Promise<void>((resolve) => (release = resolve));
        return { data } as ExecutionResult;
      },
      watch: (_p, key) => void watched.add(key),
      unwatch: (_p, key) => void watched.delete(key),
      disposed: () => void (disposed = true),
    },
    undefined,
  );
  return {
    execution,
    runs,
    watched,
    hold: () => void (held = true),
    release: () => {
      held = false;
      release?.();
    },
    disposed: () => disposed,
  };
}

const flush = () => new Promise((r) => setTimeout(r, 0));

async function drain(iterator: AsyncIterator<ExecutionResult>, n: number) {
  const values: unknown[] = [];
  for (let i = 0; i < n; i++) values.push((await iterator.next()).value?.data);
  return values;
}

describe('LiveExecution', () => {
  it('folds the changes that arrive during a run into one next run, at the newest position', async () => {
    const fake = fakeExecution((run) => ({ keys: ['a'], data: { run } }));
    const client = fake.execution.join();
    fake.execution.start();
    expect(await drain(client, 1)).toEqual([{ run: 1 }]);
    fake.hold();
    fake.execution.invalidate(at(1));
    await flush();
    for (const n of [2, 5, 3]) fake.execution.invalidate(at(n));
    fake.release();
    expect(await drain(client, 2)).toEqual([{ run: 2 }, { run: 3 }]);
    expect(fake.runs).toEqual([undefined, at(1), at(5)]);
    client.return();
  });

  it('sends a result only when it reads differently from the last one; a new client gets the latest at once', async () => {
    const fake = fakeExecution((run) => ({ keys: ['a'], data: { same: run < 3 ? 'x' : 'y' } }));
    const first = fake.execution.join();
    fake.execution.start();
    expect(await drain(first, 1)).toEqual([{ same: 'x' }]);
    fake.execution.invalidate(at(1));
    await flush();
    fake.execution.invalidate(at(2));
    expect(await drain(first, 1)).toEqual([{ same: 'y' }]);
    expect(fake.runs).toHaveLength(3);
    const second = fake.execution.join();
    expect(await drain(second, 1)).toEqual([{ same: 'y' }]);
    first.return();
    second.return();
  });

  it('watches what each run reads, drops what it no longer reads, and frees everything when the last client leaves', async () => {
    const fake = fakeExecution((run) => ({ keys: run === 1 ? ['a', 'b'] : ['b', 'c'], data: { run } }));
    const [one, two] = [fake.execution.join(), fake.execution.join()];
    fake.execution.start();
    await drain(one, 1);
    expect([...fake.watched].sort()).toEqual(['a', 'b']);
    fake.execution.invalidate(at(1));
    await drain(one, 1);
    expect([...fake.watched].sort()).toEqual(['b', 'c']);
    one.return();
    expect(fake.disposed()).toBe(false);
    two.return();
    expect(fake.disposed()).toBe(true);
    expect(fake.watched.size).toBe(0);
    fake.execution.invalidate(at(2));
    await flush();
    expect(fake.runs).toHaveLength(2);
  });

  it('a slow client gets the newest result, not a queue of old ones; an ended one gets its last result, then done', async () => {
    const fake = fakeExecution((run) => ({ keys: ['a'], data: { run } }));
    const client = fake.execution.join();
    fake.execution.start();
    for (let n = 1; n <= 3; n++) {
      await flush();
      fake.execution.invalidate(at(n));
    }
    await flush();
    expect(await drain(client, 1)).toEqual([{ run: 4 }]);
    client.finish({ errors: [] });
    expect((await client.next()).value).toEqual({ errors: [] });
    expect((await client.next()).done).toBe(true);
    expect(fake.disposed()).toBe(true);
  });
});

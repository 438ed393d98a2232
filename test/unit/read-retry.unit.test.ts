// Reads that ride through an outage: the query bus's retry of queries that failed with UnavailableError.
import { describe, expect, it } from 'vitest';
import { SYSTEM_CALLER } from '../../src/core/caller.ts';
import { NotFoundError, UnavailableError } from '../../src/core/errors.ts';
import { createQueryBus } from '../../src/core/query-bus.ts';
import type { QueryContext } from '../../src/core/query-context.ts';
import { retryUnavailableReads } from '../../src/core/read-retry.ts';

type Q = { read: { params: Record<string, never>; result: string } };

/** A query bus whose one query fails as `failures` says, one answer per try, then answers "rows". */
function busFailing(failures: unknown[], options: { timeoutMs: number; maxPauseMs?: number }) {
  const bus = createQueryBus<Q, QueryContext>({ middleware: [retryUnavailableReads({ firstPauseMs: 1, ...options })] });
  let tries = 0;
  bus.register('read', async () => {
    const failure = failures[tries++];
    if (failure) throw failure;
    return 'rows';
  });
  return { bus, tries: () => tries };
}

const outage = () => new UnavailableError({ cause: Object.assign(new Error('connection refused'), { code: 'ECONNREFUSED' }) });

describe('reads through an outage', () => {
  it('runs a query again while the database is away, and answers once it is back', async () => {
    const { bus, tries } = busFailing([outage(), outage(), outage()], { timeoutMs: 5000 });
    expect(await bus.execute('read', {}, { caller: SYSTEM_CALLER })).toBe('rows');
    expect(tries()).toBe(4);
  });

  it('gives up with the outage once its time is up', async () => {
    const { bus, tries } = busFailing(Array.from({ length: 1000 }, outage), { timeoutMs: 60, maxPauseMs: 5 });
    await expect(bus.execute('read', {}, { caller: SYSTEM_CALLER })).rejects.toBeInstanceOf(UnavailableError);
    expect(tries()).toBeGreaterThan(1);
  });

  it('never repeats a query for another answer than an outage', async () => {
    const { bus, tries } = busFailing([new NotFoundError('no such thing')], { timeoutMs: 5000 });
    await expect(bus.execute('read', {}, { caller: SYSTEM_CALLER })).rejects.toBeInstanceOf(NotFoundError);
    expect(tries()).toBe(1);
  });

  it('stops trying when the client has left', async () => {
    const { bus, tries } = busFailing([outage(), outage()], { timeoutMs: 5000 });
    const left = new AbortController();
    left.abort();
    const context = { caller: SYSTEM_CALLER, consistency: { signal: left.signal } };
    await expect(bus.execute('read', {}, context)).rejects.toBeInstanceOf(UnavailableError);
    expect(tries()).toBe(1);
  });
});

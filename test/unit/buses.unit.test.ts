import { describe, expect, it } from 'vitest';
import { SYSTEM_CALLER } from '../../src/core/caller.ts';
import { createCommandBus } from '../../src/core/command-bus.ts';
import { createKeyedLock } from '../../src/core/keyed-lock.ts';
import type { Command } from '../../src/core/messages.ts';
import { createQueryBus } from '../../src/core/query-bus.ts';

type Ping = Command<'Ping', { n: number }>;
type Pong = Command<'Pong', { s: string }>;
const metadata = { caller: SYSTEM_CALLER, now: new Date(0), newId: 'x' };

describe('command bus', () => {
  it('dispatches by type through the middleware, outermost first', async () => {
    const trail: string[] = [];
    const bus = createCommandBus<Ping | Pong, string>({
      middleware: [
        async (c, next) => {
          trail.push(`a:${c.type}`);
          return `[${await next(c)}]`;
        },
        async (c, next) => {
          trail.push(`b:${c.type}`);
          return next(c);
        },
      ],
    });
    bus.register('Ping', async (c) => `ping ${c.data.n}`);
    bus.register('Pong', async (c) => `pong ${c.data.s}`);
    expect(await bus.dispatch({ type: 'Ping', data: { n: 1 }, metadata })).toBe('[ping 1]');
    expect(await bus.dispatch({ type: 'Pong', data: { s: 'x' }, metadata })).toBe('[pong x]');
    expect(trail).toEqual(['a:Ping', 'b:Ping', 'a:Pong', 'b:Pong']);
  });

  it('refuses a second handler and a command nobody handles', async () => {
    const bus = createCommandBus<Ping, string>();
    bus.register('Ping', async () => 'ok');
    expect(() => bus.register('Ping', async () => 'again')).toThrow(/already/);
    await expect(bus.dispatch({ type: 'Nope' as 'Ping', data: { n: 0 }, metadata })).rejects.toThrow(/no handler/);
  });
});

describe('query bus', () => {
  it('runs the named handler with params and context through the middleware', async () => {
    type Q = { double: { params: { n: number }; result: number } };
    const seen: string[] = [];
    const bus = createQueryBus<Q, { user: string }>({
      middleware: [
        async (q, next) => {
          seen.push(`${q.name}:${q.context.user}`);
          return next();
        },
      ],
    });
    bus.register('double', async ({ n }) => n * 2);
    expect(await bus.execute('double', { n: 21 }, { user: 'u' })).toBe(42);
    expect(seen).toEqual(['double:u']);
  });
});

describe('keyed lock', () => {
  it('runs work for one key one at a time, other keys in parallel, and survives failures', async () => {
    const lock = createKeyedLock();
    const log: string[] = [];
    const step = (key: string, n: number, fail = false) =>
      lock(key, async () => {
        log.push(`start ${key}${n}`);
        await new Promise((r) => setImmediate(r));
        log.push(`end ${key}${n}`);
        if (fail) throw new Error('boom');
        return n;
      });
    const results = await Promise.allSettled([step('a', 1, true), step('a', 2), step('b', 1)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled', 'fulfilled']);
    expect(log.indexOf('end a1')).toBeLessThan(log.indexOf('start a2'));
    expect(log.indexOf('start b1')).toBeLessThan(log.indexOf('end a1'));
  });
});

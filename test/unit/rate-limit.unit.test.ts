// The per-tenant token bucket of TENANT_COMMANDS_PER_SECOND, on a clock the test moves.
import { describe, expect, it } from 'vitest';
import type { Caller } from '../../src/core/caller.ts';
import { SYSTEM_CALLER } from '../../src/core/caller.ts';
import type { Command } from '../../src/core/messages.ts';
import { tenantRateLimit } from '../../src/core/rate-limit.ts';

const commandOf = (caller: Caller): Command => ({ type: 'CreateOrder', data: {}, metadata: { caller, now: new Date(0), newId: 'x' } });

describe('tenantRateLimit', () => {
  it("lets a second's worth through at once, then one per 1/rate, each tenant on its own; the service is never limited", async () => {
    let now = 0;
    const limited: string[] = [];
    const limit = tenantRateLimit<Command, string>({ perSecond: 4, now: () => now, onLimited: (t) => limited.push(t) });
    const send = (caller: Caller) =>
      limit(commandOf(caller), async () => 'done').then(
        (r) => r,
        (error: { code: string; retryAfterMs: number }) => `${error.code} ${error.retryAfterMs}`,
      );
    const a: Caller = { userId: 'u', roles: ['customer'], tenant: 'a' };
    const b: Caller = { userId: 'u', roles: ['customer'], tenant: 'b' };
    expect(await Promise.all([1, 2, 3, 4, 5].map(() => send(a)))).toEqual(['done', 'done', 'done', 'done', 'RATE_LIMITED 250']);
    expect(await send(b)).toBe('done');
    expect(await send(SYSTEM_CALLER)).toBe('done');
    now = 100;
    expect(await send(a)).toBe('RATE_LIMITED 150');
    now = 250;
    expect(await send(a)).toBe('done');
    expect(await send(a)).toBe('RATE_LIMITED 250');
    now = 10_000; // a long quiet time refills no more than the burst
    expect(await Promise.all([1, 2, 3, 4, 5].map(() => send(a)))).toEqual(['done', 'done', 'done', 'done', 'RATE_LIMITED 250']);
    expect(limited).toEqual(['a', 'a', 'a', 'a']);
  });
});

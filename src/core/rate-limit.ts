// A noisy tenant cannot starve the others: each tenant's commands go through a token bucket of
// TENANT_COMMANDS_PER_SECOND (a second's worth of burst). Over it a command is refused before it does
// anything, with how long until one would pass. The service's own commands (process managers, inbound
// messages) are never limited: they finish what an accepted command started.
import type { CommandMiddleware } from './command-bus.ts';
import { RateLimitedError } from './errors.ts';
import type { Command } from './messages.ts';
import { DEFAULT_TENANT } from './tenancy.ts';

export type RateLimitOptions = {
  perSecond: number;
  onLimited?: (tenant: string) => void;
  /** Milliseconds; for tests. */
  now?: () => number;
};

type Bucket = { tokens: number; at: number };

export function tenantRateLimit<C extends Command, R>(options: RateLimitOptions): CommandMiddleware<C, R> {
  const { perSecond, onLimited, now = performance.now.bind(performance) } = options;
  const burst = Math.max(1, perSecond);
  const buckets = new Map<string, Bucket>();
  return (command, next) => {
    const { caller } = command.metadata;
    if (caller.system) return next(command);
    const tenant = caller.tenant ?? DEFAULT_TENANT;
    const at = now();
    const bucket = buckets.get(tenant) ?? { tokens: burst, at };
    bucket.tokens = Math.min(burst, bucket.tokens + ((at - bucket.at) / 1000) * perSecond);
    bucket.at = at;
    buckets.set(tenant, bucket);
    if (bucket.tokens < 1) {
      onLimited?.(tenant);
      return Promise.reject(new RateLimitedError(Math.max(1, Math.ceil(((1 - bucket.tokens) / perSecond) * 1000))));
    }
    bucket.tokens -= 1;
    return next(command);
  };
}

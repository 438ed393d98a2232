// Reads ride through a database restart: a query that failed because the database was away (the core's
// UnavailableError: a lost connection, a server restarting) runs again, on a new connection, until its
// time is up, so that a restart costs a read some latency and not an error. Only queries pass here: a
// command is never run again blindly (whether a lost commit happened is not known).
import { UnavailableError } from './errors.ts';
import type { QueryMiddleware } from './query-bus.ts';
import type { QueryContext } from './query-context.ts';

export type ReadRetryOptions = {
  /** How long after its start a query may still be tried again (CONSISTENCY_TIMEOUT_MS). */
  timeoutMs: number;
  /** The pause before the first try again; it doubles after each, up to maxPauseMs (each with jitter). */
  firstPauseMs?: number;
  maxPauseMs?: number;
};

export function retryUnavailableReads(options: ReadRetryOptions): QueryMiddleware<QueryContext> {
  const { timeoutMs, firstPauseMs = 25, maxPauseMs = 250 } = options;
  return ({ context }, next) => {
    const deadline = Date.now() + timeoutMs;
    const attempt = (pauseMs: number): Promise<unknown> =>
      next().catch(async (error: unknown) => {
        const pause = pauseMs * (0.5 + Math.random() / 2);
        // Another answer than an outage, no time left, or nobody left to answer: the error stands.
        if (!(error instanceof UnavailableError) || Date.now() + pause >= deadline || context.consistency?.signal?.aborted) throw error;
        await new Promise((resolve) => setTimeout(resolve, pause));
        return attempt(Math.min(pauseMs * 2, maxPauseMs));
      });
    return attempt(firstPauseMs);
  };
}

// Commands ride through a database restart where that is safe: a command that failed because the
// database was away runs again, until CONSISTENCY_TIMEOUT_MS is up, when nothing of it can have been
// committed (it failed before its append was sent) or when it has a commandId (a repeat is answered the
// first result, as any repeat). A command without a commandId whose commit may have happened is not run
// again: it answers SERVICE_UNAVAILABLE with outcome "unknown", for the caller to read before repeating.
import type { CommandMiddleware } from './command-bus.ts';
import { UnavailableError } from './errors.ts';
import type { Command } from './messages.ts';
import { noTracing, type Tracing } from './tracing.ts';

export type CommandRetryOptions = {
  timeoutMs: number;
  /** Each retry is marked on the command's span. */
  tracing?: Tracing;
  firstPauseMs?: number;
  maxPauseMs?: number;
};

export function retryUnavailableCommands<C extends Command, R>(options: CommandRetryOptions): CommandMiddleware<C, R> {
  const { timeoutMs, firstPauseMs = 25, maxPauseMs = 250, tracing = noTracing } = options;
  return (command, next) => {
    const deadline = Date.now() + timeoutMs;
    const repeatable = command.metadata.commandId !== undefined;
    let mayHaveCommitted = false;
    const attempt = (pauseMs: number): Promise<R> =>
      next(command).catch(async (error: unknown) => {
        if (!(error instanceof UnavailableError)) throw error;
        mayHaveCommitted ||= error.outcome === 'unknown';
        const pause = pauseMs * (0.5 + Math.random() / 2);
        if ((mayHaveCommitted && !repeatable) || Date.now() + pause >= deadline) {
          throw new UnavailableError({ cause: error.cause ?? error, outcome: mayHaveCommitted ? 'unknown' : 'none' });
        }
        tracing.currentSpan().addEvent('retry', { 'converge.reason': 'SERVICE_UNAVAILABLE', 'converge.pause_ms': Math.round(pause) });
        await new Promise((resolve) => setTimeout(resolve, pause));
        return attempt(Math.min(pauseMs * 2, maxPauseMs));
      });
    return attempt(firstPauseMs);
  };
}

// What every subscription does besides its job: it counts as open in the metrics until it ends, and it
// ends when the caller's token expires (over SSE; graphql-ws closes the socket itself).
import { UnauthenticatedError } from '../core/errors.ts';
import { runAt } from '../core/timers.ts';
import type { GraphQLContext } from './context.ts';

/** `stop` is a Repeater's stop: callable, and a promise that settles when the subscription ends. */
export function superviseSubscription(
  ctx: GraphQLContext,
  name: string,
  stop: ((error?: unknown) => unknown) & PromiseLike<unknown>,
): void {
  const closed = ctx.subscriptionOpened(name);
  const expiresAt = ctx.caller.expiresAt;
  const cancel = expiresAt === undefined ? undefined : runAt(expiresAt, () => stop(new UnauthenticatedError('The token has expired')));
  void Promise.resolve(stop).then(() => {
    cancel?.();
    closed();
  });
}

// What every subscription does besides its job: it counts as open in the metrics until it ends, and it
// ends when the caller's token expires (over SSE; graphql-ws closes the socket itself).
import { UnauthenticatedError } from '../core/errors.ts';
import { runAt } from '../core/timers.ts';
import type { GraphQLContext } from './context.ts';

/** `stop` ends the subscription (with an error, or not); `ended` settles when it has ended (a Repeater's stop is both). */
export function superviseSubscription(
  ctx: GraphQLContext,
  name: string,
  stop: (error?: unknown) => unknown,
  ended: PromiseLike<unknown>,
): void {
  const closed = ctx.subscriptionOpened(name);
  const expiresAt = ctx.caller.expiresAt;
  const cancel = expiresAt === undefined ? undefined : runAt(expiresAt, () => stop(new UnauthenticatedError('The token has expired')));
  void Promise.resolve(ended).then(() => {
    cancel?.();
    closed();
  });
}

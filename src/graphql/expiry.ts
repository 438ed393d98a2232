// A subscription ends when the caller's token expires (over SSE; graphql-ws closes the socket itself).
import { UnauthenticatedError } from '../core/errors.ts';
import type { GraphQLContext } from './context.ts';

export function stopAtExpiry(ctx: GraphQLContext, stop: (error?: unknown) => unknown): void {
  const expiresAt = ctx.caller.expiresAt;
  if (expiresAt === undefined) return;
  const timer = setTimeout(() => stop(new UnauthenticatedError('The token has expired')), Math.max(0, expiresAt - Date.now()));
  timer.unref();
  void (stop as unknown as Promise<unknown>).then?.(() => clearTimeout(timer));
}

// Read-your-writes for resolvers: a query context that waits for `after`, and the request-wide stale flag.
import type { Position } from '../core/position.ts';
import type { QueryContext } from '../core/query-context.ts';
import type { GraphQLContext } from './context.ts';

/** Runs `read` with a query context for `after`; a timed-out wait marks the whole response stale. */
export async function readAfter<T>(ctx: GraphQLContext, after: Position | null | undefined, read: (q: QueryContext) => Promise<T>): Promise<T> {
  // Without `after` nothing waits, so nothing can be stale: the read alone (the common case, kept lean).
  if (!after) return read({ caller: ctx.caller });
  const consistency = { after, stale: false, signal: ctx.signal };
  try {
    return await read({ caller: ctx.caller, consistency });
  } finally {
    if (consistency.stale) ctx.consistency.stale = true;
  }
}

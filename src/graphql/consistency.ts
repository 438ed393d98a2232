// Read-your-writes for resolvers: a query context that waits for `after`, the request-wide stale flag,
// and the token each object was read at, so that a field of it that reads another projection (another
// module's field on Order, say) reads at least as fresh (causally, see the consistency tracker).
import type { Page } from '../core/input-fields.ts';
import type { Position } from '../core/position.ts';
import type { QueryContext } from '../core/query-context.ts';
import type { GraphQLContext } from './context.ts';

/** Runs `read` with a query context for `after`; a timed-out wait marks the whole response stale. */
export async function readAfter<T>(ctx: GraphQLContext, after: Position | null | undefined, read: (q: QueryContext) => Promise<T>): Promise<T> {
  // Without `after` nothing waits, so nothing can be stale: the read alone (the common case, kept lean).
  if (!after) return read({ caller: ctx.caller });
  const consistency = { after, stale: false, signal: ctx.signal };
  try {
    const value = await read({ caller: ctx.caller, consistency });
    remember(ctx, value, after);
    return value;
  } finally {
    if (consistency.stale) ctx.consistency.stale = true;
  }
}

/** The token `value` (an object a resolver returned) was read at, if it was read at one. */
export const readAt = (ctx: GraphQLContext, value: object): Position | undefined => ctx.consistency.readAt.get(value);

function remember(ctx: GraphQLContext, value: unknown, at: Position) {
  if (typeof value !== 'object' || value === null) return;
  ctx.consistency.readAt.set(value, at);
  const items = (value as Partial<Page<unknown>>).items;
  if (Array.isArray(items)) for (const item of items) if (typeof item === 'object' && item !== null) ctx.consistency.readAt.set(item, at);
}

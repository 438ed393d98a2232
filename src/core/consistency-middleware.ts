// Read-your-writes on the query bus: before a query with `consistency.after` runs, wait until every
// projection behind it has processed that token, at most `timeoutMs`; on timeout (or when the client
// leaves) the query runs anyway and `consistency.stale` is set.
import type { ConsistencyTracker } from './consistency-tracker.ts';
import type { QueryMiddleware } from './query-bus.ts';
import type { QueryContext } from './query-context.ts';

export function consistencyMiddleware(
  tracker: ConsistencyTracker,
  timeoutMs: number,
  projectionsBehind: Readonly<Record<string, readonly string[]>>,
): QueryMiddleware<QueryContext> {
  return ({ name, context }, next) => {
    const consistency = context.consistency;
    const after = consistency?.after;
    const behind = projectionsBehind[name];
    if (!consistency || !after || !behind || behind.length === 0) return next();
    return tracker.waitFor(after, behind, timeoutMs, consistency.signal).then(({ stale }) => {
      if (stale) consistency.stale = true;
      return next();
    });
  };
}

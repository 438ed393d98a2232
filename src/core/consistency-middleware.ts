// Read-your-writes on the query bus: before a query with `consistency.after` runs, wait until every
// projection behind it has processed that token, at most `timeoutMs`; on timeout (or when the client
// leaves) the query runs anyway and `consistency.stale` is set. Waits cannot be turned against the
// server: a token the log has never reached is refused at once (BAD_USER_INPUT), and beyond `maxWaits`
// waits in this process a query answers stale at once instead of queueing.
import type { ConsistencyTracker } from './consistency-tracker.ts';
import { ValidationError } from './errors.ts';
import { freshRead } from './fresh-read.ts';
import { comparePositions, encodeToken, isAtOrAfter, type Position } from './position.ts';
import type { QueryMiddleware } from './query-bus.ts';
import type { QueryContext } from './query-context.ts';
import { NO_SPAN, noTracing, type Span, type Tracing } from './tracing.ts';

export type ConsistencyWaitOptions = {
  timeoutMs: number;
  /** For each query, the projections its read model comes from. */
  projectionsBehind: Readonly<Record<string, readonly string[]>>;
  /** The position of the last event in the log, committed (visible to projections yet or not). */
  lastPosition: () => Promise<Position | null>;
  maxWaits: number;
  /** A query answered stale at once because `maxWaits` were waiting already. */
  onWaitRefused?: () => void;
  /** A span for each wait: the projections waited on, how long each took, whether it ended stale, links to the steps that ended it. */
  tracing?: Tracing;
};

export type ConsistencyWaits = {
  middleware: QueryMiddleware<QueryContext>;
  /** Throws BAD_USER_INPUT (at `path`) when `token` is ahead of the last event in the log. */
  check(token: Position, path?: readonly (string | number)[]): Promise<void>;
  /** Queries waiting now. */
  waiting(): number;
  /** A position this process saw committed (its own appends): tokens up to it need no read of the log's head. */
  committed(position: Position): void;
};

export function createConsistencyWaits(tracker: ConsistencyTracker, options: ConsistencyWaitOptions): ConsistencyWaits {
  const { timeoutMs, projectionsBehind, maxWaits } = options;
  const { inLog, committed } = logMembership(options.lastPosition);
  let waiting = 0;

  async function check(token: Position, path: readonly (string | number)[] = ['after']) {
    if (await inLog(token)) return;
    throw new ValidationError([
      { path: [...path], message: 'is ahead of the event log: it was not returned by this service, or its database was reset since' },
    ]);
  }

  const wait = async (context: QueryContext, after: Position, behind: readonly string[], span: Span) => {
    const consistency = context.consistency!;
    await check(after, consistency.path);
    if (waiting >= maxWaits) {
      options.onWaitRefused?.();
      consistency.stale = true;
      span.setAttributes({ 'converge.consistency.stale': true, 'converge.consistency.refused': true });
      return;
    }
    waiting++;
    try {
      const { stale, projections } = await tracker.waitFor(after, behind, timeoutMs, consistency.signal);
      if (stale) consistency.stale = true;
      span.setAttributes({
        'converge.consistency.stale': stale,
        // Parallel to converge.consistency.projections; -1: it did not get there in time.
        'converge.consistency.waited_ms': projections.map((p) => (p.waitedMs === null ? -1 : Math.round(p.waitedMs * 10) / 10)),
      });
      span.addLinks(projections.flatMap((p) => (p.step ? [p.step] : [])));
    } finally {
      waiting--;
    }
  };
  const tracing = options.tracing ?? noTracing;
  // With tracing off, no span and none of its attributes (a token encoded per wait) are made.
  const tracedWait = (query: string, context: QueryContext, after: Position, behind: readonly string[]) =>
    !tracing.enabled
      ? wait(context, after, behind, NO_SPAN)
      : tracing.span(
          'read-your-writes wait',
          {
            attributes: {
              'converge.query': query,
              'converge.consistency.after': encodeToken(after),
              'converge.consistency.projections': behind,
            },
          },
          (span) => wait(context, after, behind, span),
        );

  // Not async: a query with nothing to wait for (no token, or one already reached) goes straight on.
  const middleware: QueryMiddleware<QueryContext> = ({ name, context }, next) => {
    const after = context.consistency?.after;
    const behind = projectionsBehind[name];
    if (!after || !behind || behind.length === 0 || tracker.reached(after, behind)) return next();
    return tracedWait(name, context, after, behind).then(next);
  };

  return { middleware, check, waiting: () => waiting, committed };
}

/**
 * Whether a token is at or before the last event in the log. The furthest position seen (read, or
 * committed by this process's appends) is kept, so a token of an event this process has seen costs
 * nothing; otherwise the log's head is read (a fresh read, shared by concurrent questions).
 */
function logMembership(lastPosition: () => Promise<Position | null>) {
  let known: Position | null = null;
  const read = freshRead(lastPosition);
  const committed = (position: Position | null) => {
    if (position && (!known || comparePositions(position, known) > 0)) known = position;
  };
  const inLog = async (token: Position): Promise<boolean> => {
    if (known && isAtOrAfter(known, token)) return true;
    committed(await read());
    return known !== null && isAtOrAfter(known, token);
  };
  return { inLog, committed };
}

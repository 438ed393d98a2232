// Where a query reads: a replica when one is new enough, else the primary. A query without a token reads
// any replica in rotation. One with a token (after:, the session's, a payload's) has waited until its
// projections reached it here; it reads a replica that has replayed the commit of the step that brought
// each of them that far (its commit mark), and the primary when none has within REPLICA_WAIT_MS.
import type { ConsistencyTracker } from '../../core/consistency-tracker.ts';
import { UnavailableError } from '../../core/errors.ts';
import { isAtOrAfter } from '../../core/position.ts';
import type { QueryDefinition, QueryDeps } from '../../core/module.ts';
import type { QueryContext } from '../../core/query-context.ts';
import { withTimeout } from '../../core/with-timeout.ts';
import type { CommitMarks } from './commit-marks.ts';
import type { ReplicaSet } from './replica-set.ts';

/** Why a read with a token went to the primary. */
export type FallbackReason = 'none in rotation' | 'no commit mark' | 'not replayed' | 'replica failed';

export type ReadTarget = { replica: number } | { primary: FallbackReason };

export type ReadRouter = (projections: readonly string[], context: QueryContext) => Promise<ReadTarget>;

export function createReadRouter(options: {
  replicas: ReplicaSet;
  marks: CommitMarks;
  tracker: ConsistencyTracker;
  waitMs: number;
}): ReadRouter {
  const { replicas, marks, tracker, waitMs } = options;
  return async (projections, context) => {
    if (!context.consistency?.after) {
      const replica = replicas.any();
      return replica === undefined ? { primary: 'none in rotation' } : { replica };
    }
    if (!replicas.available()) return { primary: 'none in rotation' };
    const deadline = Date.now() + waitMs;
    let lsn = 0n;
    for (const projection of projections) {
      const position = tracker.position(projection);
      if (!position) continue;
      // What the token needs (the wait timed out when the projection is not there yet: then all it has).
      const target = tracker.target(projection, context.consistency.after);
      const wanted = target && isAtOrAfter(position, target) ? target : position;
      const mark = await marks.lsnFor(projection, wanted, deadline);
      if (mark === undefined) return { primary: 'no commit mark' };
      if (mark > lsn) lsn = mark;
    }
    const replica = await replicas.replayed(lsn, deadline);
    return replica === undefined ? { primary: 'not replayed' } : { replica };
  };
}

/** A read on a replica that takes longer is given up (its replica taken out) and made on the primary. */
const REPLICA_READ_TIMEOUT_MS = 10_000;

export type ReadObserver = (read: { onReplica: boolean; withToken: boolean; fallback?: FallbackReason }) => void;

/**
 * A query's handler that reads where the router says: one handler per database (each with its own
 * batching), the primary's taking over when a replica fails under the read (a read is safe to repeat).
 */
export function routedQuery(
  definition: QueryDefinition,
  deps: QueryDeps,
  options: { route: ReadRouter; replicas: ReplicaSet; observe?: ReadObserver },
): (params: unknown, context: QueryContext) => Promise<unknown> {
  const { route, replicas, observe } = options;
  const onPrimary = definition.create(deps);
  // It reads the event store, which is the primary's.
  if (definition.projections.length === 0) return onPrimary;
  const onReplica = replicas.status().map((_, i) => definition.create({ ...deps, db: replicas.executor(i) }));
  return async (params, context) => {
    const withToken = context.consistency?.after !== undefined;
    const target = await route(definition.projections, context);
    if ('replica' in target) {
      try {
        // A replica cut off may never answer: then it counts as away.
        const result = await withTimeout(
          onReplica[target.replica]!(params, context),
          REPLICA_READ_TIMEOUT_MS,
          (cause) => new UnavailableError({ cause }),
        );
        observe?.({ onReplica: true, withToken });
        return result;
      } catch (error) {
        if (!(error instanceof UnavailableError)) throw error;
        replicas.failed(target.replica, error);
        observe?.({ onReplica: false, withToken, fallback: 'replica failed' });
        return onPrimary(params, context);
      }
    }
    observe?.({ onReplica: false, withToken, fallback: target.primary });
    return onPrimary(params, context);
  };
}

// A live projection step in two statements: the batch read (with the projection's lookups, unless it is
// catching up), then its writes with the checkpoint's compare-and-set move and progress notification as
// one statement, so one implicit transaction with no BEGIN or COMMIT (docs/architecture.md, Projections).
import { sql, type SQL } from 'drizzle-orm';
import { START, type Position } from '../../core/position.ts';
import type { StepResult } from '../../core/projection.ts';
import type { Database } from '../db/database.ts';
import { driverError } from '../db/errors.ts';
import type { PostgresEventStore } from '../event-store/postgres-event-store.ts';
import { batchEvents, type BatchRow } from './batch-rows.ts';
import { batchStatement } from './batch-statement.ts';
import type { CatchUps } from './catch-up.ts';
import { PROGRESS_CHANNEL } from './projection-records.ts';
import { type Apply, type PreparedProjections, withWrites } from './step-apply.ts';

/** SQLSTATE raised by converge_advance_projection when the checkpoint is not where the step read from. */
const MOVED_ON = 'CV001';

const advanceStatement = (name: string, from: Position, to: Position, writes: readonly SQL[], effects: Position | null, trace?: string) =>
  withWrites(
    writes,
    sql`select converge_advance_projection(${name}, ${from.tx.toString()}::xid8, ${from.pos.toString()}::bigint,
      ${to.tx.toString()}::xid8, ${to.pos.toString()}::bigint, ${PROGRESS_CHANNEL},
      ${effects?.tx.toString() ?? null}::xid8, ${effects?.pos.toString() ?? null}::bigint${trace ? sql`, ${trace}::text` : sql.empty()}) as advanced`,
  );

export type LiveStepDeps = {
  database: Database;
  store: PostgresEventStore;
  prepared: PreparedProjections;
  catchUps: CatchUps;
  /** Called after a step committed a projection's move to `position` (not awaited). */
  committed?: (name: string, position: Position) => void;
};

export async function liveStep(
  deps: LiveStepDeps,
  name: string,
  from: Position | null,
  limit: number,
  apply: Apply,
  trace?: () => string | undefined,
): Promise<StepResult> {
  const { database, prepared, catchUps } = deps;
  const start = from ?? START;
  // Catching up, batches are large and the tables grow fast: the batch goes without the lookups, which
  // are then read with plans made for their parameters (docs/decisions/lookup-plans.md).
  const lookups = catchUps.catchingUp(name) ? undefined : prepared.get(name).lookups;
  const rows = await database.projectionBatches.query<BatchRow>(batchStatement('live', limit, lookups), [
    name,
    start.tx.toString(),
    start.pos.toString(),
  ]);
  const { events, pending, moved } = batchEvents(rows, deps.store.toStoredEvent);
  catchUps.read(name, events.length, limit);
  const last = events.at(-1);
  if (!last) return { kind: 'applied', read: 0, to: null, pending };
  if (!moved) return { kind: 'stale' };
  const { writes, effects } = await prepared.apply(name, events, apply, database.projectionLookups, rows[0]!.found);
  try {
    await database.rows(advanceStatement(name, start, last.position, writes, effects, trace?.()));
  } catch (error) {
    // Another runner moved the checkpoint, or an admin paused, failed or reset the projection.
    if ((driverError(error) as { code?: unknown })?.code === MOVED_ON) return { kind: 'stale' };
    throw error;
  }
  deps.committed?.(name, last.position);
  return { kind: 'applied', read: events.length, to: last.position, pending, effects };
}

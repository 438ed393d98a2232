// Live projection steps in two statements: the batch read (with the projections' lookups, unless they
// are catching up), then their writes with each checkpoint's compare-and-set move and progress
// notification as one statement, so one implicit transaction with no BEGIN or COMMIT (docs/architecture.md,
// Projections). Several projections at the same checkpoint can step together (shared-steps.ts): one read,
// one write, one commit; each keeps its own outcome.
import { sql, type SQL } from 'drizzle-orm';
import { UnavailableError } from '../../core/errors.ts';
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

export type LiveStepDeps = {
  database: Database;
  store: PostgresEventStore;
  prepared: PreparedProjections;
  catchUps: CatchUps;
  /** Called after a step committed a projection's move to `position` (not awaited). */
  committed?: (name: string, position: Position) => void;
};

/** One projection's part in a live step. */
export type LiveStepMember = { name: string; apply: Apply; trace?: () => string | undefined };

/** A member applied: its writes and checkpoint move, ready to send. */
type Ready = { member: number; writes: readonly SQL[]; advance: SQL; effects: Position | null };

const advanceCall = (name: string, from: Position, to: Position, effects: Position | null, trace?: string) =>
  sql`converge_advance_projection(${name}, ${from.tx.toString()}::xid8, ${from.pos.toString()}::bigint,
      ${to.tx.toString()}::xid8, ${to.pos.toString()}::bigint, ${PROGRESS_CHANNEL},
      ${effects?.tx.toString() ?? null}::xid8, ${effects?.pos.toString() ?? null}::bigint${trace ? sql`, ${trace}::text` : sql.empty()})`;

/** Every ready member's writes and moves in one statement: they commit together or not at all. */
const writeStatement = (ready: readonly Ready[]) =>
  withWrites(
    ready.flatMap((r) => r.writes),
    sql`select ${sql.join(
      ready.map((r, i) => sql`${r.advance} as ${sql.raw(`advanced_${i}`)}`),
      sql`, `,
    )}`,
  );

/** Sends one member's writes; `stale` when another runner moved its checkpoint, or an admin paused, failed or reset it. */
async function writeOne(database: Database, ready: Ready): Promise<'written' | 'stale'> {
  try {
    await database.rows(writeStatement([ready]));
    return 'written';
  } catch (error) {
    if ((driverError(error) as { code?: unknown })?.code === MOVED_ON) return 'stale';
    throw error;
  }
}

/**
 * Sends the members' writes together; when the database refuses them (one member's checkpoint moved, or
 * one's writes are refused), each on its own, so that only that member's step is stale or fails.
 */
async function writeAll(database: Database, ready: readonly Ready[]): Promise<PromiseSettledResult<'written' | 'stale'>[]> {
  if (ready.length <= 1) return Promise.allSettled(ready.map((r) => writeOne(database, r)));
  try {
    await database.rows(writeStatement(ready));
    return ready.map(() => ({ status: 'fulfilled', value: 'written' }));
  } catch (error) {
    // The database is away, and may have committed: nothing more to try now (each runner reloads and
    // steps again). Refused for certain (a deadlock, say): each on its own, as for any other refusal.
    if (error instanceof UnavailableError && !error.notCommitted) return ready.map(() => ({ status: 'rejected', reason: error }));
    return Promise.allSettled(ready.map((r) => writeOne(database, r)));
  }
}

/**
 * A live step of `members`, all at checkpoint `from`: one batch of up to `limit` events for all, each
 * member's apply over it, then their writes. Each member's outcome on its own: its result, or the error of
 * its apply or its writes. A read that fails rejects the whole call.
 */
export async function liveSteps(
  deps: LiveStepDeps,
  from: Position | null,
  limit: number,
  members: readonly LiveStepMember[],
): Promise<PromiseSettledResult<StepResult>[]> {
  const { database, prepared, catchUps } = deps;
  const start = from ?? START;
  // Catching up, batches are large and the tables grow fast: the batch goes without the lookups, which
  // are then read with plans made for their parameters (docs/decisions/lookup-plans.md).
  const lookups = members.map((m) => (catchUps.catchingUp(m.name) ? undefined : prepared.get(m.name).lookups));
  const rows = await database.projectionBatches.query<BatchRow>(batchStatement('live', limit, lookups), [
    JSON.stringify(members.map((m) => m.name)),
    start.tx.toString(),
    start.pos.toString(),
  ]);
  const { events, pending, moved, found } = batchEvents(rows, deps.store.toStoredEvent);
  for (const m of members) catchUps.read(m.name, events.length, limit);
  const last = events.at(-1);
  const settled = <T>(value: T) => ({ status: 'fulfilled', value }) as const;
  if (!last) return members.map(() => settled<StepResult>({ kind: 'applied', read: 0, to: null, pending }));

  const applied = await Promise.allSettled(
    members.map(async (m, j): Promise<Ready | null> => {
      if (!moved.has(m.name)) return null;
      const { writes, effects } = await prepared.apply(m.name, events, m.apply, database.projectionLookups, found(j));
      return { member: j, writes, effects, advance: advanceCall(m.name, start, last.position, effects, m.trace?.()) };
    }),
  );
  const ready = applied.flatMap((a) => (a.status === 'fulfilled' && a.value ? [a.value] : []));
  const written = new Map((await writeAll(database, ready)).map((w, i) => [ready[i]!.member, w]));
  return applied.map((a, j): PromiseSettledResult<StepResult> => {
    if (a.status === 'rejected') return a;
    const w = written.get(j);
    if (!a.value || !w || (w.status === 'fulfilled' && w.value === 'stale')) return settled<StepResult>({ kind: 'stale' });
    if (w.status === 'rejected') return w;
    deps.committed?.(members[j]!.name, last.position);
    return settled<StepResult>({ kind: 'applied', read: events.length, to: last.position, pending, effects: a.value.effects });
  });
}

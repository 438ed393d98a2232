// The projection runner's storage on PostgreSQL or PGlite. A live step is two statements: the batch read
// (with the projection's lookups), then its writes with the checkpoint's compare-and-set move; a rebuild
// step fills the shadow copies in one transaction; the swap brings them in (docs/architecture.md,
// Projections).
import { sql, type SQL } from 'drizzle-orm';
import type { StoredEvent } from '../../core/messages.ts';
import { comparePositions, isAtOrAfter, maxPosition, START, type Position } from '../../core/position.ts';
import { UnavailableError } from '../../core/errors.ts';
import { EventsNotApplied, type ProjectionStorage, type StepResult } from '../../core/projection.ts';
import type { Executor } from '../../core/sql.ts';
import type { SqlProjection, StepContext } from '../../core/sql-projection.ts';
import type { Database } from '../db/database.ts';
import { driverError } from '../db/errors.ts';
import type { EventRow } from '../event-store/event-rows.ts';
import { VISIBLE_TEXT } from '../event-store/event-rows.ts';
import type { PostgresEventStore } from '../event-store/postgres-event-store.ts';
import { batchStatement } from './batch-statement.ts';
import { compileLookups, type CompiledLookups, type LookupResult } from './lookups.ts';
import { ensureProjectionRow, PROGRESS_CHANNEL, progressPayload, RECORD_COLUMNS, toRecord, type RecordRow } from './projection-records.ts';
import { completeShadowTables, createShadowTables, shadowMatchesLive, swapInShadowTables, useShadow } from './shadow-tables.ts';
import { quoteIdent } from './sql-text.ts';
import { createWriteCollector } from './step-writes.ts';

type Apply = (events: StoredEvent[], step: StepContext) => Promise<void>;

type BatchRow = { [K in keyof EventRow]: EventRow[K] | null } & { moved: number; pending: boolean; found?: LookupResult | null };

/** Events a catch-up must have read before the projection's tables are analysed at its end. */
const ANALYZE_AFTER_EVENTS = 10_000;

/** SQLSTATE raised by converge_advance_projection when the checkpoint is not where the step read from. */
const MOVED_ON = 'CV001';

const VISIBLE = sql.raw(VISIBLE_TEXT);

/** A step's writes as one statement: each a WITH query (one snapshot for all), then `main`. */
function withWrites(writes: readonly SQL[], main: SQL): SQL {
  if (writes.length === 0) return main;
  return sql`with ${sql.join(
    writes.map((write, i) => sql`${sql.raw(`write_${i}`)} as (${write})`),
    sql`, `,
  )} ${main}`;
}

/**
 * The statement that ends a live step: the writes and the checkpoint's compare-and-set move (with the
 * progress notification) as one statement, so one implicit transaction, with no BEGIN or COMMIT.
 */
const advanceStatement = (name: string, from: Position, to: Position, writes: readonly SQL[], effects: Position | null) =>
  withWrites(
    writes,
    sql`select converge_advance_projection(${name}, ${from.tx.toString()}::xid8, ${from.pos.toString()}::bigint,
      ${to.tx.toString()}::xid8, ${to.pos.toString()}::bigint, ${PROGRESS_CHANNEL},
      ${effects?.tx.toString() ?? null}::xid8, ${effects?.pos.toString() ?? null}::bigint) as advanced`,
  );

type Prepared = { projection: SqlProjection; lookups?: CompiledLookups; standalone?: string };

export function createProjectionStorage(
  database: Database,
  store: PostgresEventStore,
  projections: readonly SqlProjection[] = [],
  /** Called after a step or a swap committed a projection's move to `position` (not awaited). */
  committed?: (name: string, position: Position) => void,
): ProjectionStorage<StepContext> {
  const prepared = new Map<string, Prepared>(
    projections.map((projection) => {
      const lookups = compileLookups(projection);
      const parts = lookups?.overParams(1);
      const standalone = parts && `with ${parts.ctes} select ${parts.result} as found`;
      return [projection.name, { projection, lookups, standalone }];
    }),
  );
  /** Projections whose last live step read a full batch, and how many events such steps read in a row. */
  const catchingUp = new Map<string, number>();
  /** Projections whose tables are being analysed. */
  const analysing = new Set<string>();

  const preparedOf = (name: string) => {
    const p = prepared.get(name);
    if (!p) throw new Error(`projection ${name} is not known to this storage`);
    return p;
  };

  /**
   * Fresh statistics for a projection's tables once it has caught up: they may have grown from empty
   * within seconds, and ANALYZE also drops plans cached while they were small.
   */
  const analyze = async (name: string) => {
    const tables = prepared.get(name)?.projection.tables ?? [];
    if (tables.length === 0 || analysing.has(name)) return;
    analysing.add(name);
    try {
      await database.rows(sql.raw(`analyze ${tables.map((t) => `public.${quoteIdent(t)}`).join(', ')}`));
    } finally {
      analysing.delete(name);
    }
  };

  /**
   * Runs `apply` with the rows its lookups found: those the batch statement brought (`found`), if they
   * cover the events, or else read now on `reads`. Returns the statements of what it wrote, and the
   * furthest event its commands appended (process managers).
   */
  async function applyStep(name: string, events: StoredEvent[], apply: Apply, reads: Executor, found?: LookupResult | null) {
    const { projection, lookups, standalone } = preparedOf(name);
    const handled = events.filter((e) => projection.handles.has(e.type));
    let rows = {};
    if (lookups && handled.length > 0) {
      const covered = found ? lookups.found(found, handled) : null;
      if (covered) rows = covered;
      else {
        let answer: { found: LookupResult } | undefined;
        try {
          [answer] = await reads.query<{ found: LookupResult }>(standalone!, lookups.params(handled));
        } catch (error) {
          throw error instanceof UnavailableError ? error : new EventsNotApplied(handled, error);
        }
        const read = lookups.found(answer!.found, handled);
        if (!read) throw new Error(`the lookups of projection ${name} did not cover their own keys`);
        rows = read;
      }
    }
    const writes = createWriteCollector(name, projection.tables);
    let effects: Position | null = null;
    const caused = (position: Position) => {
      effects = effects ? maxPosition(effects, position) : position;
    };
    await apply(events, { found: rows, insert: writes.insert, upsert: writes.upsert, caused } as StepContext);
    return { writes: writes.close(), effects: effects as Position | null };
  }

  /** Runs `apply` inside a rebuild's transaction `tx`, then its writes (if any) in one statement there. */
  async function applyIn(tx: Executor, name: string, events: StoredEvent[], apply: Apply, found?: LookupResult | null) {
    const { writes } = await applyStep(name, events, apply, tx, found);
    if (writes.length > 0) await tx.rows(withWrites(writes, sql`select true as written`));
  }

  const readBatch = (rows: BatchRow[]) => ({
    events: rows[0]?.tx == null ? [] : rows.map((row) => store.toStoredEvent(row as EventRow)),
    pending: rows[0]?.pending === true,
  });

  return {
    async load(name) {
      await ensureProjectionRow(database, name);
      const [row] = await database.rows<RecordRow>(sql`select ${RECORD_COLUMNS} from projections where name = ${name}`);
      return toRecord(row!);
    },

    async step(name, target, from, limit, apply) {
      const start = from ?? START;
      const params = [name, start.tx.toString(), start.pos.toString()];
      if (target === 'shadow') {
        return database.transaction(async (tx) => {
          const rows = await tx.query<BatchRow>(batchStatement('shadow', limit), params);
          const { events, pending } = readBatch(rows);
          const last = events.at(-1);
          if (!last) return { kind: 'applied', read: 0, to: null, pending } as const;
          if (rows[0]!.moved === 0) return { kind: 'stale' } as const;
          await useShadow(tx, name);
          await applyIn(tx, name, events, apply);
          return { kind: 'applied', read: events.length, to: last.position, pending } as const;
        });
      }
      // Catching up, batches are large and the tables grow fast: the batch goes without the lookups,
      // which are then read with plans made for their parameters (docs/decisions/lookup-plans.md).
      const caughtUp = catchingUp.get(name);
      const wasCatchingUp = caughtUp !== undefined;
      const lookups = wasCatchingUp ? undefined : preparedOf(name).lookups;
      const rows = await database.projectionBatches.query<BatchRow>(batchStatement('live', limit, lookups), params);
      const { events, pending } = readBatch(rows);
      if (events.length >= limit) catchingUp.set(name, (caughtUp ?? 0) + events.length);
      else if (wasCatchingUp) {
        catchingUp.delete(name);
        // After a real catch-up only (a busy live projection alternates full and short batches), beside
        // the steps (it takes no lock that writes wait for); if it fails, autovacuum analyses soon anyway.
        if (caughtUp >= ANALYZE_AFTER_EVENTS) analyze(name).catch(() => {});
      }
      const last = events.at(-1);
      if (!last) return { kind: 'applied', read: 0, to: null, pending };
      if (rows[0]!.moved === 0) return { kind: 'stale' };
      const { writes, effects } = await applyStep(name, events, apply, database.projectionLookups, rows[0]!.found);
      try {
        await database.rows(advanceStatement(name, start, last.position, writes, effects));
      } catch (error) {
        // Another runner moved the checkpoint, or an admin paused, failed or reset the projection.
        if ((driverError(error) as { code?: unknown })?.code === MOVED_ON) return { kind: 'stale' };
        throw error;
      }
      committed?.(name, last.position);
      return { kind: 'applied', read: events.length, to: last.position, pending, effects };
    },

    async fail(name, error, at) {
      await database.rows(sql`update projections set state = 'FAILED', last_error = ${error.slice(0, 2000)},
          error_position_tx = ${at.tx.toString()}::xid8, error_position = ${at.pos.toString()}::bigint, updated_at = now()
        where name = ${name} and state in ('RUNNING', 'REBUILDING')`);
    },

    async beginRebuild(name) {
      const rows =
        await database.rows(sql`update projections set state = 'REBUILDING', rebuild_requested = true, rebuild_position_tx = null,
          rebuild_position = null, updated_at = now()
        where name = ${name} and state = 'RUNNING' and position_tx = '0'::xid8 and position = 0
        returning name`);
      return rows.length > 0;
    },

    async prepareShadow(name, tables) {
      await database.transaction(async (tx) => {
        const [row] = await tx.rows<{ state: string }>(sql`select state from projections where name = ${name} for update`);
        if (row?.state !== 'REBUILDING') return;
        await createShadowTables(tx, name, tables);
        await tx.rows(sql`update projections set rebuild_position_tx = '0'::xid8, rebuild_position = 0 where name = ${name}`);
      });
    },

    completeShadow: (name, tables) => completeShadowTables(database, name, tables),

    async swap(name, tables, from, apply) {
      const result = await database.transaction(async (tx) => {
        // The live tables first, then the row, in the order a live step takes them (its one statement
        // locks the tables it writes, then the row): the other way round, the two could deadlock.
        if (tables.length > 0) {
          await tx.rows(sql.raw(`lock table ${tables.map((t) => `public.${quoteIdent(t)}`).join(', ')} in access exclusive mode`));
        }
        const [row] = await tx.rows<RecordRow>(sql`select ${RECORD_COLUMNS} from projections where name = ${name} for update`);
        const record = row && toRecord(row);
        const start = from ?? START;
        const rebuildAt = record?.rebuildPosition;
        if (record?.state !== 'REBUILDING' || !rebuildAt || comparePositions(rebuildAt, start) !== 0) {
          return { kind: 'stale' } as const;
        }
        // A migration changed the live tables in a way completeShadow could not follow: start over.
        if (!(await shadowMatchesLive(tx, name, tables))) {
          await tx.rows(sql`update projections set rebuild_position_tx = null, rebuild_position = null where name = ${name}`);
          return { kind: 'stale' } as const;
        }
        await useShadow(tx, name);
        // Everything the live copy has seen is visible now, so the shadow ends at or after it.
        let at = start;
        for (;;) {
          const events = await store.readAllWith(tx, at, 1000);
          if (events.length === 0) break;
          await applyIn(tx, name, events, apply);
          at = events.at(-1)!.position;
        }
        await swapInShadowTables(tx, name, tables);
        const live = record.position ?? START;
        // Never move the live checkpoint backwards.
        const to = isAtOrAfter(at, live) ? at : live;
        await tx.rows(sql`update projections set state = 'RUNNING', rebuild_requested = false, rebuild_position_tx = null, rebuild_position = null,
            position_tx = ${to.tx.toString()}::xid8, position = ${to.pos.toString()}::bigint, updated_at = now()
          where name = ${name}`);
        if (to.tx !== 0n || to.pos !== 0n) await tx.rows(sql`select pg_notify(${PROGRESS_CHANNEL}, ${progressPayload(name, to)})`);
        return { kind: 'applied', read: 0, to } as StepResult;
      });
      // The tables swapped in were filled from empty: fresh statistics, as after a live catch-up.
      if (result.kind === 'applied') {
        if (result.to) committed?.(name, result.to);
        analyze(name).catch(() => {});
      }
      return result;
    },

    async hasEvents(count) {
      const [row] = await database.rows<{ enough: boolean }>(sql`select count(*) >= ${count}::int as enough
        from (select 1 from events where ${VISIBLE} limit ${count}::int) visible`);
      return row?.enough === true;
    },
  };
}

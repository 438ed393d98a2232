// The projection runner's storage on PostgreSQL or PGlite: a projection's record, its live steps (see
// live-step.ts; shared by the projections at one checkpoint: shared-steps.ts), its rebuild's steps
// (rebuild-steps.ts), failures, and whether a log is long enough for a first build to go through shadow
// copies (docs/architecture.md, Projections).
import { sql } from 'drizzle-orm';
import type { Position } from '../../core/position.ts';
import type { ProjectionStorage } from '../../core/projection.ts';
import type { SqlProjection, StepContext } from '../../core/sql-projection.ts';
import type { Database } from '../db/database.ts';
import { VISIBLE_TEXT } from '../event-store/event-rows.ts';
import type { PostgresEventStore } from '../event-store/postgres-event-store.ts';
import { CatchUps } from './catch-up.ts';
import type { LiveStepDeps } from './live-step.ts';
import { ensureProjectionRow, RECORD_COLUMNS, type RecordRow, toRecord } from './projection-records.ts';
import { prepareShadow, shadowStep, swap } from './rebuild-steps.ts';
import { sharedLiveSteps } from './shared-steps.ts';
import { completeShadowTables } from './shadow-tables.ts';
import { PreparedProjections } from './step-apply.ts';

const VISIBLE = sql.raw(VISIBLE_TEXT);

export function createProjectionStorage(
  database: Database,
  store: PostgresEventStore,
  projections: readonly SqlProjection[] = [],
  /** Called after a step or a swap committed a projection's move to `position` (not awaited). */
  committed?: (name: string, position: Position) => void,
): ProjectionStorage<StepContext> {
  const prepared = new PreparedProjections(projections);
  const deps: LiveStepDeps = { database, store, prepared, catchUps: new CatchUps(database, (name) => prepared.tablesOf(name)), committed };
  const liveStep = sharedLiveSteps(deps, (name) => (prepared.get(name).projection.kind ?? 'PROJECTION') === 'PROJECTION');

  return {
    async load(name) {
      await ensureProjectionRow(database, name);
      const [row] = await database.rows<RecordRow>(sql`select ${RECORD_COLUMNS} from projections where name = ${name}`);
      return toRecord(row!);
    },

    step: (name, target, from, limit, apply, trace) =>
      target === 'live' ? liveStep({ name, apply, trace }, from, limit) : shadowStep(deps, name, from, limit, apply),

    async fail(name, error, at) {
      await database.rows(sql`update projections set state = 'FAILED', last_error = ${error.slice(0, 2000)},
          error_position_tx = ${at.tx.toString()}::xid8, error_position = ${at.pos.toString()}::bigint, updated_at = now()
        where name = ${name} and state in ('RUNNING', 'REBUILDING')`);
    },

    async beginRebuild(name) {
      const rows = await database.rows(sql`update projections set state = 'REBUILDING', rebuild_requested = true,
          rebuild_position_tx = null, rebuild_position = null, updated_at = now()
        where name = ${name} and state = 'RUNNING' and position_tx = '0'::xid8 and position = 0
        returning name`);
      return rows.length > 0;
    },

    prepareShadow: (name, tables) => prepareShadow(deps, name, tables),
    completeShadow: (name, tables) => completeShadowTables(database, name, tables),
    swap: (name, tables, from, apply) => swap(deps, name, tables, from, apply),

    async hasEvents(count) {
      const [row] = await database.rows<{ enough: boolean }>(sql`select count(*) >= ${count}::int as enough
        from (select 1 from events where ${VISIBLE} limit ${count}::int) visible`);
      return row?.enough === true;
    },
  };
}

// The projection runner's storage on PostgreSQL/PGlite: checkpoints in `projections`, moved by
// compare-and-set in the read model's own transaction; shadow tables for blue/green rebuilds live in a
// schema of their own and are found through search_path, so projections never know which copy they fill.
import { sql } from 'drizzle-orm';
import { comparePositions, decodeToken, isAtOrAfter, positionFromDb, START, type Position } from '../../core/position.ts';
import type { ProjectionRecord, ProjectionState, ProjectionStorage, StepTarget } from '../../core/projection.ts';
import type { Database, Executor, TxExecutor } from '../db/client.ts';
import { textArray } from '../db/executor.ts';
import { EVENT_COLUMNS_TEXT, VISIBLE, VISIBLE_TEXT, type EventRow, type PostgresEventStore } from '../event-store/postgres-event-store.ts';

export const PROGRESS_CHANNEL = 'converge_progress';
export const CONTROL_CHANNEL = 'converge_projection_control';

const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;
export const shadowSchema = (projection: string) => `converge_shadow_${projection}`;
const retiredSchema = (projection: string) => `converge_retired_${projection}`;

type Row = {
  name: string;
  state: ProjectionState;
  tx: string;
  pos: string;
  last_error: string | null;
  error_tx: string | null;
  error_pos: string | null;
  rebuild_tx: string | null;
  rebuild_pos: string | null;
  updated_at: string | null;
};

const RECORD_COLUMNS = sql.raw(`name, state, position_tx::text as tx, position::text as pos, last_error,
  error_position_tx::text as error_tx, error_position::text as error_pos,
  rebuild_position_tx::text as rebuild_tx, rebuild_position::text as rebuild_pos,
  to_char(updated_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as updated_at`);

const optionalPosition = (tx: string | null, pos: string | null) => (tx !== null && pos !== null ? positionFromDb(tx, pos) : null);

export function toRecord(row: Row): ProjectionRecord {
  const position = positionFromDb(row.tx, row.pos);
  return {
    name: row.name,
    state: row.state,
    position: position.tx === 0n && position.pos === 0n ? null : position,
    lastError: row.last_error,
    errorPosition: optionalPosition(row.error_tx, row.error_pos),
    rebuildPosition: optionalPosition(row.rebuild_tx, row.rebuild_pos),
    updatedAt: row.updated_at,
  };
}

/** "<projection> <transaction id> <position>", the numbers in decimal as PostgreSQL prints them. */
export const progressPayload = (name: string, position: Position) => `${name} ${position.tx} ${position.pos}`;

/** Reads a progress payload; also the older "<projection> <token>" form. */
export function parseProgressPayload(payload: string): { name: string; position: Position } | null {
  const [name, a, b] = payload.split(' ');
  if (!name || !a) return null;
  return { name, position: b === undefined ? decodeToken(a) : positionFromDb(a, b) };
}

// Settings for the rest of the step's transaction, made by the step statement itself (no round trip):
// an asynchronous commit (see stepText), and a plan made for each statement's own parameters. Read-model
// tables often grow from empty within minutes (a first catch-up, a rebuild's shadow tables), faster
// than autovacuum re-analyses them; a cached generic plan made while a table was tiny (a sequential
// scan) would otherwise be kept for every later batch. (Measured: a catch-up of 200,000 events that
// took 14 s took 31 s when its lookups were stuck on such plans.)
const STEP_SETTINGS = `set_config('synchronous_commit', 'off', true) as commit_mode,
  set_config('plan_cache_mode', 'force_custom_plan', true) as plan_mode`;

/**
 * A step's first statement, in one round trip: the batch after the checkpoint (visible events only),
 * the checkpoint moved to its last event by compare-and-set, and whether events lie beyond what was
 * read (held back by an open older transaction, or past the limit). Moving the live checkpoint also
 * queues the progress notification (sent at commit) and makes the commit asynchronous: the read model
 * and its checkpoint are lost or kept together, so a server crash at worst re-applies the last batches
 * from the events, which are durable. The batch comes back with one row per event, or a single row of
 * nulls when it is empty; every row carries `moved` and `pending`. (`pending` is written as an ordered
 * LIMIT 1 rather than EXISTS: with the bound a parameter, the planner would otherwise pick a scan of
 * the whole table, which is what it costs when nothing is pending.)
 * Parameters: $1 projection, $2/$3 the checkpoint (transaction id, position), $4 the limit.
 */
function stepText(target: StepTarget): string {
  const move =
    target === 'live'
      ? `update projections set position_tx = last.transaction_id, position = last.global_position, updated_at = now()
         from last where name = $1 and position_tx = $2::xid8 and position = $3::bigint and state in ('RUNNING', 'REBUILDING')
         returning pg_notify('${PROGRESS_CHANNEL}', $1 || ' ' || last.transaction_id || ' ' || last.global_position) as notified,
           ${STEP_SETTINGS}`
      : `update projections set rebuild_position_tx = last.transaction_id, rebuild_position = last.global_position
         from last where name = $1 and rebuild_position_tx = $2::xid8 and rebuild_position = $3::bigint and state = 'REBUILDING'
         returning ${STEP_SETTINGS}`;
  return `with batch as (
      select * from events
      where (transaction_id, global_position) > ($2::xid8, $3::bigint) and ${VISIBLE_TEXT}
      order by transaction_id, global_position limit $4::int
    ), last as (
      select transaction_id, global_position from batch order by transaction_id desc, global_position desc limit 1
    ), moved as (${move})
    select ${EVENT_COLUMNS_TEXT}, (select count(*) from moved)::int as moved,
      (select global_position from events where (transaction_id, global_position) > (
          coalesce((select transaction_id from last), $2::xid8), coalesce((select global_position from last), $3::bigint))
        order by transaction_id, global_position limit 1) is not null as pending
    from (select) one left join batch on true
    order by transaction_id, global_position`;
}

const STEP_TEXT = { live: stepText('live'), shadow: stepText('shadow') };
type StepRow = { [K in keyof EventRow]: EventRow[K] | null } & { moved: number; pending: boolean };

export async function loadProjectionRecords(db: Executor, names?: readonly string[]) {
  const rows = await db.rows<Row>(
    names ? sql`select ${RECORD_COLUMNS} from projections where name = any(${textArray(names)})` : sql`select ${RECORD_COLUMNS} from projections`,
  );
  return rows.map(toRecord);
}

export function createProjectionStorage(database: Database, store: PostgresEventStore): ProjectionStorage<TxExecutor> {
  const notifyProgress = (tx: TxExecutor, name: string, to: Position) =>
    tx.rows(sql`select pg_notify(${PROGRESS_CHANNEL}, ${progressPayload(name, to)})`);

  const useShadow = (tx: TxExecutor, name: string) =>
    tx.rows(sql.raw(`set local search_path = ${ident(shadowSchema(name))}, public`));

  return {
    async load(name) {
      await database.rows(sql`insert into projections (name) values (${name}) on conflict (name) do nothing`);
      const [row] = await database.rows<Row>(sql`select ${RECORD_COLUMNS} from projections where name = ${name}`);
      return toRecord(row!);
    },

    step(name, target, from, limit, apply) {
      const start = from ?? START;
      return database.transaction(async (tx) => {
        const rows = await tx.query<StepRow>(STEP_TEXT[target], [name, start.tx.toString(), start.pos.toString(), limit]);
        const pending = rows[0]?.pending === true;
        const events = rows[0]?.tx == null ? [] : rows.map((row) => store.toStoredEvent(row as EventRow));
        const last = events.at(-1);
        if (!last) return { kind: 'applied', read: 0, to: null, pending } as const;
        if (rows[0]!.moved === 0) return { kind: 'stale' } as const;
        if (target === 'shadow') await useShadow(tx, name);
        await apply(events, tx);
        return { kind: 'applied', read: events.length, to: last.position, pending } as const;
      });
    },

    async fail(name, error, at) {
      await database.rows(sql`update projections set state = 'FAILED', last_error = ${error.slice(0, 2000)},
          error_position_tx = ${at.tx.toString()}::xid8, error_position = ${at.pos.toString()}::bigint, updated_at = now()
        where name = ${name} and state in ('RUNNING', 'REBUILDING')`);
    },

    async prepareShadow(name, tables) {
      const schema = ident(shadowSchema(name));
      await database.transaction(async (tx) => {
        const [row] = await tx.rows<{ state: string }>(sql`select state from projections where name = ${name} for update`);
        if (row?.state !== 'REBUILDING') return;
        await tx.rows(sql.raw(`drop schema if exists ${schema} cascade`));
        await tx.rows(sql.raw(`create schema ${schema}`));
        for (const table of tables) {
          await tx.rows(sql.raw(`create table ${schema}.${ident(table)} (like public.${ident(table)} including all)`));
        }
        await tx.rows(sql`update projections set rebuild_position_tx = '0'::xid8, rebuild_position = 0 where name = ${name}`);
      });
    },

    swap(name, tables, from, apply) {
      const shadow = ident(shadowSchema(name));
      const retired = ident(retiredSchema(name));
      return database.transaction(async (tx) => {
        // Lock the row first: nobody moves the checkpoint or changes the state until the swap commits.
        const [row] = await tx.rows<Row>(sql`select ${RECORD_COLUMNS} from projections where name = ${name} for update`);
        const record = row && toRecord(row);
        const start = from ?? START;
        const rebuildAt = record?.rebuildPosition;
        if (!record || record.state !== 'REBUILDING' || !rebuildAt || comparePositions(rebuildAt, start) !== 0) {
          return { kind: 'stale' } as const;
        }
        await useShadow(tx, name);
        // Everything the live copy has seen is visible now, so the shadow ends at or after it.
        let at = start;
        for (;;) {
          const events = await store.readAllWith(tx, at, 1000);
          if (events.length === 0) break;
          await apply(events, tx);
          at = events.at(-1)!.position;
        }
        await tx.rows(sql.raw(`drop schema if exists ${retired} cascade`));
        await tx.rows(sql.raw(`create schema ${retired}`));
        for (const table of tables) {
          await tx.rows(sql.raw(`alter table public.${ident(table)} set schema ${retired}`));
          await tx.rows(sql.raw(`alter table ${shadow}.${ident(table)} set schema public`));
          await renameIndexesLike(tx, table, retiredSchema(name));
        }
        await tx.rows(sql.raw(`drop schema ${retired} cascade`));
        await tx.rows(sql.raw(`drop schema ${shadow} cascade`));
        const live = record.position ?? START;
        // `at` is at or after the live position (see above); never move the live checkpoint backwards.
        const to = isAtOrAfter(at, live) ? at : live;
        await tx.rows(sql`update projections set state = 'RUNNING', rebuild_position_tx = null, rebuild_position = null,
            position_tx = ${to.tx.toString()}::xid8, position = ${to.pos.toString()}::bigint, updated_at = now()
          where name = ${name}`);
        if (to.tx !== 0n || to.pos !== 0n) await notifyProgress(tx, name, to);
        return { kind: 'applied', read: 0, to } as const;
      });
    },

    async lag(from) {
      const start = from ?? START;
      const [row] = await database.rows<{ n: number; seconds: number | null }>(sql`select count(*)::int as n,
          extract(epoch from now() - min(created_at))::float8 as seconds
        from events
        where (transaction_id, global_position) > (${start.tx.toString()}::xid8, ${start.pos.toString()}::bigint) and ${VISIBLE}`);
      return { events: row?.n ?? 0, seconds: Math.max(0, row?.seconds ?? 0) };
    },
  };
}

/**
 * `create table … (like … including all)` names the copy's indexes itself; give them back the names the
 * migrations gave the originals (matched by definition), so that later migrations find them.
 */
async function renameIndexesLike(tx: TxExecutor, table: string, originalSchema: string) {
  const shape = (def: string) => def.replace(/^CREATE (UNIQUE )?INDEX \S+ ON \S+ /, '$1');
  const list = (schema: string) =>
    tx.rows<{ indexname: string; indexdef: string }>(
      sql`select indexname, indexdef from pg_indexes where schemaname = ${schema} and tablename = ${table}`,
    );
  const originals = await list(originalSchema);
  for (const index of await list('public')) {
    const original = originals.find((o) => shape(o.indexdef) === shape(index.indexdef));
    if (original && original.indexname !== index.indexname) {
      await tx.rows(sql.raw(`alter index public.${ident(index.indexname)} rename to ${ident(original.indexname)}`));
    }
  }
}

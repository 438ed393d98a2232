// The projection runner's storage on PostgreSQL/PGlite: checkpoints in `projections`, moved by
// compare-and-set together with the read model's writes (a live step sends them as one statement, a
// rebuild step in one transaction); shadow tables for blue/green rebuilds live in a schema of their own
// and are found through search_path, so projections never know which copy they fill.
import { sql, type SQL } from 'drizzle-orm';
import { comparePositions, decodeToken, isAtOrAfter, positionFromDb, START, type Position } from '../../core/position.ts';
import type { ProjectionRecord, ProjectionState, ProjectionStorage, StepTarget } from '../../core/projection.ts';
import type { StoredEvent } from '../../core/messages.ts';
import { toQuery, type Database, type Executor, type StepExecutor, type TxExecutor } from '../db/client.ts';
import type { SqlProjection } from '../db/executor.ts';
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

/**
 * The batch after a checkpoint, in one round trip: up to `limit` visible events after ($2, $3), in global
 * order, and whether events lie beyond what was read (held back by an open older transaction, or past
 * the limit). One row per event, or a single row of nulls when there is none; every row carries
 * `pending` and `moved`. (`pending` is an ordered LIMIT 1 rather than EXISTS: with the bound a
 * parameter, the planner would otherwise pick a scan of the whole table, which is what it costs when
 * nothing is pending.)
 *
 * `move` is what else the statement does: nothing for the live copy, whose checkpoint moves in the
 * statement that writes its read model (see advanceStatement), so `moved` only says whether it may;
 * for a rebuild's shadow copy, which is filled inside a transaction, the shadow checkpoint's
 * compare-and-set, which also makes the commit asynchronous (the copy and its checkpoint are kept or
 * lost together, and the events are durable) and plans the rest of the transaction's statements for
 * their own parameters. A shadow table grows from empty faster than autovacuum analyses it, so a
 * generic plan cached while it was tiny (a sequential scan) would be kept for every later batch:
 * measured, a catch-up of 200,000 events took 31 s instead of 14 s. A live projection's own reads run
 * on the read-only pool, which plans that way throughout; the live copy's batch statement is read with
 * a kept generic plan (see step).
 *
 * `prefetch`, live only: a projection's own read (see SqlProjection), returned as a JSON array on the
 * first row (`prefetched`).
 * Parameters: $1 projection, $2/$3 the checkpoint (transaction id, position). The limit is written into
 * the text (one text per limit: the runner's batch sizes are a few doublings), so that a generic plan
 * of the statement knows it as a custom plan does.
 */
function batchText(move: 'none' | 'shadow', limit: number, prefetch?: string): string {
  if (!Number.isSafeInteger(limit) || limit < 1) throw new Error(`a batch limit must be a positive integer, got ${limit}`);
  // Live: whether the checkpoint is still there and the projection running (so that a paused or
  // failed one skips `apply`); the compare-and-set that counts comes with the writes.
  const moved =
    move === 'none'
      ? `(select count(*) from projections where name = $1 and position_tx = $2::xid8 and position = $3::bigint
          and state in ('RUNNING', 'REBUILDING'))::int`
      : `(select count(*) from moved)::int`;
  const cte =
    move === 'none'
      ? ''
      : `, moved as (
      update projections set rebuild_position_tx = last.transaction_id, rebuild_position = last.global_position
      from last where name = $1 and rebuild_position_tx = $2::xid8 and rebuild_position = $3::bigint and state = 'REBUILDING'
      returning set_config('synchronous_commit', 'off', true) as commit_mode,
        set_config('plan_cache_mode', 'force_custom_plan', true) as plan_mode)`;
  return `with batch as (
      select * from events
      where (transaction_id, global_position) > ($2::xid8, $3::bigint) and ${VISIBLE_TEXT}
      order by transaction_id, global_position limit ${limit}
    ), last as (
      select transaction_id, global_position from batch order by transaction_id desc, global_position desc limit 1
    )${cte}${prefetch ? `, prefetch as (select coalesce(json_agg(p), '[]'::json) as rows from (${prefetch}) p)` : ''}
    select ${EVENT_COLUMNS_TEXT}, ${moved} as moved,${
      prefetch
        ? ` case when batch.global_position is not null and row_number() over (order by batch.transaction_id, batch.global_position) = 1
          then (select rows from prefetch) end as prefetched,`
        : ''
    }
      (select global_position from events where (transaction_id, global_position) > (
          coalesce((select transaction_id from last), $2::xid8), coalesce((select global_position from last), $3::bigint))
        order by transaction_id, global_position limit 1) is not null as pending
    from (select) one left join batch on true
    order by transaction_id, global_position`;
}

/** batchText, rendered once per form, limit and prefetch. */
const batchTexts = new Map<string, string>();
const batchTextFor = (move: 'none' | 'shadow', limit: number, prefetch?: string): string => {
  const key = `${move} ${limit} ${prefetch ?? ''}`;
  let text = batchTexts.get(key);
  if (text === undefined) batchTexts.set(key, (text = batchText(move, limit, prefetch)));
  return text;
};

/** Events a catch-up must have read before the projection's tables are analysed at its end. */
const ANALYZE_AFTER_EVENTS = 10_000;

/** SQLSTATE raised by converge_advance_projection when the checkpoint is not where the step read from. */
const MOVED_ON = 'CV001';

/** A step's writes as one statement: each a WITH query (one snapshot for all), then `main`. */
function withWrites(writes: readonly SQL[], main: SQL): SQL {
  if (writes.length === 0) return main;
  return sql`with ${sql.join(
    writes.map((write, i) => sql`${sql.raw(`write_${i}`)} as (${write})`),
    sql`, `,
  )} ${main}`;
}

/**
 * The statement that ends a live step: the read model's writes and the checkpoint's compare-and-set
 * move (with the progress notification), as one statement and so one implicit transaction: either all
 * of it commits or none of it does, with no BEGIN or COMMIT round trips.
 */
const advanceStatement = (name: string, from: Position, to: Position, writes: readonly SQL[]) =>
  withWrites(
    writes,
    sql`select converge_advance_projection(${name}, ${from.tx.toString()}::xid8, ${from.pos.toString()}::bigint,
      ${to.tx.toString()}::xid8, ${to.pos.toString()}::bigint, ${PROGRESS_CHANNEL}) as advanced`,
  );

const WRITE_STATEMENT = /^\s*(insert|update|delete)\s/i;

/**
 * Runs `apply` with an executor whose reads go to `reads` and whose writes are collected; returns the
 * writes. A write that is not one INSERT, UPDATE or DELETE, or that comes after `apply` returned (a
 * missing await), throws instead of being lost.
 */
async function collectWrites(
  apply: (events: StoredEvent[], tx: StepExecutor) => Promise<void>,
  events: StoredEvent[],
  reads: Executor,
  prefetched?: readonly unknown[],
): Promise<SQL[]> {
  const writes: SQL[] = [];
  let open = true;
  await apply(events, {
    rows: (query) => reads.rows(query),
    query: (text, params) => reads.query(text, params),
    write(query) {
      if (!open) throw new Error('tx.write after apply returned: await everything apply starts');
      if (!WRITE_STATEMENT.test(toQuery(query).sql)) throw new Error('tx.write takes one INSERT, UPDATE or DELETE');
      writes.push(query);
    },
    prefetched,
  });
  open = false;
  return writes;
}

type BatchRow = { [K in keyof EventRow]: EventRow[K] | null } & { moved: number; pending: boolean; prefetched?: unknown[] | null };

export async function loadProjectionRecords(db: Executor, names?: readonly string[]) {
  const rows = await db.rows<Row>(
    names ? sql`select ${RECORD_COLUMNS} from projections where name = any(${textArray(names)})` : sql`select ${RECORD_COLUMNS} from projections`,
  );
  return rows.map(toRecord);
}

/** Runs `apply` inside the transaction `tx` (a rebuild's), then its writes (if any) in one statement there. */
async function applyIn(
  tx: TxExecutor,
  events: StoredEvent[],
  apply: (events: StoredEvent[], tx: StepExecutor) => Promise<void>,
): Promise<void> {
  const writes = await collectWrites(apply, events, tx);
  if (writes.length > 0) await tx.rows(withWrites(writes, sql`select true as written`));
}

/** `projections`: those whose `prefetch` live steps run (see SqlProjection). */
export function createProjectionStorage(
  database: Database,
  store: PostgresEventStore,
  projections: readonly SqlProjection[] = [],
): ProjectionStorage<StepExecutor> {
  const prefetchOf = new Map(projections.map((p) => [p.name, p.prefetch]));
  const tablesOf = new Map(projections.map((p) => [p.name, p.tables]));
  /** Projections whose last live step read a full batch, and how many events such steps read in a row. */
  const catchingUp = new Map<string, number>();
  /** Projections whose tables are being analysed. */
  const analysing = new Set<string>();

  /**
   * Fresh statistics for a projection's tables once it has caught up: they may have grown from empty
   * within seconds, and ANALYZE also drops plans cached while they were small (for its own steps and
   * for the queries that read them).
   */
  const analyze = async (name: string) => {
    const tables = tablesOf.get(name) ?? [];
    if (tables.length === 0 || analysing.has(name)) return;
    analysing.add(name);
    try {
      await database.rows(sql.raw(`analyze ${tables.map((t) => `public.${ident(t)}`).join(', ')}`));
    } finally {
      analysing.delete(name);
    }
  };

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

    async step(name, target, from, limit, apply) {
      const start = from ?? START;
      const params = [name, start.tx.toString(), start.pos.toString()];
      const read = (rows: BatchRow[]) => ({
        events: rows[0]?.tx == null ? [] : rows.map((row) => store.toStoredEvent(row as EventRow)),
        pending: rows[0]?.pending === true,
      });
      if (target === 'shadow') {
        return database.transaction(async (tx) => {
          const rows = await tx.query<BatchRow>(batchTextFor('shadow', limit), params);
          const { events, pending } = read(rows);
          const last = events.at(-1);
          if (!last) return { kind: 'applied', read: 0, to: null, pending } as const;
          if (rows[0]!.moved === 0) return { kind: 'stale' } as const;
          await useShadow(tx, name);
          await applyIn(tx, events, apply);
          return { kind: 'applied', read: events.length, to: last.position, pending } as const;
        });
      }
      // Live: read the batch (with what the projection prefetches); let the projection read anything
      // else it needs (no transaction held open); then write and move the checkpoint in one statement.
      // Two round trips when the prefetch covers the projection's reads, three when it does not.
      // Catching up, batches are large and the read-model tables grow fast: the batch is read without
      // the prefetch, and the projection reads for itself on the read-only pool, which plans every
      // call for its parameters (see batchText). The batch itself is read with a generic plan, made
      // once per connection and kept (genericPlans, whose connections are renewed every minute):
      // planned for its parameters, a read from the start of a long log would rather scan and sort
      // all of it (measured: a catch-up took 17 s instead of 12.6 s), and a live step paid 0.4-0.8 ms
      // of planning each time (left to choose, PostgreSQL kept planning: a checkpoint past the
      // events' statistics makes a custom plan look far cheaper than the generic one). The prefetch's
      // access to the read-model table depends on that table's size, not on the parameters.
      const caughtUp = catchingUp.get(name);
      const wasCatchingUp = caughtUp !== undefined;
      const prefetch = wasCatchingUp ? undefined : prefetchOf.get(name);
      const rows = await database.genericPlans.query<BatchRow>(batchTextFor('none', limit, prefetch), params);
      const { events, pending } = read(rows);
      if (events.length >= limit) catchingUp.set(name, (caughtUp ?? 0) + events.length);
      else if (wasCatchingUp) {
        catchingUp.delete(name);
        // After a real catch-up only (a busy live projection alternates full and short batches), one
        // at a time, beside the steps (it takes no lock that writes wait for); if it fails, autovacuum
        // analyses the tables soon anyway.
        if (caughtUp >= ANALYZE_AFTER_EVENTS) analyze(name).catch(() => {});
      }
      const last = events.at(-1);
      if (!last) return { kind: 'applied', read: 0, to: null, pending };
      if (rows[0]!.moved === 0) return { kind: 'stale' };
      const writes = await collectWrites(apply, events, database.readOnly, rows[0]!.prefetched ?? undefined);
      try {
        await database.rows(advanceStatement(name, start, last.position, writes));
      } catch (error) {
        // Another runner moved the checkpoint, or an admin paused, failed or reset the projection.
        if ((error as { code?: unknown })?.code === MOVED_ON) return { kind: 'stale' };
        throw error;
      }
      return { kind: 'applied', read: events.length, to: last.position, pending };
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
        // The copies are filled from empty: indexes that only serve reads are built once, when the copy
        // has caught up (completeShadow), which costs a fraction of keeping them up row by row (the
        // trigram index of `orders` more than doubles the cost of writing a row). Unique and exclusion
        // indexes stay (they back constraints, and upserts need them), under their live names, so
        // that every index of a copy has the name of the live index it copies.
        for (const table of tables) {
          const live = await indexesOf(tx, 'public', table);
          const copies = await indexesOf(tx, shadowSchema(name), table);
          const kept = copies.filter((index) => index.unique || index.exclusion);
          for (const index of copies) {
            if (!kept.includes(index)) await tx.rows(sql.raw(`drop index ${schema}.${ident(index.name)}`));
          }
          // In two passes, so that no rename takes a name that another copy still has.
          const temporary = (i: number) => ident(`converge_index_${i}`);
          for (const [i, index] of kept.entries()) {
            await tx.rows(sql.raw(`alter index ${schema}.${ident(index.name)} rename to ${temporary(i)}`));
          }
          for (const [i, index] of kept.entries()) {
            const original = live.find((l) => l.shape === index.shape)?.name ?? index.name;
            await tx.rows(sql.raw(`alter index ${schema}.${temporary(i)} rename to ${ident(original)}`));
          }
        }
        await tx.rows(sql`update projections set rebuild_position_tx = '0'::xid8, rebuild_position = 0 where name = ${name}`);
      });
    },

    async completeShadow(name, tables) {
      const schema = shadowSchema(name);
      let changed = false;
      for (const table of tables) {
        const live = await indexesOf(database, 'public', table);
        const wanted = new Set(live.map((index) => index.shape));
        // What a copy must not keep: an invalid index (left by a build that failed or was cut short:
        // if its server session is still building it, the drop waits for that), a second copy, or
        // an index the live table no longer has (a migration changed it meanwhile). Unique and
        // exclusion indexes back constraints and stay; if one of them no longer matches, the swap
        // refuses the copy and the rebuild starts over.
        const have = new Set<string>();
        const names = new Set<string>();
        for (const copy of await indexesOf(database, schema, table)) {
          if (copy.valid && wanted.has(copy.shape) && !have.has(copy.shape)) have.add(copy.shape);
          else if (!copy.unique && !copy.exclusion) {
            await database.rows(sql.raw(`drop index if exists ${ident(schema)}.${ident(copy.name)}`));
            changed = true;
            continue;
          }
          names.add(copy.name);
        }
        for (const index of live) {
          // A name still held by a copy that could not be dropped: the swap will start over.
          if (have.has(index.shape) || names.has(index.name)) continue;
          // Concurrently, one at a time (builds on one table wait for each other anyway): a plain
          // CREATE INDEX holds a transaction id for the whole build, and readers of the event store
          // see nothing committed after an open transaction began (see VISIBLE), so every projection
          // would stand still until it ends. Named as the live index, so that a second build of the
          // same index (another call, a process that took over) cannot make a duplicate.
          await database.rows(
            sql.raw(
              `create ${index.unique ? 'unique ' : ''}index concurrently if not exists ${ident(index.name)} on ${ident(schema)}.${ident(table)} ${index.rest}`,
            ),
          );
          changed = true;
          // An embedded database answers without leaving the microtask queue: let the process breathe.
          await new Promise((resolve) => setImmediate(resolve));
        }
      }
      return changed;
    },

    async beginRebuild(name) {
      const rows = await database.rows(sql`update projections set state = 'REBUILDING', rebuild_position_tx = null,
          rebuild_position = null, updated_at = now()
        where name = ${name} and state = 'RUNNING' and position_tx = '0'::xid8 and position = 0
        returning name`);
      return rows.length > 0;
    },

    async swap(name, tables, from, apply) {
      const shadow = ident(shadowSchema(name));
      const retired = ident(retiredSchema(name));
      const result = await database.transaction(async (tx) => {
        // The live tables first, then the row, in the order a live step takes them (its one statement
        // locks the tables it writes when it starts, then the row in converge_advance_projection): the
        // other way round, a step in flight and the swap could deadlock. Then nobody moves the
        // checkpoint or changes the state until the swap commits.
        if (tables.length > 0) {
          await tx.rows(sql.raw(`lock table ${tables.map((t) => `public.${ident(t)}`).join(', ')} in access exclusive mode`));
        }
        const [row] = await tx.rows<Row>(sql`select ${RECORD_COLUMNS} from projections where name = ${name} for update`);
        const record = row && toRecord(row);
        const start = from ?? START;
        const rebuildAt = record?.rebuildPosition;
        if (!record || record.state !== 'REBUILDING' || !rebuildAt || comparePositions(rebuildAt, start) !== 0) {
          return { kind: 'stale' } as const;
        }
        // The copy must have exactly the live table's indexes, all valid (completeShadow sees to it).
        // If not, the live tables changed while it was filled (a migration), in a way completeShadow
        // could not follow: start the rebuild over rather than refuse the swap forever.
        for (const table of tables) {
          const shapes = (indexes: IndexInfo[]) => [...new Set(indexes.map((index) => index.shape))].sort().join('\n');
          const copies = await indexesOf(tx, shadowSchema(name), table);
          if (!copies.every((copy) => copy.valid) || shapes(copies) !== shapes(await indexesOf(tx, 'public', table))) {
            await tx.rows(sql`update projections set rebuild_position_tx = null, rebuild_position = null where name = ${name}`);
            return { kind: 'stale' } as const;
          }
        }
        await useShadow(tx, name);
        // Everything the live copy has seen is visible now, so the shadow ends at or after it.
        let at = start;
        for (;;) {
          const events = await store.readAllWith(tx, at, 1000);
          if (events.length === 0) break;
          await applyIn(tx, events, apply);
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
      // The tables swapped in were filled from empty: fresh statistics, as after a live catch-up.
      if (result.kind === 'applied') analyze(name).catch(() => {});
      return result;
    },

    async lag(from) {
      const start = from ?? START;
      const [row] = await database.rows<{ n: number; seconds: number | null }>(sql`select count(*)::int as n,
          extract(epoch from now() - min(created_at))::float8 as seconds
        from events
        where (transaction_id, global_position) > (${start.tx.toString()}::xid8, ${start.pos.toString()}::bigint) and ${VISIBLE}`);
      return { events: row?.n ?? 0, seconds: Math.max(0, row?.seconds ?? 0) };
    },

    async hasEvents(count) {
      const [row] = await database.rows<{ enough: boolean }>(sql`select count(*) >= ${count}::int as enough
        from (select 1 from events where ${VISIBLE} limit ${count}::int) visible`);
      return row?.enough === true;
    },
  };
}

type IndexInfo = {
  name: string;
  unique: boolean;
  exclusion: boolean;
  /** Built and usable (a concurrent build that failed leaves an invalid index). */
  valid: boolean;
  /** The definition after the table ("USING gin (search_text gin_trgm_ops)"). */
  rest: string;
  /** What makes two indexes the same, whatever their names and tables: `rest`, and whether unique. */
  shape: string;
};

/** The indexes of one table, from the catalog. */
async function indexesOf(db: Executor, schema: string, table: string): Promise<IndexInfo[]> {
  const rows = await db.rows<{ name: string; head: string; def: string; unique: boolean; exclusion: boolean; valid: boolean }>(sql`
    select i.relname as name, pg_get_indexdef(i.oid) as def, x.indisunique as unique, x.indisexclusion as exclusion,
      x.indisvalid as valid,
      format('CREATE %sINDEX %I ON %I.%I ', case when x.indisunique then 'UNIQUE ' else '' end, i.relname, n.nspname, t.relname) as head
    from pg_index x join pg_class i on i.oid = x.indexrelid join pg_class t on t.oid = x.indrelid
      join pg_namespace n on n.oid = t.relnamespace
    where n.nspname = ${schema} and t.relname = ${table}`);
  return rows.map((row) => {
    // pg_get_indexdef quotes and qualifies as format's %I does.
    if (!row.def.startsWith(row.head)) throw new Error(`index ${row.name} of ${schema}.${table} has an unexpected definition: ${row.def}`);
    const rest = row.def.slice(row.head.length);
    return { name: row.name, unique: row.unique, exclusion: row.exclusion, valid: row.valid, rest, shape: `${row.unique ? 'UNIQUE ' : ''}${rest}` };
  });
}

/**
 * The copy's indexes have the live names (see prepareShadow and completeShadow); a copy made by an
 * earlier version has names PostgreSQL chose. Give those back the names the migrations gave the
 * originals (matched by definition), so that later migrations find them.
 */
async function renameIndexesLike(tx: TxExecutor, table: string, originalSchema: string) {
  const originals = await indexesOf(tx, originalSchema, table);
  for (const index of await indexesOf(tx, 'public', table)) {
    const original = originals.find((o) => o.shape === index.shape);
    if (original && original.name !== index.name) {
      await tx.rows(sql.raw(`alter index public.${ident(index.name)} rename to ${ident(original.name)}`));
    }
  }
}

// The projection runner's storage on PostgreSQL/PGlite: checkpoints in `projections`, moved by
// compare-and-set in the read model's own transaction; shadow tables for blue/green rebuilds live in a
// schema of their own and are found through search_path, so projections never know which copy they fill.
import { sql } from 'drizzle-orm';
import { comparePositions, encodeToken, isAtOrAfter, positionFromDb, START, type Position } from '../../core/position.ts';
import type { ProjectionRecord, ProjectionState, ProjectionStorage } from '../../core/projection.ts';
import type { Database, Executor, TxExecutor } from '../db/client.ts';
import { textArray } from '../db/executor.ts';
import { VISIBLE, type PostgresEventStore } from '../event-store/postgres-event-store.ts';

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

export const progressPayload = (name: string, position: Position) => `${name} ${encodeToken(position)}`;

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
        const events = await store.readAllWith(tx, start, limit);
        const last = events.at(-1);
        const pending = events.length < limit && (await hasPendingEvents(tx, last?.position ?? start));
        if (!last) return { kind: 'applied', read: 0, to: null, pending } as const;
        const to = last.position;
        // One statement moves the checkpoint, queues the progress notification (sent at commit) and
        // makes this commit asynchronous: the read model and its checkpoint are lost or kept together,
        // so a server crash at worst re-applies the last batches from the events, which are durable.
        const moved =
          target === 'live'
            ? await tx.rows(sql`update projections set position_tx = ${to.tx.toString()}::xid8, position = ${to.pos.toString()}::bigint, updated_at = now()
                where name = ${name} and position_tx = ${start.tx.toString()}::xid8 and position = ${start.pos.toString()}::bigint
                  and state in ('RUNNING', 'REBUILDING')
                returning 1 as ok, pg_notify(${PROGRESS_CHANNEL}, ${progressPayload(name, to)}) as notified,
                  set_config('synchronous_commit', 'off', true) as commit_mode`)
            : await tx.rows(sql`update projections set rebuild_position_tx = ${to.tx.toString()}::xid8, rebuild_position = ${to.pos.toString()}::bigint
                where name = ${name} and rebuild_position_tx = ${start.tx.toString()}::xid8 and rebuild_position = ${start.pos.toString()}::bigint
                  and state = 'REBUILDING'
                returning 1 as ok, set_config('synchronous_commit', 'off', true) as commit_mode`);
        if (moved.length === 0) return { kind: 'stale' } as const;
        if (target === 'shadow') await useShadow(tx, name);
        await apply(events, tx);
        return { kind: 'applied', read: events.length, to, pending } as const;
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

/** Committed events after `after` that the visibility rule still hides. */
async function hasPendingEvents(tx: TxExecutor, after: Position): Promise<boolean> {
  const [row] = await tx.rows<{ pending: boolean }>(sql`select exists(select 1 from events
    where (transaction_id, global_position) > (${after.tx.toString()}::xid8, ${after.pos.toString()}::bigint)) as pending`);
  return row?.pending === true;
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

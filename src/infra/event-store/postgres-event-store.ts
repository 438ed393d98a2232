// The event store on PostgreSQL (or PGlite): the global order and visibility rule, expected versions,
// and commands recorded for idempotency; each append is one statement (docs/architecture.md, Event store and
// ordering). Streams and commands are the tenant's the work acts for (see core/tenancy.ts); the global
// order and reading it are every tenant's.
import { sql } from 'drizzle-orm';
import { ConcurrencyConflictError } from '../../core/errors.ts';
import {
  DuplicateCommandError,
  type AppendOptions,
  type AppendResult,
  type CommandRecord,
  type EventSchemas,
  type EventStore,
  type NewEvent,
} from '../../core/event-store.ts';
import type { StoredEvent } from '../../core/messages.ts';
import { type DataKeys, sealEvents } from '../../core/personal-data.ts';
import { positionFromDb, type Position } from '../../core/position.ts';
import { acrossTenants, tenantKey, tenantOrDefault } from '../../core/tenancy.ts';
import { type Executor, textArray } from '../../core/sql.ts';
import { driverError } from '../db/errors.ts';
import { appendStatement } from './append-statements.ts';
import { EVENT_COLUMNS_TEXT, eventReader, VISIBLE_TEXT, type EventRow } from './event-rows.ts';
import { createSharedAppends } from './shared-appends.ts';

/** Events read at a time when looking for a recorded command's events. */
const COMMAND_EVENTS_CHUNK = 16;

/** How often an `any` append tries for the next version number before it gives up. */
const ANY_ATTEMPTS = 100;

const EVENT_COLUMNS = sql.raw(EVENT_COLUMNS_TEXT);
const VISIBLE = sql.raw(VISIBLE_TEXT);

export type PostgresEventStore = EventStore & {
  /**
   * The streams (tenantKey: tenant and stream id) with events after `from`, up to `to` (both read already);
   * null when more than `limit` events lie between.
   */
  streamsBetween(from: Position, to: Position, limit: number): Promise<string[] | null>;
  /** The last committed event's position, whether readers may see it yet or not. */
  lastPosition(): Promise<Position | null>;
  /** readAll on a given executor, e.g. inside a rebuild's transaction. */
  readAllWith(executor: Executor, after: Position, limit: number): Promise<StoredEvent[]>;
  toStoredEvent(row: EventRow): StoredEvent;
};

/** The unique constraint an insert broke, if that is what failed. */
const constraintOf = (error: unknown) => {
  const e = driverError(error) as { code?: string; constraint_name?: string; constraint?: string } | undefined;
  return e?.code === '23505' ? (e.constraint_name ?? e.constraint ?? '') : undefined;
};

export type EventStoreDeps = {
  db: Executor;
  schemas?: EventSchemas;
  /** Where the keys that seal personal fields come from; without it, events with personal fields are refused. */
  personal?: DataKeys;
  /** Called after every append that committed (to wake local runners, notify other processes, measure). */
  onAppended?: (result: AppendResult, durationMs: number) => void;
};

export function createPostgresEventStore(deps: EventStoreDeps): PostgresEventStore {
  const { db, onAppended } = deps;
  const schemas = deps.schemas ?? {};
  const toStoredEvent = eventReader(schemas);
  const personalOf = (type: string) => schemas[type]?.personal;
  // Personal fields are sealed before anything is stored: no statement ever carries them in clear.
  const sealed = async (events: readonly NewEvent[]): Promise<readonly NewEvent[]> => {
    if (!events.some((event) => personalOf(event.type))) return events;
    if (!deps.personal) throw new Error(`${events[0]!.type} has personal fields, but this event store has no data keys to seal them with`);
    return sealEvents(events, personalOf, deps.personal);
  };

  const streamVersion = async (streamId: string) => {
    const [row] = await db.rows<{ v: number }>(
      sql`select coalesce(max(version), 0)::int as v from events where stream_id = ${streamId} and tenant_id = ${tenantOrDefault()}`,
    );
    return row?.v ?? 0;
  };

  const appendOnce = async (streamId: string, events: readonly NewEvent[], options: AppendOptions): Promise<AppendResult> => {
    const expected = options.expectedVersion;
    const { text, params } = appendStatement(tenantOrDefault(), streamId, events, options, schemas);
    const rows = await db.query<{ version: number; tx: string; pos: string }>(text, params);
    // One row per event, or the last one's only when a command is recorded: the result is the highest.
    const row = rows.reduce<(typeof rows)[number] | undefined>((last, r) => (last && last.version > r.version ? last : r), undefined);
    // Only an exact expected version can insert nothing: version `expected` is not there.
    if (!row) throw new ConcurrencyConflictError(streamId, expected === 'any' ? 0 : expected, await streamVersion(streamId));
    return { streamId, version: row.version, position: positionFromDb(row.tx, row.pos) };
  };

  /** One append on its own statement; `any` retries a lost race for the next version number. */
  const appendAlone = async (streamId: string, events: readonly NewEvent[], options: AppendOptions): Promise<AppendResult> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await appendOnce(streamId, events, options);
      } catch (error) {
        const constraint = constraintOf(error);
        if (constraint === 'commands_pkey' && options.command) throw new DuplicateCommandError(options.command.commandId);
        if (constraint !== 'events_stream_version_key') throw error;
        // `any` only lost a race for the next version number: take the one after, with a little jitter
        // so that a crowd of writers spreads out.
        if (options.expectedVersion === 'any' && attempt < ANY_ATTEMPTS) {
          await new Promise((r) => setTimeout(r, Math.random() * Math.min(20, attempt)));
          continue;
        }
        const expected = options.expectedVersion === 'any' ? 0 : options.expectedVersion;
        throw new ConcurrencyConflictError(streamId, expected, await streamVersion(streamId));
      }
    }
  };

  const appendShared = createSharedAppends({
    db,
    schemas,
    alone: ({ streamId, event, options }) => appendAlone(streamId, [event], options),
    streamVersion,
  });

  const store: PostgresEventStore = {
    async append(streamId, given, options) {
      if (given.length === 0) throw new Error('append needs at least one event');
      const started = performance.now();
      const events = await sealed(given);
      const [only] = events;
      // A command's record must fail together with its events, and several events go in all or none:
      // those always have a statement of their own.
      const result =
        only && events.length === 1 && !options.command
          ? await appendShared({ streamId, event: only, options })
          : await appendAlone(streamId, events, options);
      onAppended?.(result, performance.now() - started);
      return events === given ? result : { ...result, stored: events.map(({ type, data }) => ({ type, data })) };
    },

    async readStream(streamId, fromVersion = 1) {
      const rows = await db.rows<EventRow>(
        sql`select ${EVENT_COLUMNS} from events
          where stream_id = ${streamId} and tenant_id = ${tenantOrDefault()} and version >= ${fromVersion} order by version`,
      );
      const events = rows.map(toStoredEvent);
      return { version: events.at(-1)?.version ?? 0, events };
    },

    readAll: (after, limit) => store.readAllWith(db, after, limit),

    async readAllWith(executor, after, limit) {
      const rows = await executor.rows<EventRow>(sql`select ${EVENT_COLUMNS} from events
        where (transaction_id, global_position) > (${after.tx.toString()}::xid8, ${after.pos.toString()}::bigint) and ${VISIBLE}
        order by transaction_id, global_position
        limit ${limit}`);
      return rows.map(toStoredEvent);
    },

    async findCommand(commandId): Promise<CommandRecord | null> {
      const [row] = await db.rows<{ input_hash: string; stream_id: string; version: number; tx: string; pos: string }>(sql`
        select input_hash, stream_id, version, transaction_id::text as tx, global_position::text as pos
        from commands where command_id = ${commandId} and tenant_id = ${tenantOrDefault()}`);
      if (!row) return null;
      return {
        commandId,
        inputHash: row.input_hash,
        streamId: row.stream_id,
        version: row.version,
        position: positionFromDb(row.tx, row.pos),
      };
    },

    async readCommandEvents(record) {
      // A command's events are contiguous and end at its version: read back from there, a few at a time.
      const found: StoredEvent[] = [];
      for (let to = record.version; to > 0; to -= COMMAND_EVENTS_CHUNK) {
        const rows = await db.rows<EventRow>(sql`select ${EVENT_COLUMNS} from events
          where stream_id = ${record.streamId} and tenant_id = ${tenantOrDefault()} and version <= ${to} and version > ${to - COMMAND_EVENTS_CHUNK}
          order by version desc`);
        for (const row of rows) {
          if ((row.metadata as { commandId?: string }).commandId !== record.commandId) return found.reverse();
          found.push(toStoredEvent(row));
        }
      }
      return found.reverse();
    },

    async streamStart(streamId) {
      const [row] = await db.rows<{ stream_type: string; tx: string; pos: string }>(sql`
        select stream_type, transaction_id::text as tx, global_position::text as pos from events
        where stream_id = ${streamId} and tenant_id = ${tenantOrDefault()} and version = 1`);
      return row ? { streamType: row.stream_type, position: positionFromDb(row.tx, row.pos) } : null;
    },

    async streamStarts(streamIds) {
      if (streamIds.length === 0) return new Map();
      const rows = await db.rows<{ stream_id: string; stream_type: string; tx: string; pos: string }>(sql`
        select stream_id, stream_type, transaction_id::text as tx, global_position::text as pos from events
        where stream_id = any(${textArray(streamIds)}) and tenant_id = ${tenantOrDefault()} and version = 1`);
      return new Map(rows.map((r) => [r.stream_id, { streamType: r.stream_type, position: positionFromDb(r.tx, r.pos) }]));
    },

    // The log's head and what an advance covered are every tenant's: read outside any tenant's scope.
    streamsBetween: (from, to, limit) =>
      acrossTenants(async () => {
        const [row] = await db.rows<{ n: number; streams: [string, string][] | null }>(sql`
          with range as (
            select tenant_id, stream_id from events
            where (transaction_id, global_position) > (${from.tx.toString()}::xid8, ${from.pos.toString()}::bigint)
              and (transaction_id, global_position) <= (${to.tx.toString()}::xid8, ${to.pos.toString()}::bigint)
            order by transaction_id, global_position limit ${limit + 1}
          )
          select (select count(*) from range)::int as n,
            (select jsonb_agg(distinct jsonb_build_array(tenant_id, stream_id)) from range) as streams`);
        return !row || row.n > limit ? null : (row.streams ?? []).map(([tenant, stream]) => tenantKey(tenant, stream));
      }),

    lastPosition: () =>
      acrossTenants(async () => {
        const [row] = await db.rows<{ tx: string; pos: string }>(sql`
          select transaction_id::text as tx, global_position::text as pos from events order by transaction_id desc, global_position desc limit 1`);
        return row ? positionFromDb(row.tx, row.pos) : null;
      }),

    headPosition: () =>
      acrossTenants(async () => {
        const [row] = await db.rows<{ tx: string; pos: string }>(sql`
          select transaction_id::text as tx, global_position::text as pos from events
          where ${VISIBLE} order by transaction_id desc, global_position desc limit 1`);
        return row ? positionFromDb(row.tx, row.pos) : null;
      }),

    toStoredEvent,
  };
  return store;
}

// The event store on PostgreSQL (or PGlite): the DESIGN.md ordering rule, expected versions, and commands
// recorded for idempotency, each append in ONE statement (one round trip).
//
// The wake-up notification is sent after the commit, not inside the append's transaction: a NOTIFY holds
// a server-wide lock from pre-commit until its commit record is flushed, which serialises every
// notifying commit and defeats group commit (measured: 1.6k appends/s at concurrency 32 against 8.6k
// without it). See createAppendNotifier.
import { sql, type SQL } from 'drizzle-orm';
import { ConcurrencyConflictError } from '../../core/errors.ts';
import {
  currentSchemaVersion,
  DuplicateCommandError,
  upcast,
  type AppendOptions,
  type AppendResult,
  type CommandRecord,
  type EventSchemas,
  type EventStore,
  type NewEvent,
} from '../../core/event-store.ts';
import type { Metadata, StoredEvent } from '../../core/messages.ts';
import { positionFromDb, type Position } from '../../core/position.ts';
import type { Executor } from '../db/client.ts';
import { isRefusedByServer } from '../db/errors.ts';

export const EVENTS_CHANNEL = 'converge_events';

/** How often an `any` append tries for the next version number before it gives up. */
const ANY_ATTEMPTS = 100;

export type EventRow = {
  stream_id: string;
  stream_type: string;
  version: number;
  type: string;
  schema_version: number;
  data: unknown;
  metadata: Metadata;
  tx: string;
  pos: string;
  created_at: string;
};

/** The columns toStoredEvent reads, for statements of other modules that return events. */
export const EVENT_COLUMNS_TEXT = `stream_id, stream_type, version, type, schema_version, data, metadata,
  transaction_id::text as tx, global_position::text as pos,
  to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as created_at`;
const EVENT_COLUMNS = sql.raw(EVENT_COLUMNS_TEXT);

/** Only transactions that can no longer commit before anything later: see DESIGN.md. */
export const VISIBLE_TEXT = 'transaction_id < pg_snapshot_xmin(pg_current_snapshot())';
export const VISIBLE = sql.raw(VISIBLE_TEXT);

export function readAllQuery(after: Position, limit: number): SQL {
  return sql`select ${EVENT_COLUMNS} from events
    where (transaction_id, global_position) > (${after.tx.toString()}::xid8, ${after.pos.toString()}::bigint)
      and ${VISIBLE}
    order by transaction_id, global_position
    limit ${limit}`;
}

export type PostgresEventStore = EventStore & {
  /** readAll on a given executor, e.g. inside a projection's transaction. */
  readAllWith(executor: Executor, after: Position, limit: number): Promise<StoredEvent[]>;
  toStoredEvent(row: EventRow): StoredEvent;
};

type PgError = { code?: string; constraint_name?: string; constraint?: string };

const constraintOf = (error: unknown) => {
  const e = error as PgError;
  return e?.code === '23505' ? (e.constraint_name ?? e.constraint ?? '') : undefined;
};

export type EventStoreDeps = {
  db: Executor;
  schemas?: EventSchemas;
  /** Called after every append that committed (to wake local runners, notify other processes, measure). */
  onAppended?: (result: AppendResult, durationMs: number) => void;
};

/**
 * The append as one statement, in the cheapest form for its case. Each form is a fixed text, rendered
 * once here and prepared once per connection. Versions are contiguous and unique per stream, so the
 * expected version needs no read of the stream's head:
 * - no_stream inserts version 1: the unique (stream_id, version) key refuses it when the stream exists;
 * - exactly n inserts n+1 only if version n exists: with the unique key, that means the head is n;
 * - any takes max(version) + 1 in the statement, and a racing writer shows up as a unique violation.
 * One event goes in as plain parameters, several as one jsonb array. With a commandId, the command's
 * row is inserted by the same statement, so it is recorded if and only if its events are.
 * Parameters: $1 stream id, $2 stream type, $3 expected version (0 for no_stream and any),
 * then $4-$7 the event (type, schema version, data, metadata) or $4 the array, then the command's id
 * and input hash.
 */
type AppendForm = { any: boolean; guarded: boolean; single: boolean; command: boolean };

function appendText(form: AppendForm): string {
  // For any, $3 is 0: the version an empty stream is at.
  const base = form.any ? '(select coalesce(max(version), $3::int) from events where stream_id = $1)' : '$3::int';
  const guard = form.guarded ? 'where exists (select from events where stream_id = $1 and version = $3::int)' : '';
  const rows = form.single
    ? `select $1, $2, ${base} + 1, $4, $5::int, $6::jsonb, $7::jsonb ${guard}`
    : `select $1, $2, ${base} + e.n::int, e.value->>'type', (e.value->>'schemaVersion')::int, e.value->'data', e.value->'metadata'
       from jsonb_array_elements($4::jsonb) with ordinality as e(value, n) ${guard}
       order by e.n`;
  const insert = `insert into events (stream_id, stream_type, version, type, schema_version, data, metadata) ${rows}`;
  if (!form.command) return `${insert} returning version, transaction_id::text as tx, global_position::text as pos`;
  const c = form.single ? 8 : 5;
  return `with ins as (${insert} returning version, transaction_id, global_position),
    last as (select version, transaction_id, global_position from ins order by global_position desc limit 1),
    cmd as (
      insert into commands (command_id, input_hash, stream_id, version, transaction_id, global_position)
      select $${c}::text, $${c + 1}::text, $1, version, transaction_id, global_position from last
    )
    select version, transaction_id::text as tx, global_position::text as pos from last`;
}

const appendTexts = new Map<string, string>();

function appendStatement(streamId: string, events: NewEvent[], options: AppendOptions, schemas: EventSchemas) {
  const expected = options.expectedVersion;
  const [only] = events;
  const form: AppendForm = {
    any: expected === 'any',
    guarded: typeof expected === 'number' && expected > 0,
    single: events.length === 1,
    command: options.command !== undefined,
  };
  const key = `${+form.any}${+form.guarded}${+form.single}${+form.command}`;
  let text = appendTexts.get(key);
  if (text === undefined) appendTexts.set(key, (text = appendText(form)));
  const params: unknown[] = [streamId, options.streamType, typeof expected === 'number' ? expected : 0];
  if (only && form.single) {
    params.push(only.type, currentSchemaVersion(schemas, only.type), JSON.stringify(only.data), JSON.stringify(only.metadata ?? {}));
  } else {
    params.push(
      JSON.stringify(
        events.map((e) => ({ type: e.type, schemaVersion: currentSchemaVersion(schemas, e.type), data: e.data, metadata: e.metadata ?? {} })),
      ),
    );
  }
  if (options.command) params.push(options.command.commandId, options.command.inputHash);
  return { text, params };
}

/** The most appends that share one statement. */
const MAX_BATCH = 200;

/**
 * Several one-event appends, each to its own stream, in one statement ($1: a jsonb array of them). The checks are those of appendText, row by row; a row that fails its check or finds its
 * version number taken is left out (ON CONFLICT DO NOTHING), and the others go in.
 */
const BATCH_APPEND_TEXT = `
  insert into events (stream_id, stream_type, version, type, schema_version, data, metadata)
  select a.stream_id, a.stream_type,
    case when a.is_any then (select coalesce(max(e.version), 0) from events e where e.stream_id = a.stream_id)
      else a.expected end + 1,
    a.type, a.schema_version, a.data, a.metadata
  from jsonb_to_recordset($1::jsonb) as a(stream_id text, stream_type text, expected int, is_any boolean,
    type text, schema_version int, data jsonb, metadata jsonb)
  -- A lateral lookup, not EXISTS: the planner would hash an EXISTS over the whole events table.
  left join lateral (
    select true as found from events e where e.stream_id = a.stream_id and e.version = a.expected limit 1
  ) at_expected on true
  where a.is_any or a.expected = 0 or at_expected.found
  -- In stream order: two batches that share streams take their row locks in the same order, so they
  -- wait for each other instead of deadlocking.
  order by a.stream_id
  on conflict (stream_id, version) do nothing
  returning stream_id, version, transaction_id::text as tx, global_position::text as pos`;

export function createPostgresEventStore(deps: EventStoreDeps): PostgresEventStore {
  const { db, onAppended } = deps;
  const schemas = deps.schemas ?? {};

  const toStoredEvent = (row: EventRow): StoredEvent => ({
    type: row.type,
    data: upcast(schemas, row.type, row.schema_version, row.data),
    streamId: row.stream_id,
    streamType: row.stream_type,
    version: row.version,
    schemaVersion: currentSchemaVersion(schemas, row.type),
    metadata: row.metadata,
    position: positionFromDb(row.tx, row.pos),
    createdAt: row.created_at,
  });

  const streamVersion = async (streamId: string) => {
    const [row] = await db.rows<{ v: number }>(
      sql`select coalesce(max(version), 0)::int as v from events where stream_id = ${streamId}`,
    );
    return row?.v ?? 0;
  };

  const appendOnce = async (streamId: string, events: NewEvent[], options: AppendOptions): Promise<AppendResult> => {
    const expected = options.expectedVersion;
    const { text, params } = appendStatement(streamId, events, options, schemas);
    const rows = await db.query<{ version: number; tx: string; pos: string }>(text, params);
    // One row per event, or the last one's only when a command is recorded: the result is the highest.
    const row = rows.reduce<(typeof rows)[number] | undefined>((last, r) => (last && last.version > r.version ? last : r), undefined);
    if (!row) {
      // Only an exact expected version can insert nothing: version `expected` is not there.
      throw new ConcurrencyConflictError(streamId, expected === 'any' ? 0 : expected, await streamVersion(streamId));
    }
    return { streamId, version: row.version, position: positionFromDb(row.tx, row.pos) };
  };

  /** One append on its own statement; `any` retries a lost race for the next version number. */
  const appendAlone = async (streamId: string, events: NewEvent[], options: AppendOptions): Promise<AppendResult> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await appendOnce(streamId, events, options);
      } catch (error) {
        const constraint = constraintOf(error);
        if (constraint === 'commands_pkey' && options.command) throw new DuplicateCommandError(options.command.commandId);
        if (constraint === 'events_stream_version_key') {
          // `any` only lost a race for the next version number: take the one after, with a little
          // jitter so that a crowd of writers spreads out.
          if (options.expectedVersion === 'any' && attempt < ANY_ATTEMPTS) {
            await new Promise((r) => setTimeout(r, Math.random() * Math.min(20, attempt)));
            continue;
          }
          const expected = options.expectedVersion === 'any' ? 0 : options.expectedVersion;
          throw new ConcurrencyConflictError(streamId, expected, await streamVersion(streamId));
        }
        throw error;
      }
    }
  };

  /**
   * Appends of one event without a command, to different streams, that arrive together (concurrent
   * requests) go out as one statement: one round trip and one commit for all of them, which is where
   * the time of a small append goes. Each keeps its own expected-version check: a stream whose check
   * fails (or whose version number was taken) gets no row back and is answered as on its own (a
   * conflict, or for `any` a retry). If the server refuses the shared statement as a whole, each append
   * is retried on its own statement, so that an error reaches only the caller it belongs to (a lost
   * connection is not retried: the statement may have committed). Appends with a
   * command (their idempotency record must fail together with their events) or several events (all
   * or none of them) always have a statement of their own.
   */
  type Queued = { streamId: string; event: NewEvent; options: AppendOptions; resolve(r: AppendResult): void; reject(e: unknown): void };
  let batch: Map<string, Queued> | undefined;

  const settleAlone = (q: Queued) => appendAlone(q.streamId, [q.event], q.options).then(q.resolve, q.reject);

  const flush = async (queued: Queued[]) => {
    if (queued.length === 1) return settleAlone(queued[0]!);
    let payload: string;
    try {
      payload = JSON.stringify(
        queued.map(({ streamId, event, options }) => ({
          stream_id: streamId,
          stream_type: options.streamType,
          expected: typeof options.expectedVersion === 'number' ? options.expectedVersion : 0,
          is_any: options.expectedVersion === 'any',
          type: event.type,
          schema_version: currentSchemaVersion(schemas, event.type),
          data: event.data,
          metadata: event.metadata ?? {},
        })),
      );
    } catch {
      // An event that cannot be serialised (nothing was sent): each alone, so only its caller fails.
      await Promise.all(queued.map(settleAlone));
      return;
    }
    let rows: { stream_id: string; version: number; tx: string; pos: string }[];
    try {
      rows = await db.query(BATCH_APPEND_TEXT, [payload]);
    } catch (error) {
      // Refused by the server (an SQLSTATE outside connection errors): the statement rolled back, so
      // each append can go again alone and its own error reaches its own caller. Anything else (the
      // connection went away mid-statement) leaves the outcome unknown: it may have committed, so
      // nothing is retried and every caller gets the error, as an append on its own would.
      if (isRefusedByServer(error)) await Promise.all(queued.map(settleAlone));
      else for (const q of queued) q.reject(error);
      return;
    }
    const byStream = new Map(rows.map((row) => [row.stream_id, row]));
    await Promise.all(
      queued.map(async (q) => {
        const row = byStream.get(q.streamId);
        if (row) return q.resolve({ streamId: q.streamId, version: row.version, position: positionFromDb(row.tx, row.pos) });
        // Not appended: `any` lost a race (try again alone); otherwise the expected version was wrong.
        const expected = q.options.expectedVersion;
        if (expected === 'any') return settleAlone(q);
        try {
          q.reject(new ConcurrencyConflictError(q.streamId, expected, await streamVersion(q.streamId)));
        } catch (error) {
          q.reject(error);
        }
      }),
    );
  };

  const appendBatched = (streamId: string, event: NewEvent, options: AppendOptions) =>
    new Promise<AppendResult>((resolve, reject) => {
      const queued = { streamId, event, options, resolve, reject };
      // A second append to a stream already in this batch would race it for the same version: alone.
      if (batch?.has(streamId)) return void settleAlone(queued);
      if (!batch) {
        const current = (batch = new Map());
        setImmediate(() => {
          if (batch === current) batch = undefined;
          void flush([...current.values()]);
        });
      }
      batch.set(streamId, queued);
      if (batch.size >= MAX_BATCH) batch = undefined;
    });

  const store: PostgresEventStore = {
    async append(streamId, events, options) {
      if (events.length === 0) throw new Error('append needs at least one event');
      const started = performance.now();
      const [only] = events;
      const result =
        only && events.length === 1 && !options.command
          ? await appendBatched(streamId, only, options)
          : await appendAlone(streamId, events, options);
      onAppended?.(result, performance.now() - started);
      return result;
    },

    async readStream(streamId) {
      const rows = await db.rows<EventRow>(
        sql`select ${EVENT_COLUMNS} from events where stream_id = ${streamId} order by version`,
      );
      const events = rows.map(toStoredEvent);
      return { version: events.at(-1)?.version ?? 0, events };
    },

    readAll: (after, limit) => store.readAllWith(db, after, limit),

    async readAllWith(executor, after, limit) {
      const rows = await executor.rows<EventRow>(readAllQuery(after, limit));
      return rows.map(toStoredEvent);
    },

    async findCommand(commandId): Promise<CommandRecord | null> {
      const [row] = await db.rows<{ input_hash: string; stream_id: string; version: number; tx: string; pos: string }>(sql`
        select input_hash, stream_id, version, transaction_id::text as tx, global_position::text as pos
        from commands where command_id = ${commandId}`);
      if (!row) return null;
      return {
        commandId,
        inputHash: row.input_hash,
        streamId: row.stream_id,
        version: row.version,
        position: positionFromDb(row.tx, row.pos),
      };
    },

    async headPosition() {
      const [row] = await db.rows<{ tx: string; pos: string }>(sql`
        select transaction_id::text as tx, global_position::text as pos from events
        where ${VISIBLE} order by transaction_id desc, global_position desc limit 1`);
      return row ? positionFromDb(row.tx, row.pos) : null;
    },

    toStoredEvent,
  };
  return store;
}

export type AppendNotifier = {
  /** An append committed: make sure a notification goes out after it. */
  poke(): void;
};

/**
 * Sends the wake-up notification for appends, after their commit, at most one at a time: a poke while
 * one is in flight asks for one more after it, so every append is followed by a notification sent
 * after its commit, and a burst of appends costs a few notifications instead of one each. A
 * notification lost to a crash between commit and NOTIFY only delays readers until their fallback poll.
 */
export function createAppendNotifier(db: Executor, onError: (error: unknown) => void = () => {}): AppendNotifier {
  let inFlight = false;
  let again = false;
  const send = async () => {
    inFlight = true;
    do {
      again = false;
      try {
        await db.rows(sql`select pg_notify(${EVENTS_CHANNEL}, '')`);
      } catch (error) {
        onError(error);
      }
    } while (again);
    inFlight = false;
  };
  return {
    poke() {
      if (inFlight) again = true;
      else void send();
    },
  };
}

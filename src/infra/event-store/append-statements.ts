// The statements an append is made of, each a fixed text rendered once and prepared once per connection.
// Versions are contiguous and unique per stream, so the expected version needs no read of the stream's
// head: the unique (stream_id, version) key does the check (docs/decisions/append-statements.md).
import { currentSchemaVersion, type AppendOptions, type EventSchemas, type NewEvent } from '../../core/event-store.ts';

/**
 * - no_stream inserts version 1, which the unique key refuses when the stream exists;
 * - exactly n inserts n+1 only if version n exists, so only when the head is n;
 * - any takes max(version) + 1 in the statement, and a racing writer shows up as a unique violation.
 * One event goes in as plain parameters, several as one jsonb array; with a commandId, the command's row
 * is inserted by the same statement, so it is recorded if and only if its events are.
 * Parameters: $1 stream id, $2 stream type, $3 expected version (0 for no_stream and any), $4 the tenant,
 * then $5-$8 the event (type, schema version, data, metadata) or $5 the array, then the command's id and
 * input hash. A stream is the tenant's: its versions and its commands' ids are counted within the tenant.
 */
type AppendForm = { any: boolean; guarded: boolean; single: boolean; command: boolean };

function appendText(form: AppendForm): string {
  // For any, $3 is 0: the version an empty stream is at.
  const base = form.any ? '(select coalesce(max(version), $3::int) from events where stream_id = $1 and tenant_id = $4)' : '$3::int';
  const guard = form.guarded ? 'where exists (select from events where stream_id = $1 and version = $3::int and tenant_id = $4)' : '';
  const rows = form.single
    ? `select $4, $1, $2, ${base} + 1, $5, $6::int, $7::jsonb, $8::jsonb ${guard}`
    : `select $4, $1, $2, ${base} + e.n::int, e.value->>'type', (e.value->>'schemaVersion')::int, e.value->'data', e.value->'metadata'
       from jsonb_array_elements($5::jsonb) with ordinality as e(value, n) ${guard}
       order by e.n`;
  const insert = `insert into events (tenant_id, stream_id, stream_type, version, type, schema_version, data, metadata) ${rows}`;
  if (!form.command) return `${insert} returning version, transaction_id::text as tx, global_position::text as pos`;
  const c = form.single ? 9 : 6;
  return `with ins as (${insert} returning version, transaction_id, global_position),
    last as (select version, transaction_id, global_position from ins order by global_position desc limit 1),
    cmd as (
      insert into commands (tenant_id, command_id, input_hash, stream_id, version, transaction_id, global_position)
      select $4, $${c}::text, $${c + 1}::text, $1, version, transaction_id, global_position from last
    )
    select version, transaction_id::text as tx, global_position::text as pos from last`;
}

const appendTexts = new Map<string, string>();

export function appendStatement(
  tenant: string,
  streamId: string,
  events: readonly NewEvent[],
  options: AppendOptions,
  schemas: EventSchemas,
) {
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
  const params: unknown[] = [streamId, options.streamType, typeof expected === 'number' ? expected : 0, tenant];
  if (only && form.single) {
    params.push(only.type, currentSchemaVersion(schemas, only.type), JSON.stringify(only.data), JSON.stringify(only.metadata ?? {}));
  } else {
    params.push(
      JSON.stringify(
        events.map((e) => ({
          type: e.type,
          schemaVersion: currentSchemaVersion(schemas, e.type),
          data: e.data,
          metadata: e.metadata ?? {},
        })),
      ),
    );
  }
  if (options.command) params.push(options.command.commandId, options.command.inputHash);
  return { text, params };
}

/**
 * Several one-event appends of one tenant ($2), each to its own stream, in one statement ($1: a jsonb array of them). The
 * checks are appendText's, row by row; a row that fails its check or finds its version number taken is
 * left out (ON CONFLICT DO NOTHING), and the others go in.
 */
export const SHARED_APPEND_TEXT = `
  insert into events (tenant_id, stream_id, stream_type, version, type, schema_version, data, metadata)
  select $2, a.stream_id, a.stream_type,
    case when a.is_any then (select coalesce(max(e.version), 0) from events e where e.stream_id = a.stream_id and e.tenant_id = $2)
      else a.expected end + 1,
    a.type, a.schema_version, a.data, a.metadata
  from jsonb_to_recordset($1::jsonb) as a(stream_id text, stream_type text, expected int, is_any boolean,
    type text, schema_version int, data jsonb, metadata jsonb)
  -- A lateral lookup, not EXISTS: the planner would hash an EXISTS over the whole events table.
  left join lateral (
    select true as found from events e where e.stream_id = a.stream_id and e.version = a.expected and e.tenant_id = $2 limit 1
  ) at_expected on true
  where a.is_any or a.expected = 0 or at_expected.found
  -- In stream order: two statements that share streams take their row locks in the same order, so they
  -- wait for each other instead of deadlocking.
  order by a.stream_id
  on conflict (stream_id, version, tenant_id) do nothing
  returning stream_id, version, transaction_id::text as tx, global_position::text as pos`;

/** One row of SHARED_APPEND_TEXT's parameter. */
export function sharedAppendRow(streamId: string, event: NewEvent, options: AppendOptions, schemas: EventSchemas) {
  return {
    stream_id: streamId,
    stream_type: options.streamType,
    expected: typeof options.expectedVersion === 'number' ? options.expectedVersion : 0,
    is_any: options.expectedVersion === 'any',
    type: event.type,
    schema_version: currentSchemaVersion(schemas, event.type),
    data: event.data,
    metadata: event.metadata ?? {},
  };
}

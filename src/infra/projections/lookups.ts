// A projection's lookups as SQL: CTEs that gather each lookup's keys (from the step's events, or from the
// rows an earlier lookup found) and select its rows; the result is one JSON object, so that the lookups
// ride along with the live batch statement or go out as one statement of their own.
import type { StoredEvent } from '../../core/messages.ts';
import { eventKeys, type KeySource, type LookupSpec, type Row, type SqlProjection } from '../../core/sql-projection.ts';
import { ident, quoteIdent, sqlList, sqlString } from './sql-text.ts';

/** What the statement answers: per lookup, the keys it looked up and the rows it found. */
export type LookupResult = Record<string, { keys: string[]; rows: Row[] }>;

type EventKeySource = Exclude<KeySource, { lookup: string }>;

const KEY = '$key';
const ref = (column: string) => `$ref_${column}`;

type SqlParts = { ctes: string; result: string };

export type CompiledLookups = {
  /** The lookups in the order they are declared (a lookup may use the rows of one before it). */
  names: readonly string[];
  /**
   * WITH queries (comma-separated, no WITH) and the expression of their JSON result, with the keys taken
   * from the events of the CTE `batch` (the live batch statement's).
   */
  overBatch(): SqlParts;
  /** The same with the keys taken from parameters: $first and on, one JSON array per lookup (see `params`). */
  overParams(first: number): SqlParts;
  /** The parameters of overParams: the keys each lookup takes from `events`, as JSON arrays. */
  params(events: readonly StoredEvent[]): string[];
  /** The rows by key, once every key the events name is known to have been looked up; else null. */
  found(result: LookupResult, events: readonly StoredEvent[]): Record<string, Map<string, Row>> | null;
};

export function compileLookups(projection: SqlProjection): CompiledLookups | undefined {
  const entries = Object.entries(projection.lookups ?? {});
  if (entries.length === 0) return undefined;
  const names = entries.map(([name]) => name);
  const lookups = entries.map(([, lookup]) => lookup);
  const where = (name: string) => {
    const i = names.indexOf(name);
    return i >= 0 ? i : undefined;
  };
  // The columns later lookups take their keys from, per lookup.
  const referenced = lookups.map(() => new Set<string>());
  lookups.forEach((lookup, i) => {
    ident(lookup.table);
    ident(lookup.key);
    for (const source of lookup.keys) {
      if ('dataField' in source) sqlString(source.dataField);
      if (!('lookup' in source)) continue;
      const j = where(source.lookup);
      if (j === undefined || j >= i) {
        throw new Error(
          `projection ${projection.name}: lookup ${names[i]} takes keys from ${source.lookup}, which is not declared before it`,
        );
      }
      referenced[j]!.add(source.column);
    }
  });

  // The handled event types a source applies to, as an SQL list.
  const typesOf = (types: readonly string[] | undefined) =>
    sqlList((types ?? [...projection.handles]).filter((t) => projection.handles.has(t)));
  const fromEvents = (lookup: LookupSpec) => lookup.keys.filter((source): source is EventKeySource => !('lookup' in source));

  const build = (eventKeysOf: (i: number, lookup: LookupSpec) => string | null): SqlParts => {
    const ctes = lookups.flatMap((lookup, i) => {
      const parts = [
        eventKeysOf(i, lookup),
        ...lookup.keys.flatMap((s) => ('lookup' in s ? [`select ${quoteIdent(ref(s.column))} from lookup_${where(s.lookup)}`] : [])),
      ];
      const keys = parts.filter((p): p is string => p !== null);
      const refs = [...referenced[i]!].map((column) => `, ${ident(column)}::text as ${quoteIdent(ref(column))}`).join('');
      return [
        `lookup_${i}_keys as (select distinct k from (${keys.length > 0 ? keys.join(' union all ') : 'select null::text'}) s(k) where k is not null)`,
        `lookup_${i} as (select ${ident(lookup.key)}::text as ${quoteIdent(KEY)}${refs}, ${lookup.columns} from ${ident(lookup.table)}
          where ${ident(lookup.key)} = any(array(select k from lookup_${i}_keys)))`,
      ];
    });
    const result = `json_build_object(${names
      .map(
        (name, i) => `${sqlString(name)}, json_build_object(
          'keys', (select coalesce(json_agg(k), '[]'::json) from lookup_${i}_keys),
          'rows', (select coalesce(json_agg(r), '[]'::json) from lookup_${i} r))`,
      )
      .join(', ')})`;
    return { ctes: ctes.join(',\n'), result };
  };

  return {
    names,
    overBatch: () =>
      build((_i, lookup) => {
        const parts = fromEvents(lookup).map((source) => {
          const types = typesOf(source.types);
          if ('dataItems' in source) {
            return `select item->>${sqlString(source.field)} from batch, jsonb_array_elements(case when jsonb_typeof(data->${sqlString(source.dataItems)}) = 'array' then data->${sqlString(source.dataItems)} else '[]'::jsonb end) item where type in (${types})`;
          }
          const column = 'streamId' in source ? 'stream_id' : `data->>${sqlString(source.dataField)}`;
          return `select ${column} from batch where type in (${types})`;
        });
        return parts.length > 0 ? parts.join(' union all ') : null;
      }),
    // One parameter per lookup, empty for one whose keys all come from an earlier lookup.
    overParams: (first) => build((i) => `select jsonb_array_elements_text($${first + i}::jsonb)`),
    params: (events) => lookups.map((lookup) => JSON.stringify([...eventKeys(lookup.keys, events)])),
    found(result, events) {
      const found: Record<string, Map<string, Row>> = {};
      for (const [i, lookup] of lookups.entries()) {
        const name = names[i]!;
        const answer = result[name];
        if (!answer) return null;
        const looked = new Set(answer.keys);
        const wanted = eventKeys(lookup.keys, events);
        for (const source of lookup.keys) {
          if (!('lookup' in source)) continue;
          for (const row of found[source.lookup]!.values()) {
            const value = (row as Record<string, unknown>)[ref(source.column)];
            if (typeof value === 'string') wanted.add(value);
          }
        }
        for (const key of wanted) if (!looked.has(key)) return null;
        found[name] = new Map(answer.rows.map((row) => [String(row[KEY]), row]));
      }
      // The helper columns go once every lookup has used them.
      for (const rows of Object.values(found)) {
        for (const row of rows.values()) for (const column of Object.keys(row)) if (column.startsWith('$')) delete row[column];
      }
      return found;
    },
  };
}

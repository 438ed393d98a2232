// A projection's lookups as SQL: CTEs that gather each lookup's keys (from the step's events, or from the
// rows an earlier lookup found) and select its rows; the result is one JSON object, so that the lookups
// ride along with the live batch statement or go out as one statement of their own.
import type { StoredEvent } from '../../core/messages.ts';
import { eventKeys, type KeySource, type LookupSpec, type Row, type SqlProjection } from '../../core/sql-projection.ts';
import { splitKey, tenantKey } from '../../core/tenancy.ts';
import { ident, quoteIdent, sqlList, sqlString } from './sql-text.ts';

/** What the statement answers: per lookup, the keys it looked up (with their tenants) and the rows it found. */
export type LookupResult = Record<string, { keys: [string, string][]; rows: Row[] }>;

type EventKeySource = Exclude<KeySource, { lookup: string }>;

const KEY = '$key';
const TENANT = '$tenant';
const ref = (column: string) => `$ref_${column}`;

type SqlParts = { ctes: string; result: string };

export type CompiledLookups = {
  /** The lookups in the order they are declared (a lookup may use the rows of one before it). */
  names: readonly string[];
  /**
   * WITH queries (comma-separated, no WITH) and the expression of their JSON result, with the keys taken
   * from the events of the CTE `batch` (the live batch statement's); `prefix` starts the names of the WITH
   * queries, so that several projections' lookups can ride along with one batch.
   */
  overBatch(prefix?: string): SqlParts;
  /** The same with the keys taken from parameters: $first and on, one JSON array per lookup (see `params`). */
  overParams(first: number): SqlParts;
  /** The parameters of overParams: the keys each lookup takes from `events`, as JSON arrays. */
  params(events: readonly StoredEvent[]): string[];
  /** The rows by tenant and key (tenantKey), once every key the events name is known to have been looked up; else null. */
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

  // Keys are the tenant's: each query below pairs a tenant (t) with a key (k), and finds rows of that tenant.
  const build = (eventKeysOf: (i: number, lookup: LookupSpec) => string | null, prefix = ''): SqlParts => {
    const cte = (i: number) => `${prefix}lookup_${i}`;
    const ctes = lookups.flatMap((lookup, i) => {
      const parts = [
        eventKeysOf(i, lookup),
        ...lookup.keys.flatMap((s) =>
          'lookup' in s ? [`select ${quoteIdent(TENANT)}, ${quoteIdent(ref(s.column))} from ${cte(where(s.lookup)!)}`] : [],
        ),
      ];
      const keys = parts.filter((p): p is string => p !== null);
      const refs = [...referenced[i]!].map((column) => `, ${ident(column)}::text as ${quoteIdent(ref(column))}`).join('');
      return [
        `${cte(i)}_keys as (select distinct t, k from (${keys.length > 0 ? keys.join(' union all ') : 'select null::text, null::text'}) s(t, k) where k is not null)`,
        `${cte(i)} as (select tenant_id as ${quoteIdent(TENANT)}, ${ident(lookup.key)}::text as ${quoteIdent(KEY)}${refs}, ${lookup.columns}
          from ${ident(lookup.table)} where (${ident(lookup.key)}, tenant_id) in (select k, t from ${cte(i)}_keys))`,
      ];
    });
    const result = `json_build_object(${names
      .map(
        (name, i) => `${sqlString(name)}, json_build_object(
          'keys', (select coalesce(json_agg(json_build_array(t, k)), '[]'::json) from ${cte(i)}_keys),
          'rows', (select coalesce(json_agg(r), '[]'::json) from ${cte(i)} r))`,
      )
      .join(', ')})`;
    return { ctes: ctes.join(',\n'), result };
  };

  return {
    names,
    overBatch: (prefix) =>
      build((_i, lookup) => {
        const parts = fromEvents(lookup).map((source) => {
          const types = typesOf(source.types);
          if ('dataItems' in source) {
            const items = `data->${sqlString(source.dataItems)}`;
            return `select tenant_id, item->>${sqlString(source.field)} from batch,
              jsonb_array_elements(case when jsonb_typeof(${items}) = 'array' then ${items} else '[]'::jsonb end) item where type in (${types})`;
          }
          const column = 'streamId' in source ? 'stream_id' : `data->>${sqlString(source.dataField)}`;
          return `select tenant_id, ${column} from batch where type in (${types})`;
        });
        return parts.length > 0 ? parts.join(' union all ') : null;
      }, prefix),
    // One parameter per lookup, empty for one whose keys all come from an earlier lookup.
    overParams: (first) => build((i) => `select x->>0, x->>1 from jsonb_array_elements($${first + i}::jsonb) x`),
    params: (events) => lookups.map((lookup) => JSON.stringify([...eventKeys(lookup.keys, events)].map(splitKey))),
    found(result, events) {
      const found: Record<string, Map<string, Row>> = {};
      for (const [i, lookup] of lookups.entries()) {
        const name = names[i]!;
        const answer = result[name];
        if (!answer) return null;
        const looked = new Set(answer.keys.map(([tenant, key]) => tenantKey(tenant, key)));
        const wanted = eventKeys(lookup.keys, events);
        for (const source of lookup.keys) {
          if (!('lookup' in source)) continue;
          for (const row of found[source.lookup]!.values()) {
            const value = (row as Record<string, unknown>)[ref(source.column)];
            if (typeof value === 'string') wanted.add(tenantKey(String(row[TENANT]), value));
          }
        }
        for (const key of wanted) if (!looked.has(key)) return null;
        found[name] = new Map(answer.rows.map((row) => [tenantKey(String(row[TENANT]), String(row[KEY])), row]));
      }
      // The helper columns go once every lookup has used them.
      for (const rows of Object.values(found)) {
        for (const row of rows.values()) for (const column of Object.keys(row)) if (column.startsWith('$')) delete row[column];
      }
      return found;
    },
  };
}

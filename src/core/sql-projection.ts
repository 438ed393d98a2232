// A projection into SQL tables, declared in the domain's own terms: the events it handles (which types
// its `apply` is given, typed), its drizzle tables (the only ones it may write, with rows typed by them),
// and which rows of them a batch needs (looked up by keys the events name). The runner builds every
// statement and checks that the lookups covered the batch (docs/architecture.md, Writing a projection).
import type { Column } from 'drizzle-orm';
import type { Event, StoredEvent } from './messages.ts';
import type { Position } from './position.ts';
import type { Projection } from './projection.ts';
import { type NewRowOf, primaryKeyOf, type ReadModelTable, type RowOf, selectList, tableName, toColumns } from './tables.ts';
import { tenantKey } from './tenancy.ts';

export type Row = Record<string, unknown>;

/** Where the keys of a lookup come from, as the storage reads them (column names, not properties). */
export type KeySource =
  /** Each event's stream id (of the listed event types; of every handled type without `types`). */
  | { streamId: true; types?: readonly string[] }
  /** A text field at the top level of each event's data. */
  | { dataField: string; types?: readonly string[] }
  /** A text field of each element of an array at the top level of each event's data (an order's items' product ids). */
  | { dataItems: string; field: string; types?: readonly string[] }
  /** A column of the rows an earlier lookup of the same projection found. */
  | { lookup: string; column: string };

/** Rows of one table found by their key column, as the storage reads them: `columns` is the select list. */
export type LookupSpec = { table: string; key: string; columns: string; keys: readonly KeySource[] };

/** What the storage gives `apply` besides the events: rows by table name and column names. */
export type StepContext = {
  /** The rows each lookup found, by key: every key the batch names was looked up (absent: no row). */
  found: Readonly<Record<string, ReadonlyMap<string, Row>>>;
  /** New rows; a key that exists already fails the step. */
  insert(table: string, rows: readonly Row[]): void;
  /** New rows, or new values for the rows whose `key` columns match (the last row of a key in a step wins). */
  upsert(table: string, key: readonly string[], rows: readonly Row[]): void;
  /** Process managers only (see process-manager.ts): this step's commands appended events up to `position`. */
  caused(position: Position): void;
  /** Process managers only: rows of one of its tables by their `key` column (`columns`: the select list). */
  read(table: string, key: string, columns: string, keys: readonly string[]): Promise<ReadonlyMap<string, Row>>;
};

/**
 * A projection as the runner runs it. Its writes land with its checkpoint or not at all; it is its
 * tables' only writer; a rebuild fills copies of `tables` and swaps them in.
 */
export type SqlProjection = Projection<StepContext> & { lookups?: Readonly<Record<string, LookupSpec>> };

/** A text field of the data of every event type in `T`. */
type DataField<E extends Event, T extends E['type']> = Extract<keyof Extract<E, { type: T }>['data'], string>;
type DataOf<E extends Event, T extends E['type']> = Extract<E, { type: T }>['data'];
/** An array field of the data of every event type in `T`, and a field of its elements. */
type ItemsField<E extends Event, T extends E['type']> = {
  [F in DataField<E, T>]: DataOf<E, T>[F] extends readonly (infer I)[] ? { dataItems: F; field: Extract<keyof I, string> } : never;
}[DataField<E, T>];

/** Where a lookup's keys come from, typed by the projection's events. */
export type LookupKeys<E extends Event> =
  | { streamId: true; types?: readonly E['type'][] }
  | { [T in E['type']]: { dataField: DataField<E, T>; types: readonly T[] } }[E['type']]
  | { [T in E['type']]: ItemsField<E, T> & { types: readonly T[] } }[E['type']]
  | { lookup: string; column: Column };

/** The rows of `table` whose `key` column (text) is one of the keys the batch names. */
export type Lookup<T extends ReadModelTable = ReadModelTable, E extends Event = Event> = {
  table: T;
  key: Column;
  keys: readonly LookupKeys<E>[];
};

/** What `apply` gets besides its events: what its lookups found, and writes typed by its tables. */
export type ProjectionStep<L extends Record<string, Lookup<any, any>>, T extends ReadModelTable> = {
  found: { readonly [K in keyof L]: ReadonlyMap<string, RowOf<L[K]['table']>> };
  /** New rows; a key that exists already fails the step. */
  insert<X extends T>(table: X, rows: readonly NewRowOf<X>[]): void;
  /** New rows, or new values for the rows with the same `key` (the primary key by default); the last row of a key wins. */
  upsert<X extends T>(table: X, rows: readonly NewRowOf<X>[], key?: readonly Column[]): void;
};

/** The events of `E` whose type is one of `H`, as read back from the store. */
export type HandledEvent<E extends Event, H extends E['type']> = StoredEvent<Extract<E, { type: H }>>;

/** What a projection and a process manager both declare: the events they handle, their tables and lookups. */
export type ProcessorDefinition<H extends string, T extends ReadModelTable, L extends Record<string, Lookup<any, any>>> = {
  name: string;
  /** The event types it handles, in global order; the checkpoint moves over all others. */
  handles: readonly H[];
  /** The tables it alone writes; a write to another is refused, and a rebuild fills copies of these. */
  tables: readonly T[];
  lookups?: L;
};

export type SqlProjectionDefinition<
  E extends Event,
  H extends E['type'],
  T extends ReadModelTable,
  L extends Record<string, Lookup<any, any>>,
> = ProcessorDefinition<H, T, L> & {
  /** Only computes: reads `step.found`, writes with `step.insert` and `step.upsert`, nothing else. */
  apply(events: HandledEvent<E, H>[], step: ProjectionStep<L, T>): void | Promise<void>;
};

/** `lookup(table, { key, keys })`: the rows of `table` the batch names by `key`. */
export const lookup = <T extends ReadModelTable, E extends Event = Event>(table: T, spec: Omit<Lookup<T, E>, 'table'>): Lookup<T, E> => ({
  table,
  ...spec,
});

/**
 * A projection of the events `E` (name the union: `defineSqlProjection<OrderEvent>()({ … })`), whose
 * `apply` gets exactly the handled types.
 */
export const defineSqlProjection =
  <E extends Event>() =>
  <const H extends E['type'], T extends ReadModelTable, L extends Record<string, Lookup<T, E>> = Record<never, never>>(
    definition: SqlProjectionDefinition<E, H, T, L>,
  ): SqlProjection => ({
    ...compileTables(definition),
    kind: 'PROJECTION',
    apply: (events, step) => definition.apply(events as HandledEvent<E, H>[], typedStep<L, T>(step)),
  });

/** The parts of a definition the storage reads: handled types, table names, lookups as SQL. */
export function compileTables(
  definition: ProcessorDefinition<string, ReadModelTable, Record<string, Lookup<any, any>>>,
): Pick<SqlProjection, 'name' | 'handles' | 'tables' | 'lookups'> {
  const tables = definition.tables.map(tableName);
  const lookups = Object.entries(definition.lookups ?? {}).map(([name, { table, key, keys }]): [string, LookupSpec] => {
    if (!definition.tables.includes(table)) {
      throw new Error(`projection ${definition.name}: lookup ${name} reads table ${tableName(table)}, which its tables do not list`);
    }
    return [
      name,
      {
        table: tableName(table),
        key: key.name,
        columns: selectList(table),
        keys: keys.map((source) => ('lookup' in source ? { lookup: source.lookup, column: source.column.name } : source)),
      },
    ];
  });
  return {
    name: definition.name,
    handles: new Set(definition.handles),
    tables,
    ...(lookups.length > 0 && { lookups: Object.fromEntries(lookups) }),
  };
}

/** The typed step over the storage's: rows go in with column names, keyed by the primary key by default. */
export function typedStep<L extends Record<string, Lookup<any, any>>, T extends ReadModelTable>(step: StepContext): ProjectionStep<L, T> {
  return {
    found: step.found as ProjectionStep<L, T>['found'],
    insert: (table, rows) =>
      step.insert(
        tableName(table),
        rows.map((row) => toColumns(table, row)),
      ),
    upsert: (table, rows, key) =>
      step.upsert(
        tableName(table),
        key ? key.map((column) => column.name) : primaryKeyOf(table),
        rows.map((row) => toColumns(table, row)),
      ),
  };
}

/** The keys a batch names for a lookup, with their events' tenants (tenantKey), from the events alone (sources of kind `lookup` left out). */
export function eventKeys(sources: readonly KeySource[], events: readonly StoredEvent[]): Set<string> {
  const keys = new Set<string>();
  for (const source of sources) {
    if ('lookup' in source) continue;
    for (const event of events) {
      if (source.types && !source.types.includes(event.type)) continue;
      const data = event.data as Record<string, unknown> | null;
      if ('dataItems' in source) {
        const items = data?.[source.dataItems];
        if (!Array.isArray(items)) continue;
        for (const item of items) {
          const key = (item as Record<string, unknown> | null)?.[source.field];
          if (typeof key === 'string') keys.add(tenantKey(event.tenant, key));
        }
        continue;
      }
      const key = 'streamId' in source ? event.streamId : data?.[source.dataField];
      if (typeof key === 'string') keys.add(tenantKey(event.tenant, key));
    }
  }
  return keys;
}

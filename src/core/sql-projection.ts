// A projection into SQL tables, declared in the domain's own terms: which rows of its tables a batch of
// events needs (looked up by keys the events name) and which rows it writes. The runner builds every
// statement and checks that the lookups covered the batch (docs/architecture.md, Writing a projection).
import type { StoredEvent } from './messages.ts';
import type { Position } from './position.ts';
import type { Projection } from './projection.ts';

export type Row = Record<string, unknown>;

/** Where the keys of a lookup come from. */
export type KeySource =
  /** Each event's stream id (of the listed event types; of every handled type without `types`). */
  | { streamId: true; types?: readonly string[] }
  /** A text field at the top level of each event's data. */
  | { dataField: string; types?: readonly string[] }
  /** A column of the rows an earlier lookup of the same projection found. */
  | { lookup: string; column: string };

/** Rows of one table, found by their key column. `R` is the shape `columns` selects. */
export type Lookup<R extends Row = Row> = {
  table: string;
  /** The key column, of type text (the keys events name are text). */
  key: string;
  /** The SELECT list of each row, e.g. `order_id as "orderId", total_amount::text as "totalAmount"`. */
  columns: string;
  keys: readonly KeySource[];
  /** Only carries `R` for the types of `found`. */
  readonly row?: R;
};

export type RowOf<L> = L extends Lookup<infer R> ? R : never;

export type Lookups = Record<string, Lookup<any>>;

/** What `apply` gets besides the events. */
export type StepContext<L extends Lookups = Lookups> = {
  /** The rows each lookup found, by key: every key the batch names was looked up (absent: no row). */
  found: { [K in keyof L]: ReadonlyMap<string, RowOf<L[K]>> };
  /** New rows (columns by their table names); a key that exists already fails the step. */
  insert(table: string, rows: readonly Row[]): void;
  /**
   * New rows, or new values for the rows whose `key` columns match. Several upserts of one table in a
   * step are merged: the last row of each key wins.
   */
  upsert(table: string, key: string | readonly string[], rows: readonly Row[]): void;
  /** Process managers only (see process-manager.ts): this step's commands appended events up to `position`. */
  caused(position: Position): void;
};

/**
 * Its writes land with its checkpoint or not at all; it is its tables' only writer; a rebuild fills
 * copies of `tables` and swaps them in.
 */
export type SqlProjection<L extends Lookups = Lookups> = Projection<StepContext<L>> & {
  lookups?: L;
};

/** Infers the lookups' row types for `apply`. */
export const defineSqlProjection = <L extends Lookups>(projection: SqlProjection<L>): SqlProjection<L> => projection;

/** A lookup whose rows have the shape `R`. */
export const lookup = <R extends Row>(spec: Omit<Lookup<R>, 'row'>): Lookup<R> => spec;

/** The keys a batch names for a lookup, from the events alone (sources of kind `lookup` left out). */
export function eventKeys(sources: readonly KeySource[], events: readonly StoredEvent[]): Set<string> {
  const keys = new Set<string>();
  for (const source of sources) {
    if ('lookup' in source) continue;
    for (const event of events) {
      if (source.types && !source.types.includes(event.type)) continue;
      const key = 'streamId' in source ? event.streamId : (event.data as Record<string, unknown> | null)?.[source.dataField];
      if (typeof key === 'string') keys.add(key);
    }
  }
  return keys;
}

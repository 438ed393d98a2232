// The driver-free database types that domain code may use: a drizzle database or transaction and a
// way to run a raw `sql` query on it. Opening a real connection is infra/db/client.ts's job.
import { sql, type SQL } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import type { Projection } from '../../core/projection.ts';

export type Db = PgDatabase<PgQueryResultHKT, Record<string, never>>;

/** Runs a drizzle `sql` query and returns its rows, on the pool or inside a transaction. */
export type Executor = {
  rows<T = Record<string, unknown>>(query: SQL): Promise<T[]>;
  /**
   * A statement already rendered to text with $1, $2… placeholders, and its parameters: for hot paths
   * that build their text once and skip rendering a `sql` template on every call.
   */
  query<T = Record<string, unknown>>(text: string, params: readonly unknown[]): Promise<T[]>;
};

/** An executor inside a transaction. */
export type TxExecutor = Executor;

/**
 * What a projection's `apply` gets. `rows` and `query` read (only read: on the live path they run on
 * read-only connections, outside the step's commit; the projection is its tables' only writer, so
 * they see what its last step wrote). `write` queues a statement that changes the read model, sent when
 * `apply` returns in one statement with the checkpoint's move, so that a read model and its checkpoint
 * change together or not at all. Each write is one INSERT, UPDATE or DELETE without a WITH clause of
 * its own: it becomes one of that statement's WITH queries, so the writes of a step share one
 * snapshot and run in no set order, and no two of them may change the same rows (one upsert per
 * table, as the built-in projections do). Writing after `apply` has returned is an error.
 */
export type StepExecutor = Executor & {
  write(query: SQL): void;
  /** The rows of the projection's `prefetch`, when this step ran it (see SqlProjection). */
  prefetched?: readonly unknown[];
};

/** A projection on this database. */
export type SqlProjection = Projection<StepExecutor> & {
  /**
   * What `apply` is going to read, as one SELECT without parameters over `batch` (the step's events,
   * with the columns of `events`; unhandled types included). A live step runs it in the statement that
   * reads the batch and hands its rows (as JSON) to `apply` as `tx.prefetched`, which saves `apply` a
   * round trip. `apply` must check that they cover what it needs and read the rest itself: it is not
   * run for rebuild steps, and an event's data here is not upcast.
   */
  prefetch?: string;
};

/**
 * A text[] parameter that both drivers pass the same way (drizzle would expand a JS array into a list
 * and the drivers serialise arrays differently): one JSON parameter unpacked in SQL.
 */
export const textArray = (values: readonly string[]): SQL =>
  sql`array(select jsonb_array_elements_text(${JSON.stringify(values)}::jsonb))`;

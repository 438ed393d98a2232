// Given / when / then for projections: given rows already in its tables and events already projected,
// when these events, then its tables hold exactly these rows (or the step fails with this error). It runs
// on an embedded PGlite (see spec-database.ts), so its lookups and writes are the SQL the service runs.
import assert from 'node:assert/strict';
import type { SqlProjection } from '../core/sql-projection.ts';
import { getTableColumns } from 'drizzle-orm';
import { type ReadModelTable, tableName } from '../core/tables.ts';
import { notAwaited } from './not-awaited.ts';
import { openSpecDatabase, type SpecDatabase, type SpecDatabaseOptions, type SpecEvent, type TableRows } from './spec-database.ts';

export type ProjectionSpecification = {
  /** Rows in its tables and events it has projected before the `when` (none: empty tables, no events). */
  given(...facts: (TableRows | SpecEvent)[]): {
    when(...events: SpecEvent[]): {
      /** Each listed table holds exactly these rows (in any order). */
      then(...expected: TableRows[]): Promise<void>;
      /** Projecting the events fails with an error whose message matches `message`. */
      thenThrows(message: RegExp): Promise<void>;
    };
  };
  /** Closes the embedded database (once, after the last case). */
  close(): Promise<void>;
};

/**
 * The expected rows as the database reads them back (a nullable column left out is null), in the order
 * of the equal actual rows, so that a difference shows as one row's difference.
 */
function expectedLike(table: ReadModelTable, actual: readonly object[], expected: readonly object[]): object[] {
  const nulls = Object.fromEntries(Object.keys(getTableColumns(table)).map((property) => [property, null]));
  const text = (row: object) => JSON.stringify(Object.entries(row).sort(([a], [b]) => (a < b ? -1 : 1)));
  const order = new Map(actual.map((row, i) => [text(row), i]));
  const rank = (row: object) => order.get(text(row)) ?? Number.MAX_SAFE_INTEGER;
  return expected.map((row) => ({ ...nulls, ...row })).sort((a, b) => rank(a) - rank(b));
}

/** `projectionSpec(ordersProjection)`: one embedded database for every case of a file. */
export function projectionSpec(projection: SqlProjection, options: SpecDatabaseOptions = {}): ProjectionSpecification {
  let opened: Promise<SpecDatabase> | undefined;
  const database = () => (opened ??= openSpecDatabase(options));

  const run = async (facts: (TableRows | SpecEvent)[], events: SpecEvent[]) => {
    const db = await database();
    await db.reset();
    for (const fact of facts) {
      if ('table' in fact) await db.insert(fact);
      else await db.append([fact]);
    }
    await db.project(projection);
    await db.append(events);
    await db.project(projection);
    return db;
  };

  return {
    given: (...facts) => ({
      when: (...events) => ({
        // biome-ignore lint/suspicious/noThenProperty: given/when/then is the specification's language (as Emmett's)
        async then(...expected) {
          notAwaited(expected.filter((e) => typeof e === 'function'));
          const db = await run(facts, events);
          for (const { table, rows } of expected) {
            const actual = await db.rows(table);
            assert.deepStrictEqual(actual, expectedLike(table, actual, rows), `the rows of ${tableName(table)}`);
          }
        },
        async thenThrows(message) {
          await assert.rejects(
            () => run(facts, events),
            (error: Error) => {
              assert.match(error.message, message);
              return true;
            },
          );
        },
      }),
    }),
    async close() {
      if (opened) await (await opened).close();
    },
  };
}

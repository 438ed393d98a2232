// Opens the database on the driver the options name; the driver's module is loaded only when used.
import type { Database, DatabaseOptions, UncountedDatabase } from './database.ts';

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  const database =
    'url' in options
      ? await (await import('../postgres/open-postgres.ts')).openPostgres(options)
      : await (await import('../pglite/open-pglite.ts')).openPglite(options.pgliteDir);
  return counted(database);
}

/** Counts what is in flight on the pool, for the pool-use metrics. */
function counted(database: UncountedDatabase): Database {
  let inFlight = 0;
  const track = async <T>(work: () => Promise<T>): Promise<T> => {
    inFlight++;
    try {
      return await work();
    } finally {
      inFlight--;
    }
  };
  const { poolMax, ...rest } = database;
  return {
    ...rest,
    rows: (query) => track(() => database.rows(query)),
    query: (text, params) => track(() => database.query(text, params)),
    transaction: (work) => track(() => database.transaction(work)),
    stats: () => ({ inFlight, poolMax }),
  };
}

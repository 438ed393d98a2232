// Opens the database on the driver the options name; the driver's module is loaded only when used.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Database, DatabaseOptions, UncountedDatabase } from './database.ts';
import { urlLabel } from './where.ts';

/** What opening it will do, for the start-up log: a first start of PGlite takes a few seconds. */
export function describeDatabase(options: DatabaseOptions): string {
  if ('url' in options) return `connecting to PostgreSQL at ${urlLabel(options.url)}`;
  const dir = options.pgliteDir;
  const fresh = !dir.startsWith('memory://') && !existsSync(join(dir, 'PG_VERSION'));
  return fresh ? `initialising the PGlite data folder ${dir} (a first start takes a few seconds)` : `opening PGlite at ${dir}`;
}

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

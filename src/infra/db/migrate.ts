// Applies the drizzle-kit migrations in drizzle/ at start-up. Two processes starting at once take
// turns on an advisory lock, so the second finds the work done.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import type { Database } from './database.ts';

export const MIGRATIONS_FOLDER = findMigrations(dirname(fileURLToPath(import.meta.url)));

/** drizzle/ of the package this module is in: three folders up in src/infra/db/, one up in the bundle in dist/. */
function findMigrations(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'drizzle', 'meta', '_journal.json'))) return join(dir, 'drizzle');
    if (dirname(dir) === dir) throw new Error(`no drizzle/meta/_journal.json in any folder above ${from}`);
  }
}

// Any fixed 64-bit key; it only has to differ from the projection locks (which hash names).
const MIGRATION_LOCK_KEY = 7_221_305_501;

export async function migrate(database: Database, migrationsFolder = MIGRATIONS_FOLDER): Promise<void> {
  if (database.kind === 'pglite') {
    await migratePglite(database.db as never, { migrationsFolder });
    return;
  }
  const session = await database.reserveSession();
  try {
    await session.rows(sql`select pg_advisory_lock(${MIGRATION_LOCK_KEY})`);
    await migratePostgres(database.db as never, { migrationsFolder });
  } finally {
    await session.release(); // ends the session, which releases the lock
  }
}

/** How many migrations in the journal are not recorded as applied yet (all of them on a new database). */
export async function pendingMigrations(database: Database, migrationsFolder = MIGRATIONS_FOLDER): Promise<number> {
  const journal = JSON.parse(await readFile(`${migrationsFolder}/meta/_journal.json`, 'utf8')) as { entries: unknown[] };
  const [table] = await database.rows<{ found: boolean }>(sql`select to_regclass('drizzle.__drizzle_migrations') is not null as found`);
  if (!table?.found) return journal.entries.length;
  const [row] = await database.rows<{ n: number }>(sql`select count(*)::int as n from drizzle.__drizzle_migrations`);
  return Math.max(0, journal.entries.length - (row?.n ?? 0));
}

/** True when every migration in the journal is recorded as applied. */
export async function migrationsApplied(database: Database, migrationsFolder = MIGRATIONS_FOLDER): Promise<boolean> {
  return (await pendingMigrations(database, migrationsFolder)) === 0;
}

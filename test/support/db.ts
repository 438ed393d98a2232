// Test databases: a fresh PostgreSQL database per call when TEST_DATABASE_URL is set, else an
// in-memory PGlite. Either way migrated, and dropped again by `close`.
import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import type { Database, DatabaseOptions } from '../../src/infra/db/database.ts';
import { openDatabase } from '../../src/infra/db/open-database.ts';
import { migrate } from '../../src/infra/db/migrate.ts';
import type { Executor } from '../../src/core/sql.ts';
import { createDataKeyStore } from '../../src/infra/privacy/data-keys.ts';
import { masterKeys, TEST_DATA_KEY_SECRET } from '../../src/infra/privacy/master-key.ts';

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL || undefined;
export const driverName = TEST_DATABASE_URL ? 'postgres' : 'pglite';
export const onPostgres = TEST_DATABASE_URL !== undefined;

export type TestDatabase = {
  database: Database;
  options: DatabaseOptions;
  /** Another connection pool on the same database (PostgreSQL only: PGlite has one connection). */
  openAnother(): Promise<Database>;
  /** Empties every table (identities restarted), for a fresh start between tests of one file. */
  reset(): Promise<void>;
  close(): Promise<void>;
};

async function truncateAll(database: Database) {
  const tables = await database.rows<{ name: string }>(
    sql`select quote_ident(tablename) as name from pg_tables where schemaname = 'public'`,
  );
  if (tables.length > 0) {
    await database.rows(sql.raw(`truncate ${tables.map((t) => t.name).join(', ')} restart identity`));
  }
}

function withDatabaseName(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

export async function createTestDatabase(opts: { poolMax?: number; migrate?: boolean } = {}): Promise<TestDatabase> {
  const migrated = opts.migrate ?? true;
  if (!TEST_DATABASE_URL) {
    const options = { pgliteDir: 'memory://' } as const;
    const database = await openDatabase(options);
    if (migrated) await migrate(database);
    return {
      database,
      options,
      openAnother: () => Promise.reject(new Error('PGlite has a single connection')),
      reset: () => truncateAll(database),
      close: () => database.close(),
    };
  }
  const name = `converge_test_${randomBytes(6).toString('hex')}`;
  const admin = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database "${name}"`);
  } finally {
    await admin.end();
  }
  const options = { url: withDatabaseName(TEST_DATABASE_URL, name), poolMax: opts.poolMax ?? 20 };
  const database = await openDatabase(options);
  if (migrated) await migrate(database);
  const others: Database[] = [];
  return {
    database,
    options,
    async openAnother() {
      const other = await openDatabase(options);
      others.push(other);
      return other;
    },
    reset: () => truncateAll(database),
    async close() {
      await Promise.all([database, ...others].map((d) => d.close()));
      const admin = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => {} });
      try {
        await admin.unsafe(`drop database if exists "${name}" with (force)`);
      } finally {
        await admin.end();
      }
    },
  };
}

/**
 * Waits until every append that began before this call has ended, so that read-all (which only sees
 * events below the horizon of the appends in flight) sees everything committed so far.
 */
export async function settle(database: Database, timeoutMs = 10_000): Promise<void> {
  const [mark] = await database.rows<{ x: string }>(sql`select pg_current_xact_id()::text as x`);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [row] = await database.rows<{ ok: boolean }>(sql`select converge_event_horizon(pg_current_snapshot()) > ${mark!.x}::xid8 as ok`);
    if (row?.ok) return;
    if (Date.now() > deadline) throw new Error('transactions older than the test are still open');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Data keys under the test master key, for event stores a test builds itself (the services make their own). */
export const testDataKeys = (db: Executor) => createDataKeyStore(db, masterKeys(TEST_DATA_KEY_SECRET));

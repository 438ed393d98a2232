import { sql } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { migrate } from '../../src/infra/db/migrate.ts';
import { createTestDatabase, driverName, onPostgres, type TestDatabase } from '../support/db.ts';

describe(`migrations on ${driverName}`, () => {
  let t: TestDatabase | undefined;
  afterEach(() => t?.close());

  it('apply to an empty database and are a no-op the second time', async () => {
    t = await createTestDatabase({ migrate: false });
    await migrate(t.database);
    await migrate(t.database);
    const tables = await t.database.rows<{ tablename: string }>(
      sql`select tablename from pg_tables where schemaname = 'public' order by tablename`,
    );
    expect(tables.map((r) => r.tablename)).toEqual(expect.arrayContaining(['commands', 'events']));
  });

  it.skipIf(!onPostgres)('are safe when several processes start at once', async () => {
    t = await createTestDatabase({ migrate: false });
    const others = await Promise.all([t.openAnother(), t.openAnother(), t.openAnother()]);
    await Promise.all([t.database, ...others].map((d) => migrate(d)));
    const [row] = await t.database.rows<{ n: number }>(sql`select count(*)::int as n from drizzle.__drizzle_migrations`);
    const journal = (await import('../../drizzle/meta/_journal.json', { with: { type: 'json' } })).default;
    expect(row!.n).toBe(journal.entries.length);
  });
});

// The database layer's transactions, on both drivers (each driver's own transactions, reached through
// the same Executor as the pool).
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, driverName, type TestDatabase } from '../support/db.ts';
import { itIf, needsPostgres } from '../support/skip.ts';

describe(`database transactions on ${driverName}`, () => {
  let t: TestDatabase;
  const names = async () => (await t.database.rows<{ name: string }>(sql`select name from tx_test order by name`)).map((r) => r.name);

  beforeAll(async () => {
    t = await createTestDatabase({ migrate: false });
    await t.database.rows(sql`create table tx_test (name text primary key check (length(name) < 10))`);
  });
  beforeEach(() => t.database.rows(sql`truncate tx_test`));
  afterAll(() => t.close());

  it('commits what the work wrote and returns its result; the work sees its own writes', async () => {
    const seen = await t.database.transaction(async (tx) => {
      await tx.rows(sql`insert into tx_test values ('a')`);
      await tx.query('insert into tx_test values ($1), ($2)', ['b', 'c']);
      const [row] = await tx.rows<{ n: number }>(sql`select count(*)::int as n from tx_test`);
      return row!.n;
    });
    expect(seen).toBe(3);
    expect(await names()).toEqual(['a', 'b', 'c']);
  });

  it('a statement the database refuses fails the transaction, and nothing of it stays', async () => {
    const failed = t.database.transaction(async (tx) => {
      await tx.rows(sql`insert into tx_test values ('a')`);
      await tx.rows(sql`insert into tx_test values ('far too long a name')`);
    });
    await expect(failed).rejects.toThrow(/check constraint/);
    expect(await names()).toEqual([]);
  });

  it('an error thrown by the work rolls back, and the pool goes on', async () => {
    const failed = t.database.transaction(async (tx) => {
      await tx.rows(sql`insert into tx_test values ('a')`);
      throw new Error('changed my mind');
    });
    await expect(failed).rejects.toThrow('changed my mind');
    expect(await names()).toEqual([]);
    await t.database.transaction((tx) => tx.rows(sql`insert into tx_test values ('c')`));
    expect(await names()).toEqual(['c']);
  });

  itIf(
    needsPostgres('concurrent transactions (PGlite has one connection)'),
    "concurrent transactions do not see each other's uncommitted writes",
    async () => {
      // None commits before all have counted.
      let counted = 0;
      let allCounted!: () => void;
      const barrier = new Promise<void>((resolve) => (allCounted = resolve));
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          t.database.transaction(async (tx) => {
            await tx.rows(sql`insert into tx_test values (${`n${i}`})`);
            const [row] = await tx.rows<{ n: number }>(sql`select count(*)::int as n from tx_test`);
            if (++counted === 8) allCounted();
            await barrier;
            return row!.n;
          }),
        ),
      );
      expect(results).toEqual(Array(8).fill(1));
      expect(await names()).toHaveLength(8);
    },
  );
});

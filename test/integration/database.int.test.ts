// The database layer's transactions, on both drivers: BEGIN sent with the first statement, and
// statements queued with `queue` sent with the next statement or the COMMIT.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, driverName, onPostgres, type TestDatabase } from '../support/db.ts';

describe(`database transactions on ${driverName}`, () => {
  let t: TestDatabase;
  const names = async () =>
    (await t.database.rows<{ name: string }>(sql`select name from tx_test order by name`)).map((r) => r.name);

  beforeAll(async () => {
    t = await createTestDatabase({ migrate: false });
    await t.database.rows(sql`create table tx_test (name text primary key check (length(name) < 10))`);
  });
  beforeEach(() => t.database.rows(sql`truncate tx_test`));
  afterAll(() => t.close());

  it('commits queued statements, and later statements of the transaction see them', async () => {
    const seen = await t.database.transaction(async (tx) => {
      tx.queue(sql`insert into tx_test values ('a')`);
      tx.queue(sql`insert into tx_test values ('b')`);
      const inside = await tx.rows<{ n: number }>(sql`select count(*)::int as n from tx_test`);
      tx.queue(sql`insert into tx_test values ('c')`);
      return inside[0]!.n;
    });
    expect(seen).toBe(2);
    expect(await names()).toEqual(['a', 'b', 'c']);
  });

  it('a queued statement that fails at commit fails the transaction, and nothing of it stays', async () => {
    const failed = t.database.transaction(async (tx) => {
      await tx.rows(sql`insert into tx_test values ('a')`);
      tx.queue(sql`insert into tx_test values ('far too long a name')`);
      return 'returned';
    });
    await expect(failed).rejects.toThrow(/check constraint/);
    expect(await names()).toEqual([]);
  });

  it('a queued statement that fails before the next statement fails that statement', async () => {
    const failed = t.database.transaction(async (tx) => {
      tx.queue(sql`insert into tx_test values ('a')`);
      tx.queue(sql`insert into tx_test values ('a')`);
      await tx.rows(sql`select 1`);
    });
    await expect(failed).rejects.toThrow(/duplicate key/);
    expect(await names()).toEqual([]);
  });

  it('an error thrown by the work rolls back, queued statements included, and the pool goes on', async () => {
    const failed = t.database.transaction(async (tx) => {
      await tx.rows(sql`insert into tx_test values ('a')`);
      tx.queue(sql`insert into tx_test values ('b')`);
      throw new Error('changed my mind');
    });
    await expect(failed).rejects.toThrow('changed my mind');
    expect(await names()).toEqual([]);
    await t.database.transaction(async (tx) => tx.queue(sql`insert into tx_test values ('c')`));
    expect(await names()).toEqual(['c']);
  });

  it.runIf(onPostgres)('concurrent transactions each see only their own uncommitted work', async () => {
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        t.database.transaction(async (tx) => {
          tx.queue(sql`insert into tx_test values (${`n${i}`})`);
          const [row] = await tx.rows<{ n: number }>(sql`select count(*)::int as n from tx_test where name = ${`n${i}`}`);
          return row!.n;
        }),
      ),
    );
    expect(results).toEqual(Array(8).fill(1));
    expect(await names()).toHaveLength(8);
  });
});

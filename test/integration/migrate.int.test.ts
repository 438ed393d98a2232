import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { migrate, MIGRATIONS_FOLDER } from '../../src/infra/db/migrate.ts';
import { createTestDatabase, driverName, type TestDatabase } from '../support/db.ts';
import { itIf, needsPostgres } from '../support/skip.ts';

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

  itIf(needsPostgres('several connections migrating at once'), 'are safe when several processes start at once', async () => {
    t = await createTestDatabase({ migrate: false });
    const others = await Promise.all([t.openAnother(), t.openAnother(), t.openAnother()]);
    await Promise.all([t.database, ...others].map((d) => migrate(d)));
    const [row] = await t.database.rows<{ n: number }>(sql`select count(*)::int as n from drizzle.__drizzle_migrations`);
    const journal = (await import('../../drizzle/meta/_journal.json', { with: { type: 'json' } })).default;
    expect(row!.n).toBe(journal.entries.length);
  });

  it('0007 puts the orders already BACKORDERED in the queue of every product they name, in the order they were placed', async () => {
    t = await createTestDatabase({ migrate: false });
    // The migrations before 0007, as a database of that time had them.
    const before = mkdtempSync(join(tmpdir(), 'converge-migrations-'));
    try {
      cpSync(MIGRATIONS_FOLDER, before, { recursive: true });
      const journal = JSON.parse(readFileSync(join(before, 'meta/_journal.json'), 'utf8')) as { entries: { tag: string }[] };
      journal.entries = journal.entries.filter((entry) => entry.tag < '0007');
      writeFileSync(join(before, 'meta/_journal.json'), JSON.stringify(journal));
      await migrate(t.database, before);
    } finally {
      rmSync(before, { recursive: true, force: true });
    }
    const created = (id: string, skus: string[]) =>
      sql`insert into events (stream_id, stream_type, version, type, data) values (${id}, 'Order', 1, 'OrderCreated',
        ${JSON.stringify({ orderId: id, items: skus.map((productId) => ({ productId, quantity: 1, unitPrice: '1.00' })) })}::jsonb)`;
    await t.database.rows(created('o-a', ['kettle', 'mug', 'kettle']));
    await t.database.rows(created('o-b', ['kettle']));
    await t.database.rows(created('o-c', ['kettle']));
    await t.database.rows(sql`insert into events (stream_id, stream_type, version, type, data) values ('o-b', 'Order', 2, 'OrderItemAdded',
      '{"orderId":"o-b","productId":"filter","quantity":1,"unitPrice":"1.00"}'::jsonb)`);
    await t.database.rows(sql`insert into fulfilment_process (order_id, status, skus) values
      ('o-a', 'BACKORDERED', '[]'), ('o-b', 'BACKORDERED', '[]'), ('o-c', 'RESERVED', '["kettle"]')`);
    await migrate(t.database);
    const queues = await t.database.rows<{ sku: string; orders: string[] }>(
      sql`select sku, array(select o->>'orderId' from jsonb_array_elements(orders) o) as orders from fulfilment_backorders order by sku`,
    );
    expect(queues).toEqual([
      { sku: 'filter', orders: ['o-b'] },
      { sku: 'kettle', orders: ['o-a', 'o-b'] },
      { sku: 'mug', orders: ['o-a'] },
    ]);
  });
});

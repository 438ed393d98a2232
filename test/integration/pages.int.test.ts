// A page and its total are one moment's answer: while rows are being written, a page never holds more or
// fewer items than its total says (on PostgreSQL the two once came from two connections, two snapshots).
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYSTEM_CALLER } from '../../src/core/caller.ts';
import type { EventStore } from '../../src/core/event-store.ts';
import { productsQuery } from '../../src/inventory/read-models/products.ts';
import { customerOrdersQuery, searchOrdersQuery } from '../../src/orders/read-models/orders.ts';
import { createTestDatabase, driverName, type TestDatabase } from '../support/db.ts';

const WRITES = 90; // under one page of 100, so that every page holds all of its total
const at = '2026-01-01T00:00:00.000Z';

describe(`a page and its total on ${driverName}`, () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
  });
  afterAll(() => t.close());

  const deps = () => ({ db: t.database, store: undefined as unknown as EventStore });

  /** Reads `read` over and over while `write(i)` adds rows one by one; every page must match its total. */
  async function agreeWhileWriting(
    write: (i: number) => Promise<unknown>,
    read: () => Promise<{ items: unknown[]; total: number }>,
  ): Promise<number> {
    let writing = true;
    const writer = (async () => {
      try {
        for (let i = 0; i < WRITES; i++) await write(i);
      } finally {
        writing = false;
      }
    })();
    const torn: string[] = [];
    let reads = 0;
    while (writing) {
      const pages = await Promise.all([read(), read(), read(), read()]);
      reads += pages.length;
      for (const page of pages) if (page.items.length !== page.total) torn.push(`${page.items.length} items, total ${page.total}`);
    }
    await writer;
    expect(torn, 'pages whose items disagree with their total').toEqual([]);
    return reads;
  }

  const insertOrder = (i: number) =>
    t.database.rows(sql`insert into orders (id, customer_id, status, items, item_count, total_amount, shipping_address, version,
      created_at, updated_at, search_text)
      values (${`page-o-${i}`}, 'page-c', 'PLACED', '[]'::jsonb, 0, 0, '{}'::jsonb, 1, ${at}, ${at}, ${`page-o-${i}\u001fpage-c`})`);

  it('customerOrders and searchOrders', async () => {
    const customerOrders = customerOrdersQuery.create(deps());
    const searchOrders = searchOrdersQuery.create(deps());
    let turn = 0;
    const reads = await agreeWhileWriting(insertOrder, () =>
      turn++ % 2 === 0
        ? customerOrders({ customerId: 'page-c', pageSize: 100 }, { caller: SYSTEM_CALLER })
        : searchOrders({ query: 'page-c', pageSize: 100 }, { caller: SYSTEM_CALLER }),
    );
    expect(reads).toBeGreaterThan(0);
    // An empty page past the last still tells the total.
    const beyond = await customerOrders({ customerId: 'page-c', page: 3, pageSize: 50 }, { caller: SYSTEM_CALLER });
    expect(beyond).toEqual({ items: [], total: WRITES, page: 3, pageSize: 50, totalPages: 2 });
    const none = await customerOrders({ customerId: 'nobody' }, { caller: SYSTEM_CALLER });
    expect(none).toEqual({ items: [], total: 0, page: 1, pageSize: 20, totalPages: 0 });
  });

  it('products', async () => {
    const products = productsQuery.create(deps());
    const reads = await agreeWhileWriting(
      (i) =>
        t.database.rows(sql`insert into products (sku, name, on_hand, reserved, version, updated_at)
          values (${`page-sku-${String(i).padStart(3, '0')}`}, ${`page product ${i}`}, 1, 0, 1, ${at})`),
      () => products({ pageSize: 100 }, { caller: SYSTEM_CALLER }),
    );
    expect(reads).toBeGreaterThan(0);
  });
});

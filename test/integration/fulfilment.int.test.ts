// The fulfilment process between Orders and Inventory: reservations, compensation, cancel and ship,
// no overselling under concurrency, exactly-once effects across a crash, and causal read-your-writes.
import { sql } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SYSTEM_CALLER } from '../../src/core/caller.ts';
import { parseCommand } from '../../src/core/command-input.ts';
import { UnavailableError } from '../../src/core/errors.ts';
import { decodeToken, isAtOrAfter } from '../../src/core/position.ts';
import type { FulfilmentStatus } from '../../src/orders/fulfilment/events.ts';
import type { ProductCommand } from '../../src/inventory/decider.ts';
import { productAggregate } from '../../src/inventory/product-aggregate.ts';
import type { Services } from '../../src/services.ts';
import { createTestDatabase, driverName, onPostgres, type TestDatabase } from '../support/db.ts';
import { command } from '../support/orders.ts';
import { createOrder, startServices } from '../support/services.ts';

describe(`fulfilment on ${driverName}`, () => {
  let t: TestDatabase;
  let services: Services;
  beforeAll(async () => {
    t = await createTestDatabase({ poolMax: 30 });
  });
  beforeEach(async () => {
    await t.reset();
    services = await startServices(t.database);
  });
  afterEach(() => services.stop());
  afterAll(() => t.close());

  const sys = { caller: SYSTEM_CALLER };
  const productCommand = (type: ProductCommand['type'], input: Record<string, unknown>) =>
    services.commands.dispatch(parseCommand(productAggregate.inputs, type, input, { caller: SYSTEM_CALLER }));
  const createProduct = (sku: string, onHand: number) => productCommand('CreateProduct', { sku, name: `Product ${sku}`, onHand });
  const order = (lines: [string, number][], customerId = 'c-1') =>
    createOrder(services, { customerId, items: lines.map(([productId, quantity]) => ({ productId, quantity, unitPrice: '1.00' })) });
  /** Read as fresh as `token`, causally: the fulfilment process and what it appended included. */
  const fulfilmentOf = async (orderId: string, token: string, s = services) => {
    const consistency = { after: decodeToken(token), stale: false };
    const status = await s.queries.execute('orderFulfilment', { orderId }, { ...sys, consistency });
    expect(consistency.stale).toBe(false);
    return status as FulfilmentStatus;
  };
  const stock = async (sku: string, token: string) => {
    const consistency = { after: decodeToken(token), stale: false };
    const product = await services.queries.execute('product', { sku }, { ...sys, consistency });
    expect(consistency.stale).toBe(false);
    return product && { onHand: product.onHand, reserved: product.reserved, available: product.available };
  };
  const count = async (type: string) =>
    (await t.database.rows<{ n: number }>(sql`select count(*)::int as n from events where type = ${type}`))[0]!.n;

  it('an order of stock-controlled lines is RESERVED: its stock is set aside; other lines are not stock-controlled', async () => {
    await createProduct('beans', 10);
    await createProduct('cups', 5);
    const o = await order([
      ['beans', 3],
      ['cups', 1],
      ['beans', 2], // the same product twice: one reservation of 5
      ['not-a-product', 7],
    ]);
    expect(await fulfilmentOf(o.streamId, o.consistencyToken)).toBe('RESERVED');
    expect(await stock('beans', o.consistencyToken)).toEqual({ onHand: 10, reserved: 5, available: 5 });
    expect(await stock('cups', o.consistencyToken)).toEqual({ onHand: 5, reserved: 1, available: 4 });
    const plain = await order([['not-a-product', 1]]);
    expect(await fulfilmentOf(plain.streamId, plain.consistencyToken)).toBe('RESERVED');
  });

  it('an order one line of which does not fit the stock is BACKORDERED and holds nothing (no reservation is even tried)', async () => {
    await createProduct('a', 5);
    await createProduct('b', 1);
    const o = await order([
      ['a', 2],
      ['b', 2],
    ]);
    expect(await fulfilmentOf(o.streamId, o.consistencyToken)).toBe('BACKORDERED');
    expect(await stock('a', o.consistencyToken)).toEqual({ onHand: 5, reserved: 0, available: 5 });
    expect(await stock('b', o.consistencyToken)).toEqual({ onHand: 1, reserved: 0, available: 1 });
    expect([await count('StockReserved'), await count('StockReleased'), await count('StockReservationRejected')]).toEqual([0, 0, 0]);
  });

  it('a line added to a RESERVED order is reserved too; one that cannot be makes it BACKORDERED and releases all', async () => {
    await createProduct('a', 5);
    const o = await order([['a', 2]]);
    const added = await services.commands.dispatch(
      command('AddOrderItem', { orderId: o.streamId, productId: 'a', quantity: 2, unitPrice: '1' }),
    );
    expect(await fulfilmentOf(o.streamId, added.consistencyToken)).toBe('RESERVED');
    expect(await stock('a', added.consistencyToken)).toEqual({ onHand: 5, reserved: 4, available: 1 });
    const tooMany = await services.commands.dispatch(
      command('AddOrderItem', { orderId: o.streamId, productId: 'a', quantity: 2, unitPrice: '1' }),
    );
    expect(await fulfilmentOf(o.streamId, tooMany.consistencyToken)).toBe('BACKORDERED');
    expect(await stock('a', tooMany.consistencyToken)).toEqual({ onHand: 5, reserved: 0, available: 5 });
  });

  it('cancelling releases its stock (RELEASED); shipping takes it (SHIPPED): on hand and reserved both drop', async () => {
    await createProduct('a', 10);
    const kept = await order([['a', 3]]);
    const dropped = await order([['a', 4]]);
    const cancel = await services.commands.dispatch(command('CancelOrder', { orderId: dropped.streamId, reason: 'no' }));
    expect(await fulfilmentOf(dropped.streamId, cancel.consistencyToken)).toBe('RELEASED');
    const ship = await services.commands.dispatch(command('ShipOrder', { orderId: kept.streamId }));
    expect(await fulfilmentOf(kept.streamId, ship.consistencyToken)).toBe('SHIPPED');
    expect(await stock('a', ship.consistencyToken)).toEqual({ onHand: 7, reserved: 0, available: 7 });
    // A BACKORDERED order holds nothing: it cannot ship, and cancelling it gives nothing back.
    const backordered = await order([['a', 8]]);
    await expect(services.commands.dispatch(command('ShipOrder', { orderId: backordered.streamId }))).rejects.toMatchObject({
      code: 'RULE_VIOLATION',
      message: expect.stringMatching(/its fulfilment is BACKORDERED/),
    });
    const cancelled = await services.commands.dispatch(command('CancelOrder', { orderId: backordered.streamId, reason: 'no' }));
    expect(await fulfilmentOf(backordered.streamId, cancelled.consistencyToken)).toBe('RELEASED');
    expect(await stock('a', cancelled.consistencyToken)).toEqual({ onHand: 7, reserved: 0, available: 7 });
  });

  it('50 concurrent orders for a product with stock for 10: exactly 10 RESERVED, none oversold', async () => {
    const created = await createProduct('scarce', 10);
    await stock('scarce', created.consistencyToken);
    const orders = await Promise.all(Array.from({ length: 50 }, (_, i) => order([['scarce', 1]], `c-${i}`)));
    const statuses = await Promise.all(orders.map((o) => fulfilmentOf(o.streamId, o.consistencyToken)));
    expect(statuses.filter((s) => s === 'RESERVED')).toHaveLength(10);
    expect(statuses.filter((s) => s === 'BACKORDERED')).toHaveLength(40);
    expect(await stock('scarce', orders.at(-1)!.consistencyToken)).toEqual({ onHand: 10, reserved: 10, available: 0 });
  });

  it('restocks racing the reservations on one product: never oversold, every unit counted, every restock fills backorders', async () => {
    await createProduct('contended', 10);
    const [orders, restocks] = await Promise.all([
      Promise.all(Array.from({ length: 30 }, (_, i) => order([['contended', 1]], `r-${i}`))),
      Promise.all(Array.from({ length: 5 }, () => productCommand('RestockProduct', { sku: 'contended', quantity: 2 }))),
    ]);
    let final: Awaited<ReturnType<typeof stock>> = null;
    for (const { consistencyToken } of [...orders, ...restocks]) {
      final = await stock('contended', consistencyToken); // read after each command: every effect is in
      expect(final!.available).toBeGreaterThanOrEqual(0);
    }
    // 20 units for 30 orders of one: whichever came first, the restocks filled backorders up to the stock.
    const last = [...orders, ...restocks]
      .map((c) => c.consistencyToken)
      .reduce((a, b) => (isAtOrAfter(decodeToken(a), decodeToken(b)) ? a : b));
    const statuses = await Promise.all(orders.map((o) => fulfilmentOf(o.streamId, last)));
    expect(statuses.filter((s) => s === 'RESERVED')).toHaveLength(20);
    expect(final).toEqual({ onHand: 20, reserved: 20, available: 0 });
  });

  it('orders placed before a product existed never reserve it, even when the process catches up after it is created', async () => {
    await services.admin.pause('fulfilment', SYSTEM_CALLER);
    const old = await order([['later', 3]]);
    const shippedLater = await order([['later', 1]]);
    await createProduct('later', 5); // before the process has handled the older orders
    await services.admin.resume('fulfilment', SYSTEM_CALLER);
    // Shipping waits for the process to handle the order: nothing of it is stock-controlled, so it ships.
    await services.commands.dispatch(command('ShipOrder', { orderId: shippedLater.streamId }));
    const fresh = await order([['later', 2]]);
    expect(await fulfilmentOf(old.streamId, fresh.consistencyToken)).toBe('RESERVED');
    expect(await fulfilmentOf(shippedLater.streamId, fresh.consistencyToken)).toBe('SHIPPED');
    expect(await fulfilmentOf(fresh.streamId, fresh.consistencyToken)).toBe('RESERVED');
    // Only the order placed after the product reserved it; the shipped one took nothing away.
    expect(await stock('later', fresh.consistencyToken)).toEqual({ onHand: 5, reserved: 2, available: 3 });
  });

  it('a crash between its commands and its checkpoint replays them: each order event has its effect once', async () => {
    await services.stop();
    let crashes = 0;
    services = await startServices(t.database, {
      projections: (defaults) =>
        defaults.map((p) =>
          p.name !== 'fulfilment'
            ? p
            : {
                ...p,
                async apply(events, step) {
                  await p.apply(events, step);
                  // Its commands are in; the connection dies before the checkpoint moves (every other batch).
                  if (++crashes % 2 === 1) throw new UnavailableError({ cause: new Error('terminating connection') });
                },
              },
        ),
    });
    await createProduct('a', 100);
    let last = '';
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const o = await order([['a', 2]]);
      ids.push(o.streamId);
      last = o.consistencyToken;
      if (i % 3 === 0)
        last = (await services.commands.dispatch(command('CancelOrder', { orderId: o.streamId, reason: 'x' }))).consistencyToken;
    }
    expect(await stock('a', last)).toEqual({ onHand: 100, reserved: 16, available: 84 });
    expect(crashes).toBeGreaterThanOrEqual(2); // at least one batch died after its commands, and was replayed
    // One reservation per order, one release per cancelled order, one outcome per order event it acts on.
    expect([await count('StockReserved'), await count('StockReleased')]).toEqual([12, 4]);
    expect([await count('FulfilmentReserved'), await count('FulfilmentReleased')]).toEqual([12, 4]);
    for (const id of ids) expect(['RESERVED', 'RELEASED']).toContain(await fulfilmentOf(id, last));
  });

  it('reads of what the process appended follow the token causally, in a process that does not run it too', async () => {
    await createProduct('a', 3);
    const check = async (s: Services) => {
      const o = await order([['a', 1]]);
      // No wait on anything but the token: the answer is already the outcome, never PENDING.
      expect(await fulfilmentOf(o.streamId, o.consistencyToken, s)).toBe('RESERVED');
    };
    await check(services);
    if (!onPostgres) return; // PGlite is one process
    const api = await startServices(await t.openAnother(), { runProjections: false });
    try {
      await check(api);
      await check(api);
    } finally {
      await api.stop();
    }
  });

  it('a command on a stream of another kind: NOT_FOUND for one that needs its aggregate, RULE_VIOLATION for a create', async () => {
    await createProduct('mug', 1);
    const o = await order([['x', 1]]);
    await expect(services.commands.dispatch(command('CancelOrder', { orderId: 'mug', reason: 'x' }))).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    await expect(createProduct(o.streamId, 1)).rejects.toMatchObject({
      code: 'RULE_VIOLATION',
      message: expect.stringMatching(/another kind/),
    });
    await expect(productCommand('RestockProduct', { sku: 'nothing-here', quantity: 1, expectedVersion: 3 })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    expect((await services.store.readStream('mug')).version).toBe(1);
    expect((await services.store.readStream(o.streamId)).events.map((e) => e.type)).toEqual(['OrderCreated']);
  });

  it('rebuilding a process manager is a rule violation; it is listed as one', async () => {
    await expect(services.admin.rebuild('fulfilment', SYSTEM_CALLER)).rejects.toMatchObject({ code: 'RULE_VIOLATION' });
    const statuses = await services.admin.status(SYSTEM_CALLER);
    expect(statuses.find((s) => s.name === 'fulfilment')).toMatchObject({ kind: 'PROCESS_MANAGER' });
    expect(statuses.find((s) => s.name === 'products')).toMatchObject({ kind: 'PROJECTION' });
  });
});

// The order lifecycle across Orders, Inventory and the fulfilment process: shipping needs reserved stock
// (and waits for the process to have handled the order), restocks and releases fill backorders in the
// order they were placed, and under a storm of concurrent orders, restocks, cancels and ships on one
// product of small stock nothing is oversold, nothing ships without stock, and every figure agrees with a
// replay of the events.
import { sql } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SYSTEM_CALLER } from '../../src/core/caller.ts';
import { UnavailableError } from '../../src/core/errors.ts';
import { parseCommand } from '../../src/core/command-input.ts';
import type { StoredEvent } from '../../src/core/messages.ts';
import { comparePositions, decodeToken } from '../../src/core/position.ts';
import type { ProductCommand } from '../../src/inventory/decider.ts';
import type { ProductEvent } from '../../src/inventory/events.ts';
import { evolve as evolveProduct, initialState as noProduct, reservedOf } from '../../src/inventory/product.ts';
import { productAggregate } from '../../src/inventory/product-aggregate.ts';
import { type FulfilmentEvent, type FulfilmentStatus, statusOf } from '../../src/orders/fulfilment/events.ts';
import type { Services } from '../../src/services.ts';
import { createTestDatabase, driverName, type TestDatabase } from '../support/db.ts';
import { command } from '../support/orders.ts';
import { allEvents, createOrder, startServices } from '../support/services.ts';

const sys = { caller: SYSTEM_CALLER };

describe(`the order lifecycle on ${driverName}`, () => {
  let t: TestDatabase;
  let services: Services;
  beforeAll(async () => {
    t = await createTestDatabase({ poolMax: 30 });
  });
  afterEach(() => services?.stop());
  afterAll(() => t.close());

  const start = async (consistencyTimeoutMs = 5000) => {
    await t.reset();
    services = await startServices(t.database, { consistencyTimeoutMs });
  };
  const product = (type: ProductCommand['type'], input: Record<string, unknown>) =>
    services.commands.dispatch(parseCommand(productAggregate.inputs, type, input, { caller: SYSTEM_CALLER }));
  const order = (sku: string, quantity: number, customerId = 'c-1') =>
    createOrder(services, { customerId, items: [{ productId: sku, quantity, unitPrice: '1.00' }] });
  const ship = (orderId: string) => services.commands.dispatch(command('ShipOrder', { orderId }));
  const cancel = (orderId: string) => services.commands.dispatch(command('CancelOrder', { orderId, reason: 'changed my mind' }));
  const read = async <T>(name: 'orderFulfilment' | 'product', params: object, token: string) => {
    const consistency = { after: decodeToken(token), stale: false };
    const value = await services.queries.execute(name, params as never, { ...sys, consistency });
    expect(consistency.stale, `${name} caught up with ${token}`).toBe(false);
    return value as T;
  };
  const fulfilmentOf = (orderId: string, token: string) => read<FulfilmentStatus>('orderFulfilment', { orderId }, token);
  const stockOf = (sku: string, token: string) => read<{ onHand: number; reserved: number }>('product', { sku }, token);

  it('shipOrder right after createOrder waits for the process, then ships a RESERVED order and takes its stock', async () => {
    await start();
    await product('CreateProduct', { sku: 'kettle', name: 'Kettle', onHand: 3 });
    const placed = await order('kettle', 2);
    const shipped = await ship(placed.streamId); // no wait of ours in between
    expect(shipped.version).toBe(2);
    expect(await fulfilmentOf(placed.streamId, shipped.consistencyToken)).toBe('SHIPPED');
    expect(await stockOf('kettle', shipped.consistencyToken)).toMatchObject({ onHand: 1, reserved: 0 });
  });

  it('a BACKORDERED order cannot ship and appends nothing; a restock fills it, and then it ships', async () => {
    await start();
    await product('CreateProduct', { sku: 'kettle', name: 'Kettle', onHand: 1 });
    const placed = await order('kettle', 2);
    expect(await fulfilmentOf(placed.streamId, placed.consistencyToken)).toBe('BACKORDERED');
    await expect(ship(placed.streamId)).rejects.toMatchObject({
      code: 'RULE_VIOLATION',
      message: expect.stringMatching(/cannot be shipped: its fulfilment is BACKORDERED/),
    });
    expect((await services.store.readStream(placed.streamId)).version).toBe(1);
    const restock = await product('RestockProduct', { sku: 'kettle', quantity: 1 });
    // Causal: the restock's token covers the backorder it filled.
    expect(await fulfilmentOf(placed.streamId, restock.consistencyToken)).toBe('RESERVED');
    expect(await stockOf('kettle', restock.consistencyToken)).toMatchObject({ onHand: 2, reserved: 2 });
    const shipped = await ship(placed.streamId);
    expect(await stockOf('kettle', shipped.consistencyToken)).toMatchObject({ onHand: 0, reserved: 0 });
  });

  it('while the process has not handled the order (paused), shipping waits, then refuses as PENDING and appends nothing', async () => {
    await start(300);
    await services.admin.pause('fulfilment', SYSTEM_CALLER);
    const placed = await order('anything', 1);
    await expect(ship(placed.streamId)).rejects.toMatchObject({
      code: 'RULE_VIOLATION',
      message: expect.stringMatching(/its fulfilment is PENDING/),
    });
    expect((await services.store.readStream(placed.streamId)).version).toBe(1);
    await services.admin.resume('fulfilment', SYSTEM_CALLER);
    // Nothing of it is stock-controlled: once handled, it is RESERVED, and ships as it always did.
    expect((await ship(placed.streamId)).version).toBe(2);
  });

  it('a restock fills two of three backorders in the order they were placed, and skips the one that does not fit', async () => {
    await start();
    await product('CreateProduct', { sku: 'kettle', name: 'Kettle', onHand: 0 });
    const first = await order('kettle', 2, 'c-1');
    const big = await order('kettle', 5, 'c-2');
    const third = await order('kettle', 1, 'c-3');
    const restock = await product('RestockProduct', { sku: 'kettle', quantity: 3 });
    expect(await fulfilmentOf(first.streamId, restock.consistencyToken)).toBe('RESERVED');
    expect(await fulfilmentOf(big.streamId, restock.consistencyToken)).toBe('BACKORDERED');
    expect(await fulfilmentOf(third.streamId, restock.consistencyToken)).toBe('RESERVED');
    expect(await stockOf('kettle', restock.consistencyToken)).toMatchObject({ onHand: 3, reserved: 3 });
    // The big one keeps its place: cancelling the first frees 2, still not 5; a restock of 3 more does it.
    const cancelled = await cancel(first.streamId);
    expect(await fulfilmentOf(big.streamId, cancelled.consistencyToken)).toBe('BACKORDERED');
    const more = await product('RestockProduct', { sku: 'kettle', quantity: 3 });
    expect(await fulfilmentOf(big.streamId, more.consistencyToken)).toBe('RESERVED');
    expect(await stockOf('kettle', more.consistencyToken)).toMatchObject({ onHand: 6, reserved: 6 });
  });

  it("a crash between the process's commands and its checkpoint, while restocks fill backorders: every decision is made once", async () => {
    await t.reset();
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
    await product('CreateProduct', { sku: 'kettle', name: 'Kettle', onHand: 2 });
    const orders = [];
    for (let i = 0; i < 6; i++) orders.push(await order('kettle', 2, `c-${i}`));
    await cancel(orders[0]!.streamId);
    const restock = await product('RestockProduct', { sku: 'kettle', quantity: 4 });
    const statuses = await Promise.all(orders.map((o) => fulfilmentOf(o.streamId, restock.consistencyToken)));
    expect(crashes).toBeGreaterThanOrEqual(2);
    // o-0 cancelled; its 2 went to o-1; the restock's 4 to o-2 and o-3; o-4 and o-5 wait.
    expect(statuses).toEqual(['RELEASED', 'RESERVED', 'RESERVED', 'RESERVED', 'BACKORDERED', 'BACKORDERED']);
    expect(await stockOf('kettle', restock.consistencyToken)).toMatchObject({ onHand: 6, reserved: 6 });
    const count = async (type: string) =>
      (await t.database.rows<{ n: number }>(sql`select count(*)::int as n from events where type = ${type}`))[0]!.n;
    expect([await count('StockReserved'), await count('StockReleased'), await count('FulfilmentReserved')]).toEqual([4, 1, 4]);
  });

  it.each([17, 4242, 90210])(
    '50 concurrent orders, restocks, cancels and ships on one product of small stock (seed %i): never oversold, never shipped without stock, and everything agrees with the events',
    async (firstSeed) => {
      await start();
      await product('CreateProduct', { sku: 'scarce', name: 'Scarce', onHand: 3 });
      let seed = firstSeed;
      const random = () => {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        return seed / 2147483648;
      };
      const placed: string[] = [];
      const refusals: string[] = [];
      const tokens: string[] = [];
      const attempt = async (work: () => Promise<{ consistencyToken: string }>) => {
        try {
          tokens.push((await work()).consistencyToken);
        } catch (error) {
          // Rules may refuse (a ship of a backorder, a cancel of a shipped order): never anything else.
          expect((error as { code?: string }).code, String(error)).toBe('RULE_VIOLATION');
          refusals.push((error as Error).message);
        }
      };
      await Promise.all(
        Array.from({ length: 50 }, async (_, i) => {
          const roll = random();
          if (roll < 0.5 || placed.length === 0) {
            await attempt(async () => {
              const o = await order('scarce', 1 + (i % 3), `c-${i}`);
              placed.push(o.streamId);
              return o;
            });
          } else if (roll < 0.65) await attempt(() => product('RestockProduct', { sku: 'scarce', quantity: 2 }));
          else if (roll < 0.8) await attempt(() => cancel(placed[Math.floor(random() * placed.length)]!));
          else await attempt(() => ship(placed[Math.floor(random() * placed.length)]!));
        }),
      );
      const last = tokens.reduce((a, b) => (comparePositions(decodeToken(a), decodeToken(b)) >= 0 ? a : b));
      expect(
        refusals.every((m) => /cannot be shipped|Only a PLACED order/.test(m)),
        refusals.join('\n'),
      ).toBe(true);

      // Read once everything the commands caused is in: the process has passed the last token, and what it
      // appended is in the products read model (a causal read).
      const stock = await stockOf('scarce', last);
      const events = await allEvents(services.store);
      // Never oversold: after every event of the product, what it holds reserved is within what it has.
      let productState = noProduct();
      for (const event of events.filter((e) => e.streamId === 'scarce')) {
        productState = evolveProduct(productState, event as StoredEvent<ProductEvent>);
        if (productState.status === 'ACTIVE') expect(reservedOf(productState.reservations)).toBeLessThanOrEqual(productState.onHand);
      }
      // Never shipped without stock: at each OrderShipped, the order's last outcome before it was RESERVED.
      const outcomes = events.filter((e) => e.streamType === 'Fulfilment') as StoredEvent<FulfilmentEvent>[];
      for (const shippedEvent of events.filter((e) => e.type === 'OrderShipped')) {
        const before = outcomes.filter(
          (o) => o.data.orderId === shippedEvent.streamId && comparePositions(o.position, shippedEvent.position) < 0,
        );
        expect(before.at(-1)?.type, `order ${shippedEvent.streamId} shipped`).toBe('FulfilmentReserved');
      }
      // The read models and the process's outcomes agree with a replay of the events.
      if (productState.status !== 'ACTIVE') throw new Error('the product is gone');
      expect(stock).toMatchObject({ onHand: productState.onHand, reserved: reservedOf(productState.reservations) });
      for (const orderId of placed) {
        const mine = outcomes.filter((o) => o.data.orderId === orderId);
        const replayed = mine.length > 0 ? statusOf[mine.at(-1)!.type] : 'RESERVED';
        const status = await fulfilmentOf(orderId, last);
        expect(status, `order ${orderId}`).toBe(replayed);
        // What the product holds for an order is exactly what a RESERVED order needs, and nothing otherwise.
        const held = productState.reservations[orderId]?.quantity ?? 0;
        const created = events.find((e) => e.streamId === orderId && e.type === 'OrderCreated')! as StoredEvent<{
          type: 'OrderCreated';
          data: { items: { quantity: number }[] };
        }>;
        expect(held, `stock held for ${orderId} (${status})`).toBe(status === 'RESERVED' ? created.data.items[0]!.quantity : 0);
      }
      // And the process's own view of the stock is the product's.
      const [view] = await t.database.rows<{ on_hand: number; reserved: number }>(
        sql`select on_hand, reserved from fulfilment_stock where sku = 'scarce'`,
      );
      expect(view).toEqual({ on_hand: productState.onHand, reserved: reservedOf(productState.reservations) });
    },
  );
});

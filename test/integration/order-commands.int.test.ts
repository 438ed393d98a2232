import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createCommandBus } from '../../src/core/command-bus.ts';
import type { CommandResult } from '../../src/core/command-handler.ts';
import { ConcurrencyConflictError, IdempotencyConflictError, NotFoundError, RuleViolationError } from '../../src/core/errors.ts';
import { decodeToken } from '../../src/core/position.ts';
import { createPostgresEventStore } from '../../src/infra/event-store/postgres-event-store.ts';
import type { Command } from '../../src/core/messages.ts';
import { registerAggregate } from '../../src/core/module.ts';
import { orderEventSchemas } from '../../src/orders/events.ts';
import { orderAggregate } from '../../src/orders/order-aggregate.ts';
import { createTestDatabase, driverName, type TestDatabase, testDataKeys } from '../support/db.ts';
import { command, createOrderInput } from '../support/orders.ts';

describe(`Order commands on ${driverName}`, () => {
  let t: TestDatabase;
  let retries = 0;
  const newBus = () => {
    const bus = createCommandBus<Command, CommandResult>();
    const store = createPostgresEventStore({ db: t.database, schemas: orderEventSchemas, personal: testDataKeys(t.database) });
    registerAggregate(bus, orderAggregate, { store, onRetry: () => retries++ });
    return bus;
  };
  let bus: ReturnType<typeof newBus>;
  const eventCount = async () => (await t.database.rows<{ n: number }>(sql`select count(*)::int as n from events`))[0]!.n;
  const create = (input = createOrderInput()) => bus.dispatch(command('CreateOrder', input));
  const addItem = (orderId: string, extra: Record<string, unknown> = {}) =>
    bus.dispatch(command('AddOrderItem', { orderId, productId: 'p-9', quantity: 1, unitPrice: '0.10', ...extra }));

  beforeAll(async () => {
    t = await createTestDatabase();
  });
  beforeEach(async () => {
    await t.reset();
    bus = newBus();
    retries = 0;
  });
  afterAll(() => t.close());

  it('creates an order and applies commands to it, returning version and consistency token', async () => {
    const created = await create();
    expect(created.version).toBe(1);
    expect(decodeToken(created.consistencyToken)).toEqual(created.position);
    const added = await addItem(created.streamId);
    expect(added).toMatchObject({ streamId: created.streamId, version: 2 });
    const shipped = await bus.dispatch(command('ShipOrder', { orderId: created.streamId }));
    expect(shipped.version).toBe(3);
    await expect(bus.dispatch(command('CancelOrder', { orderId: created.streamId, reason: 'late' }))).rejects.toThrow(RuleViolationError);
  });

  it('answers NOT_FOUND for a command on an unknown order, appending nothing', async () => {
    await expect(addItem('no-such-order')).rejects.toThrow(NotFoundError);
    await expect(bus.dispatch(command('ShipOrder', { orderId: 'no-such-order' }))).rejects.toThrow(NotFoundError);
    expect(await eventCount()).toBe(0);
  });

  it('with expectedVersion, a stale command is CONCURRENCY_CONFLICT with the actual version and appends nothing', async () => {
    const { streamId } = await create();
    await addItem(streamId, { expectedVersion: 1 });
    const error = await addItem(streamId, { expectedVersion: 1 }).catch((e) => e);
    expect(error).toBeInstanceOf(ConcurrencyConflictError);
    expect(error.actualVersion).toBe(2);
    expect(await eventCount()).toBe(2);
  });

  it('30 concurrent commands on one order without expectedVersion all apply, none lost', async () => {
    const { streamId } = await create();
    // Three buses stand for three processes: in-process commands on one stream take turns, across
    // processes they collide in the database and go through the retry.
    const buses = [bus, newBus(), newBus()];
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        buses[i % 3]!.dispatch(command('AddOrderItem', { orderId: streamId, productId: `p-${i}`, quantity: 1, unitPrice: '1.00' })),
      ),
    );
    expect(results.map((r) => r.version).sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i + 2));
    const rows = await t.database.rows<{ version: number; product: string }>(
      sql`select version, data->>'productId' as product from events where stream_id = ${streamId} order by version`,
    );
    expect(rows.map((r) => r.version)).toEqual(Array.from({ length: 31 }, (_, i) => i + 1));
    expect(new Set(rows.slice(1).map((r) => r.product)).size).toBe(30);
    if (t.database.kind === 'postgres') expect(retries).toBeGreaterThan(0);
  });

  it('a process whose cached state of an order is stale still decides on the stream as it is', async () => {
    const { streamId } = await create(); // this process caches the order at v1
    const other = newBus(); // another process
    await other.dispatch(command('AddOrderItem', { orderId: streamId, productId: 'p-1', quantity: 1, unitPrice: '1.00' }));
    // The stale entry says v1; the caller's expectedVersion agrees with the stream, so it holds.
    expect((await addItem(streamId, { expectedVersion: 2 })).version).toBe(3);
    await other.dispatch(command('ShipOrder', { orderId: streamId }));
    // Now the entry says v3 PLACED and agrees with the caller, but the stream is at v4, SHIPPED.
    const error = await addItem(streamId, { expectedVersion: 3 }).catch((e) => e);
    expect(error).toBeInstanceOf(ConcurrencyConflictError);
    expect(error.actualVersion).toBe(4);
    await expect(addItem(streamId)).rejects.toThrow(RuleViolationError);
    expect(await eventCount()).toBe(4);
  });

  describe('idempotency by commandId', () => {
    it('a repeat returns the first result and appends nothing', async () => {
      const first = await create(createOrderInput({ commandId: 'create-1' }));
      const again = await create(createOrderInput({ commandId: 'create-1' }));
      expect(again).toEqual(first);
      const add1 = await addItem(first.streamId, { commandId: 'add-1' });
      await addItem(first.streamId); // moves the stream on
      expect(await addItem(first.streamId, { commandId: 'add-1' })).toEqual(add1);
      expect(await eventCount()).toBe(3);
    });

    it('the same commandId with different input is IDEMPOTENCY_CONFLICT and appends nothing', async () => {
      const { streamId } = await create(createOrderInput({ commandId: 'c-1' }));
      await expect(create(createOrderInput({ commandId: 'c-1', customerId: 'someone-else' }))).rejects.toThrow(IdempotencyConflictError);
      await expect(addItem(streamId, { commandId: 'c-1' })).rejects.toThrow(IdempotencyConflictError);
      expect(await eventCount()).toBe(1);
    });

    it('concurrent repeats of one command apply it once and all return its result', async () => {
      const results = await Promise.all(Array.from({ length: 10 }, () => create(createOrderInput({ commandId: 'same' }))));
      // The same answer for all (the events a repeat gets back are read from the store: same content).
      for (const result of results) expect(result).toEqual(results[0]);
      expect(await eventCount()).toBe(1);
    });

    it('a repeat sent while its first run is still going gets the first result, not a rule violation', async () => {
      const { streamId } = await create();
      const cancel = () => bus.dispatch(command('CancelOrder', { orderId: streamId, reason: 'x', commandId: 'cancel-1' }));
      const [first, second] = await Promise.all([cancel(), cancel()]);
      expect(second).toEqual(first);
      // From another process (its own bus), after the first committed: still the first result.
      expect(await newBus().dispatch(command('CancelOrder', { orderId: streamId, reason: 'x', commandId: 'cancel-1' }))).toEqual(first);
      expect(await eventCount()).toBe(2);
    });

    it('another caller repeating a commandId gets IDEMPOTENCY_CONFLICT, never the first caller’s result', async () => {
      const alice = { userId: 'customer-1', roles: ['customer' as const] };
      const bob = { userId: 'customer-2', roles: ['admin' as const] };
      await bus.dispatch(command('CreateOrder', createOrderInput({ commandId: 'shared' }), { caller: alice }));
      await expect(bus.dispatch(command('CreateOrder', createOrderInput({ commandId: 'shared' }), { caller: bob }))).rejects.toThrow(
        IdempotencyConflictError,
      );
    });

    it('a command that failed on a rule is not recorded, so it can be tried again', async () => {
      const { streamId } = await create();
      await bus.dispatch(command('ShipOrder', { orderId: streamId }));
      await expect(bus.dispatch(command('CancelOrder', { orderId: streamId, reason: 'x', commandId: 'k' }))).rejects.toThrow(
        RuleViolationError,
      );
      expect(await t.database.rows(sql`select 1 from commands`)).toHaveLength(0);
    });
  });
});

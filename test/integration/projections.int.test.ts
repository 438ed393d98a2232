import { sql } from 'drizzle-orm';
import { integer, pgTable, text } from 'drizzle-orm/pg-core';
import { SYSTEM_CALLER } from '../../src/core/caller.ts';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Services } from '../../src/services.ts';
import { decodeToken } from '../../src/core/position.ts';
import { defineSqlProjection, lookup } from '../../src/core/sql-projection.ts';
import { LATER_ORDER_EVENT_TYPES, ORDER_EVENT_TYPES, type OrderEvent } from '../../src/orders/events.ts';
import { EVENTS_CHANNEL } from '../../src/infra/event-store/append-notifier.ts';
import { createTestDatabase, driverName, type TestDatabase } from '../support/db.ts';
import { command } from '../support/orders.ts';
import { addItem, createOrder, expectOrdersMatchStore, startOrderServices } from '../support/services.ts';
import { isLookupRead, watchStatements } from '../support/watch.ts';
import { itIf, needsPostgres } from '../support/skip.ts';

const sys = { caller: SYSTEM_CALLER };
const ALL = ['orders', 'customer_summaries'];

describe(`projections on ${driverName}`, () => {
  let t: TestDatabase;
  let services: Services;
  beforeAll(async () => {
    t = await createTestDatabase();
  });
  beforeEach(async () => {
    await t.reset();
    services = await startOrderServices(t.database);
  });
  afterEach(() => services.stop());
  afterAll(() => t.close());

  /** Restarts `services` on a database whose statements are recorded (and may be altered). */
  const restartWatched = async (options: Parameters<typeof watchStatements>[1] = {}, batchSize?: number) => {
    await services.stop();
    const watched = watchStatements(t.database, options);
    services = await startOrderServices(watched.database, { projectionBatchSize: batchSize });
    return watched.sent;
  };

  const settle = async (token: string) => {
    const { stale } = await services.tracker.waitFor(decodeToken(token), ALL, 10_000);
    expect(stale).toBe(false);
  };

  it('sends the wake-up notification after appends, whether or not this process runs the projections', async () => {
    const heard: string[] = [];
    const unlisten = await t.database.listen(EVENTS_CHANNEL, (payload) => heard.push(payload));
    const heardSoon = async () => {
      for (let i = 0; i < 50 && heard.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
      return heard.splice(0).length;
    };
    try {
      // `services` runs both projections here (its own runners are also woken directly).
      const first = await createOrder(services, { customerId: 'c-1' });
      expect(await heardSoon()).toBeGreaterThan(0);
      await settle(first.consistencyToken);
      // A process without projections (PROJECTIONS=off) wakes whoever runs them.
      const writer = await startOrderServices(t.database, { runProjections: false });
      try {
        const second = await createOrder(writer, { customerId: 'c-2' });
        expect(await heardSoon()).toBeGreaterThan(0);
        await settle(second.consistencyToken);
      } finally {
        await writer.stop();
      }
    } finally {
      await unlisten();
    }
  });

  it('projects orders and customer summaries, read through the query bus', async () => {
    const a = await createOrder(services, { customerId: 'c-1' });
    await addItem(services, a.streamId, 'p-3', '0.20');
    const b = await createOrder(services, { customerId: 'c-1', items: [{ productId: 'x', quantity: 3, unitPrice: '0.10' }] });
    const last = await services.commands.dispatch(command('CancelOrder', { orderId: b.streamId, reason: 'no longer needed' }));
    await settle(last.consistencyToken);

    const order = await services.queries.execute('order', { id: a.streamId }, sys);
    expect(order).toMatchObject({
      id: a.streamId,
      customerId: 'c-1',
      status: 'PLACED',
      itemCount: 3,
      totalAmount: '20.18',
      version: 2,
      items: [
        { productId: 'p-1', quantity: 2, unitPrice: '9.99', lineTotal: '19.98' },
        { productId: 'p-3', quantity: 1, unitPrice: '0.20', lineTotal: '0.20' },
      ],
    });
    expect(await services.queries.execute('order', { id: 'nope' }, sys)).toBeNull();

    const page = await services.queries.execute('customerOrders', { customerId: 'c-1' }, sys);
    expect(page).toMatchObject({ total: 2, page: 1, pageSize: 20, totalPages: 1 });
    const cancelled = await services.queries.execute('customerOrders', { customerId: 'c-1', status: 'CANCELLED' }, sys);
    expect(cancelled.items.map((o) => [o.id, o.status, o.cancelReason])).toEqual([[b.streamId, 'CANCELLED', 'no longer needed']]);

    expect(await services.queries.execute('customerSummary', { customerId: 'c-1' }, sys)).toEqual({
      customerId: 'c-1',
      orderCount: 2,
      cancelledCount: 1,
      totalSpent: '20.18',
      lastOrderAt: expect.stringMatching(/Z$/),
    });
    expect(await services.queries.execute('customerSummary', { customerId: 'c-2' }, sys)).toBeNull();

    const found = await services.queries.execute('searchOrders', { query: 'P-3' }, sys);
    expect(found.items.map((o) => o.id)).toEqual([a.streamId]);
    // The city is personal data, sealed: not matched (API.md, Personal data); the customer id is.
    expect((await services.queries.execute('searchOrders', { query: 'berl' }, sys)).total).toBe(0);
    const byCustomer = await services.queries.execute('searchOrders', { query: 'c-1', sortBy: 'TOTAL_AMOUNT', sortOrder: 'ASC' }, sys);
    expect(byCustomer.items.map((o) => o.id)).toEqual([b.streamId, a.streamId]);
    expect((await services.queries.execute('searchOrders', { query: '%' }, sys)).total).toBe(0);

    await expectOrdersMatchStore(t.database, services.store);
    const statuses = (await services.admin.status(SYSTEM_CALLER)).filter((s) => ALL.includes(s.name));
    expect(statuses.map((s) => [s.name, s.state, s.lagEvents])).toEqual([
      ['orders', 'RUNNING', 0],
      ['customer_summaries', 'RUNNING', 0],
    ]);
  });

  it("reads lookups on their own with plans made for their parameters, catching up and rebuilding, and leaves the pool's plan cache alone", async () => {
    // Read-model tables grow from empty (a first catch-up, a rebuild's shadow copy) faster than they
    // are analysed: a generic plan cached while one was tiny would keep scanning all of it.
    const modes = new Map<string, Set<string>>();
    const sent = await restartWatched(
      {
        // Asked right after each lookup read, on its connection (or in its transaction).
        after: async (s) => {
          if (!isLookupRead(s.text)) return;
          const [row] = await s.executor.rows<{ mode: string }>(sql`select current_setting('plan_cache_mode') as mode`);
          modes.set(s.via, (modes.get(s.via) ?? new Set()).add(row!.mode));
        },
      },
      1, // every batch full: each step is a catch-up step
    );
    const a = await createOrder(services);
    await addItem(services, a.streamId);
    await settle((await addItem(services, a.streamId)).consistencyToken);
    await services.admin.rebuild('orders', SYSTEM_CALLER);
    for (let i = 0; i < 200; i++) {
      const status = (await services.admin.status(SYSTEM_CALLER)).find((s) => s.name === 'orders')!;
      if (status.state === 'RUNNING' && status.rebuildPosition === null) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(new Set(sent.filter((s) => isLookupRead(s.text)).map((s) => s.via))).toEqual(new Set(['lookups', 'transaction']));
    expect(modes).toEqual(
      new Map([
        ['lookups', new Set(['force_custom_plan'])],
        ['transaction', new Set(['force_custom_plan'])],
      ]),
    );
    const [pool] = await t.database.rows<{ mode: string }>(sql`select current_setting('plan_cache_mode') as mode`);
    expect(pool!.mode).toBe('auto');
  });

  itIf(
    needsPostgres("PostgreSQL's plan cache and EXPLAIN"),
    'reads batches with a kept generic plan that finds rows through indexes, even one made on empty tables',
    async () => {
      // Planned for its parameters (plan_cache_mode auto), the live read was planned again at every
      // step once the events table had statistics that a checkpoint lies past: 20,000 events of a type
      // no projection handles, analysed. A kept plan, though, is made for the tables as they are when
      // it is made: here the read models are empty, where a sequential scan is cheapest.
      await t.database.rows(sql`insert into events (stream_id, stream_type, version, type, data)
      select 'filler-' || n, 'Filler', 1, 'FillerHappened', '{}'::jsonb from generate_series(1, 20000) n`);
      await t.database.rows(sql`analyze events`);
      for (let i = 0; i < 12; i++) await settle((await createOrder(services)).consistencyToken);
      // Each kept batch statement of the connection this runs on, with its plan counts and its plan.
      await t.database.rows(
        sql.raw(`create function test_batch_plans() returns setof text language plpgsql as $f$
      declare s record; line text;
      begin
        for s in select name, generic_plans, custom_plans from pg_prepared_statements where statement like 'with batch as%' loop
          return next format('statement generic=%s custom=%s', s.generic_plans, s.custom_plans);
          for line in execute format('explain (costs off) execute %I(%L, %L, %L)', s.name, '["orders"]', '0', '0') loop
            return next line;
          end loop;
        end loop;
      end $f$`),
      );
      try {
        const lines = (await t.database.projectionBatches.query<{ line: string }>('select line from test_batch_plans() as line', [])).map(
          (r) => r.line,
        );
        const statements = lines.filter((l) => l.startsWith('statement '));
        expect(statements.length).toBeGreaterThan(0);
        for (const line of statements) expect(line).toMatch(/^statement generic=[1-9]\d* custom=0$/);
        expect(lines.some((l) => /Index Scan using orders_pkey/.test(l))).toBe(true);
        expect(lines.filter((l) => /Seq Scan|Bitmap/.test(l))).toEqual([]);
      } finally {
        await t.database.rows(sql.raw('drop function test_batch_plans()'));
      }
    },
  );

  it.each([
    ['brings the lookups with the batch, so a live step reads nothing else', false],
    ['reads the lookups on their own when the batch did not bring them', true],
  ])('%s', async (_title, drop) => {
    // `drop`: the batch statement's answer loses its lookups, as if they had missed an event's key.
    const sent = await restartWatched({
      alter: (s, rows) => (drop && s.via === 'batches' ? rows.map((row) => ({ ...(row as object), found: null })) : rows),
    });
    const a = await createOrder(services, { customerId: 'c-1' });
    await settle(a.consistencyToken);
    await addItem(services, a.streamId, 'p-2', '1.25');
    const b = await createOrder(services, { customerId: 'c-1' });
    await settle(b.consistencyToken);
    const last = await services.commands.dispatch(command('CancelOrder', { orderId: a.streamId, reason: 'changed my mind' }));
    await settle(last.consistencyToken);
    const batches = sent.filter((s) => s.via === 'batches' && (JSON.parse(s.params[0] as string) as string[]).some((n) => ALL.includes(n)));
    expect(batches.length).toBeGreaterThan(0);
    expect(batches.every((s) => s.text.includes('_lookup_0_keys'))).toBe(true);
    const ownReads = sent.filter((s) => isLookupRead(s.text));
    if (drop) expect(ownReads.length).toBeGreaterThan(0);
    else expect(ownReads).toEqual([]);
    await expectOrdersMatchStore(t.database, services.store);
    expect(await services.queries.execute('customerSummary', { customerId: 'c-1' }, sys)).toMatchObject({
      orderCount: 2,
      cancelledCount: 1,
      totalSpent: '19.98',
    });
  });

  it("a lookup keyed only by another lookup's rows is read with the batch and on its own (catching up)", async () => {
    // Counts the later events of each customer's orders: the customer comes from the order's row.
    await t.database.rows(sql`create table if not exists test_order_customers (order_id text primary key, customer_id text not null)`);
    await t.database.rows(sql`create table if not exists test_customer_events (customer_id text primary key, n int not null)`);
    await t.database.rows(sql`select converge_tenant_table('test_order_customers'), converge_tenant_table('test_customer_events')`);
    const orderCustomers = pgTable('test_order_customers', {
      orderId: text('order_id').primaryKey(),
      customerId: text('customer_id').notNull(),
    });
    const customerEvents = pgTable('test_customer_events', { customerId: text('customer_id').primaryKey(), n: integer('n').notNull() });
    const counting = defineSqlProjection<OrderEvent>()({
      name: 'test_customer_events',
      handles: ORDER_EVENT_TYPES,
      tables: [orderCustomers, customerEvents],
      lookups: {
        orders: lookup(orderCustomers, { key: orderCustomers.orderId, keys: [{ streamId: true, types: LATER_ORDER_EVENT_TYPES }] }),
        customers: lookup(customerEvents, {
          key: customerEvents.customerId,
          keys: [{ lookup: 'orders', column: orderCustomers.customerId }],
        }),
      },
      apply(events, { found, insert, upsert }) {
        const counts = new Map<string, number>();
        for (const e of events) {
          if (e.type === 'OrderCreated') {
            insert(orderCustomers, [{ orderId: e.streamId, customerId: e.data.customerId }]);
            continue;
          }
          const customer = found.orders.get(e.streamId)!.customerId;
          counts.set(customer, (counts.get(customer) ?? found.customers.get(customer)?.n ?? 0) + 1);
        }
        upsert(
          customerEvents,
          [...counts].map(([customerId, n]) => ({ customerId, n })),
        );
      },
    });
    for (const batchSize of [500, 1]) {
      await services.stop();
      await t.reset();
      services = await startOrderServices(t.database, {
        projections: (defaults) => [...defaults, counting],
        projectionBatchSize: batchSize,
      });
      const a = await createOrder(services, { customerId: 'c-1' });
      await settle(a.consistencyToken);
      await addItem(services, a.streamId);
      const b = await createOrder(services, { customerId: 'c-2' });
      await settle(b.consistencyToken);
      await addItem(services, b.streamId);
      await addItem(services, a.streamId);
      const last = await services.commands.dispatch(command('ShipOrder', { orderId: a.streamId }));
      expect((await services.tracker.waitFor(decodeToken(last.consistencyToken), ['test_customer_events'], 10_000)).stale).toBe(false);
      const rows = await t.database.rows(sql`select customer_id, n from test_customer_events order by customer_id`);
      expect(rows, `batch size ${batchSize}`).toEqual([
        { customer_id: 'c-1', n: 3 },
        { customer_id: 'c-2', n: 1 },
      ]);
    }
  });

  it('waits for `after` on the projection behind the query, and answers stale on timeout', async () => {
    const a = await createOrder(services);
    const context = { caller: SYSTEM_CALLER, consistency: { after: decodeToken(a.consistencyToken), stale: false } };
    expect(await services.queries.execute('order', { id: a.streamId }, context)).toMatchObject({ version: 1 });
    expect(context.consistency.stale).toBe(false);

    await services.admin.pause('orders', SYSTEM_CALLER);
    const b = await addItem(services, a.streamId);
    const late = { caller: SYSTEM_CALLER, consistency: { after: decodeToken(b.consistencyToken), stale: false } };
    const started = Date.now();
    // An API-only process (projections off) with a short timeout, fed by progress notifications.
    const api = await startOrderServices(t.database, { runProjections: false, consistencyTimeoutMs: 300 });
    try {
      expect(await api.queries.execute('order', { id: a.streamId }, late)).toMatchObject({ version: 1 });
      expect(late.consistency.stale).toBe(true);
      expect(Date.now() - started).toBeLessThan(5000);
      await services.admin.resume('orders', SYSTEM_CALLER);
      const fresh = { caller: SYSTEM_CALLER, consistency: { after: decodeToken(b.consistencyToken), stale: false } };
      expect(await api.queries.execute('order', { id: a.streamId }, fresh)).toMatchObject({ version: 2 });
      expect(fresh.consistency.stale).toBe(false);
    } finally {
      await api.stop();
    }
  });
});

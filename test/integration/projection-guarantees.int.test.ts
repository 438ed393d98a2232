// The projection guarantees of the projections issue: exactly-once effects across crashes, no event
// skipped or repeated under out-of-order commits, recovery from a lost listener, poison events, and
// blue/green rebuilds under load.
import { sql } from 'drizzle-orm';
import { SYSTEM_CALLER } from '../../src/core/caller.ts';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Services } from '../../src/services.ts';
import type { StoredEvent } from '../../src/core/messages.ts';
import { UnavailableError } from '../../src/core/errors.ts';
import { silentLogger, type Logger } from '../../src/core/logger.ts';
import { decodeToken, encodeToken, isAtOrAfter, type Position } from '../../src/core/position.ts';
import type { SqlProjection, StepContext } from '../../src/core/sql-projection.ts';
import { driverError } from '../../src/infra/db/errors.ts';
import { createPostgresEventStore } from '../../src/infra/event-store/postgres-event-store.ts';
import { loadProjectionRecords } from '../../src/infra/projections/projection-records.ts';
import { createProjectionStorage } from '../../src/infra/projections/projection-storage.ts';
import { orderEventSchemas } from '../../src/orders/events.ts';
import { selectList } from '../../src/core/tables.ts';
import { customerSummaries } from '../../src/orders/read-models/customer-summaries.ts';
import { createTestDatabase, driverName, onPostgres, settle, type TestDatabase, testDataKeys } from '../support/db.ts';
import { address } from '../support/orders.ts';
import { addItem, allEvents, createOrder, expectOrdersMatchStore, startOrderServices } from '../support/services.ts';
import { watchStatements } from '../support/watch.ts';
import { itIf, needsPostgres } from '../support/skip.ts';

const sys = { caller: SYSTEM_CALLER };
const ALL = ['orders', 'customer_summaries'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Records every event it sees; the primary key turns a repeat into a failure. */
const auditProjection: SqlProjection = {
  name: 'audit',
  handles: new Set(['OrderCreated', 'OrderItemAdded', 'OrderCancelled', 'OrderShipped']),
  tables: ['audit_events'],
  apply(events, { insert }) {
    insert(
      'audit_events',
      events.map((e) => ({ tx: e.position.tx.toString(), pos: e.position.pos.toString() })),
    );
  },
};

describe(`projection guarantees on ${driverName}`, () => {
  let t: TestDatabase;
  let services: Services | undefined;
  beforeAll(async () => {
    t = await createTestDatabase({ poolMax: 45 });
    await t.database.rows(sql`create table if not exists audit_events (tx xid8 not null, pos bigint primary key)`);
    await t.database.rows(sql`select converge_tenant_table('audit_events')`);
  });
  beforeEach(() => t.reset());
  afterEach(async () => {
    await services?.stop();
    services = undefined;
  });
  afterAll(() => t.close());

  const settled = async (s: Services, token: string, projections = ALL) => {
    const { stale } = await s.tracker.waitFor(decodeToken(token), projections, 20_000);
    expect(stale, `projections ${projections.join(', ')} reached ${token}`).toBe(false);
  };

  // Settled first: on a shared server another client's open transaction can hide our last events.
  const headToken = async (s: Services) => {
    await settle(t.database);
    return encodeToken((await s.store.headPosition())!);
  };

  const expectSummariesMatchOrders = async () => {
    // customer_summaries against the (separately verified) orders model.
    const expected = await t.database.rows(sql`select customer_id as "customerId", count(*)::int as "orderCount",
        (count(*) filter (where status = 'CANCELLED'))::int as "cancelledCount",
        coalesce(sum(total_amount) filter (where status <> 'CANCELLED'), 0)::numeric(22,2)::text as "totalSpent"
      from orders group by customer_id order by customer_id`);
    const actual = await t.database.rows(sql`select customer_id as "customerId", order_count as "orderCount",
        cancelled_count as "cancelledCount", total_spent::text as "totalSpent" from customer_summaries order by customer_id`);
    expect(actual).toEqual(expected);
  };

  it('a crash between apply and commit leaves no double effect after the restart', async () => {
    let crashes = 0;
    services = await startOrderServices(t.database, {
      projections: (defaults) =>
        defaults.map((p) => ({
          ...p,
          async apply(events, tx) {
            await p.apply(events, tx);
            // Every third batch dies after applying, before its writes and checkpoint are sent (as a
            // killed process or a dropped connection would).
            if (++crashes % 3 === 1) throw new UnavailableError({ cause: new Error('terminating connection') });
          },
        })),
    });
    let last = '';
    for (let i = 0; i < 10; i++) {
      const order = await createOrder(services, { customerId: `c-${i % 3}` });
      last = (await addItem(services, order.streamId)).consistencyToken;
    }
    await settled(services, last);
    expect(crashes).toBeGreaterThan(3);
    await expectOrdersMatchStore(t.database, services.store);
    await expectSummariesMatchOrders();
    const summaries = await t.database.rows<{ orderCount: number }>(
      sql`select ${sql.raw(selectList(customerSummaries))} from customer_summaries`,
    );
    expect(summaries.reduce((n, s) => n + s.orderCount, 0)).toBe(10);
  });

  // A projection can fail in its own code, or in a statement the database refuses.
  it.each([
    ['thrown by apply', 'cannot project a poison item'],
    ['raised by the database', 'invalid input syntax for type integer'],
  ])(
    'a poison event (%s) fails only its projection, with the error and position; resume applies it once after the fix',
    async (how, message) => {
      let broken = true;
      services = await startOrderServices(t.database, {
        projections: (defaults) =>
          defaults.map((p) =>
            p.name !== 'orders'
              ? p
              : {
                  ...p,
                  async apply(events, step) {
                    const poisoned = broken && events.some((e) => (e.data as { productId?: string }).productId === 'poison');
                    if (poisoned && how === 'thrown by apply') throw new Error('cannot project a poison item');
                    // A value the database refuses: the step's other writes and its checkpoint go with it.
                    const spoil = (rows: readonly Record<string, unknown>[]) =>
                      poisoned ? rows.map((r) => ({ ...r, item_count: 'many' })) : rows;
                    await p.apply(events, { ...step, upsert: (table, key, rows) => step.upsert(table, key, spoil(rows)) });
                  },
                },
          ),
      });
      const order = await createOrder(services, { customerId: 'c-1' });
      await addItem(services, order.streamId, 'fine-1');
      const poison = await addItem(services, order.streamId, 'poison');
      const after = await addItem(services, order.streamId, 'fine-2');
      await settled(services, after.consistencyToken, ['customer_summaries']);

      let status = (await services.admin.status(SYSTEM_CALLER)).find((s) => s.name === 'orders')!;
      for (let i = 0; i < 100 && status.state !== 'FAILED'; i++) {
        await sleep(50);
        status = (await services.admin.status(SYSTEM_CALLER)).find((s) => s.name === 'orders')!;
      }
      expect(status.state).toBe('FAILED');
      expect(status.lastError).toMatch(new RegExp(`OrderItemAdded at .*@3: ${message}`));
      expect(status.errorPosition).toEqual(poison.position);
      // The events before the poison one were applied; the other projection kept up.
      expect(await services.queries.execute('order', { id: order.streamId }, sys)).toMatchObject({ version: 2 });
      const summaries = (await services.admin.status(SYSTEM_CALLER)).find((s) => s.name === 'customer_summaries')!;
      expect(summaries).toMatchObject({ state: 'RUNNING', lagEvents: 0 });

      broken = false;
      await services.admin.resume('orders', SYSTEM_CALLER);
      await settled(services, after.consistencyToken);
      const fixed = await services.queries.execute('order', { id: order.streamId }, sys);
      expect(fixed?.items.map((i) => i.productId)).toEqual(['p-1', 'fine-1', 'poison', 'fine-2']);
      expect((await services.admin.status(SYSTEM_CALLER)).find((s) => s.name === 'orders')).toMatchObject({
        state: 'RUNNING',
        lastError: null,
      });
    },
  );

  it('a live step whose checkpoint moved on meanwhile is stale, and none of its writes land', async () => {
    services = await startOrderServices(t.database, { runProjections: false });
    await createOrder(services);
    await createOrder(services);
    await settle(t.database);
    const storage = createProjectionStorage(
      t.database,
      createPostgresEventStore({ db: t.database, schemas: orderEventSchemas, personal: testDataKeys(t.database) }),
      [auditProjection],
    );
    await storage.load('audit');
    // Two runners step from the same checkpoint; the second's writes are queued before the first commits.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const second = storage.step('audit', 'live', null, 100, async (events, tx) => {
      await auditProjection.apply(events, tx);
      await held;
    });
    const first = await storage.step('audit', 'live', null, 1, async (events, tx) => auditProjection.apply(events, tx));
    release();
    expect(first).toMatchObject({ kind: 'applied', read: 1 });
    expect(await second).toEqual({ kind: 'stale' });
    const audited = await t.database.rows<{ n: number }>(sql`select count(*)::int as n from audit_events`);
    expect(audited[0]!.n).toBe(1);
    const [record] = await loadProjectionRecords(t.database, ['audit']);
    expect(record!.position).toEqual(first.kind === 'applied' ? first.to : null);
  });

  const row = (e: StoredEvent) => ({ tx: e.position.tx.toString(), pos: e.position.pos.toString() });
  it.each([
    [
      'upserts rows without their key column',
      /lack their key column pos/,
      (step: StepContext, e: StoredEvent) => step.upsert('audit_events', ['pos'], [{ tx: row(e).tx }]),
    ],
    [
      'writes rows of different columns to one table',
      /must all have the same columns/,
      (step: StepContext, e: StoredEvent) => step.insert('audit_events', [row(e), { pos: '1' }]),
    ],
    [
      'both inserts and upserts one table in a step',
      /must be of one kind/,
      (step: StepContext, e: StoredEvent) => {
        step.insert('audit_events', [row(e)]);
        step.upsert('audit_events', ['pos'], [row(e)]);
      },
    ],
    [
      'writes to a table its tables do not list',
      /projection audit wrote to table customer_summaries, which its tables do not list/,
      (step: StepContext) => step.upsert('customer_summaries', ['customer_id'], [{ customer_id: 'c-1' }]),
    ],
  ])('a projection that %s is refused, so no write escapes its checkpoint', async (_how, message, misuse) => {
    const sneaky: SqlProjection = { ...auditProjection, apply: (events, step) => misuse(step, events[0]!) };
    services = await startOrderServices(t.database, { projections: (d) => [...d, sneaky] });
    await createOrder(services);
    let status = (await services.admin.status(SYSTEM_CALLER)).find((s) => s.name === 'audit')!;
    for (let i = 0; i < 200 && status.state !== 'FAILED'; i++) {
      await sleep(25);
      status = (await services.admin.status(SYSTEM_CALLER)).find((s) => s.name === 'audit')!;
    }
    expect(status.state).toBe('FAILED');
    expect(status.lastError).toMatch(message);
    expect((await t.database.rows<{ n: number }>(sql`select count(*)::int as n from audit_events`))[0]!.n).toBe(0);
  });

  it('a write after apply returned (a missing await) is refused, not lost silently', async () => {
    let late: Promise<unknown> | undefined;
    const careless: SqlProjection = {
      ...auditProjection,
      apply(events, step) {
        late ??= new Promise((resolve) => setImmediate(resolve))
          .then(() => step.insert('audit_events', events.map(row)))
          .catch((error: unknown) => error);
      },
    };
    services = await startOrderServices(t.database, { projections: (d) => [...d, careless] });
    await settled(services, (await createOrder(services)).consistencyToken, ['audit']);
    expect(await late).toEqual(expect.objectContaining({ message: expect.stringMatching(/after apply returned/) }));
    expect((await t.database.rows<{ n: number }>(sql`select count(*)::int as n from audit_events`))[0]!.n).toBe(0);
  });

  it('an event that cannot even be read (no upcaster for its schema version) fails its projection visibly', async () => {
    services = await startOrderServices(t.database);
    const order = await createOrder(services);
    await t.database.rows(sql`insert into events (stream_id, stream_type, version, type, schema_version, data)
      values (${order.streamId}, 'Order', 2, 'OrderShipped', 0, '{}'::jsonb)`);
    let status = (await services.admin.status(SYSTEM_CALLER)).find((s) => s.name === 'orders')!;
    for (let i = 0; i < 200 && status.state !== 'FAILED'; i++) {
      await sleep(25);
      status = (await services.admin.status(SYSTEM_CALLER)).find((s) => s.name === 'orders')!;
    }
    expect(status.state).toBe('FAILED');
    expect(status.lastError).toMatch(/no upcaster for OrderShipped/);
  });

  it('a rebuild under writes and reads never serves an incomplete model, and ends equal to a fold from scratch', async () => {
    services = await startOrderServices(t.database, { projectionBatchSize: 20 });
    const ids: string[] = [];
    let last = '';
    for (let i = 0; i < 120; i++) {
      const o = await createOrder(services, { customerId: `c-${i % 7}` });
      ids.push(o.streamId);
      last = o.consistencyToken;
    }
    await settled(services, last);
    const indexes = async () =>
      (
        await t.database.rows<{ indexname: string }>(
          sql`select indexname from pg_indexes where schemaname = 'public' and tablename = 'orders' order by 1`,
        )
      ).map((r) => r.indexname);
    const indexesBefore = await indexes();

    let writing = true;
    let reads = 0;
    const writer = (async () => {
      for (let i = 0; writing; i++) {
        const o = await createOrder(services!, { customerId: `c-${i % 7}` });
        ids.push(o.streamId);
        await addItem(services!, ids[i % ids.length]!);
        await new Promise((r) => setImmediate(r)); // PGlite answers in microtasks: let timers run
      }
    })();
    const reader = (async () => {
      let seen = 0;
      while (writing) {
        const [row] = await t.database.rows<{ n: number }>(sql`select count(*)::int as n from orders`);
        // Never fewer orders than a read before: never an empty or half-built model.
        expect(row!.n).toBeGreaterThanOrEqual(Math.max(seen, 120));
        seen = row!.n;
        reads++;
        await sleep(5);
      }
    })();

    await services.admin.rebuild('orders', SYSTEM_CALLER);
    let state = 'REBUILDING';
    const deadline = Date.now() + 30_000;
    let sawRebuilding = false;
    while (Date.now() < deadline) {
      const s = (await services.admin.status(SYSTEM_CALLER)).find((x) => x.name === 'orders')!;
      if (s.state === 'REBUILDING') sawRebuilding = true;
      state = s.state;
      if (s.state === 'RUNNING' && s.rebuildPosition === null) break;
      await sleep(20);
    }
    writing = false;
    await Promise.all([writer, reader]);
    expect(sawRebuilding).toBe(true);
    expect(state).toBe('RUNNING');
    expect(reads).toBeGreaterThan(3);
    await settled(services, await headToken(services));
    await expectOrdersMatchStore(t.database, services.store);
    expect(await indexes()).toEqual(indexesBefore);
    const schemas = await t.database.rows(sql`select nspname from pg_namespace where nspname like 'converge_%'`);
    expect(schemas).toEqual([]);
  });

  const indexesOfOrders = async (schema: string) =>
    (
      await t.database.rows<{ name: string; def: string; valid: boolean }>(sql`select i.relname as name, x.indisvalid as valid,
          pg_get_indexdef(i.oid) as def
        from pg_index x join pg_class i on i.oid = x.indexrelid join pg_class c on c.oid = x.indrelid
          join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = ${schema} and c.relname = 'orders' order by 1`)
    ).map((r) => `${r.def.replace(` ON ${schema}.orders `, ' ON orders ')}${r.valid ? '' : ' (invalid)'}`);

  it('a shadow copy is filled without its read indexes, and gets them (once, under the live names) when it has caught up', async () => {
    const storage = createProjectionStorage(
      t.database,
      createPostgresEventStore({ db: t.database, schemas: orderEventSchemas, personal: testDataKeys(t.database) }),
      [auditProjection],
    );
    await storage.load('orders');
    const rebuildOrders = async () => {
      await t.database.rows(sql`update projections set state = 'REBUILDING' where name = 'orders'`);
      await storage.prepareShadow('orders', ['orders']);
    };
    const noEvents = async () => {};
    const live = await indexesOfOrders('public');
    expect(live).toContain('CREATE INDEX orders_total_idx ON orders USING btree (total_amount, id)');
    try {
      await rebuildOrders();
      // The primary key stays: upserts need it.
      expect(await indexesOfOrders('converge_shadow_orders')).toEqual([
        'CREATE UNIQUE INDEX orders_pkey ON orders USING btree (id, tenant_id)',
      ]);
      // Two at once (a process that took over while the first one's build still ran): PostgreSQL may
      // refuse one of two concurrent builds of an index (a deadlock, the name taken meanwhile, or, rarely,
      // an internal error about the index the other one dropped under it); the runner retries, as here.
      // Never a duplicate.
      const both = await Promise.allSettled([storage.completeShadow('orders', ['orders']), storage.completeShadow('orders', ['orders'])]);
      expect(both).toContainEqual({ status: 'fulfilled', value: true });
      for (const result of both) {
        if (result.status === 'rejected') expect((driverError(result.reason) as { code?: string }).code).toMatch(/^(40P01|23505|XX000)$/);
      }
      await storage.completeShadow('orders', ['orders']);
      expect(await indexesOfOrders('converge_shadow_orders')).toEqual(live);
      expect(await storage.completeShadow('orders', ['orders'])).toBe(false);

      // What a build cut short leaves (an invalid index) is built again.
      await t.database.rows(
        sql`update pg_index set indisvalid = false where indexrelid = 'converge_shadow_orders.orders_total_idx'::regclass`,
      );
      expect(await indexesOfOrders('converge_shadow_orders')).toContain(
        'CREATE INDEX orders_total_idx ON orders USING btree (total_amount, id) (invalid)',
      );
      expect(await storage.completeShadow('orders', ['orders'])).toBe(true);
      expect(await indexesOfOrders('converge_shadow_orders')).toEqual(live);

      // A migration redefines an index meanwhile, under the same name (as drizzle-kit does): the copy follows.
      await t.database.rows(sql`drop index orders_total_idx`);
      await t.database.rows(sql`create index orders_total_idx on orders (total_amount desc, id)`);
      const redefined = await indexesOfOrders('public');
      expect(redefined).toContain('CREATE INDEX orders_total_idx ON orders USING btree (total_amount DESC, id)');
      expect(await storage.completeShadow('orders', ['orders'])).toBe(true);
      expect(await indexesOfOrders('converge_shadow_orders')).toEqual(redefined);
      expect(await storage.completeShadow('orders', ['orders'])).toBe(false);
      expect(await storage.swap('orders', ['orders'], null, noEvents)).toMatchObject({ kind: 'applied' });
      expect(await indexesOfOrders('public')).toEqual(redefined);

      // A copy that lacks an index is never swapped in: the rebuild starts over instead.
      await rebuildOrders();
      expect(await storage.swap('orders', ['orders'], null, noEvents)).toEqual({ kind: 'stale' });
      const [record] = await loadProjectionRecords(t.database, ['orders']);
      expect(record).toMatchObject({ state: 'REBUILDING', rebuildPosition: null });
      expect(await indexesOfOrders('public')).toEqual(redefined);
    } finally {
      await t.database.rows(sql`drop schema if exists converge_shadow_orders cascade`);
      await t.database.rows(sql`drop index if exists orders_total_idx`);
      await t.database.rows(sql`create index orders_total_idx on orders (total_amount, id)`);
      await t.database.rows(sql`update projections set state = 'RUNNING', rebuild_position_tx = null, rebuild_position = null`);
    }
    expect(await indexesOfOrders('public')).toEqual(live);
  });

  it.each([
    ['at least', 50, true],
    ['fewer than', 1000, false],
  ])('a first build over %s firstBuildAsRebuildFrom events goes through shadow copies: %s', async (_, threshold, asRebuild) => {
    services = await startOrderServices(t.database, { runProjections: false });
    for (let i = 0; i < 40; i++) {
      const o = await createOrder(services, { customerId: `c-${i % 7}` });
      if (i % 2 === 0) await addItem(services, o.streamId);
    }
    const token = await headToken(services);
    await services.stop();
    const indexesBefore = await indexesOfOrders('public');
    const messages: string[] = [];
    const log: Logger = {
      ...silentLogger,
      info: (details, message) => void messages.push(`${message}: ${(details as { projection?: string }).projection}`),
    };
    // Where the writes of `orders` went: a rebuild step's in its transaction, to the shadow copy; a live
    // step's in the one statement that also moves its checkpoint, on the pool.
    const watched = watchStatements(t.database);
    services = await startOrderServices(watched.database, {
      projectionFirstBuildAsRebuildFrom: threshold,
      projectionBatchSize: 20,
      log,
    });
    await settled(services, token);

    const rebuilt = ALL.map((name) => `projection building from scratch as a rebuild: ${name}`);
    if (asRebuild) expect(messages).toEqual(expect.arrayContaining(rebuilt));
    else expect(messages.filter((m) => m.includes('rebuild'))).toEqual([]);
    // A first build as a rebuild never steps the (empty) live copy as well.
    const writes = watched.sent.filter((s) => /insert into "orders"/.test(s.text));
    expect(new Set(writes.map((s) => s.via))).toEqual(new Set([asRebuild ? 'transaction' : 'pool']));
    for (const status of await services.admin.status(SYSTEM_CALLER)) {
      expect(status).toMatchObject({ state: 'RUNNING', rebuildPosition: null, lagEvents: 0 });
    }
    await expectOrdersMatchStore(t.database, services.store);
    const [summaries] = await t.database.rows<{ n: number }>(sql`select sum(order_count)::int as n from customer_summaries`);
    expect(summaries!.n).toBe(40);
    expect(await indexesOfOrders('public')).toEqual(indexesBefore);
    expect(await t.database.rows(sql`select nspname from pg_namespace where nspname like 'converge_%'`)).toEqual([]);
  });

  const concurrentWriters = async (writers: number, seconds: number) => {
    const deadline = Date.now() + seconds * 1000;
    // Keys are made on their own statements, never in the append's transaction (an append must be its first
    // write, and PGlite's one connection is the transaction's): made before, then taken from the cache.
    const keys = testDataKeys(t.database);
    for (let w = 0; w < 5; w++) await keys.keyFor(`c-${w}`);
    let n = 0;
    await Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        const streams: string[] = [];
        while (Date.now() < deadline) {
          const i = n++;
          await t.database.transaction(async (tx) => {
            const store = createPostgresEventStore({ db: tx, schemas: orderEventSchemas, personal: keys });
            if (streams.length === 0 || i % 3 === 0) {
              const orderId = `w${w}-${i}`;
              streams.push(orderId);
              await store.append(
                orderId,
                [
                  {
                    type: 'OrderCreated',
                    data: {
                      orderId,
                      customerId: `c-${w % 5}`,
                      items: [{ productId: 'p', quantity: 1, unitPrice: '1.00' }],
                      shippingAddress: address,
                      createdAt: new Date().toISOString(),
                    },
                  },
                ],
                { streamType: 'Order', expectedVersion: 'no_stream' },
              );
            } else {
              const orderId = streams[i % streams.length]!;
              await store.append(
                orderId,
                [
                  {
                    type: 'OrderItemAdded',
                    data: { orderId, productId: `p${i}`, quantity: 1, unitPrice: '0.10', addedAt: new Date().toISOString() },
                  },
                ],
                { streamType: 'Order', expectedVersion: 'any' },
              );
            }
            // Commit late, by a random delay, so that commits land out of position order.
            await sleep(Math.random() * 15);
          });
        }
      }),
    );
  };

  const runs = onPostgres ? 10 : 1;
  it(`${onPostgres ? 32 : 4} concurrent writers with randomly delayed commits: the read model equals the store, no event skipped or repeated (${runs} runs)`, async () => {
    for (let run = 0; run < runs; run++) {
      await t.reset();
      services = await startOrderServices(t.database, { projections: (d) => [...d, auditProjection], projectionBatchSize: 50 });
      await concurrentWriters(onPostgres ? 32 : 4, onPostgres ? 1.5 : 1);
      await settled(services, await headToken(services), [...ALL, 'audit']);
      const events = await allEvents(services.store);
      const audited = await t.database.rows<{ pos: string }>(sql`select pos::text as pos from audit_events order by audit_events.pos`);
      const byPosition = (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0);
      expect(
        audited.map((r) => BigInt(r.pos)),
        `run ${run}`,
      ).toEqual(events.map((e) => e.position.pos).sort(byPosition));
      expect(new Set(events.map((e) => e.position.pos)).size).toBe(events.length);
      await expectOrdersMatchStore(t.database, services.store);
      await expectSummariesMatchOrders();
      expect((await services.admin.status(SYSTEM_CALLER)).every((s) => s.state === 'RUNNING')).toBe(true);
      await services.stop();
      services = undefined;
    }
  });

  itIf(
    needsPostgres('LISTEN/NOTIFY and pg_terminate_backend'),
    'the LISTEN connection killed while writes go on: progress resumes, nothing lost',
    async () => {
      // A poll slower than the test: progress can only come from the re-connected listener.
      services = await startOrderServices(t.database, { projectionPollMs: 120_000 });
      const listening = sql`from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid() and query ilike 'listen%'`;
      let last = '';
      for (let round = 0; round < 3; round++) {
        // The listener killed in the last round reconnects after a backoff; steps are faster than that.
        for (let i = 0; i < 250 && (await t.database.rows(sql`select 1 ${listening}`)).length === 0; i++) await sleep(20);
        const writes = (async () => {
          for (let i = 0; i < 20; i++) last = (await createOrder(services!, { customerId: `c-${i % 4}` })).consistencyToken;
        })();
        await sleep(20);
        const killed = await t.database.rows<{ ok: boolean }>(sql`select pg_terminate_backend(pid) as ok ${listening}`);
        expect(killed.length).toBeGreaterThan(0);
        await writes;
        await settled(services, last);
      }
      await expectOrdersMatchStore(t.database, services.store);
      await expectSummariesMatchOrders();
    },
  );

  it('waitFor is pushed: it resolves on the progress notification with no poll to help', async () => {
    services = await startOrderServices(t.database, { projectionPollMs: 120_000 });
    const api = await startOrderServices(t.database, { runProjections: false });
    try {
      // The wait starts while the projections are paused; only their progress, pushed to this API-only
      // process (which reads the checkpoints on its own only when its listener reconnects), can end it.
      for (const name of ALL) await services.admin.pause(name, SYSTEM_CALLER);
      const o = await createOrder(services);
      const token = decodeToken(o.consistencyToken);
      const heard: string[] = [];
      api.tracker.subscribe((p) => p.position && isAtOrAfter(p.position, token) && heard.push(p.projection));
      const waiting = api.tracker.waitFor(token, ALL, 10_000).then((r) => {
        heard.push('resolved');
        return r;
      });
      heard.push('waiting');
      for (const name of ALL) await services.admin.resume(name, SYSTEM_CALLER);
      expect(await waiting).toMatchObject({ stale: false });
      expect(heard[0]).toBe('waiting');
      expect(heard.slice(1, 3).sort()).toEqual([...ALL].sort());
      expect(heard[3]).toBe('resolved');
      await services.admin.pause('customer_summaries', SYSTEM_CALLER);
      const p = await addItem(services, o.streamId);
      expect(await api.tracker.waitFor(decodeToken(p.consistencyToken), ['customer_summaries'], 200)).toMatchObject({ stale: true });
      expect(await api.tracker.waitFor(decodeToken(p.consistencyToken), ['orders'], 10_000)).toMatchObject({ stale: false });
    } finally {
      await api.stop();
    }
  });

  it('reports lag while behind and resumes from a pause where it stopped', async () => {
    services = await startOrderServices(t.database);
    await services.admin.pause('orders', SYSTEM_CALLER);
    let token = '';
    for (let i = 0; i < 5; i++) token = (await createOrder(services)).consistencyToken;
    await settled(services, token, ['customer_summaries']);
    const paused = (await services.admin.status(SYSTEM_CALLER)).find((s) => s.name === 'orders')!;
    expect(paused).toMatchObject({ state: 'PAUSED', lagEvents: 5 });
    await expect(services.admin.pause('nope', SYSTEM_CALLER)).rejects.toThrow(/No projection named nope/);
    await expect(services.admin.resume('customer_summaries', SYSTEM_CALLER)).rejects.toThrow(/while it is RUNNING/);
    await services.admin.resume('orders', SYSTEM_CALLER);
    await settled(services, token);
    expect((await services.admin.status(SYSTEM_CALLER)).find((s) => s.name === 'orders')).toMatchObject({ state: 'RUNNING', lagEvents: 0 });
    const position: Position | null = (await services.admin.status(SYSTEM_CALLER))[0]!.position;
    expect(position && encodeToken(position)).toBe(token);
  });
});

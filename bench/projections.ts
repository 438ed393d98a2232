// Scenario `projections`: the read side on PostgreSQL.
//   converge catchup                  CATCHUP_EVENTS Order events, bulk-inserted into `events` (untimed),
//                                     replayed by createServices' projection host into `orders` and
//                                     `customer_summaries` until both reach the head; events/s
//   raw      catchup                  the same two read models derived straight from `events` by one
//                                     INSERT … SELECT each, into copies of the tables with the same
//                                     indexes; events/s over the same events
//   converge read-your-writes         one process writes and projects; under ~BACKGROUND_RATE commands/s
//                                     of open-loop background load, a foreground command every
//                                     RYW_INTERVAL_MS, and the time from its dispatch resolving (append
//                                     committed) to tracker.waitFor(token, both projections) resolving
//   converge read-your-writes-remote  the same, but commands and the wait go through a second
//                                     createServices (runProjections: false, own pool) that learns of
//                                     progress only from PostgreSQL notifications
//   raw      read-your-writes         the physical limit (raw-ryw.ts): postgres.js alone, an insert +
//                                     NOTIFY, a projector child process, the same background rate; its
//                                     p50/p99 is the wait plus the select of the row (waitP50ms: the
//                                     wait alone, which is what the Converge lines time)
//   converge read-your-writes-worker  the remote variant with the projections in a server process of
//                                     their own (a worker, as `npm start` runs the server; every module
//                                     only); its CPU per command counts the worker's
// Read-your-writes runs every module (RYW_MODULES=all, as in production: the fulfilment process reacts
// to each order too) or the orders module alone (RYW_MODULES=orders, as before issue 32).
// Env: CATCHUP_EVENTS (200000); PROJECTION_BATCH (2000, the best of 500/1000/2000 here; a list such as
// "500 1000 2000" sweeps, and the fastest is kept for read-your-writes); BACKGROUND_RATE (500);
// RYW_INTERVAL_MS (20); RYW_REMOTE (1; 0 skips the remote variant); RYW_WORKER (1; 0 skips the worker variant); RYW_RAW (1; 0 skips the raw
// baseline); RYW_RAW_NOTIFY (after-commit | in-transaction: where the raw writer's NOTIFY goes, see
// raw-ryw.ts); RYW_MODULES (all | orders); PROJECTIONS_DB
// (converge_projections_bench); and lib.ts's DURATION_S, WARMUP_S, POOL_MAX, RESET.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'drizzle-orm';
import { createServices, type Services } from '../src/services.ts';
import type { CommandResult } from '../src/core/command-handler.ts';
import { decodeToken, type Position } from '../src/core/position.ts';
import type { Database } from '../src/infra/db/database.ts';
import { openDatabase } from '../src/infra/db/open-database.ts';
import { migrate } from '../src/infra/db/migrate.ts';
import { SYSTEM_CALLER } from '../src/core/caller.ts';
import { parseCommand } from '../src/core/command-input.ts';
import { ordersModule } from '../src/orders/module.ts';
import { orderAggregate } from '../src/orders/order-aggregate.ts';
import { MODULES } from '../src/modules.ts';
import { TEST_DATA_KEY_SECRET } from '../src/infra/privacy/master-key.ts';
import {
  checkpoint,
  databaseUrl,
  ensureDatabase,
  env,
  log,
  percentile,
  positiveNumber,
  ratio,
  recorderWithLoad,
  round,
  truncatePublicTables,
  type BenchConfig,
  type BenchContext,
  type Measurement,
  type ScenarioOutcome,
} from './lib.ts';
import { measureRawReadYourWrites, type RawRywResult } from './raw-ryw.ts';
import { cpuMsOf, databaseCpuMs } from './cpu.ts';
import { startChild } from './server.ts';

// A database of its own: the catch-up truncates everything and counts what it finds, and converge_bench
// is written by the append and http scenarios (a concurrent http run once added 1424 orders mid-catch-up).
const PROJECTIONS_DB = 'converge_projections_bench';
const PROJECTIONS = ['orders', 'customer_summaries'] as const;
const CATCHUP = 'catchup';
const RYW = 'read-your-writes';
const RYW_REMOTE = 'read-your-writes-remote';
const RYW_WORKER = 'read-your-writes-worker';

// Targets of the brief, checked in the summary.
const TARGET_CATCHUP_EVENTS_PER_S = 20_000;
const TARGET_RYW_P50_MS = 5;
const TARGET_RYW_P99_MS = 25;

const CUSTOMERS = 1000;
// The bulk load's shape: every order has OrderCreated and 2x OrderItemAdded; `terminal` of them also
// an OrderCancelled (1 in 3) or OrderShipped. 3.5 events per order on average.
const EVENTS_PER_ORDER = 3.5;
// Each order's events are spread over the global order as in a live system: an order's first item
// comes ~40 orders later, its second ~300 and its end ~1500 later (slots are 10 per order).
const SLOT_OFFSETS = [0, 401, 3002, 15003] as const;
const INSERT_CHUNKS = 20;

type Extra = Record<string, number | string | boolean | null>;
type Line = Omit<Measurement, 'run'>;

function batchSizes(): number[] {
  const sizes = env('PROJECTION_BATCH', '2000')
    .split(/[\s,]+/)
    .filter(Boolean)
    .map(Number);
  if (sizes.length === 0 || sizes.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new Error(`PROJECTION_BATCH must be positive integers, got ${JSON.stringify(process.env.PROJECTION_BATCH)}`);
  }
  return sizes;
}

// ------------------------------------------------------------------------------------------------
// Set-up

/** The read models and the checkpoints, not the events: the next catch-up starts from zero. */
export async function resetReadModels(database: Database): Promise<void> {
  const tables = [...new Set(ordersModule.projections.flatMap((p) => p.tables)), 'projections'];
  await database.rows(sql.raw(`truncate ${tables.map((t) => `"${t}"`).join(', ')}`));
}

export type Dataset = { events: number; orders: number; terminal: number };

export function datasetFor(events: number): Dataset {
  const orders = Math.max(1, Math.round(events / EVENTS_PER_ORDER));
  const terminal = events - 3 * orders;
  if (terminal < 0 || terminal > orders) throw new Error(`cannot shape ${events} events into orders`);
  return { events, orders, terminal };
}

/**
 * Inserts the data set into `events` in INSERT_CHUNKS statements (so transactions), each in slot
 * order: every stream's versions are in global order, and streams interleave as in a live system.
 */
export async function loadEvents(database: Database, data: Dataset): Promise<void> {
  // `ends`: exactly data.terminal of the orders get a fourth event, spread evenly.
  const maxSlot = 10 * data.orders + SLOT_OFFSETS[3];
  const width = Math.ceil((maxSlot + 1) / INSERT_CHUNKS);
  const [o1, o2, o3, o4] = SLOT_OFFSETS;
  for (let lo = 0; lo <= maxSlot; lo += width) {
    const hi = lo + width;
    await database.rows(sql`
      with o as materialized (
        select i,
          md5('converge-bench-order-' || i)::uuid::text as id,
          'customer-' || ((i::bigint * 7919) % ${CUSTOMERS}::int) as customer_id,
          (((i + 1)::bigint * ${data.terminal}::int) / ${data.orders}::int) > ((i::bigint * ${data.terminal}::int) / ${data.orders}::int) as ends
        from generate_series(0, ${data.orders}::int - 1) as i
      ), e as (
        select id, 1 as version, 'OrderCreated' as type, 10 * i + ${o1}::int as slot,
          jsonb_build_object(
            'orderId', id,
            'customerId', customer_id,
            'items', jsonb_build_array(jsonb_build_object('productId', 'sku-' || (i % 500), 'quantity', 1 + i % 5, 'unitPrice', '9.99')),
            'shippingAddress', jsonb_build_object(
              'line1', (1 + i % 200) || ' Main St',
              'city', (array['Berlin', 'Hamburg', 'München', 'Köln', 'Frankfurt am Main'])[1 + i % 5],
              'postalCode', lpad(((10000 + i * 37) % 99999)::text, 5, '0'),
              'country', 'DE'),
            'createdAt', ${isoAt(sql`10 * i + ${o1}::int`)}) as data
        from o
        union all
        select id, 1 + n, 'OrderItemAdded', 10 * i + offs,
          jsonb_build_object(
            'orderId', id,
            'productId', 'sku-' || ((i * 7 + n) % 500),
            'quantity', 1 + (i + n) % 3,
            'unitPrice', (array['4.50', '12.00', '19.99', '0.99'])[1 + (i + n) % 4],
            'addedAt', ${isoAt(sql`10 * i + offs`)})
        from o, (values (1, ${o2}::int), (2, ${o3}::int)) as item(n, offs)
        union all
        select id, 4, case when i % 3 = 0 then 'OrderCancelled' else 'OrderShipped' end, 10 * i + ${o4}::int,
          case when i % 3 = 0
            then jsonb_build_object('orderId', id, 'reason', 'customer request', 'cancelledAt', ${isoAt(sql`10 * i + ${o4}::int`)})
            else jsonb_build_object('orderId', id, 'shippedAt', ${isoAt(sql`10 * i + ${o4}::int`)})
          end
        from o where ends
      )
      insert into events (stream_id, stream_type, version, type, schema_version, data, metadata)
      select id, 'Order', version, type, 1, data, '{}'::jsonb
      from e where slot >= ${lo}::int and slot < ${hi}::int
      order by slot`);
  }
}

/** A slot's time: 100 ms apart from 2024-01-01, as ISO-8601 UTC with milliseconds. */
function isoAt(slot: ReturnType<typeof sql>) {
  return sql`to_char((timestamptz '2024-01-01 00:00:00+00' + (${slot}) * interval '100 milliseconds') at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
}

export async function verifyLoad(database: Database, data: Dataset): Promise<void> {
  const [row] = await database.rows<{ events: number; streams: number; disordered: number }>(sql`
    select count(*)::int as events, count(distinct stream_id)::int as streams,
      (select count(*)::int from (
        select version, lag(version) over (partition by stream_id order by transaction_id, global_position) as previous
        from events) v where version <> coalesce(previous, 0) + 1) as disordered
    from events`);
  if (row?.events !== data.events || row.streams !== data.orders || row.disordered !== 0) {
    throw new Error(`bulk load check failed: ${JSON.stringify(row)}, expected ${data.events} events in ${data.orders} streams`);
  }
}

// ------------------------------------------------------------------------------------------------
// Catch-up

type CatchupResult = { seconds: number; batch: number };

export async function convergeCatchup(database: Database, data: Dataset, batch: number): Promise<CatchupResult> {
  const services = createServices(database, {
    modules: [ordersModule],
    runProjections: true,
    consistencyTimeoutMs: 5000,
    projectionBatchSize: batch,
  });
  const head = await services.store.headPosition();
  if (!head) throw new Error('no visible events to catch up on');
  const t0 = performance.now();
  let seconds: number;
  try {
    await services.start();
    const { stale } = await services.tracker.waitFor(head, PROJECTIONS, 600_000);
    seconds = (performance.now() - t0) / 1000;
    if (stale) throw new Error('catch-up did not reach the head within 600 s');
  } finally {
    await services.stop();
  }
  const [orders] = await database.rows<{ n: number }>(sql`select count(*)::int as n from orders`);
  const [summaries] = await database.rows<{ n: number | null }>(sql`select sum(order_count)::int as n from customer_summaries`);
  if (orders?.n !== data.orders || summaries?.n !== data.orders) {
    throw new Error(`catch-up check failed: ${orders?.n} orders, sum(order_count) ${summaries?.n}; expected ${data.orders}`);
  }
  return { seconds, batch };
}

// Copies of the read-model tables, with the indexes the migrations give the real ones (pg_trgm GIN
// included). `like … including all` copies columns, constraints and indexes.
const RAW_ORDERS = 'raw_catchup_orders';
const RAW_SUMMARIES = 'raw_catchup_customer_summaries';

async function dropRawTables(database: Database): Promise<void> {
  await database.rows(sql.raw(`drop table if exists ${RAW_ORDERS}, ${RAW_SUMMARIES}`));
}

// The time an event happened, whichever its type.
const EVENT_TIME = `coalesce(e.data->>'createdAt', e.data->>'addedAt', e.data->>'cancelledAt', e.data->>'shippedAt')::timestamptz`;

// One row per order line (OrderCreated's items, then each OrderItemAdded), and one per other event.
const EVENT_LINES = `events e
  left join lateral jsonb_array_elements(case e.type
      when 'OrderCreated' then e.data->'items'
      when 'OrderItemAdded' then jsonb_build_array(e.data - 'orderId' - 'addedAt')
    end) with ordinality as l(item, n) on true
  where e.stream_type = 'Order'`;

const LINE_TOTAL = `((l.item->>'quantity')::int * (l.item->>'unitPrice')::numeric)`;

/** What the orders projection writes, row for row, in one statement. */
const RAW_ORDERS_INSERT = `insert into ${RAW_ORDERS} (id, customer_id, status, items, item_count, total_amount,
    shipping_address, version, created_at, updated_at, shipped_at, cancelled_at, cancel_reason, search_text)
  select id, customer_id, status, items, item_count, total_amount, shipping_address, version, created_at, updated_at,
    shipped_at, cancelled_at, cancel_reason, lower(concat_ws(chr(31), id, customer_id, products))
  from (
    select e.stream_id as id,
      min(e.data->>'customerId') as customer_id,
      case (array_agg(e.type order by e.version desc) filter (where e.type in ('OrderCancelled', 'OrderShipped')))[1]
        when 'OrderCancelled' then 'CANCELLED' when 'OrderShipped' then 'SHIPPED' else 'PLACED' end as status,
      coalesce(jsonb_agg(l.item || jsonb_build_object('lineTotal', ${LINE_TOTAL}::numeric(20, 2)::text) order by e.version, l.n)
        filter (where l.item is not null), '[]') as items,
      coalesce(sum((l.item->>'quantity')::int), 0) as item_count,
      coalesce(sum(${LINE_TOTAL}), 0) as total_amount,
      (array_agg(e.data->'shippingAddress') filter (where e.type = 'OrderCreated'))[1] as shipping_address,
      max(e.version) as version,
      min(${EVENT_TIME}) filter (where e.type = 'OrderCreated') as created_at,
      (array_agg(${EVENT_TIME} order by e.version desc))[1] as updated_at,
      max((e.data->>'shippedAt')::timestamptz) as shipped_at,
      max((e.data->>'cancelledAt')::timestamptz) as cancelled_at,
      max(e.data->>'reason') as cancel_reason,
      string_agg(l.item->>'productId', chr(31) order by e.version, l.n) as products
    from ${EVENT_LINES}
    group by e.stream_id
  ) o`;

/** What the customer_summaries projection writes (cancelled orders count, but not towards the total). */
const RAW_SUMMARIES_INSERT = `insert into ${RAW_SUMMARIES} (customer_id, order_count, cancelled_count, total_spent, last_order_at)
  select customer_id, count(*), count(*) filter (where cancelled), coalesce(sum(total) filter (where not cancelled), 0), max(created_at)
  from (
    select min(e.data->>'customerId') as customer_id,
      bool_or(e.type = 'OrderCancelled') as cancelled,
      coalesce(sum(${LINE_TOTAL}), 0) as total,
      min((e.data->>'createdAt')::timestamptz) as created_at
    from ${EVENT_LINES}
    group by e.stream_id
  ) o
  group by customer_id`;

async function rawCatchup(database: Database, url: string, config: BenchConfig) {
  await dropRawTables(database);
  await database.rows(sql.raw(`create table ${RAW_ORDERS} (like orders including all)`));
  await database.rows(sql.raw(`create table ${RAW_SUMMARIES} (like customer_summaries including all)`));
  if (config.reset) await checkpoint(url);
  const t0 = performance.now();
  await database.rows(sql.raw(RAW_ORDERS_INSERT));
  const t1 = performance.now();
  await database.rows(sql.raw(RAW_SUMMARIES_INSERT));
  const t2 = performance.now();
  return { seconds: (t2 - t0) / 1000, ordersSeconds: (t1 - t0) / 1000, summariesSeconds: (t2 - t1) / 1000 };
}

/** Rows in one read model that the other lacks (either way), after the raw baseline: should be 0. */
async function compareWithRaw(database: Database): Promise<{ orders: number; summaries: number }> {
  const orderColumns = `id, customer_id, status, items, item_count, total_amount, shipping_address, version, created_at,
    updated_at, shipped_at, cancelled_at, cancel_reason, search_text`;
  const summaryColumns = 'customer_id, order_count, cancelled_count, total_spent, last_order_at';
  const differing = async (table: string, raw: string, columns: string) => {
    const [row] = await database.rows<{ n: number }>(
      sql.raw(`select count(*)::int as n from (
      (select ${columns} from ${table} except all select ${columns} from ${raw})
      union all
      (select ${columns} from ${raw} except all select ${columns} from ${table})) d`),
    );
    return row?.n ?? -1;
  };
  return {
    orders: await differing('orders', RAW_ORDERS, orderColumns),
    summaries: await differing('customer_summaries', RAW_SUMMARIES, summaryColumns),
  };
}

// ------------------------------------------------------------------------------------------------
// Read-your-writes

const customerOf = (n: number) => `customer-${n % CUSTOMERS}`;
const createInput = (n: number) => ({
  customerId: customerOf(n * 7919),
  items: [{ productId: `sku-${n % 500}`, quantity: 1 + (n % 5), unitPrice: '9.99' }],
  shippingAddress: { line1: `${1 + (n % 200)} Main St`, city: 'Berlin', postalCode: '10115', country: 'DE' },
});
const addInput = (orderId: string, n: number) => ({
  orderId,
  productId: `sku-${(n * 7) % 500}`,
  quantity: 1 + (n % 3),
  unitPrice: '12.00',
});

/** Lines an order gets before the generators leave it (MAX_LINES is 100). */
const LINES_PER_ORDER = 10;

/**
 * Open-loop background load: `rate` commands/s, whether or not earlier ones have finished (up to a
 * cap in flight, past which ticks are dropped and counted). One in four is a CreateOrder, the others
 * AddOrderItem on a random open order of the generator's own.
 */
function startBackground(services: Services, rate: number) {
  const MAX_IN_FLIGHT = 1000;
  const open: { id: string; lines: number }[] = [];
  let issued = 0;
  let completed = 0;
  let errors = 0;
  let dropped = 0;
  let inFlight = 0;
  let firstError: unknown;
  let stopping = false;
  const drained: (() => void)[] = [];

  const one = async (n: number) => {
    const order = n % 4 === 0 || open.length === 0 ? undefined : open[Math.floor(Math.random() * open.length)]!;
    if (order) {
      order.lines++;
      if (order.lines >= LINES_PER_ORDER) open.splice(open.indexOf(order), 1);
      await services.commands.dispatch(
        parseCommand(orderAggregate.inputs, 'AddOrderItem', addInput(order.id, n), { caller: SYSTEM_CALLER }),
      );
    } else {
      const created = await services.commands.dispatch(
        parseCommand(orderAggregate.inputs, 'CreateOrder', createInput(n), { caller: SYSTEM_CALLER }),
      );
      open.push({ id: created.streamId, lines: 1 });
      if (open.length > 200) open.shift();
    }
  };

  const start = performance.now();
  const loop = (async () => {
    while (!stopping) {
      const due = Math.floor(((performance.now() - start) / 1000) * rate);
      for (; issued < due; issued++) {
        if (inFlight >= MAX_IN_FLIGHT) {
          dropped++;
          continue;
        }
        inFlight++;
        one(issued)
          .then(
            () => completed++,
            (error: unknown) => {
              errors++;
              firstError ??= error;
            },
          )
          .finally(() => {
            inFlight--;
            if (inFlight === 0) for (const resolve of drained.splice(0)) resolve();
          });
      }
      await sleep(1);
    }
  })();

  return {
    snapshot: () => ({ at: performance.now(), completed, errors, dropped }),
    async stop() {
      stopping = true;
      await loop;
      if (inFlight > 0) await new Promise<void>((resolve) => drained.push(resolve));
      if (firstError !== undefined) log(`background first error: ${(firstError as Error)?.stack ?? String(firstError)}`);
      return { issued, completed, errors, dropped };
    },
  };
}

export type RywResult = {
  samples: number[];
  dispatchMs: number[];
  /** Per projection (in PROJECTIONS order), the wait for that one alone. */
  perProjection: number[][];
  stale: number;
  errors: number;
  seconds: number;
  background: number;
  backgroundErrors: number;
  backgroundDropped: number;
  /** CPU per command (background and foreground) of this process, which runs the services, and of the database's backends. */
  cpuMsPerCommand: number;
  dbCpuMsPerCommand: number | null;
};

/**
 * Foreground: one command at a time, one every `intervalMs`, on an order of its own (CreateOrder, then
 * AddOrderItem until LINES_PER_ORDER, then a new order). Measured: dispatch resolved -> waitFor resolved.
 */
export async function measureReadYourWrites(options: {
  writer: Services;
  waiter: Services;
  config: BenchConfig;
  rate: number;
  intervalMs: number;
  /** Each measured sample: the command's token, when its dispatch resolved and when the wait did. */
  onSample?: (token: Position, t0: number, t1: number) => void;
  /** The database whose backends' CPU time is counted. */
  dbName?: string;
  /** CPU time so far of the services' other processes (a projection worker), counted with this one's. */
  otherCpuMs?: () => number | null;
}): Promise<RywResult> {
  const { writer, waiter, config, rate, intervalMs } = options;
  let measuring = false;
  const background = startBackground(writer, rate);
  let orderId: string | undefined;
  let lines = 0;
  let n = 0;
  const phase = async (durationS: number) => {
    const samples: number[] = [];
    const dispatchMs: number[] = [];
    const perProjection = PROJECTIONS.map((): number[] => []);
    let stale = 0;
    let errors = 0;
    const start = performance.now();
    const end = start + durationS * 1000;
    for (let next = start; performance.now() < end; ) {
      try {
        const c0 = performance.now();
        let result: CommandResult;
        if (!orderId || lines >= LINES_PER_ORDER) {
          result = await writer.commands.dispatch(
            parseCommand(orderAggregate.inputs, 'CreateOrder', createInput(++n), { caller: SYSTEM_CALLER }),
          );
          orderId = result.streamId;
          lines = 1;
        } else {
          result = await writer.commands.dispatch(
            parseCommand(orderAggregate.inputs, 'AddOrderItem', addInput(orderId, ++n), { caller: SYSTEM_CALLER }),
          );
          lines++;
        }
        const token = decodeToken(result.consistencyToken);
        const t0 = performance.now();
        // Diagnostics only: when each projection alone got there (the sample is the wait for both).
        const each = PROJECTIONS.map((name, i) =>
          waiter.tracker.waitFor(token, [name], 5000).then(() => perProjection[i]!.push(performance.now() - t0)),
        );
        const waited = await waiter.tracker.waitFor(token, PROJECTIONS, 5000);
        const t1 = performance.now();
        await Promise.all(each);
        samples.push(t1 - t0);
        dispatchMs.push(t0 - c0);
        if (measuring) options.onSample?.(token, t0, t1);
        if (waited.stale) stale++;
      } catch (error) {
        errors++;
        if (errors === 1) log(`read-your-writes first error: ${(error as Error)?.stack ?? String(error)}`);
        orderId = undefined;
      }
      next += intervalMs;
      const now = performance.now();
      if (next > now) await sleep(next - now);
      else next = now; // fell behind: no burst to catch up
    }
    return { samples, dispatchMs, perProjection, stale, errors, seconds: (performance.now() - start) / 1000 };
  };
  try {
    if (config.warmupS > 0) await phase(config.warmupS);
    const before = background.snapshot();
    const cpu = process.cpuUsage();
    const other = options.otherCpuMs?.() ?? 0;
    const db = options.dbName ? databaseCpuMs(options.dbName) : null;
    measuring = true;
    const measured = await phase(config.durationS);
    const after = background.snapshot();
    const dbAfter = options.dbName ? databaseCpuMs(options.dbName) : null;
    const otherMs = (options.otherCpuMs?.() ?? 0) - other;
    const commands = after.completed - before.completed + measured.samples.length;
    return {
      ...measured,
      cpuMsPerCommand: (cpuMsOf(process.cpuUsage(cpu)) + otherMs) / commands,
      dbCpuMsPerCommand: db !== null && dbAfter !== null ? (dbAfter - db) / commands : null,
      background: (after.completed - before.completed) / ((after.at - before.at) / 1000),
      backgroundErrors: after.errors - before.errors,
      backgroundDropped: after.dropped - before.dropped,
    };
  } finally {
    await background.stop();
  }
}

/**
 * Moves the processors other than the two measured ones to the log's head: the bulk-loaded history would
 * take them minutes (the fulfilment process reads each line's product stream), while in production they
 * are caught up. The read-your-writes commands make orders of their own, so none needs that history.
 */
async function skipHistory(database: Database, names: readonly string[]): Promise<void> {
  const others = names.filter((name) => !(PROJECTIONS as readonly string[]).includes(name));
  if (others.length === 0) return;
  await database.rows(sql`
    insert into projections (name, position_tx, position)
    select n, e.transaction_id, e.global_position
    from unnest(${`{${others.join(',')}}`}::text[]) as n,
      (select transaction_id, global_position from events order by transaction_id desc, global_position desc limit 1) e
    on conflict (name) do update set position_tx = excluded.position_tx, position = excluded.position`);
}

/** Waits until every projection has processed everything visible now (e.g. the catch-up's tail). */
async function settle(services: Services): Promise<void> {
  const head = await services.store.headPosition();
  if (head) await services.tracker.waitFor(head, services.projectionNames, 600_000);
}

/** Until this database's projection locks (host.ts: class 7221) are held, as many as `count`. */
async function untilLocksHeld(database: Database, count: number): Promise<void> {
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; await sleep(50)) {
    const [row] = await database.rows<{ n: number }>(sql`select count(*)::int as n from pg_locks
      where locktype = 'advisory' and classid = 7221 and granted
        and database = (select oid from pg_database where datname = current_database())`);
    if ((row?.n ?? 0) >= count) return;
  }
  throw new Error(`the worker did not take the ${count} projection locks within 30 s`);
}

function rawRywLine(result: RawRywResult, pool: number): { line: Line; extra: Extra } {
  const sorted = (values: number[]) => [...values].sort((a, b) => a - b);
  const samples = sorted(result.samples);
  const waits = sorted(result.waits);
  const writes = sorted(result.writeMs);
  return {
    line: {
      system: 'raw',
      scenario: RYW,
      concurrency: 1,
      opsPerSec: round(result.background, 1)!,
      p50ms: round(percentile(samples, 50), 3),
      p99ms: round(percentile(samples, 99), 3),
      ops: samples.length,
      seconds: round(result.seconds, 3)!,
      errors: result.errors,
      pool,
    },
    extra: {
      background: round(result.background, 1),
      samples: samples.length,
      maxMs: round(samples.at(-1) ?? null, 3),
      waitP50ms: round(percentile(waits, 50), 3),
      waitP99ms: round(percentile(waits, 99), 3),
      writeP50ms: round(percentile(writes, 50), 3),
      writeP99ms: round(percentile(writes, 99), 3),
      backgroundDropped: result.backgroundDropped,
      ...Object.fromEntries(Object.entries(result.projector).map(([k, v]) => [`projector_${k}`, v])),
      // The writer and the projector together (the load driver's share included, as on Converge's side).
      serverCpuMsPerOp: round(result.cpuMsPerCommand, 3),
      dbCpuMsPerOp: round(result.dbCpuMsPerCommand, 3),
    },
  };
}

function rywLine(scenario: string, result: RywResult, pool: number): { line: Line; extra: Extra } {
  const samples = [...result.samples].sort((a, b) => a - b);
  const dispatch = [...result.dispatchMs].sort((a, b) => a - b);
  return {
    line: {
      system: 'converge',
      scenario,
      concurrency: 1,
      opsPerSec: round(result.background, 1)!,
      p50ms: round(percentile(samples, 50), 3),
      p99ms: round(percentile(samples, 99), 3),
      ops: samples.length,
      seconds: round(result.seconds, 3)!,
      errors: result.errors + result.backgroundErrors,
      pool,
    },
    extra: {
      background: round(result.background, 1),
      samples: samples.length,
      stale: result.stale,
      maxMs: round(samples.at(-1) ?? null, 3),
      ...Object.fromEntries(
        PROJECTIONS.flatMap((name, i) => {
          const sorted = [...result.perProjection[i]!].sort((a, b) => a - b);
          return [
            [`${name}P50ms`, round(percentile(sorted, 50), 3)],
            [`${name}P99ms`, round(percentile(sorted, 99), 3)],
          ];
        }),
      ),
      dispatchP50ms: round(percentile(dispatch, 50), 3),
      dispatchP99ms: round(percentile(dispatch, 99), 3),
      backgroundDropped: result.backgroundDropped,
      // As bench compare reads them (per command: the services in this process, and the database).
      serverCpuMsPerOp: round(result.cpuMsPerCommand, 3),
      dbCpuMsPerOp: round(result.dbCpuMsPerCommand, 3),
    },
  };
}

// ------------------------------------------------------------------------------------------------

export async function run(context: BenchContext): Promise<ScenarioOutcome> {
  const { config } = context;
  const record = recorderWithLoad(context);
  const data = datasetFor(positiveNumber('CATCHUP_EVENTS', '200000', true));
  const sizes = batchSizes();
  const rate = positiveNumber('BACKGROUND_RATE', '500');
  const intervalMs = positiveNumber('RYW_INTERVAL_MS', '20');
  const remote = env('RYW_REMOTE', '1') !== '0';
  const worker = env('RYW_WORKER', '1') !== '0';
  const rawBaseline = env('RYW_RAW', '1') !== '0';
  const rawNotify = env('RYW_RAW_NOTIFY', 'after-commit');
  if (rawNotify !== 'after-commit' && rawNotify !== 'in-transaction') {
    throw new Error(`RYW_RAW_NOTIFY must be after-commit or in-transaction, got ${JSON.stringify(rawNotify)}`);
  }
  const rywModules = env('RYW_MODULES', 'all');
  if (rywModules !== 'all' && rywModules !== 'orders')
    throw new Error(`RYW_MODULES must be all or orders, got ${JSON.stringify(rywModules)}`);
  const modules = rywModules === 'all' ? MODULES.map((m) => m.module) : [ordersModule];

  const url = databaseUrl(config.baseUrl, env('PROJECTIONS_DB', PROJECTIONS_DB));
  const dbName = decodeURIComponent(new URL(url).pathname.slice(1));
  await ensureDatabase(url);
  const database = await openDatabase({ url, poolMax: config.poolMax, applicationName: 'converge-bench' });
  const measurements: Measurement[] = [];
  const extras = new Map<Measurement, Extra>();
  const keep = (line: Line, extra: Extra) => {
    const m = record(line, extra);
    measurements.push(m);
    extras.set(m, extra);
    return m;
  };
  try {
    await migrate(database);

    // Catch-up: load once, replay once per batch size (read models reset in between).
    log(`projections: loading ${data.events} events (${data.orders} orders, ${data.terminal} ended)...`);
    const l0 = performance.now();
    await dropRawTables(database);
    await truncatePublicTables(database);
    await loadEvents(database, data);
    await database.rows(sql`vacuum (analyze) events`);
    await verifyLoad(database, data);
    log(`loaded in ${((performance.now() - l0) / 1000).toFixed(1)}s`);

    let best: { m: Measurement; batch: number } | undefined;
    for (const batch of sizes) {
      await resetReadModels(database);
      if (config.reset) await checkpoint(url);
      log(`converge ${CATCHUP} (batch ${batch})...`);
      const { seconds } = await convergeCatchup(database, data, batch);
      const m = keep(
        {
          system: 'converge',
          scenario: CATCHUP,
          concurrency: 1,
          opsPerSec: round(data.events / seconds, 1)!,
          p50ms: null,
          p99ms: null,
          ops: data.events,
          seconds: round(seconds, 3)!,
          errors: 0,
          pool: config.poolMax,
        },
        { events: data.events, orders: data.orders, batch },
      );
      if (!best || m.opsPerSec > best.m.opsPerSec) best = { m, batch };
    }

    log(`raw ${CATCHUP}...`);
    const raw = await rawCatchup(database, url, config);
    const differing = await compareWithRaw(database);
    if (differing.orders !== 0 || differing.summaries !== 0) {
      log(`warning: raw and converge read models differ: ${differing.orders} orders rows, ${differing.summaries} customer_summaries rows`);
    }
    keep(
      {
        system: 'raw',
        scenario: CATCHUP,
        concurrency: 1,
        opsPerSec: round(data.events / raw.seconds, 1)!,
        p50ms: null,
        p99ms: null,
        ops: data.events,
        seconds: round(raw.seconds, 3)!,
        errors: 0,
        pool: 1,
      },
      {
        events: data.events,
        orders: data.orders,
        ordersSeconds: round(raw.ordersSeconds, 3),
        summariesSeconds: round(raw.summariesSeconds, 3),
        differingRows: differing.orders + differing.summaries,
      },
    );
    await dropRawTables(database);

    // Read-your-writes, on top of the caught-up read models.
    const batch = best!.batch;
    const local = createServices(database, {
      modules,
      runProjections: true,
      consistencyTimeoutMs: 5000,
      projectionBatchSize: batch,
    });
    await skipHistory(database, local.projectionNames);
    await local.start();
    try {
      await settle(local);
      log(`converge ${RYW} (${rate} cmds/s background, one every ${intervalMs} ms, batch ${batch})...`);
      const result = await measureReadYourWrites({ writer: local, waiter: local, config, rate, intervalMs, dbName });
      const { line, extra } = rywLine(RYW, result, config.poolMax);
      keep(line, { ...extra, batch, modules: rywModules });

      if (rawBaseline) {
        log(`raw ${RYW} (postgres.js alone, same background rate)...`);
        const raw = await measureRawReadYourWrites({
          url,
          poolMax: config.poolMax,
          rate,
          intervalMs,
          warmupS: config.warmupS,
          durationS: config.durationS,
          notify: rawNotify,
        });
        const { line: rawLine, extra: rawExtra } = rawRywLine(raw, config.poolMax);
        keep(rawLine, { ...rawExtra, notify: rawNotify });
      }

      if (remote) {
        // A second "process": own pool, no projections, progress only through LISTEN.
        const apiDatabase = await openDatabase({ url, poolMax: config.poolMax, applicationName: 'converge-bench-api' });
        const api = createServices(apiDatabase, { modules, runProjections: false, consistencyTimeoutMs: 5000 });
        try {
          await api.start();
          await settle(local);
          log(`converge ${RYW_REMOTE}...`);
          const remoteResult = await measureReadYourWrites({ writer: api, waiter: api, config, rate, intervalMs, dbName });
          const { line: remoteLine, extra: remoteExtra } = rywLine(RYW_REMOTE, remoteResult, config.poolMax);
          keep(remoteLine, { ...remoteExtra, batch, modules: rywModules });
        } finally {
          await api.stop();
          await apiDatabase.close();
        }
      }
    } finally {
      await local.stop();
    }

    if (worker && rywModules === 'all') {
      // The projections in a server process of their own (a worker: the server as `npm start` runs it,
      // every module); commands and waits in this one, which learns of progress only from PostgreSQL
      // notifications. The worker's CPU counts with this process's.
      const apiDatabase = await openDatabase({ url, poolMax: config.poolMax, applicationName: 'converge-bench-api' });
      const api = createServices(apiDatabase, { modules, runProjections: false, consistencyTimeoutMs: 5000 });
      const child = await startChild(url, config.poolMax, { DATA_KEY_SECRET: TEST_DATA_KEY_SECRET });
      try {
        await untilLocksHeld(database, api.projectionNames.length);
        await api.start();
        await settle(api);
        log(`converge ${RYW_WORKER}...`);
        let childCpu = (await child.cpuMs()) ?? 0;
        // Read between the phases' ends by measureReadYourWrites; the child answers over its stdin.
        const sampler = setInterval(() => void child.cpuMs().then((ms) => (childCpu = ms ?? childCpu)), 20);
        try {
          const result = await measureReadYourWrites({
            writer: api,
            waiter: api,
            // A fresh server through tsx: its first seconds are compilation and JIT (p99 over a second).
            config: { ...config, warmupS: Math.max(config.warmupS, 3) },
            rate,
            intervalMs,
            dbName,
            otherCpuMs: () => childCpu,
          });
          const { line, extra } = rywLine(RYW_WORKER, result, config.poolMax);
          keep(line, { ...extra, batch: best!.batch, modules: rywModules });
        } finally {
          clearInterval(sampler);
        }
      } finally {
        await api.stop();
        await child.stop();
        await apiDatabase.close();
      }
    }
  } finally {
    await database.close();
  }
  return { measurements, summary: summarize(measurements, extras) };
}

function summarize(measurements: Measurement[], extras: Map<Measurement, Extra>): string {
  const lines = ['projections'];
  const catchups = measurements.filter((m) => m.system === 'converge' && m.scenario === CATCHUP);
  const raw = measurements.find((m) => m.system === 'raw' && m.scenario === CATCHUP);
  for (const m of catchups) {
    const r = ratio(m, raw);
    const verdict = m.opsPerSec >= TARGET_CATCHUP_EVENTS_PER_S ? 'ok' : `< ${TARGET_CATCHUP_EVENTS_PER_S}`;
    lines.push(
      `  catchup batch ${String(extras.get(m)?.batch).padEnd(5)} converge ${m.opsPerSec.toFixed(0).padStart(7)} events/s (${verdict}), ` +
        `raw ${raw ? raw.opsPerSec.toFixed(0) : 'n/a'} events/s, converge/raw ${r === null ? 'n/a' : `${r.toFixed(2)}x`}`,
    );
  }
  for (const scenario of [RYW, RYW_REMOTE, RYW_WORKER]) {
    const m = measurements.find((x) => x.scenario === scenario);
    if (!m) continue;
    const extra = extras.get(m) ?? {};
    const check = (value: number | null, target: number) => (value !== null && value <= target ? 'ok' : `> ${target}`);
    lines.push(
      `  ${scenario.padEnd(24)} p50 ${m.p50ms} ms (${check(m.p50ms, TARGET_RYW_P50_MS)}), p99 ${m.p99ms} ms ` +
        `(${check(m.p99ms, TARGET_RYW_P99_MS)}), ${extra.samples} samples, ${extra.stale} stale, background ${m.opsPerSec} cmds/s`,
    );
  }
  const rawRyw = measurements.find((x) => x.system === 'raw' && x.scenario === RYW);
  if (rawRyw) {
    const rawExtra = extras.get(rawRyw) ?? {};
    lines.push(
      `  raw ${RYW.padEnd(20)} p50 ${rawRyw.p50ms} ms, p99 ${rawRyw.p99ms} ms (the wait alone: ${rawExtra.waitP50ms}, ${rawExtra.waitP99ms}), ` +
        `background ${rawRyw.opsPerSec} cmds/s`,
    );
    const over = (a: number | null, b: unknown) => (a === null || typeof b !== 'number' || b === 0 ? 'n/a' : `${(a / b).toFixed(2)}x`);
    for (const scenario of [RYW, RYW_REMOTE, RYW_WORKER]) {
      const m = measurements.find((x) => x.system === 'converge' && x.scenario === scenario);
      if (!m) continue;
      lines.push(
        `  ${scenario} / raw: p50 ${over(m.p50ms, rawRyw.p50ms)}, p99 ${over(m.p99ms, rawRyw.p99ms)} ` +
          `(over the raw wait alone: ${over(m.p50ms, rawExtra.waitP50ms)}, ${over(m.p99ms, rawExtra.waitP99ms)}; goals p50 <= 1.3x, p99 <= 1.5x)`,
      );
    }
    // On a 2-core machine the latencies follow from how much of it each side keeps busy.
    for (const m of [...measurements.filter((x) => x.system === 'converge' && x.scenario.startsWith(RYW)), rawRyw]) {
      const extra = extras.get(m) ?? {};
      lines.push(
        `  CPU per command, ${m.system} ${m.scenario}: ${extra.serverCpuMsPerOp ?? 'n/a'} ms in Node, ${extra.dbCpuMsPerOp ?? 'n/a'} ms in PostgreSQL`,
      );
    }
  }
  lines.push(
    `targets: catchup >= ${TARGET_CATCHUP_EVENTS_PER_S} events/s; read-your-writes p50 <= ${TARGET_RYW_P50_MS} ms, p99 <= ${TARGET_RYW_P99_MS} ms`,
  );
  return lines.join('\n');
}

// Scenario `growth`: does Converge slow down as its store grows? For each size of GROWTH_SIZES (10k,
// 100k and 1M events) the store is filled from empty with realistic orders (projections.ts's bulk load:
// many streams of 3-4 events, interleaved as a live system writes them; one INSERT … SELECT per chunk,
// the fastest honest route), then measured, on PostgreSQL:
//   catch-up      the orders projections from zero to the head, events/s
//   append        the event store, one-event appends to new streams, c=32, appends/s
//   commands      createOrder through the command bus in process, c=32, commands/s
//   ryw           read-your-writes at ~500 commands/s (projections.ts's measure), p50/p99
//   order(id), customerOrders (a customer's first page), searchOrders (8 characters of an order id)
//                 over HTTP (a server child, bench/server.ts), c=8, p50/p99
//   disk          bytes per event of `events` (with its indexes) and of the read models
// The table prints each figure at every size and its ratio to the smallest; an SVG chart of the
// latencies goes to bench/results/growth.svg. Goal (issue 16): every figure at 1M within 1.2x of 10k.
// The processes besides the orders projections (products, fulfilment) start at the head: the bulk-loaded
// orders are history they never saw, and the fulfilment process would otherwise reserve stock for each.
// Env: GROWTH_SIZES ("10000 100000 1000000"), GROWTH_DB (converge_growth_bench), lib.ts's DURATION_S,
// WARMUP_S, POOL_MAX.
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { SYSTEM_CALLER } from '../src/core/caller.ts';
import { parseCommand } from '../src/core/command-input.ts';
import { openDatabase } from '../src/infra/db/open-database.ts';
import { migrate } from '../src/infra/db/migrate.ts';
import { createPostgresEventStore } from '../src/infra/event-store/postgres-event-store.ts';
import { ordersModule } from '../src/orders/module.ts';
import { orderAggregate } from '../src/orders/order-aggregate.ts';
import { createServices } from '../src/services.ts';
import {
  BENCH_DIR,
  checkpoint,
  databaseUrl,
  ensureDatabase,
  env,
  integerList,
  log,
  round,
  runLoad,
  truncatePublicTables,
  type BenchContext,
  type LoadResult,
  type Measurement,
  type ScenarioOutcome,
} from './lib.ts';
import { convergeCatchup, datasetFor, loadEvents, measureReadYourWrites, resetReadModels, verifyLoad } from './projections.ts';
import { createClient, dataOf, startChild } from './server.ts';

const ORDER = `query($id: ID!) { order(id: $id) { id status totalAmount items { productId quantity } } }`;
const CUSTOMER_ORDERS = `query($c: ID!) { customerOrders(customerId: $c) { total items { id status totalAmount } } }`;
const SEARCH = `query($q: String!) { searchOrders(query: $q) { total items { id } } }`;

type Row = { size: number; figures: Record<string, number | null> };

export async function run(context: BenchContext): Promise<ScenarioOutcome> {
  const { config, record } = context;
  const url = databaseUrl(config.baseUrl, env('GROWTH_DB', 'converge_growth_bench'));
  await ensureDatabase(url);
  const database = await openDatabase({ url, poolMax: config.poolMax, applicationName: 'converge-bench' });
  const measurements: Measurement[] = [];
  const rows: Row[] = [];
  const keep = (
    scenario: string,
    size: number,
    result: LoadResult,
    concurrency: number,
    extra: Record<string, number | string | null> = {},
  ) => {
    const m = record(
      { system: 'converge', scenario: `growth-${scenario}`, concurrency, ...result, pool: config.poolMax },
      { events: size, ...extra },
    );
    measurements.push(m);
    return m;
  };
  try {
    await migrate(database);
    for (const size of integerList('GROWTH_SIZES', '10000 100000 1000000', 1000)) {
      const data = datasetFor(size);
      const figures: Record<string, number | null> = {};
      log(`growth: ${size} events (${data.orders} orders)...`);
      await truncatePublicTables(database);
      const loadStarted = performance.now();
      await loadEvents(database, data);
      await database.rows(sql`vacuum (analyze) events`);
      await verifyLoad(database, data);
      log(`  loaded in ${((performance.now() - loadStarted) / 1000).toFixed(1)} s`);

      await resetReadModels(database);
      const { seconds } = await convergeCatchup(database, data, 2000);
      figures['catch-up events/s'] = round(size / seconds, 0);
      keep(
        'catchup',
        size,
        { ops: size, seconds: round(seconds, 3), opsPerSec: round(size / seconds, 1), p50ms: null, p99ms: null, errors: 0 },
        1,
      );
      await database.rows(sql`vacuum (analyze)`);

      const [disk] = await database.rows<{ events: number; models: number }>(sql`
        select pg_total_relation_size('events')::float8 as events,
          (pg_total_relation_size('orders') + pg_total_relation_size('customer_summaries'))::float8 as models`);
      figures['events bytes/event'] = round(disk!.events / size, 0);
      figures['read models bytes/event'] = round(disk!.models / size, 0);

      // In process: appends and commands at c=32, then read-your-writes at ~500 commands/s.
      const store = createPostgresEventStore({ db: database });
      const append = await runLoad({
        concurrency: 32,
        durationS: config.durationS,
        op: () =>
          store
            .append(`growth-${randomUUID()}`, [{ type: 'Noted', data: { at: Date.now() } }], {
              expectedVersion: 'no_stream',
              streamType: 'Note',
            })
            .then(() => {}),
      });
      figures['append/s c=32'] = append.opsPerSec;
      keep('append', size, append, 32);
      await checkpoint(url);
      const services = createServices(database, { modules: [ordersModule], runProjections: true, consistencyTimeoutMs: 5000 });
      await services.start();
      try {
        let n = 0;
        const commands = await runLoad({
          concurrency: 32,
          durationS: config.durationS,
          op: () =>
            services.commands
              .dispatch(
                parseCommand(
                  orderAggregate.inputs,
                  'CreateOrder',
                  {
                    customerId: `customer-${n++ % 1000}`,
                    items: [{ productId: 'sku-1', quantity: 1, unitPrice: '9.99' }],
                    shippingAddress: { line1: '1 Main St', city: 'Berlin', postalCode: '10115', country: 'DE' },
                  },
                  { caller: SYSTEM_CALLER },
                ),
              )
              .then(() => {}),
        });
        figures['commands/s c=32'] = commands.opsPerSec;
        keep('commands', size, commands, 32);
        const head = await services.store.headPosition();
        if (head) await services.tracker.waitFor(head, ['orders', 'customer_summaries'], 120_000);
        const ryw = await measureReadYourWrites({ writer: services, waiter: services, config, rate: 500, intervalMs: 20 });
        const sorted = [...ryw.samples].sort((a, b) => a - b);
        const p = (q: number) =>
          round(sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((q / 100) * sorted.length) - 1))] ?? null, 3);
        figures['ryw p50 ms'] = p(50);
        figures['ryw p99 ms'] = p(99);
        keep(
          'ryw',
          size,
          {
            ops: sorted.length,
            seconds: round(ryw.seconds, 3),
            opsPerSec: round(sorted.length / ryw.seconds, 1),
            p50ms: p(50),
            p99ms: p(99),
            errors: ryw.errors,
          },
          1,
          { stale: ryw.stale },
        );
      } finally {
        await services.stop();
      }

      // Over HTTP: every process besides the orders projections starts at the head (see above).
      await database.rows(sql`insert into projections (name, position_tx, position)
        select name, e.transaction_id, e.global_position
        from (values ('products'), ('order_fulfilments'), ('fulfilment')) as p(name),
          (select transaction_id, global_position from events order by transaction_id desc, global_position desc limit 1) e
        on conflict (name) do update set position_tx = excluded.position_tx, position = excluded.position`);
      const ids = (await database.rows<{ id: string }>(sql`select id from orders order by md5(id) limit 2000`)).map((r) => r.id);
      // The writes above (a bulk load of up to a gigabyte of WAL): their checkpoint is not the reads' cost.
      await database.rows(sql`vacuum (analyze)`);
      await checkpoint(url);
      const server = await startChild(url, config.poolMax);
      const client = createClient(server.url, 8);
      try {
        let i = 0;
        const timedHttp = async (name: string, scenario: string, op: () => Promise<void>) => {
          if (config.warmupS > 0) await runLoad({ concurrency: 8, durationS: config.warmupS, op });
          const result = await runLoad({ concurrency: 8, durationS: config.durationS, op });
          figures[`${name} p50 ms`] = result.p50ms;
          figures[`${name} p99 ms`] = result.p99ms;
          keep(scenario, size, result, 8);
        };
        await timedHttp('order(id)', 'order-by-id', async () => {
          const id = ids[i++ % ids.length]!;
          if ((dataOf(await client.post(ORDER, { id }), 'order').order as { id: string } | null)?.id !== id)
            throw new Error(`order ${id} not found`);
        });
        await timedHttp('customerOrders', 'customer-orders', async () => {
          dataOf(await client.post(CUSTOMER_ORDERS, { c: `customer-${i++ % 1000}` }), 'customerOrders');
        });
        // A selective search (the first 8 characters of an order's id): what the index does as the store
        // grows. A term that matches a fixed share of all orders (a city) counts more rows at every size.
        await timedHttp('searchOrders', 'search-orders', async () => {
          const found = dataOf(await client.post(SEARCH, { q: ids[i++ % ids.length]!.slice(0, 8) }), 'searchOrders').searchOrders as {
            total: number;
          };
          if (found.total < 1) throw new Error('the search found nothing');
        });
      } finally {
        client.close();
        await server.stop();
      }
      rows.push({ size, figures });
      log(`  ${JSON.stringify(figures)}`);
    }
  } finally {
    await database.close();
  }
  const chart = writeChart(rows);
  return { measurements, summary: `${table(rows)}\nchart: ${chart}` };
}

/** Each figure at every size, and at the largest over the smallest (goal: within 1.2x). */
function table(rows: Row[]): string {
  if (rows.length === 0) return 'growth: nothing measured';
  const names = Object.keys(rows[0]!.figures);
  const first = rows[0]!;
  const last = rows.at(-1)!;
  const higherIsBetter = (name: string) => name.includes('/s');
  const head = ['figure'.padEnd(26), ...rows.map((r) => `${r.size}`.padStart(12)), 'last/first'.padStart(12)].join('');
  const lines = names.map((name) => {
    const a = first.figures[name];
    const b = last.figures[name];
    const change = a && b ? (higherIsBetter(name) ? a / b : b / a) : null;
    const verdict = change === null || name.includes('bytes') ? '' : change <= 1.2 ? ' ok' : ' >1.2x';
    return [
      name.padEnd(26),
      ...rows.map((r) => String(r.figures[name] ?? '-').padStart(12)),
      `${change === null ? '-' : change.toFixed(2)}x${verdict}`.padStart(12),
    ].join('');
  });
  return ['growth (last/first: how much worse the largest store is; rates inverted so that > 1 is worse)', head, ...lines].join('\n');
}

/** A small SVG: the latency figures (p50 and p99) against the store's size, on a log axis. */
function writeChart(rows: Row[]): string {
  const file = path.join(BENCH_DIR, 'results', 'growth.svg');
  const series = Object.keys(rows[0]?.figures ?? {}).filter((name) => name.endsWith(' ms'));
  const width = 720;
  const height = 420;
  const left = 60;
  const bottom = 40;
  const sizesX = rows.map((r) => Math.log10(r.size));
  const [minX, maxX] = [Math.min(...sizesX), Math.max(...sizesX, Math.min(...sizesX) + 1)];
  const maxY = Math.max(1, ...rows.flatMap((r) => series.map((s) => r.figures[s] ?? 0)));
  const x = (v: number) => left + ((v - minX) / (maxX - minX)) * (width - left - 180);
  const y = (v: number) => height - bottom - (v / maxY) * (height - bottom - 20);
  const colors = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<line x1="${left}" y1="${height - bottom}" x2="${width - 180}" y2="${height - bottom}" stroke="black"/>`,
    `<line x1="${left}" y1="20" x2="${left}" y2="${height - bottom}" stroke="black"/>`,
    `<text x="${left - 8}" y="24" text-anchor="end">${maxY.toFixed(1)} ms</text>`,
    `<text x="${left - 8}" y="${height - bottom}" text-anchor="end">0</text>`,
    ...rows.map(
      (r) =>
        `<text x="${x(Math.log10(r.size))}" y="${height - bottom + 16}" text-anchor="middle">${r.size.toLocaleString('en')} events</text>`,
    ),
  ];
  series.forEach((name, i) => {
    const color = colors[i % colors.length]!;
    const points = rows.filter((r) => r.figures[name] != null).map((r) => `${x(Math.log10(r.size))},${y(r.figures[name]!)}`);
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${points.join(' ')}"/>`);
    parts.push(`<text x="${width - 170}" y="${30 + i * 16}" fill="${color}">${name}</text>`);
  });
  parts.push('</svg>');
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, parts.join('\n'));
  return path.relative(process.cwd(), file);
}

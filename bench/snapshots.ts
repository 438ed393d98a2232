// Scenario `snapshots`: a command on a hot product whose stream holds HOT_EVENTS events (one reservation
// and one release per order, as the fulfilment process leaves them), on PostgreSQL.
//   converge product-warm              ReserveStock then ReleaseStock, its state cached by the handler
//   converge product-cold-snapshot     the same with no cache: the snapshot and the events after it read
//   converge product-cold-full         the same with no cache and no snapshots: the whole stream folded
// The goal: the cold command with snapshots at most 3x the warm one's p99.
// Env: HOT_EVENTS (100000); COLD_RUNS (200); FULL_RUNS (5); SNAPSHOTS_DB (converge_snapshots_bench).
import { performance } from 'node:perf_hooks';
import { sql } from 'drizzle-orm';
import { SYSTEM_CALLER } from '../src/core/caller.ts';
import { createCommandBus } from '../src/core/command-bus.ts';
import type { CommandHandlerDeps, CommandResult } from '../src/core/command-handler.ts';
import { parseCommand } from '../src/core/command-input.ts';
import type { Command } from '../src/core/messages.ts';
import { registerAggregate } from '../src/core/module.ts';
import type { Database } from '../src/infra/db/database.ts';
import { migrate } from '../src/infra/db/migrate.ts';
import { openDatabase } from '../src/infra/db/open-database.ts';
import { createPostgresEventStore } from '../src/infra/event-store/postgres-event-store.ts';
import { createSnapshotStore } from '../src/infra/event-store/snapshot-store.ts';
import type { ProductCommand } from '../src/inventory/decider.ts';
import { productAggregate } from '../src/inventory/product-aggregate.ts';
import {
  databaseUrl,
  ensureDatabase,
  env,
  log,
  percentile,
  positiveNumber,
  recorderWithLoad,
  round,
  truncatePublicTables,
  type BenchContext,
  type Measurement,
  type ScenarioOutcome,
} from './lib.ts';

const SKU = 'hot';
const SKU_SQL = sql.raw(`'${SKU}'`);

/** ProductCreated, then a reservation and its release per order, written in one statement. */
async function writeHotStream(database: Database, events: number) {
  const pairs = Math.floor((events - 1) / 2);
  await database.rows(sql`insert into events (stream_id, stream_type, version, type, schema_version, data, metadata)
    select ${SKU_SQL}, 'Product', 1, 'ProductCreated', 1, jsonb_build_object('sku', ${SKU_SQL}, 'name', 'Hot', 'onHand', 1000000, 'createdAt', now()), '{}'::jsonb`);
  await database.rows(sql`insert into events (stream_id, stream_type, version, type, schema_version, data, metadata)
    select ${SKU_SQL}, 'Product', 1 + n, case when n % 2 = 1 then 'StockReserved' else 'StockReleased' end, 1,
      case when n % 2 = 1
        then jsonb_build_object('sku', ${SKU_SQL}, 'orderId', 'o-' || ((n + 1) / 2), 'line', 'o-' || ((n + 1) / 2) || '@1', 'quantity', 1, 'reservedAt', now())
        else jsonb_build_object('sku', ${SKU_SQL}, 'orderId', 'o-' || (n / 2), 'quantity', 1, 'releasedAt', now()) end,
      '{}'::jsonb
    from generate_series(1, ${pairs * 2}) n`);
  await database.rows(sql`analyze events`);
  return 1 + pairs * 2;
}

/** A product command bus over the database; `deps` chooses the cache and the snapshots. */
function productBus(database: Database, deps: Partial<CommandHandlerDeps>) {
  const commands = createCommandBus<Command, CommandResult>();
  registerAggregate(commands, productAggregate, { store: createPostgresEventStore({ db: database }), ...deps });
  let order = 0;
  /** One reservation and its release: two commands, timed apiece. */
  return async (samples: number[]) => {
    const orderId = `bench-${++order}`;
    for (const [type, input] of [
      ['ReserveStock', { sku: SKU, orderId, line: `${orderId}@1`, quantity: 1 }],
      ['ReleaseStock', { sku: SKU, orderId }],
    ] as const) {
      const command = parseCommand<ProductCommand, typeof type>(productAggregate.inputs, type, input, { caller: SYSTEM_CALLER });
      const t0 = performance.now();
      await commands.dispatch(command);
      samples.push(performance.now() - t0);
    }
  };
}

export async function run(context: BenchContext): Promise<ScenarioOutcome> {
  const { config } = context;
  const record = recorderWithLoad(context);
  const hotEvents = positiveNumber('HOT_EVENTS', '100000', true);
  const coldRuns = positiveNumber('COLD_RUNS', '200', true);
  const fullRuns = positiveNumber('FULL_RUNS', '5', true);
  const url = databaseUrl(config.baseUrl, env('SNAPSHOTS_DB', 'converge_snapshots_bench'));
  await ensureDatabase(url);
  const database = await openDatabase({ url, poolMax: config.poolMax, applicationName: 'converge-bench' });
  const measurements: Measurement[] = [];
  try {
    await migrate(database);
    await truncatePublicTables(database);
    log(`converge snapshots: writing a product stream of ${hotEvents} events...`);
    const written = await writeHotStream(database, hotEvents);
    const snapshots = createSnapshotStore(database);

    const full: number[] = [];
    const fullBus = productBus(database, { stateCacheSize: 0 });
    for (let i = 0; i < fullRuns; i++) await fullBus(full);
    // Warm: one handler that keeps the state; its first commands write the snapshot as they cross a hundred.
    const warm: number[] = [];
    const warmBus = productBus(database, { snapshots });
    for (let i = 0; i < 100; i++) await warmBus([]);
    for (let i = 0; i < coldRuns; i++) await warmBus(warm);
    const cold: number[] = [];
    const coldBus = productBus(database, { stateCacheSize: 0, snapshots });
    for (let i = 0; i < coldRuns; i++) await coldBus(cold);

    const line = (scenario: string, samples: number[]) => {
      const sorted = [...samples].sort((a, b) => a - b);
      const seconds = samples.reduce((a, b) => a + b, 0) / 1000;
      return record(
        {
          system: 'converge',
          scenario,
          concurrency: 1,
          opsPerSec: round(samples.length / seconds, 1),
          p50ms: round(percentile(sorted, 50), 3),
          p99ms: round(percentile(sorted, 99), 3),
          ops: samples.length,
          seconds: round(seconds, 3),
          errors: 0,
          pool: config.poolMax,
        },
        { streamEvents: written },
      );
    };
    measurements.push(line('product-warm', warm), line('product-cold-snapshot', cold), line('product-cold-full', full));
    const [w, c, f] = measurements;
    const summary = [
      `snapshots (a product stream of ${written} events; p99 in ms)`,
      `  warm (state cached)            ${w!.p99ms}`,
      `  cold, from its snapshot        ${c!.p99ms}   ${round(c!.p99ms! / w!.p99ms!, 2)}x warm (goal: at most 3x)`,
      `  cold, the whole stream folded  ${f!.p99ms}   ${round(f!.p99ms! / w!.p99ms!, 1)}x warm`,
    ].join('\n');
    return { measurements, summary };
  } finally {
    await database.close();
  }
}

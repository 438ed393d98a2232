// Scenario `fulfilment`: the process manager between Orders and Inventory, on PostgreSQL.
//   converge fulfilment-read-your-writes  under BACKGROUND_RATE orders/s of open-loop load, a foreground
//                                         createOrder of a stock-controlled line every RYW_INTERVAL_MS; the
//                                         time from its dispatch resolving to a causal wait on
//                                         `order_fulfilments` resolving (the fulfilment process reacted and
//                                         its outcome is readable), and, for the same commands, to a wait
//                                         on `orders` alone (plain read-your-writes, for comparison)
//   converge fulfilment-catchup           the fulfilment process paused while BACKLOG orders are created,
//                                         then resumed: order events handled per second until it passes
//                                         the head
// Env: BACKGROUND_RATE (200); RYW_INTERVAL_MS (20); BACKLOG (20000); FULFILMENT_DB
// (converge_fulfilment_bench); and lib.ts's DURATION_S, WARMUP_S, POOL_MAX.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { SYSTEM_CALLER } from '../src/core/caller.ts';
import { parseCommand } from '../src/core/command-input.ts';
import { decodeToken } from '../src/core/position.ts';
import { migrate } from '../src/infra/db/migrate.ts';
import { openDatabase } from '../src/infra/db/open-database.ts';
import { productAggregate } from '../src/inventory/product-aggregate.ts';
import { orderAggregate } from '../src/orders/order-aggregate.ts';
import { createServices, type Services } from '../src/services.ts';
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

const RYW = 'fulfilment-read-your-writes';
const CATCHUP = 'fulfilment-catchup';
const PRODUCTS = 50;
const STOCK = 1_000_000;
const address = { line1: '1 Main St', city: 'Berlin', postalCode: '10115', country: 'DE' };

const orderOf = (n: number) =>
  parseCommand(
    orderAggregate.inputs,
    'CreateOrder',
    {
      customerId: `customer-${n % 500}`,
      items: [{ productId: `sku-${n % PRODUCTS}`, quantity: 1, unitPrice: '4.20' }],
      shippingAddress: address,
    },
    { caller: SYSTEM_CALLER },
  );

/** Open-loop: `rate` createOrders/s, whatever earlier ones are doing (at most 1,000 in flight). */
function startBackground(services: Services, rate: number) {
  let issued = 0;
  let sent = 0;
  let inFlight = 0;
  let errors = 0;
  let stopping = false;
  const start = performance.now();
  const loop = (async () => {
    while (!stopping) {
      for (const due = Math.floor(((performance.now() - start) / 1000) * rate); issued < due; issued++) {
        if (inFlight >= 1000) continue; // dropped: not counted as sent
        inFlight++;
        sent++;
        services.commands.dispatch(orderOf(issued)).then(
          () => inFlight--,
          () => {
            inFlight--;
            errors++;
          },
        );
      }
      await sleep(1);
    }
  })();
  return {
    async stop() {
      stopping = true;
      await loop;
      while (inFlight > 0) await sleep(5);
      return { sent, errors, dropped: issued - sent, rate: sent / ((performance.now() - start) / 1000) };
    },
  };
}

async function readYourWrites(services: Services, context: BenchContext, rate: number, intervalMs: number) {
  const background = startBackground(services, rate);
  const causal: number[] = [];
  const plain: number[] = [];
  let stale = 0;
  let n = 1_000_000;
  const phase = async (seconds: number, keep: boolean) => {
    const end = performance.now() + seconds * 1000;
    for (let next = performance.now(); performance.now() < end; ) {
      const result = await services.commands.dispatch(orderOf(++n));
      const token = decodeToken(result.consistencyToken);
      const t0 = performance.now();
      const orders = services.tracker.waitFor(token, ['orders'], 5000).then(() => performance.now() - t0);
      const waited = await services.tracker.waitFor(token, ['order_fulfilments'], 5000);
      const t1 = performance.now() - t0;
      if (keep) {
        causal.push(t1);
        plain.push(await orders);
        if (waited.stale) stale++;
      }
      next += intervalMs;
      const now = performance.now();
      if (next > now) await sleep(next - now);
      else next = now;
    }
  };
  await phase(context.config.warmupS, false);
  await phase(context.config.durationS, true);
  const load = await background.stop();
  causal.sort((a, b) => a - b);
  plain.sort((a, b) => a - b);
  return { causal, plain, stale, load };
}

async function catchup(services: Services, backlog: number) {
  await services.admin.pause('fulfilment', SYSTEM_CALLER);
  for (let i = 0; i < backlog; i += 200) {
    await Promise.all(Array.from({ length: Math.min(200, backlog - i) }, (_, k) => services.commands.dispatch(orderOf(i + k))));
  }
  const head = await services.store.headPosition();
  const t0 = performance.now();
  await services.admin.resume('fulfilment', SYSTEM_CALLER);
  const { stale } = await services.tracker.waitFor(head!, ['fulfilment'], 600_000);
  if (stale) throw new Error('the fulfilment process did not catch up in 600 s');
  return (performance.now() - t0) / 1000;
}

export async function run(context: BenchContext): Promise<ScenarioOutcome> {
  const { config } = context;
  const record = recorderWithLoad(context);
  const rate = positiveNumber('BACKGROUND_RATE', '200');
  const intervalMs = positiveNumber('RYW_INTERVAL_MS', '20');
  const backlog = positiveNumber('BACKLOG', '20000', true);
  const url = databaseUrl(config.baseUrl, env('FULFILMENT_DB', 'converge_fulfilment_bench'));
  await ensureDatabase(url);
  const database = await openDatabase({ url, poolMax: config.poolMax, applicationName: 'converge-bench' });
  const measurements: Measurement[] = [];
  let summary = '';
  try {
    await migrate(database);
    await truncatePublicTables(database);
    const services = createServices(database, { runProjections: true, consistencyTimeoutMs: 5000 });
    await services.start();
    try {
      let last = '';
      for (let i = 0; i < PRODUCTS; i++) {
        const input = { sku: `sku-${i}`, name: `Product ${i}`, onHand: STOCK };
        last = (await services.commands.dispatch(parseCommand(productAggregate.inputs, 'CreateProduct', input, { caller: SYSTEM_CALLER })))
          .consistencyToken;
      }
      await services.tracker.waitFor(decodeToken(last), ['products'], 60_000);

      log(`converge ${RYW} (${rate} orders/s background, one every ${intervalMs} ms)...`);
      const ryw = await readYourWrites(services, context, rate, intervalMs);
      const line = (scenario: string, samples: number[]) => ({
        system: 'converge',
        scenario,
        concurrency: 1,
        opsPerSec: round(ryw.load.rate, 1),
        p50ms: round(percentile(samples, 50), 3),
        p99ms: round(percentile(samples, 99), 3),
        ops: samples.length,
        seconds: config.durationS,
        errors: ryw.load.errors,
        pool: config.poolMax,
      });
      measurements.push(record(line(RYW, ryw.causal), { stale: ryw.stale, waitsFor: 'order_fulfilments (causal)' }));
      measurements.push(record(line(`${RYW}-orders`, ryw.plain), { waitsFor: 'orders' }));

      log(`converge ${CATCHUP} (a backlog of ${backlog} orders)...`);
      const seconds = await catchup(services, backlog);
      measurements.push(
        record(
          {
            system: 'converge',
            scenario: CATCHUP,
            concurrency: 1,
            opsPerSec: round(backlog / seconds, 1),
            p50ms: null,
            p99ms: null,
            ops: backlog,
            seconds: round(seconds, 3),
            errors: 0,
            pool: config.poolMax,
          },
          { backlog },
        ),
      );
      const ms = (samples: number[], p: number) => round(percentile(samples, p), 2);
      summary = [
        'fulfilment',
        `  createOrder -> order { fulfilment } (causal)  p50 ${ms(ryw.causal, 50)} ms, p99 ${ms(ryw.causal, 99)} ms, ${ryw.causal.length} samples, ${ryw.stale} stale, background ${round(ryw.load.rate, 1)} orders/s`,
        `  createOrder -> order (orders alone)         p50 ${ms(ryw.plain, 50)} ms, p99 ${ms(ryw.plain, 99)} ms (same commands)`,
        `  process manager catch-up                     ${round(backlog / seconds, 0)} order events/s (a backlog of ${backlog})`,
      ].join('\n');
    } finally {
      await services.stop();
    }
  } finally {
    await database.close();
  }
  return { measurements, summary };
}

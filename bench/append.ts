// Scenario `append`: the write path against its baselines, at each concurrency in turn so that every
// ratio comes from the same stretch of a (noisy, shared) machine:
//   raw      append-new-stream  one autocommit INSERT, the peer's raw-append.mjs copied exactly
//   converge append-new-stream  store.append of one event to a new stream, expectedVersion no_stream
//   converge command-order      CreateOrder then 3x AddOrderItem on one stream through the command bus
//   emmett   both scenarios     /work/shared/peer-bench/emmett-append.mjs, run as a child process
import postgres from 'postgres';
import { createCommandBus } from '../src/core/command-bus.ts';
import type { CommandResult } from '../src/core/command-handler.ts';
import { openDatabase } from '../src/infra/db/open-database.ts';
import { migrate } from '../src/infra/db/migrate.ts';
import { createPostgresEventStore, type PostgresEventStore } from '../src/infra/event-store/postgres-event-store.ts';
import { createDataKeyStore } from '../src/infra/privacy/data-keys.ts';
import { masterKeys, TEST_DATA_KEY_SECRET } from '../src/infra/privacy/master-key.ts';
import { SYSTEM_CALLER } from '../src/core/caller.ts';
import { parseCommand } from '../src/core/command-input.ts';
import { registerAggregate } from '../src/core/module.ts';
import { orderAggregate } from '../src/orders/order-aggregate.ts';
import type { OrderCommand } from '../src/orders/decider.ts';
import { orderEventSchemas } from '../src/orders/events.ts';
import {
  checkpoint,
  databaseUrl,
  ensureDatabase,
  log,
  measure,
  ratio,
  truncatePublicTables,
  type BenchConfig,
  type BenchContext,
  type LoadResult,
  type Measurement,
  type Op,
  type ScenarioOutcome,
} from './lib.ts';
import { preparePeer, runEmmett } from './peer.ts';

const RAW_DB = 'converge_raw_bench';
const CONVERGE_DB = 'converge_bench';
const EMMETT_DB = 'emmett_bench';

const APPEND = 'append-new-stream';
const COMMAND = 'command-order';
const ITEMS_PER_ORDER = 3;

// The peer's payload (lib.mjs orderCreatedData), so all three systems append the same bytes.
const orderCreatedData = (orderId: string) => ({
  orderId,
  customerId: 'customer-42',
  currency: 'EUR',
  createdAt: '2024-01-01T00:00:00.000Z',
});

const createOrderInput = {
  customerId: 'customer-42',
  items: [{ productId: 'sku-0', quantity: 1, unitPrice: '9.99' }],
  shippingAddress: { line1: '1 Main St', city: 'Berlin', postalCode: '10115', country: 'DE' },
};

type Subject = { pool: number; measure(concurrency: number, idPrefix: string): Promise<LoadResult> };

/** raw-append.mjs, statement for statement. */
async function openRaw(config: BenchConfig) {
  const url = databaseUrl(config.baseUrl, RAW_DB);
  await ensureDatabase(url);
  // postgres.js defaults otherwise (prepared statements on), as in the peer.
  const client = postgres(url, { max: config.poolMax, onnotice: () => {} });
  await client`
    create table if not exists events(
      global_position bigserial primary key,
      stream_id text not null,
      version int not null,
      type text not null,
      data jsonb not null,
      transaction_id xid8 not null default pg_current_xact_id(),
      unique(stream_id, version)
    )`;
  const appendNewStream: Subject = {
    pool: config.poolMax,
    measure: (concurrency, idPrefix) =>
      measure({
        config,
        concurrency,
        reset: async () => {
          await client`truncate events restart identity`;
          await checkpoint(url);
        },
        makeOp: (phase) => async (w, seq) => {
          const orderId = `${idPrefix}-${phase}-${w}-${seq}`;
          // version 1 + unique(stream_id, version) is the "stream must not exist" check.
          await client`
            insert into events (stream_id, version, type, data)
            values (${`order-${orderId}`}, 1, 'OrderCreated', ${client.json(orderCreatedData(orderId))})`;
        },
      }),
  };
  return { appendNewStream, close: () => client.end({ timeout: 5 }) };
}

async function openConverge(config: BenchConfig) {
  const url = databaseUrl(config.baseUrl, CONVERGE_DB);
  await ensureDatabase(url);
  const database = await openDatabase({ url, poolMax: config.poolMax, applicationName: 'converge-bench' });
  try {
    await migrate(database);
  } catch (error) {
    await database.close();
    throw error;
  }
  // Orders' events carry personal fields: sealed with a key per customer, as the service does.
  const store = createPostgresEventStore({
    db: database,
    schemas: orderEventSchemas,
    personal: createDataKeyStore(database, masterKeys(TEST_DATA_KEY_SECRET)),
  });
  const bus = createCommandBus<OrderCommand, CommandResult>();
  registerAggregate(bus, orderAggregate, { store });

  const reset = async () => {
    await truncatePublicTables(database);
    await checkpoint(url);
  };

  const appendNewStream: Subject = {
    pool: config.poolMax,
    measure: (concurrency, idPrefix) =>
      measure({
        config,
        concurrency,
        reset,
        makeOp: (phase) => async (w, seq) => {
          const orderId = `${idPrefix}-${phase}-${w}-${seq}`;
          const result = await store.append(`order-${orderId}`, [{ type: 'OrderCreated', data: orderCreatedData(orderId) }], {
            streamType: 'Order',
            expectedVersion: 'no_stream',
          });
          if (result.version !== 1) throw new Error(`unexpected stream version ${result.version}`);
        },
      }),
  };

  const commandOrder: Subject = {
    pool: config.poolMax,
    async measure(concurrency) {
      let lastCompletedOrder: string | undefined;
      const makeOp = (phase: 'warm' | 'run'): Op => {
        // Per worker: the order in progress and how many items it has.
        const progress = new Map<number, { orderId: string; step: number }>();
        return async (w) => {
          const current = progress.get(w);
          // The command is parsed inside the op: a real request pays for validation too.
          if (!current || current.step === ITEMS_PER_ORDER) {
            const created = await bus.dispatch(
              parseCommand(orderAggregate.inputs, 'CreateOrder', createOrderInput, { caller: SYSTEM_CALLER }),
            );
            if (created.version !== 1) throw new Error(`CreateOrder left ${created.streamId} at v${created.version}`);
            if (current && phase === 'run') lastCompletedOrder = current.orderId;
            progress.set(w, { orderId: created.streamId, step: 0 });
            return;
          }
          const step = current.step + 1;
          const added = await bus.dispatch(
            parseCommand(
              orderAggregate.inputs,
              'AddOrderItem',
              { orderId: current.orderId, productId: `sku-${step}`, quantity: step, unitPrice: '9.99' },
              { caller: SYSTEM_CALLER },
            ),
          );
          if (added.streamId !== current.orderId || added.version !== step + 1) {
            throw new Error(`AddOrderItem #${step} left ${added.streamId} at v${added.version}, expected ${current.orderId} v${step + 1}`);
          }
          current.step = step;
          if (step === ITEMS_PER_ORDER && phase === 'run') lastCompletedOrder = current.orderId;
        };
      };
      const result = await measure({ config, concurrency, reset, makeOp });
      await verifyCompletedOrder(store, lastCompletedOrder);
      return result;
    },
  };

  return { appendNewStream, commandOrder, close: () => database.close() };
}

/** Untimed sanity check, as the peer does: a completed order reads back as 1 + 3 events. */
async function verifyCompletedOrder(store: PostgresEventStore, orderId: string | undefined): Promise<void> {
  if (!orderId) throw new Error('command-order completed no order during the measurement');
  const { version, events } = await store.readStream(orderId);
  const types = events.map((e) => e.type).join(',');
  const expected = ['OrderCreated', ...Array<string>(ITEMS_PER_ORDER).fill('OrderItemAdded')].join(',');
  if (version !== ITEMS_PER_ORDER + 1 || types !== expected) {
    throw new Error(`sanity check failed for order ${orderId}: v${version} [${types}]`);
  }
}

export async function run(context: BenchContext): Promise<ScenarioOutcome> {
  const { config, record, runId } = context;
  const peerDir = await preparePeer();
  const raw = await openRaw(config);
  const converge = await openConverge(config).catch(async (error: unknown) => {
    await raw.close();
    throw error;
  });
  const measurements: Measurement[] = [];
  const timed = async (system: string, scenario: string, concurrency: number, subject: Subject) => {
    log(`c=${concurrency} ${system} ${scenario}...`);
    // The concurrency in the ids keeps streams of different measurements apart even with RESET=0.
    const result = await subject.measure(concurrency, `${runId}c${concurrency}`);
    measurements.push(record({ system, scenario, concurrency, ...result, pool: subject.pool }));
  };
  try {
    for (const concurrency of config.concurrencies) {
      await timed('raw', APPEND, concurrency, raw.appendNewStream);
      await timed('converge', APPEND, concurrency, converge.appendNewStream);
      await timed('converge', COMMAND, concurrency, converge.commandOrder);
      if (peerDir) {
        log(`c=${concurrency} emmett ${APPEND} + ${COMMAND}...`);
        const lines = await runEmmett({
          workDir: peerDir,
          databaseUrl: databaseUrl(config.baseUrl, EMMETT_DB),
          concurrency,
          durationS: config.durationS,
          warmupS: config.warmupS,
          poolMax: config.poolMaxExplicit ? config.poolMax : undefined,
          reset: config.reset,
        });
        if (lines.length === 0) log(`warning: emmett printed no measurement at c=${concurrency}`);
        for (const line of lines) measurements.push(record(line));
      }
    }
  } finally {
    await Promise.allSettled([raw.close(), converge.close()]);
  }
  return { measurements, summary: summarize(measurements, config.concurrencies) };
}

function summarize(measurements: Measurement[], concurrencies: number[]): string {
  const find = (system: string, scenario: string, concurrency: number) =>
    measurements.find((m) => m.system === system && m.scenario === scenario && m.concurrency === concurrency);
  const rows: [string, string, string, string, Record<number, number>][] = [
    ['converge/raw', APPEND, 'converge', 'raw', { 32: 0.8 }],
    ['converge/emmett', COMMAND, 'converge', 'emmett', { 8: 2, 32: 2 }],
  ];
  const label = (text: string) => text.padEnd(36);
  const cell = (text: string) => text.padStart(16);
  const lines = [`append ratios (ops/s)\n${label('')}${concurrencies.map((c) => cell(`c=${c}`)).join('')}`];
  for (const [name, scenario, top, bottom, targets] of rows) {
    const cells = concurrencies.map((c) => {
      const value = ratio(find(top, scenario, c), find(bottom, scenario, c));
      const target = targets[c];
      if (value === null) return cell('n/a');
      const verdict = target === undefined ? '' : value >= target ? ' ok' : ` <${target}x`;
      return cell(`${value.toFixed(2)}x${verdict}`);
    });
    lines.push(`${label(`${name} ${scenario}`)}${cells.join('')}`);
  }
  lines.push('targets: converge/raw >= 0.8x at c=32; converge/emmett >= 2x at c=8 and c=32');
  return lines.join('\n');
}

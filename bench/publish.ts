// Scenario `publish`: integration events on NATS JetStream, on PostgreSQL, with a private nats-server.
//   projections catchup   PUBLISH_EVENTS Order events bulk-inserted (as `projections` does), replayed into
//                         `orders` and `customer_summaries` until both reach the head; events/s
//   publisher   catchup   the same events published by the publisher alone (stream CONVERGE emptied
//                         first) until it reaches the head; events/s, and its ratio to the line above
//                         (goal >= 0.8)
//   publisher   latency   PUBLISH_RATE commands/s (open loop) of createOrder for DURATION_S, projections
//                         and publisher running; for each, the time from its dispatch resolving (commit)
//                         to its message arriving through a JetStream consumer of CONVERGE; p50/p99
// Env: PUBLISH_EVENTS (50000), PUBLISH_RATE (500), PUBLISH_DB (converge_publish_bench), NATS_SERVER
// (nats-server); and lib.ts's DURATION_S, BENCH_DATABASE_URL.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { SYSTEM_CALLER } from '../src/core/caller.ts';
import { parseCommand } from '../src/core/command-input.ts';
import { silentLogger } from '../src/core/logger.ts';
import { PUBLISHER_NAME } from '../src/core/publisher.ts';
import type { SqlProjection } from '../src/core/sql-projection.ts';
import type { Database } from '../src/infra/db/database.ts';
import { migrate } from '../src/infra/db/migrate.ts';
import { openDatabase } from '../src/infra/db/open-database.ts';
import { createIntegration } from '../src/integration.ts';
import { ordersModule } from '../src/orders/module.ts';
import { orderAggregate } from '../src/orders/order-aggregate.ts';
import { createServices } from '../src/services.ts';
import {
  databaseUrl,
  ensureDatabase,
  env,
  log,
  orderInput,
  percentile,
  positiveNumber,
  recorderWithLoad,
  round,
  truncatePublicTables,
  type BenchContext,
  type ScenarioOutcome,
} from './lib.ts';
import { convergeCatchup, datasetFor, loadEvents, resetReadModels, verifyLoad } from './projections.ts';

const GOAL_RATIO = 0.8;

/** A nats-server -js of the bench's own on a free port, its store in a temp folder. */
async function startNats(): Promise<{ url: string; stop(): Promise<void> }> {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const dir = mkdtempSync(join(tmpdir(), 'converge-bench-nats-'));
  const child = spawn(env('NATS_SERVER', 'nats-server'), ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', dir], { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const url = `nats://127.0.0.1:${port}`;
  for (const deadline = Date.now() + 15_000; ; ) {
    try {
      await (await connect({ servers: url })).close();
      break;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(50);
    }
  }
  return {
    url,
    async stop() {
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Orders' services publishing to `natsUrl` (`publisherOnly`: no projections beside the publisher). */
function publishingServices(database: Database, natsUrl: string, publisherOnly: boolean) {
  const integration = createIntegration({ servers: [natsUrl], modules: [ordersModule], tenancy: 'single', log: silentLogger });
  const services = createServices(database, {
    modules: [ordersModule],
    runProjections: true,
    consistencyTimeoutMs: 5000,
    publisher: integration.publisher,
    ...(publisherOnly && { projections: (all: SqlProjection[]) => all.filter((p) => p.name === PUBLISHER_NAME) }),
  });
  return { integration, services };
}

/** The publisher alone from position zero to the head; seconds. */
async function publisherCatchup(database: Database, natsUrl: string): Promise<number> {
  const { integration, services } = publishingServices(database, natsUrl, true);
  const head = await services.store.headPosition();
  integration.start();
  const t0 = performance.now();
  try {
    await services.start();
    const { stale } = await services.tracker.waitFor(head!, [PUBLISHER_NAME], 600_000);
    if (stale) throw new Error('the publisher did not reach the head within 600 s');
    return (performance.now() - t0) / 1000;
  } finally {
    await services.stop();
    await integration.stop();
  }
}

/** Commit-to-JetStream latencies (ms) of createOrder at `rate` per second for `seconds`. */
async function latency(database: Database, natsUrl: string, rate: number, seconds: number): Promise<number[]> {
  const { integration, services } = publishingServices(database, natsUrl, false);
  integration.start();
  await services.start();
  const nc = await connect({ servers: natsUrl });
  const committed = new Map<string, number>();
  // A message can arrive before its command's promise has resolved here: both times are kept, paired at the end.
  const arrived = new Map<string, number>();
  const consumer = await jetstream(nc).consumers.get('CONVERGE', { deliver_policy: DeliverPolicy.New });
  const messages = await consumer.consume();
  const reading = (async () => {
    for await (const m of messages) arrived.set(m.headers?.get('Nats-Msg-Id') ?? '', performance.now());
  })();
  try {
    const inFlight: Promise<void>[] = [];
    const t0 = performance.now();
    for (let n = 0; n < rate * seconds; n++) {
      const due = t0 + (n * 1000) / rate;
      if (due > performance.now()) await sleep(due - performance.now());
      const command = parseCommand(orderAggregate.inputs, 'CreateOrder', orderInput(n), { caller: SYSTEM_CALLER });
      inFlight.push(
        services.commands.dispatch(command).then((result) => {
          committed.set(result.consistencyToken, performance.now());
        }),
      );
    }
    await Promise.all(inFlight);
    const head = await services.store.headPosition();
    await services.tracker.waitFor(head!, [PUBLISHER_NAME], 60_000);
    // The consumer may still be delivering the last ones.
    for (const deadline = Date.now() + 10_000; [...committed.keys()].some((id) => !arrived.has(id)) && Date.now() < deadline; ) {
      await sleep(20);
    }
    const latencies = [...committed].flatMap(([id, at]) => (arrived.has(id) ? [Math.max(0, arrived.get(id)! - at)] : []));
    return latencies.sort((a, b) => a - b);
  } finally {
    await messages.close();
    await reading;
    await nc.close();
    await services.stop();
    await integration.stop();
  }
}

export async function run(context: BenchContext): Promise<ScenarioOutcome> {
  const record = recorderWithLoad(context);
  const events = positiveNumber('PUBLISH_EVENTS', '50000', true);
  const rate = positiveNumber('PUBLISH_RATE', '500');
  const url = databaseUrl(context.config.baseUrl, env('PUBLISH_DB', 'converge_publish_bench'));
  await ensureDatabase(url);
  const database = await openDatabase({ url, poolMax: context.config.poolMax });
  const nats = await startNats();
  try {
    await migrate(database);
    await truncatePublicTables(database);
    const data = datasetFor(events);
    log(`publish: loading ${events} events`);
    await loadEvents(database, data);
    await verifyLoad(database, data);

    await resetReadModels(database);
    const projections = await convergeCatchup(database, data, 2000);
    const projectionsRate = events / projections.seconds;
    const pool = context.config.poolMax;
    const catchup = (system: string, seconds: number) => ({
      system,
      scenario: 'publish catchup',
      concurrency: 1,
      opsPerSec: round(events / seconds, 0),
      p50ms: null,
      p99ms: null,
      ops: events,
      seconds: round(seconds, 2),
      errors: 0,
      pool,
    });
    const projectionsLine = record(catchup('projections', projections.seconds), {});
    log(`publish: projections caught up at ${round(projectionsRate, 0)} events/s`);

    const seconds = await publisherCatchup(database, nats.url);
    const publisherRate = events / seconds;
    const nc = await connect({ servers: nats.url });
    const stored = (await (await jetstreamManager(nc)).streams.info('CONVERGE')).state.messages;
    await nc.close();
    if (stored !== events) throw new Error(`stream CONVERGE holds ${stored} messages, not ${events}`);
    const publisherLine = record(catchup('publisher', seconds), { ratioToProjections: round(publisherRate / projectionsRate, 2) });
    log(`publish: publisher caught up at ${round(publisherRate, 0)} events/s`);

    const durationS = context.config.durationS;
    const sorted = await latency(database, nats.url, rate, durationS);
    const latencyLine = record(
      {
        system: 'publisher',
        scenario: 'publish commit-to-jetstream',
        concurrency: 1,
        opsPerSec: round(sorted.length / durationS, 0),
        p50ms: round(percentile(sorted, 50), 2),
        p99ms: round(percentile(sorted, 99), 2),
        ops: sorted.length,
        seconds: durationS,
        errors: rate * durationS - sorted.length,
        pool,
      },
      { commandsPerS: rate },
    );
    const ratio = publisherRate / projectionsRate;
    const summary = [
      'publish (the machine is shared: compare the ratio, measured in one run)',
      `  catch-up: publisher ${round(publisherRate, 0)} events/s, projections ${round(projectionsRate, 0)} events/s: ` +
        `${round(ratio, 2)}x (goal >= ${GOAL_RATIO}x: ${ratio >= GOAL_RATIO ? 'met' : 'NOT met'})`,
      `  commit to JetStream at ${rate} commands/s: p50 ${latencyLine.p50ms} ms, p99 ${latencyLine.p99ms} ms (${sorted.length} messages)`,
    ].join('\n');
    return { measurements: [projectionsLine, publisherLine, latencyLine], summary };
  } finally {
    await nats.stop();
    await database.close();
  }
}

// Scenario `http`: the whole GraphQL-over-HTTP path of a real Converge server (buildApp on PostgreSQL,
// projections on), each Converge operation right after a trivial one on the same server, so that every
// ratio comes from the same stretch of a (noisy, shared) machine:
//   trivial  http-typename      POST `{ __typename }`: yoga, node:http and the client, no resolver, no DB
//   converge http-create-order  the createOrder mutation selecting orderId version consistencyToken
//                               (not `order`: no read-your-writes wait), one item, customers varied
//   converge http-create-read   the same createOrder also selecting its `order { id status itemCount
//                               totalAmount }` (the peer harness's createRead): waits for the `orders`
//                               projection to reach the command, then reads the row
//   converge http-order-by-id   order(id) with its items, round-robin over SETUP_ORDERS orders created
//                               through the mutation before the measurements, projections caught up
//   converge http-order-by-id-session
//                               the same with a session token the projections have reached
//                               (extensions.consistency.after): what a client helper's token costs
// Closed loop as lib.ts's runLoad, over HTTP/1.1 keep-alive (one node:http Agent, a socket per worker).
// Before each pair the projections are waited for (lagEvents 0 everywhere), so that a backlog from the
// previous createOrder run is not projected during the next measurement.
//
// Where the server runs (HTTP_SERVER): `child` (default) spawns bench/server.ts as a second Node process
// (`node <npm start's flags> --import tsx bench/server.ts`) that runs buildApp; `inproc` runs buildApp in the load generator's own process (with this process's flags).
// On this 2-core machine `inproc` puts the client's ~0.1-0.13 ms of CPU per request (request
// building, socket I/O, JSON.parse) on the server's event loop, for every system alike: the numbers
// then describe server + client, not the server. Measured alternately, 5 s each, on the shared
// machine (load 2-6): child trivial 2,971-3,625/s, order(id) 1,866-2,807/s, createOrder
// 1,048-1,272/s; inproc 1,837-2,748/s, 1,004-1,922/s and 701-1,018/s, and no steadier. The child
// keeps an event loop to itself as in production (clients are remote there); the client competes
// with PostgreSQL for the other core, which both systems of a pair pay alike. Hence `child`. Each
// line also reports CPU time per request of the server (child only), of this process (the client;
// in-process: client + server) and of the PostgreSQL backends serving the database (read from
// /proc): those move far less with other load on the machine than throughput does.
//
// The database is converge_http_bench, not append.ts's converge_bench: append.ts truncates its tables
// and writes OrderCreated events without items, which a server projecting that database fails on.
//
// Each round measures trivial, createOrder, createRead, trivial, order(id), order(id) with a session token in turn;
// the summary gives the median over rounds of each Converge/trivial ratio, with the range, and of the
// session token's: order(id) with it over order(id) without it, run right before.
//
// Tracing: HTTP_TRACING=on starts an OTLP/HTTP receiver in this process (it reads and counts each export,
// answers 200, decodes nothing) and turns the server's tracing on with OTEL_EXPORTER_OTLP_ENDPOINT naming
// it; any OTEL_* variable set here passes through to the server as well (bench/server.ts).
//
// Env: HTTP_CONCURRENCIES ("32"), HTTP_ROUNDS (3), SETUP_ORDERS (2000), HTTP_SERVER (child | inproc), HTTP_TRACING (off | on), HTTP_SERVER_NODE_ARGS
// (extra node flags for the child, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"), HTTP_DB
// (converge_http_bench) and lib.ts's DURATION_S, WARMUP_S, POOL_MAX (the server's DB_POOL_MAX), RESET
// (checkpoint before each measurement). CONCURRENCIES is not used: the HTTP load has its own list. The
// child inherits the environment, so NODE_ENV=production measures graphql-js's production mode.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  checkpoint,
  databaseUrl,
  env,
  integerList,
  log,
  positiveNumber,
  ratio,
  runLoad,
  type BenchContext,
  type Measurement,
  type Op,
  type ScenarioOutcome,
} from './lib.ts';
import { cpuMsOf, databaseCpuMs } from './cpu.ts';
import { createClient, dataOf, prepareDatabase, startChild, startInProcess, type Client } from './server.ts';

const TRIVIAL = 'http-typename';
const CREATE = 'http-create-order';
const CREATE_READ = 'http-create-read';
const BY_ID = 'http-order-by-id';
const BY_ID_SESSION = 'http-order-by-id-session';

// Targets of the brief, checked in the summary: throughput over the trivial run just before.
const TARGET_CREATE = 0.6;
const TARGET_BY_ID = 0.85;

const CUSTOMERS = 1000;

const TYPENAME_QUERY = '{ __typename }';
const CREATE_ORDER_MUTATION = `mutation CreateOrder($input: CreateOrderInput!) {
  createOrder(input: $input) { orderId version consistencyToken }
}`;
const CREATE_READ_MUTATION = `mutation CreateOrder($input: CreateOrderInput!) {
  createOrder(input: $input) { orderId order { id status itemCount totalAmount } }
}`;
const ORDER_QUERY = `query Order($id: ID!) {
  order(id: $id) { id status totalAmount itemCount items { productId quantity unitPrice lineTotal } }
}`;
const PROJECTIONS_QUERY = '{ projections { name state lagEvents lastError } }';

const createOrderInput = (n: number) => ({
  customerId: `customer-${n % CUSTOMERS}`,
  items: [{ productId: 'sku-0', quantity: 1, unitPrice: '9.99' }],
  shippingAddress: { line1: '1 Main St', city: 'Berlin', postalCode: '10115', country: 'DE' },
});

// ------------------------------------------------------------------------------------------------
// The client's operations

async function createOrder(client: Client, n: number): Promise<string> {
  const data = dataOf(await client.post(CREATE_ORDER_MUTATION, { input: createOrderInput(n) }), 'createOrder');
  const payload = data.createOrder as { orderId?: string; version?: number; consistencyToken?: string } | null;
  if (!payload?.orderId || payload.version !== 1 || !payload.consistencyToken) {
    throw new Error(`createOrder returned ${JSON.stringify(payload)}`);
  }
  return payload.orderId;
}

/** createOrder selecting its order: the row must be the new one, as the command left it, and not stale. */
async function createRead(client: Client, n: number): Promise<void> {
  const body = await client.post(CREATE_READ_MUTATION, { input: createOrderInput(n) });
  const data = dataOf(body, 'createOrder');
  const payload = data.createOrder as { orderId?: string; order?: { id: string; status: string; itemCount: number } | null } | null;
  const stale = (body as { extensions?: { consistency?: { stale?: boolean } } }).extensions?.consistency?.stale;
  if (!payload?.orderId || payload.order?.id !== payload.orderId || payload.order.status !== 'PLACED' || stale) {
    throw new Error(`createOrder { order } returned ${JSON.stringify(body)}`);
  }
}

/** Polls `projections` until none lags (so no backlog leaks into the next run); a FAILED one ends the run. */
async function waitForProjections(client: Client, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const data = dataOf(await client.post(PROJECTIONS_QUERY), 'projections');
    const statuses = data.projections as { name: string; state: string; lagEvents: number; lastError: string | null }[];
    const failed = statuses.find((s) => s.state === 'FAILED');
    if (failed) throw new Error(`projection ${failed.name} FAILED: ${failed.lastError}`);
    if (statuses.every((s) => s.lagEvents === 0)) return;
    if (Date.now() > deadline) throw new Error(`projections still lagging: ${JSON.stringify(statuses)}`);
    await sleep(50);
  }
}

/** Creates `count` orders through the mutation, 32 at a time; returns their ids. */
async function createSetupOrders(client: Client, count: number): Promise<string[]> {
  const ids: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < count) ids.push(await createOrder(client, next++));
  };
  await Promise.all(Array.from({ length: 32 }, worker));
  return ids;
}

// ------------------------------------------------------------------------------------------------
// The scenario

export async function run(context: BenchContext): Promise<ScenarioOutcome> {
  const { config } = context;
  const record = context.record;
  const url = databaseUrl(config.baseUrl, env('HTTP_DB', 'converge_http_bench'));
  // As databaseUrl named it (BENCH_DB_PREFIX), for the backends' CPU time.
  const dbName = decodeURIComponent(new URL(url).pathname.slice(1));
  const concurrencies = integerList('HTTP_CONCURRENCIES', '32');
  const rounds = positiveNumber('HTTP_ROUNDS', '3', true);
  const mode = env('HTTP_SERVER', 'child');
  if (mode !== 'child' && mode !== 'inproc') throw new Error(`HTTP_SERVER must be child or inproc, got ${JSON.stringify(mode)}`);

  await prepareDatabase(url, config.poolMax);
  const receiver = env('HTTP_TRACING', 'off') === 'on' ? await startTraceReceiver() : undefined;
  const tracingEnv: Record<string, string> = receiver ? { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url } : {};
  const server =
    mode === 'child' ? await startChild(url, config.poolMax, tracingEnv) : await startInProcess(url, config.poolMax, tracingEnv);
  log(
    `http: server (${server.mode}) at ${server.url}, pool ${config.poolMax}, concurrencies ${concurrencies.join(' ')}, tracing ${receiver ? `to ${receiver.url}` : 'off'}`,
  );
  const measurements: Measurement[] = [];
  const serverCpu = new Map<Measurement, number>();
  try {
    const setupClient = createClient(server.url, 32);
    let ids: string[];
    /** A token every projection has reached once the set-up is projected. */
    let sessionToken = '';
    try {
      const started = Date.now();
      ids = await createSetupOrders(setupClient, positiveNumber('SETUP_ORDERS', '2000', true));
      const last = dataOf(await setupClient.post(CREATE_ORDER_MUTATION, { input: createOrderInput(ids.length) }), 'createOrder');
      sessionToken = (last.createOrder as { consistencyToken: string }).consistencyToken;
      await waitForProjections(setupClient);
      log(`http: ${ids.length} orders created and projected in ${((Date.now() - started) / 1000).toFixed(1)}s`);
    } finally {
      setupClient.close();
    }

    for (const concurrency of concurrencies) {
      const client = createClient(server.url, concurrency);
      try {
        const timed = async (system: string, scenario: string, makeOp: (phase: 'warm' | 'run') => Op) => {
          await waitForProjections(client);
          log(`c=${concurrency} ${system} ${scenario}...`);
          // lib.ts's measure, with the server's CPU time read around the timed run.
          if (config.reset) await checkpoint(url);
          if (config.warmupS > 0) await runLoad({ concurrency, durationS: config.warmupS, op: makeOp('warm') });
          const before = { server: await server.cpuMs(), client: cpuMsOf(process.cpuUsage()), db: databaseCpuMs(dbName) };
          const result = await runLoad({ concurrency, durationS: config.durationS, op: makeOp('run') });
          const after = { server: await server.cpuMs(), client: cpuMsOf(process.cpuUsage()), db: databaseCpuMs(dbName) };
          const perOp = (from: number | null, to: number | null) =>
            from === null || to === null || result.ops === 0 ? null : Number(((to - from) / result.ops).toFixed(3));
          const serverCpuMsPerOp = perOp(before.server, after.server);
          const measurement = record(
            { system, scenario, concurrency, ...result, pool: config.poolMax },
            {
              server: server.mode,
              serverCpuMsPerOp,
              // Of one core: ~100 means the server's event loop was the bottleneck (V8's GC helper
              // threads can take it past 100).
              serverCpuPct: serverCpuMsPerOp === null ? null : Math.round((serverCpuMsPerOp * result.opsPerSec) / 10),
              // In-process, this is client and server together.
              clientCpuMsPerOp: perOp(before.client, after.client),
              dbCpuMsPerOp: perOp(before.db, after.db),
            },
          );
          measurements.push(measurement);
          if (serverCpuMsPerOp !== null) serverCpu.set(measurement, serverCpuMsPerOp);
        };
        const typename: Op = async () => {
          const data = dataOf(await client.post(TYPENAME_QUERY), '__typename');
          if (data.__typename !== 'Query') throw new Error(`__typename returned ${JSON.stringify(data)}`);
        };
        let customer = 0;
        const create: Op = async () => {
          await createOrder(client, customer++);
        };
        const createAndRead: Op = async () => {
          await createRead(client, customer++);
        };
        let cursor = 0;
        const orderById =
          (extensions?: Record<string, unknown>): Op =>
          async () => {
            const id = ids[cursor++ % ids.length]!;
            const data = dataOf(await client.post(ORDER_QUERY, { id }, extensions), 'order');
            const order = data.order as { id: string; items: unknown[] } | null;
            if (!order || order.id !== id || order.items.length !== 1) throw new Error(`order(${id}) returned ${JSON.stringify(order)}`);
          };
        const byId = orderById();
        const byIdSession = orderById({ consistency: { after: sessionToken } });

        for (let round = 1; round <= rounds; round++) {
          if (rounds > 1) log(`c=${concurrency} round ${round} of ${rounds}`);
          await timed('trivial', TRIVIAL, () => typename);
          await timed('converge', CREATE, () => create);
          await timed('converge', CREATE_READ, () => createAndRead);
          await timed('trivial', TRIVIAL, () => typename);
          await timed('converge', BY_ID, () => byId);
          await timed('converge', BY_ID_SESSION, () => byIdSession);
        }
      } finally {
        client.close();
      }
    }
  } finally {
    await server.stop();
    if (receiver) log(`http: the trace receiver took ${receiver.exports()} exports, ${(receiver.bytes() / 1e6).toFixed(1)} MB`);
    await receiver?.close();
  }
  return { measurements, summary: summarize(measurements, serverCpu, concurrencies, server.mode) };
}

/** A local OTLP/HTTP receiver: reads each export, counts it and answers 200 (an empty ExportTraceServiceResponse). */
async function startTraceReceiver() {
  let exports = 0;
  let bytes = 0;
  const server = http.createServer((req, res) => {
    req.on('data', (chunk: Buffer) => (bytes += chunk.length));
    req.on('end', () => {
      exports++;
      res.writeHead(200, { 'content-type': req.headers['content-type'] ?? 'application/x-protobuf' });
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    exports: () => exports,
    bytes: () => bytes,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * Each Converge measurement over the trivial one recorded right before it at the same concurrency, one
 * ratio per round, and their median (the range beside it): a single pair moves a lot with whatever
 * else the shared machine does during it. And, as a check that is far less sensitive to such load, the
 * same ratio from the server's CPU time per request (trivial's over Converge's): what the throughput
 * ratio would be if the server's event loop were the only bottleneck.
 */
function summarize(measurements: Measurement[], serverCpu: Map<Measurement, number>, concurrencies: number[], mode: string): string {
  const pairs = new Map<string, [Measurement, Measurement | undefined][]>();
  let trivial: Measurement | undefined;
  for (const m of measurements) {
    if (m.scenario === TRIVIAL) {
      trivial = m;
      continue;
    }
    const key = `${m.scenario}@${m.concurrency}`;
    if (!pairs.has(key)) pairs.set(key, []);
    pairs.get(key)!.push([m, trivial?.concurrency === m.concurrency ? trivial : undefined]);
  }
  const cpuRatio = (m: Measurement, t: Measurement | undefined) => {
    const mine = serverCpu.get(m);
    const theirs = t && serverCpu.get(t);
    return mine && theirs ? theirs / mine : null;
  };
  const rounds = Math.max(0, ...[...pairs.values()].map((p) => p.length));
  const label = (text: string) => text.padEnd(36);
  const cell = (text: string) => text.padStart(26);
  // The session token's measurements pair with the order(id) run right before them, not a trivial one.
  for (const [key, list] of pairs) {
    if (!key.startsWith(`${BY_ID_SESSION}@`)) continue;
    const plain = pairs.get(key.replace(BY_ID_SESSION, BY_ID)) ?? [];
    for (const [i, pair] of list.entries()) pair[1] = plain[i]?.[0];
  }
  const lines = [
    `http ratios (ops/s; server ${mode}; ${rounds > 1 ? `median of ${rounds} rounds, range in brackets` : 'one round'})`,
    `${label('')}${concurrencies.map((c) => cell(`c=${c}`)).join('')}`,
  ];
  const row = (
    name: string,
    scenario: string,
    target: number | undefined,
    of: (m: Measurement, t: Measurement | undefined) => number | null,
  ) => {
    const cells = concurrencies.map((c) => {
      const values = (pairs.get(`${scenario}@${c}`) ?? []).map((pair) => of(...pair));
      if (values.length === 0 || values.some((v) => v === null)) return cell('n/a');
      const sorted = (values as number[]).sort((a, b) => a - b);
      const value = median(sorted);
      const range = sorted.length > 1 ? ` [${sorted[0]!.toFixed(2)}-${sorted.at(-1)!.toFixed(2)}]` : '';
      return cell(`${value.toFixed(2)}x${range}${target === undefined ? '' : value >= target ? ' ok' : ` <${target}x`}`);
    });
    lines.push(`${label(name)}${cells.join('')}`);
  };
  row('createOrder/trivial', CREATE, TARGET_CREATE, (m, t) => ratio(m, t));
  row('createRead/trivial', CREATE_READ, undefined, (m, t) => ratio(m, t));
  row('order(id)/trivial', BY_ID, TARGET_BY_ID, (m, t) => ratio(m, t));
  row('order(id) with/without session token', BY_ID_SESSION, undefined, (m, t) => ratio(m, t));
  if (serverCpu.size > 0) {
    row('  by server CPU/op: createOrder', CREATE, undefined, cpuRatio);
    row('  by server CPU/op: createRead', CREATE_READ, undefined, cpuRatio);
    row('  by server CPU/op: order(id)', BY_ID, undefined, cpuRatio);
    row('  by server CPU/op: session token', BY_ID_SESSION, undefined, cpuRatio);
  }
  const errors = measurements.filter((m) => m.errors > 0).map((m) => `${m.system} ${m.scenario} c=${m.concurrency}: ${m.errors}`);
  if (errors.length > 0) lines.push(`FAILED REQUESTS: ${errors.join('; ')}`);
  lines.push(
    `targets: createOrder/trivial >= ${TARGET_CREATE}x, order(id)/trivial >= ${TARGET_BY_ID}x (median over rounds of each over the trivial run just before it)`,
  );
  return lines.join('\n');
}

/** The middle of sorted values (the mean of the two middle ones for an even count). */
function median(sorted: number[]): number {
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

// Scenario `http`: the whole GraphQL-over-HTTP path of a real Converge server (buildApp on PostgreSQL,
// projections on), each Converge operation right after a trivial one on the same server, so that every
// ratio comes from the same stretch of a (noisy, shared) machine:
//   trivial  http-typename      POST `{ __typename }`: yoga, node:http and the client, no resolver, no DB
//   converge http-create-order  the createOrder mutation selecting orderId version consistencyToken
//                               (not `order`: no read-your-writes wait), one item, customers varied
//   converge http-order-by-id   order(id) with its items, round-robin over SETUP_ORDERS orders created
//                               through the mutation before the measurements, projections caught up
// Closed loop as lib.ts's runLoad, over HTTP/1.1 keep-alive (one node:http Agent, a socket per worker).
// Before each pair the projections are waited for (lagEvents 0 everywhere), so that a backlog from the
// previous createOrder run is not projected during the next measurement.
//
// Where the server runs (HTTP_SERVER): `child` (default) spawns this file as a second Node process
// (`node <npm start's flags> --import tsx bench/http.ts` with HTTP_BENCH_SERVER_URL set) that runs
// buildApp; `inproc` runs buildApp in the load generator's own process (with this process's flags).
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
// Each round measures trivial, createOrder, trivial, order(id) in turn; the summary gives the median over
// rounds of each Converge/trivial ratio, with the range.
//
// Env: HTTP_CONCURRENCIES ("32"), HTTP_ROUNDS (3), SETUP_ORDERS (2000), HTTP_SERVER (child | inproc), HTTP_SERVER_NODE_ARGS
// (extra node flags for the child, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"), HTTP_DB
// (converge_http_bench) and lib.ts's DURATION_S, WARMUP_S, POOL_MAX (the server's DB_POOL_MAX), RESET
// (checkpoint before each measurement). CONCURRENCIES is not used: the HTTP load has its own list. The
// child inherits the environment, so NODE_ENV=production measures graphql-js's production mode.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'drizzle-orm';
import { buildApp, type App } from '../src/app.ts';
import type { Logger } from '../src/core/logger.ts';
import { loadConfig as loadAppConfig } from '../src/config.ts';
import type { Database } from '../src/infra/db/database.ts';
import { openDatabase } from '../src/infra/db/open-database.ts';
import { migrate } from '../src/infra/db/migrate.ts';
import {
  checkpoint,
  databaseUrl,
  ensureDatabase,
  env,
  log,
  positiveNumber,
  ratio,
  redactUrl,
  REPO_ROOT,
  runLoad,
  truncatePublicTables,
  type BenchContext,
  type Measurement,
  type Op,
  type ScenarioOutcome,
} from './lib.ts';

const TRIVIAL = 'http-typename';
const CREATE = 'http-create-order';
const BY_ID = 'http-order-by-id';

// Targets of the brief, checked in the summary: throughput over the trivial run just before.
const TARGET_CREATE = 0.6;
const TARGET_BY_ID = 0.85;

const CUSTOMERS = 1000;
// Set in the child's environment only: this file then serves instead of being a scenario module.
const CHILD_URL_ENV = 'HTTP_BENCH_SERVER_URL';
const CHILD_POOL_ENV = 'HTTP_BENCH_SERVER_POOL';

const TYPENAME_QUERY = '{ __typename }';
const CREATE_ORDER_MUTATION = `mutation CreateOrder($input: CreateOrderInput!) {
  createOrder(input: $input) { orderId version consistencyToken }
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
// The server: in this process or in a child

type Server = {
  url: string;
  mode: 'child' | 'inproc';
  /** CPU time the server process has used so far, in ms (child only: in-process it would include the client). */
  cpuMs(): Promise<number | null>;
  stop(): Promise<void>;
};

const cpuMsOf = (usage: NodeJS.CpuUsage) => (usage.user + usage.system) / 1000;

const appConfig = (url: string, poolMax: number) =>
  loadAppConfig({ PORT: '0', HOST: '127.0.0.1', DATABASE_URL: url, LOG_LEVEL: 'silent', DB_POOL_MAX: String(poolMax) });

// Typed as the app's Logger, so that a change of its shape shows up in `npm run typecheck`.
const silent: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };

async function startInProcess(url: string, poolMax: number): Promise<Server> {
  const app = await buildApp(appConfig(url, poolMax), { log: silent });
  const graphqlUrl = await startOrClose(app);
  return { url: graphqlUrl, mode: 'inproc', cpuMs: async () => null, stop: () => app.stop() };
}

async function startOrClose(app: App): Promise<string> {
  try {
    return await app.start();
  } catch (error) {
    await app.stop().catch(() => {});
    throw error;
  }
}

/**
 * The Node flags of `npm start` (package.json: `node <flags> --import tsx src/main.ts`), so that the
 * child runs with the heap settings the service runs with.
 */
function startNodeFlags(): string[] {
  const start = (JSON.parse(readFileSync(`${REPO_ROOT}/package.json`, 'utf8')) as { scripts?: { start?: string } }).scripts?.start ?? '';
  const match = /^node((?:\s+--\S+)*)\s+--import tsx src\/main\.ts$/.exec(start);
  if (!match) throw new Error(`package.json's start script is not "node <flags> --import tsx src/main.ts": ${JSON.stringify(start)}`);
  return match[1]!.split(/\s+/).filter(Boolean);
}

// Lines of the child's protocol on its stdout carry this prefix; anything else there is passed on.
const REPLY_PREFIX = '@http-bench ';

async function startChild(url: string, poolMax: number): Promise<Server> {
  const extraArgs = env('HTTP_SERVER_NODE_ARGS', '').split(/\s+/).filter(Boolean);
  const child = spawn(process.execPath, [...startNodeFlags(), ...extraArgs, '--import', 'tsx', fileURLToPath(import.meta.url)], {
    cwd: REPO_ROOT,
    env: { ...process.env, [CHILD_URL_ENV]: url, [CHILD_POOL_ENV]: String(poolMax) },
    // stdin: closing it stops the child (also when this process dies); stdout: the replies.
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  // The child answers one JSON line per request, in order: first its URL, then one per `cpu`.
  const waiting: { resolve: (line: string) => void; reject: (error: Error) => void }[] = [];
  let exitCode: number | null | undefined;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code) => {
      exitCode = code;
      for (const w of waiting.splice(0)) w.reject(new Error(`server child exited with ${code}`));
      resolve();
    }),
  );
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (line.startsWith(REPLY_PREFIX)) waiting.shift()?.resolve(line.slice(REPLY_PREFIX.length));
    else process.stderr.write(`server child: ${line}\n`);
  });
  const reply = async <T>(request?: string): Promise<T> => {
    if (exitCode !== undefined) throw new Error(`server child exited with ${exitCode}`);
    const line = new Promise<string>((resolve, reject) => waiting.push({ resolve, reject }));
    if (request) child.stdin!.write(`${request}\n`);
    return JSON.parse(await line) as T;
  };
  const { url: graphqlUrl } = await reply<{ url: string }>();
  return {
    url: graphqlUrl,
    mode: 'child',
    cpuMs: async () => (await reply<{ cpuMs: number }>('cpu')).cpuMs,
    async stop() {
      child.stdin!.end();
      const timeout = sleep(15_000).then(() => 'timeout' as const);
      if ((await Promise.race([exited, timeout])) === 'timeout') {
        log('server child did not stop within 15s; killing it');
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}

/**
 * The child's side: prints its URL, answers each `cpu` line on stdin with its CPU time so far, and
 * stops cleanly when stdin closes (so that --cpu-prof gets written).
 */
async function serveAsChild(url: string, poolMax: number): Promise<void> {
  const app = await buildApp(appConfig(url, poolMax), { log: silent });
  const graphqlUrl = await startOrClose(app);
  process.stdout.write(`${REPLY_PREFIX}${JSON.stringify({ url: graphqlUrl })}\n`);
  const commands = createInterface({ input: process.stdin });
  commands.on('line', (line) => {
    if (line === 'cpu') process.stdout.write(`${REPLY_PREFIX}${JSON.stringify({ cpuMs: cpuMsOf(process.cpuUsage()) })}\n`);
  });
  await new Promise<void>((resolve) => commands.once('close', resolve));
  await app.stop();
  process.exit(0);
}

/**
 * CPU time so far of the PostgreSQL backends serving `database` (from /proc, so a local server only;
 * null elsewhere), in ms. Shared processes (WAL writer, checkpointer) are left out, and so are backends
 * of other databases: other sessions on the machine do not count. A backend that exits between two
 * readings takes its time with it; the server's pool keeps its connections, so that is rare.
 */
function databaseCpuMs(database: string): number | null {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return null;
  }
  const tag = ` ${database} `;
  let ticks = 0;
  let found = false;
  for (const pid of entries) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmdline.startsWith('postgres: ') || !cmdline.includes(tag)) continue;
      // Fields after the parenthesised command name: state is the 3rd field, utime the 14th, stime the 15th.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
      found = true;
    } catch {
      // gone meanwhile
    }
  }
  // USER_HZ is 100 on every Linux this runs on.
  return found ? ticks * 10 : null;
}

// ------------------------------------------------------------------------------------------------
// The client

type GraphQLResponse = { data?: Record<string, any> | null; errors?: { message: string }[] };

type Client = { post(query: string, variables?: Record<string, unknown>): Promise<GraphQLResponse>; close(): void };

/** node:http with a keep-alive Agent, a socket per worker (undici is not in node_modules, only inside Node's fetch). */
function createClient(graphqlUrl: string, sockets: number): Client {
  const agent = new http.Agent({ keepAlive: true, maxSockets: sockets });
  const { hostname, port, pathname } = new URL(graphqlUrl);
  return {
    post(query, variables) {
      const body = JSON.stringify(variables ? { query, variables } : { query });
      return new Promise((resolve, reject) => {
        const request = http.request(
          {
            agent,
            hostname,
            port,
            path: pathname,
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              accept: 'application/graphql-response+json',
              'content-length': Buffer.byteLength(body),
            },
          },
          (response) => {
            const chunks: Buffer[] = [];
            response.on('data', (chunk: Buffer) => chunks.push(chunk));
            response.on('error', reject);
            response.on('end', () => {
              const text = Buffer.concat(chunks).toString('utf8');
              if (response.statusCode !== 200) return reject(new Error(`HTTP ${response.statusCode}: ${text.slice(0, 300)}`));
              try {
                resolve(JSON.parse(text) as GraphQLResponse);
              } catch (error) {
                reject(error);
              }
            });
          },
        );
        request.on('error', reject);
        request.end(body);
      });
    },
    close: () => agent.destroy(),
  };
}

/** The response's data, or an error naming the first GraphQL error. */
function dataOf(response: GraphQLResponse, what: string): Record<string, any> {
  if (response.errors?.length) throw new Error(`${what}: ${response.errors[0]!.message}`);
  if (!response.data) throw new Error(`${what}: no data`);
  return response.data;
}

async function createOrder(client: Client, n: number): Promise<string> {
  const data = dataOf(await client.post(CREATE_ORDER_MUTATION, { input: createOrderInput(n) }), 'createOrder');
  const payload = data.createOrder as { orderId?: string; version?: number; consistencyToken?: string } | null;
  if (!payload?.orderId || payload.version !== 1 || !payload.consistencyToken) {
    throw new Error(`createOrder returned ${JSON.stringify(payload)}`);
  }
  return payload.orderId;
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

// ------------------------------------------------------------------------------------------------
// Set-up


/** Migrated and empty, before any server opens it; warns when someone else is using the database. */
async function prepareDatabase(url: string, poolMax: number): Promise<void> {
  await ensureDatabase(url);
  const database = await openDatabase({ url, poolMax: Math.min(poolMax, 2), applicationName: 'converge-bench' });
  try {
    await migrate(database);
    const others = await database.rows<{ n: number }>(
      sql`select count(*)::int as n from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()
        and application_name <> 'converge-bench'`,
    );
    if ((others[0]?.n ?? 0) > 0) log(`warning: ${others[0]!.n} other session(s) on ${redactUrl(url)}; the numbers may be disturbed`);
    await truncatePublicTables(database);
  } finally {
    await database.close();
  }
}

function httpConcurrencies(): number[] {
  const values = env('HTTP_CONCURRENCIES', '32').split(/[\s,]+/).filter(Boolean).map(Number);
  if (values.length === 0 || values.some((c) => !Number.isInteger(c) || c < 1)) {
    throw new Error(`HTTP_CONCURRENCIES must be positive integers, got ${JSON.stringify(process.env.HTTP_CONCURRENCIES)}`);
  }
  return values;
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
// Output



// ------------------------------------------------------------------------------------------------
// The scenario

export async function run(context: BenchContext): Promise<ScenarioOutcome> {
  const { config } = context;
  const record = context.record;
  const dbName = env('HTTP_DB', 'converge_http_bench');
  const url = databaseUrl(config.baseUrl, dbName);
  const concurrencies = httpConcurrencies();
  const rounds = positiveNumber('HTTP_ROUNDS', '3', true);
  const mode = env('HTTP_SERVER', 'child');
  if (mode !== 'child' && mode !== 'inproc') throw new Error(`HTTP_SERVER must be child or inproc, got ${JSON.stringify(mode)}`);

  await prepareDatabase(url, config.poolMax);
  const server = mode === 'child' ? await startChild(url, config.poolMax) : await startInProcess(url, config.poolMax);
  log(`http: server (${server.mode}) at ${server.url}, pool ${config.poolMax}, concurrencies ${concurrencies.join(' ')}`);
  const measurements: Measurement[] = [];
  const serverCpu = new Map<Measurement, number>();
  try {
    const setupClient = createClient(server.url, 32);
    let ids: string[];
    try {
      const started = Date.now();
      ids = await createSetupOrders(setupClient, positiveNumber('SETUP_ORDERS', '2000', true));
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
        let cursor = 0;
        const byId: Op = async () => {
          const id = ids[cursor++ % ids.length]!;
          const data = dataOf(await client.post(ORDER_QUERY, { id }), 'order');
          const order = data.order as { id: string; items: unknown[] } | null;
          if (!order || order.id !== id || order.items.length !== 1) throw new Error(`order(${id}) returned ${JSON.stringify(order)}`);
        };

        for (let round = 1; round <= rounds; round++) {
          if (rounds > 1) log(`c=${concurrency} round ${round} of ${rounds}`);
          await timed('trivial', TRIVIAL, () => typename);
          await timed('converge', CREATE, () => create);
          await timed('trivial', TRIVIAL, () => typename);
          await timed('converge', BY_ID, () => byId);
        }
      } finally {
        client.close();
      }
    }
  } finally {
    await server.stop();
  }
  return { measurements, summary: summarize(measurements, serverCpu, concurrencies, server.mode) };
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
  const lines = [
    `http ratios (ops/s; server ${mode}; ${rounds > 1 ? `median of ${rounds} rounds, range in brackets` : 'one round'})`,
    `${label('')}${concurrencies.map((c) => cell(`c=${c}`)).join('')}`,
  ];
  const row = (name: string, scenario: string, target: number | undefined, of: (m: Measurement, t: Measurement | undefined) => number | null) => {
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
  row('order(id)/trivial', BY_ID, TARGET_BY_ID, (m, t) => ratio(m, t));
  if (serverCpu.size > 0) {
    row('  by server CPU/op: createOrder', CREATE, undefined, cpuRatio);
    row('  by server CPU/op: order(id)', BY_ID, undefined, cpuRatio);
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

// ------------------------------------------------------------------------------------------------

const childUrl = process.env[CHILD_URL_ENV];
if (childUrl && process.argv[1] === fileURLToPath(import.meta.url)) {
  serveAsChild(childUrl, Number(process.env[CHILD_POOL_ENV] ?? '10')).catch((error: unknown) => {
    process.stderr.write(`http bench server failed: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exit(1);
  });
}

// Scenario `waits`: can read-your-writes waits be turned against the server? A burst of WAITS_BURST
// (5,000) concurrent `order(id, after:)` requests whose token the projections will not reach for
// WAITS_HOLD_S (5) seconds (the orders projection is paused, then resumed), against a server child
// (bench/server.ts) on PostgreSQL. Meanwhile other clients (c=8) read order(id) without a token; their
// p50/p99 are measured before the burst (unloaded) and during it, and the server's RSS is sampled
// (idle, and the peak during the burst). Run twice: with the default CONSISTENCY_MAX_WAITS (1000: the
// rest answer stale at once) and with a cap above the burst (every request waits).
//   Goal (issue 17): RSS under 150 MB above idle; order(id) p99 during the burst within 2x unloaded.
// Env: WAITS_BURST (5000), WAITS_HOLD_S (5), WAITS_DB (converge_waits_bench), lib.ts's POOL_MAX.
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  databaseUrl,
  env,
  log,
  orderInput,
  positiveNumber,
  round,
  runLoad,
  type BenchContext,
  type Measurement,
  type ScenarioOutcome,
} from './lib.ts';
import { createClient, dataOf, prepareDatabase, startChild, type GraphQLResponse } from './server.ts';

const SETUP_ORDERS = 500;
const OTHERS = 8;
const MEASURE_S = 4;

const CREATE = `mutation($input: CreateOrderInput!) { createOrder(input: $input) { orderId consistencyToken } }`;
const ORDER = `query($id: ID!) { order(id: $id) { id status totalAmount } }`;
const ORDER_AFTER = `query($id: ID!, $t: ConsistencyToken) { order(id: $id, after: $t) { id } }`;

const MB = 1024 * 1024;

export async function run(context: BenchContext): Promise<ScenarioOutcome> {
  const { config, record } = context;
  const burst = positiveNumber('WAITS_BURST', '5000', true);
  const holdS = positiveNumber('WAITS_HOLD_S', '5');
  const url = databaseUrl(config.baseUrl, env('WAITS_DB', 'converge_waits_bench'));
  const measurements: Measurement[] = [];
  const lines: string[] = [];
  for (const cap of [1000, burst * 2]) {
    await prepareDatabase(url, config.poolMax);
    const server = await startChild(url, config.poolMax, {
      CONSISTENCY_MAX_WAITS: String(cap),
      CONSISTENCY_TIMEOUT_MS: String((holdS + 5) * 1000),
    });
    const setup = createClient(server.url, 16);
    const others = createClient(server.url, OTHERS);
    try {
      const ids: string[] = [];
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (ids.length < SETUP_ORDERS)
            ids.push(
              (dataOf(await setup.post(CREATE, { input: orderInput(ids.length) }), 'create').createOrder as { orderId: string }).orderId,
            );
        }),
      );
      await sleep(1000); // projected, and the server settled
      let cursor = 0;
      const read = async () => {
        const id = ids[cursor++ % ids.length]!;
        const order = dataOf(await others.post(ORDER, { id }), 'order').order as { id: string } | null;
        if (order?.id !== id) throw new Error(`order(${id}) returned ${JSON.stringify(order)}`);
      };
      const unloaded = await runLoad({ concurrency: OTHERS, durationS: MEASURE_S, op: read });
      const idleRss = (await server.rssBytes())!;

      dataOf(await setup.post(`mutation { pauseProjection(name: "orders") { state } }`), 'pause');
      const created = dataOf(await setup.post(CREATE, { input: orderInput(0) }), 'create').createOrder as {
        orderId: string;
        consistencyToken: string;
      };
      // One socket per request: 5,000 clients, as 5,000 browser tabs would be.
      const agent = new http.Agent({ keepAlive: false, maxSockets: burst });
      const started = performance.now();
      const outcomes = { waited: 0, staleAtOnce: 0, failed: 0 };
      const requests = Array.from({ length: burst }, async () => {
        try {
          const response = await post(agent, server.url, ORDER_AFTER, { id: created.orderId, t: created.consistencyToken });
          const stale = (response.extensions as { consistency?: { stale?: boolean } } | undefined)?.consistency?.stale === true;
          if (stale) outcomes.staleAtOnce++;
          else outcomes.waited++;
        } catch {
          outcomes.failed++;
        }
      });
      let peakRss = idleRss;
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          peakRss = Math.max(peakRss, (await server.rssBytes()) ?? 0);
          await sleep(200);
        }
      })();
      await sleep(300); // the burst in flight
      const during = await runLoad({ concurrency: OTHERS, durationS: Math.min(MEASURE_S, Math.max(1, holdS - 1)), op: read });
      const heldFor = performance.now() - started;
      await sleep(Math.max(0, holdS * 1000 - heldFor));
      dataOf(await setup.post(`mutation { resumeProjection(name: "orders") { state } }`), 'resume');
      await Promise.all(requests);
      sampling = false;
      await sampler;
      agent.destroy();

      const label = cap >= burst ? 'every request waits' : `cap ${cap}`;
      const extra = {
        burst,
        cap,
        idleRssMb: round(idleRss / MB, 1),
        peakRssMb: round(peakRss / MB, 1),
        rssAboveIdleMb: round((peakRss - idleRss) / MB, 1),
        waited: outcomes.waited,
        staleAtOnce: outcomes.staleAtOnce,
        failed: outcomes.failed,
        unloadedP50ms: unloaded.p50ms,
        unloadedP99ms: unloaded.p99ms,
        p99OverUnloaded: unloaded.p99ms && during.p99ms ? round(during.p99ms / unloaded.p99ms, 2) : null,
      };
      measurements.push(
        record(
          {
            system: 'converge',
            scenario: `waits-burst-${cap >= burst ? 'uncapped' : 'capped'}`,
            concurrency: OTHERS,
            ...during,
            pool: config.poolMax,
          },
          extra,
        ),
      );
      lines.push(
        `${label.padEnd(22)} RSS ${extra.idleRssMb} MB idle, +${extra.rssAboveIdleMb} MB at peak; others' order(id) p50/p99 ` +
          `${unloaded.p50ms}/${unloaded.p99ms} ms unloaded, ${during.p50ms}/${during.p99ms} ms during (p99 ${extra.p99OverUnloaded}x); ` +
          `${outcomes.waited} waited, ${outcomes.staleAtOnce} stale at once, ${outcomes.failed} failed`,
      );
    } finally {
      setup.close();
      others.close();
      await server.stop();
    }
  }
  log('');
  return {
    measurements,
    summary: [
      `waits: a burst of ${burst} order(id, after:) requests whose token is reached after ${holdS} s`,
      ...lines,
      'goal: RSS < 150 MB above idle; p99 during <= 2x unloaded',
    ].join('\n'),
  };
}

/** One request on a socket of its own (the burst's clients do not share connections). */
function post(
  agent: http.Agent,
  url: string,
  query: string,
  variables: Record<string, unknown>,
): Promise<GraphQLResponse & { extensions?: unknown }> {
  const { hostname, port, pathname } = new URL(url);
  const body = JSON.stringify({ query, variables });
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        agent,
        hostname,
        port,
        path: pathname,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () => {
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
          } catch (error) {
            reject(error);
          }
        });
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

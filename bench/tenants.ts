// Scenario `tenants`: can a noisy tenant starve the others? A server child (bench/server.ts) with
// TENANCY=multi in open development mode (tenants named by x-tenant) on PostgreSQL.
//   1. The single-tenant createOrder throughput at full speed (c=32, tenant `solo`), on a server
//      without a limit: T.
//   2. A server with TENANT_COMMANDS_PER_SECOND = T/2 (T x TENANTS_LIMIT_FRACTION). Tenant `quiet` runs, one after the other,
//      createOrder, createOrder { order } (a read-your-writes wait) and order(id), each at c=4 for
//      TENANTS_MEASURE_S, alone and then while tenant `noisy` floods createOrder at c=32 (its refusals,
//      RATE_LIMITED, answered at once, count as its requests). Rounds alternate, and the summary gives the
//      median over rounds of each operation's p99 with the flood over its p99 alone.
//   Goal (issue 26): at most 2x for each of the three.
// Env: TENANTS_LIMIT_FRACTION (0.5), TENANTS_ROUNDS (3), TENANTS_MEASURE_S (5), TENANTS_DB (converge_tenants_bench), lib.ts's POOL_MAX.
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
import { createClient, dataOf, prepareDatabase, startChild } from './server.ts';

const CREATE = 'mutation($input: CreateOrderInput!) { createOrder(input: $input) { orderId consistencyToken } }';
const CREATE_READ = 'mutation($input: CreateOrderInput!) { createOrder(input: $input) { orderId order { id status } } }';
const ORDER = 'query($id: ID!) { order(id: $id) { id status totalAmount items { productId quantity } } }';
const QUIET_C = 4;
const FLOOD_C = 32;

export async function run(context: BenchContext): Promise<ScenarioOutcome> {
  const { config, record } = context;
  const rounds = positiveNumber('TENANTS_ROUNDS', '3', true);
  const measureS = positiveNumber('TENANTS_MEASURE_S', '5');
  const url = databaseUrl(config.baseUrl, env('TENANTS_DB', 'converge_tenants_bench'));
  const measurements: Measurement[] = [];
  const keep = (system: string, scenario: string, concurrency: number, result: Awaited<ReturnType<typeof runLoad>>) => {
    const m = record({ system, scenario, concurrency, ...result, pool: config.poolMax });
    measurements.push(m);
    return m;
  };

  // 1. What one tenant does at full speed, no limit.
  await prepareDatabase(url, config.poolMax);
  let server = await startChild(url, config.poolMax, { TENANCY: 'multi' });
  let full: number;
  try {
    const solo = createClient(server.url, FLOOD_C, { 'x-tenant': 'solo' });
    await runLoad({
      concurrency: FLOOD_C,
      durationS: config.warmupS,
      op: async (w, n) => void (await solo.post(CREATE, { input: orderInput(w * 1e6 + n) })),
    });
    const measured = await runLoad({
      concurrency: FLOOD_C,
      durationS: measureS,
      op: async (w, n) => void dataOf(await solo.post(CREATE, { input: orderInput(w * 1e6 + n) }), 'createOrder'),
    });
    full = measured.opsPerSec;
    keep('converge', 'tenants-solo-create-order', FLOOD_C, measured);
    solo.close();
  } finally {
    await server.stop();
  }
  const fraction = positiveNumber('TENANTS_LIMIT_FRACTION', '0.5');
  const limit = Math.max(1, Math.round(full * fraction));
  log(`tenants: one tenant alone, createOrder ${full}/s: the limit is ${limit}/s per tenant`);

  // 2. The quiet tenant, alone and beside the flood.
  server = await startChild(url, config.poolMax, { TENANCY: 'multi', TENANT_COMMANDS_PER_SECOND: String(limit) });
  const ratios: Record<string, number[]> = { create: [], 'create-read': [], 'by-id': [] };
  try {
    const quiet = createClient(server.url, QUIET_C, { 'x-tenant': 'quiet' });
    const noisy = createClient(server.url, FLOOD_C, { 'x-tenant': 'noisy' });
    const ids: string[] = [];
    for (let i = 0; i < 200; i++) ids.push(dataOf(await quiet.post(CREATE, { input: orderInput(i) }), 'createOrder').createOrder.orderId);
    await sleep(1000); // the quiet tenant's bucket is full again
    // Under the limit: the quiet tenant's own rate stays well below T/2 at c=4 only if a request takes
    // longer than 8/T s; a refusal would show as an error below, and the bench says so.
    const ops = {
      create: async (w: number, n: number) => void dataOf(await quiet.post(CREATE, { input: orderInput(w * 1e6 + n) }), 'createOrder'),
      'create-read': async (w: number, n: number) =>
        void dataOf(await quiet.post(CREATE_READ, { input: orderInput(w * 1e6 + n) }), 'createOrder { order }'),
      'by-id': async (w: number, n: number) => void dataOf(await quiet.post(ORDER, { id: ids[(w * 31 + n) % ids.length] }), 'order'),
    };
    let flooded = { requests: 0, refused: 0 };
    const flood = async (until: { stop: boolean }) => {
      const worker = async (w: number) => {
        for (let n = 0; !until.stop; n++) {
          const response = await noisy
            .post(CREATE, { input: orderInput(w * 1e6 + n) })
            .catch((error: Error) => ({ errors: [{ message: error.message }] }));
          flooded.requests++;
          if (response.errors?.length) flooded.refused++;
        }
      };
      await Promise.all(Array.from({ length: FLOOD_C }, (_, w) => worker(w)));
    };
    for (let round_ = 1; round_ <= rounds; round_++) {
      for (const [name, op] of Object.entries(ops)) {
        const alone = keep('converge', `tenants-quiet-${name}`, QUIET_C, await runLoad({ concurrency: QUIET_C, durationS: measureS, op }));
        const until = { stop: false };
        flooded = { requests: 0, refused: 0 };
        const flooding = flood(until);
        await sleep(500); // the flood at full speed first
        const beside = keep(
          'converge',
          `tenants-quiet-${name}-flooded`,
          QUIET_C,
          await runLoad({ concurrency: QUIET_C, durationS: measureS, op }),
        );
        until.stop = true;
        await flooding;
        const ratio = beside.p99ms && alone.p99ms ? beside.p99ms / alone.p99ms : Number.NaN;
        ratios[name]!.push(ratio);
        log(
          `tenants round ${round_} ${name}: p99 alone ${alone.p99ms} ms, flooded ${beside.p99ms} ms (${round(ratio, 2)}x); ` +
            `quiet errors ${alone.errors}/${beside.errors}; flood ${flooded.requests} requests, ${flooded.refused} refused`,
        );
      }
    }
    quiet.close();
    noisy.close();
  } finally {
    await server.stop();
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const lines = Object.entries(ratios).map(
    ([name, values]) =>
      `  ${name.padEnd(12)} p99 flooded/alone median ${round(median(values), 2)}x (rounds: ${values.map((v) => round(v, 2)).join(', ')}) ${median(values) <= 2 ? 'ok' : 'MISSED'} (goal <= 2x)`,
  );
  return { measurements, summary: [`tenants (limit ${limit}/s = ${fraction} of one tenant's ${full}/s):`, ...lines].join('\n') };
}

// Scenario `replicas`: queries on a streaming replica (DATABASE_REPLICA_URLS) against the primary alone.
// A private primary (initdb in a temp folder, as `npm run soak`; needs root and the server binaries) and,
// in turn, one hot standby of it (pg_basebackup -R) replaying each commit 0, 10 and 200 ms late
// (recovery_min_apply_delay). Against a server child on each set-up, REPLICAS_CONCURRENCY (4) clients:
//   - order(id) without a token: latency p50/p99 (it reads any replica in rotation);
//   - createOrder then order(id, after: <its token>): the read's latency p50/p99, and the share of those
//     reads that fell back to the primary (no replica had replayed the commit within REPLICA_WAIT_MS).
// On two cores throughput gains are not the point: correctness (tested in test/e2e/replicas.e2e.test.ts)
// and the added latency are.
// Env: REPLICAS_CONCURRENCY (4), REPLICAS_DELAYS_MS (0,10,200), DURATION_S, lib.ts's POOL_MAX.
import { setTimeout as sleep } from 'node:timers/promises';
import { startPrivateCluster, startReplica, canRunPrivateCluster, type PrivateCluster } from '../test/support/processes.ts';
import {
  integerList,
  log,
  orderInput,
  percentile,
  positiveNumber,
  round,
  runLoad,
  type BenchContext,
  type Measurement,
  type ScenarioOutcome,
} from './lib.ts';
import { createClient, dataOf, prepareDatabase, startChild } from './server.ts';

const CREATE = `mutation($input: CreateOrderInput!) { createOrder(input: $input) { orderId consistencyToken } }`;
const ORDER = `query($id: ID!, $t: ConsistencyToken) { order(id: $id, after: $t) { id status totalAmount } }`;

async function readsByTarget(origin: string): Promise<{ replica: number; primary: number }> {
  const text = await (await fetch(`${origin}/metrics`)).text();
  const count = (target: string) =>
    text
      .split('\n')
      .filter((l) => l.startsWith(`converge_query_reads_total{target="${target}",token="yes"`))
      .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
  return { replica: count('replica'), primary: count('primary') };
}

export async function run(context: BenchContext): Promise<ScenarioOutcome> {
  const { config, record } = context;
  if (!canRunPrivateCluster()) {
    log('replicas: needs root and the PostgreSQL server binaries (initdb, pg_basebackup) for a private primary and replica; skipped');
    return { measurements: [] };
  }
  const concurrency = positiveNumber('REPLICAS_CONCURRENCY', '4', true);
  const delays = integerList('REPLICAS_DELAYS_MS', '0,10,200', 0);
  const measurements: Measurement[] = [];
  const rows: string[] = [];
  const primary = await startPrivateCluster();
  try {
    await prepareDatabase(primary.url, config.poolMax);
    for (const delay of [null, ...delays]) {
      let replica: PrivateCluster | undefined;
      if (delay !== null) replica = await startReplica(primary, { applyDelayMs: delay });
      const label = delay === null ? 'primary alone' : `replica, ${delay} ms replay delay`;
      const server = await startChild(primary.url, config.poolMax, replica ? { DATABASE_REPLICA_URLS: replica.url } : {});
      const origin = server.url.replace(/\/graphql$/, '');
      const client = createClient(server.url, concurrency);
      try {
        const ids: string[] = [];
        for (let i = 0; i < 200; i++)
          ids.push((dataOf(await client.post(CREATE, { input: orderInput(i) }), 'create').createOrder as { orderId: string }).orderId);
        await sleep(1500); // projected, replayed, and the replica checked
        const plain = await runLoad({
          concurrency,
          durationS: config.durationS,
          op: async (w, seq) => {
            const id = ids[(w * 7919 + seq) % ids.length]!;
            if ((dataOf(await client.post(ORDER, { id }), 'order').order as { id: string } | null)?.id !== id)
              throw new Error(`order(${id}) missing`);
          },
        });
        const before = await readsByTarget(origin);
        const tokened: number[] = [];
        let stale = 0;
        await runLoad({
          concurrency,
          durationS: config.durationS,
          op: async (w, seq) => {
            const created = dataOf(await client.post(CREATE, { input: orderInput(w * 1000 + seq) }), 'create').createOrder as {
              orderId: string;
              consistencyToken: string;
            };
            const started = performance.now();
            const response = await client.post(ORDER, { id: created.orderId, t: created.consistencyToken });
            tokened.push(performance.now() - started);
            if ((response as { extensions?: { consistency?: { stale?: boolean } } }).extensions?.consistency?.stale) stale++;
            if ((dataOf(response, 'order').order as { id: string } | null)?.id !== created.orderId)
              throw new Error('read behind its token');
          },
        });
        const after = await readsByTarget(origin);
        tokened.sort((a, b) => a - b);
        const onPrimary = after.primary - before.primary;
        const total = onPrimary + after.replica - before.replica;
        const fellBack = replica ? round(total > 0 ? onPrimary / total : 0, 3) : null;
        const tokenP50 = round(percentile(tokened, 50), 3);
        const tokenP99 = round(percentile(tokened, 99), 3);
        const scenario = delay === null ? 'replicas-primary' : `replicas-delay-${delay}ms`;
        measurements.push(
          record(
            {
              system: 'converge',
              scenario,
              concurrency,
              opsPerSec: plain.opsPerSec,
              p50ms: plain.p50ms,
              p99ms: plain.p99ms,
              ops: plain.ops,
              seconds: plain.seconds,
              errors: plain.errors,
              pool: config.poolMax,
            },
            { tokenReadP50ms: tokenP50, tokenReadP99ms: tokenP99, tokenReads: tokened.length, stale, fellBackToPrimary: fellBack },
          ),
        );
        rows.push(
          `  ${label.padEnd(28)} no token p50 ${String(plain.p50ms).padStart(6)} p99 ${String(plain.p99ms).padStart(7)} ms | ` +
            `with token p50 ${String(tokenP50).padStart(6)} p99 ${String(tokenP99).padStart(7)} ms, ${tokened.length} reads, ${stale} stale, ` +
            `fell back to the primary ${fellBack === null ? '-' : `${round(fellBack * 100, 1)}%`}`,
        );
      } finally {
        client.close();
        await server.stop();
        replica?.destroy();
      }
    }
  } finally {
    primary.destroy();
  }
  return { measurements, summary: [`replicas (c=${concurrency}, ${config.durationS}s each): order(id) latency`, ...rows].join('\n') };
}

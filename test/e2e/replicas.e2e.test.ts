// Queries on PostgreSQL streaming replicas (issue: reads that scale out): a private primary with two hot
// standbys made by pg_basebackup -R, one of them replaying each commit 200 ms late. Reads with a token
// are never older than it; reads land on the replicas; a replica stopped under load fails no request and
// is used again once back; one promoted away leaves the rotation; a URL that reaches another cluster, or a
// server not in recovery, is refused at start.
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  killServer,
  runMainToExit,
  startPrivateCluster,
  startReplica,
  startServer,
  type PrivateCluster,
  type ServerProcess,
} from '../support/processes.ts';
import { sql } from 'drizzle-orm';
import { openDatabase } from '../../src/infra/db/open-database.ts';
import { describeIf, needsPrivateCluster } from '../support/skip.ts';
import { untilWithin } from '../support/until.ts';

const CREATE = `mutation($input: CreateOrderInput!) { createOrder(input: $input) { orderId version consistencyToken } }`;
const READ = `query($id: ID!, $after: ConsistencyToken) { order(id: $id, after: $after) { id version } }`;
const input = (customerId: string) => ({
  input: {
    customerId,
    items: [{ productId: 'p', quantity: 1, unitPrice: '2.50' }],
    shippingAddress: { line1: '1 Main St', city: 'Berlin', postalCode: '10115', country: 'DE' },
  },
});

async function metric(server: ServerProcess, line: string): Promise<number> {
  const text = await (await fetch(`${server.origin}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(line))
    .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
}

/** Index and sequential scans of `orders` on one cluster, as its statistics show them. */
async function ordersScans(url: string): Promise<number> {
  const database = await openDatabase({ url, poolMax: 1 });
  try {
    const [row] = await database.rows<{ n: string }>(
      sql`select (coalesce(idx_scan, 0) + coalesce(seq_scan, 0))::text as n from pg_stat_user_tables where relname = 'orders'`,
    );
    return Number(row?.n ?? 0);
  } finally {
    await database.close();
  }
}

const until = untilWithin({ timeoutMs: 20_000, intervalMs: 100 });

describeIf(needsPrivateCluster('real replication'), 'queries on streaming replicas', () => {
  let primary: PrivateCluster;
  let fast: PrivateCluster & { promote(): void };
  let slow: PrivateCluster & { promote(): void };
  let server: ServerProcess | undefined;

  beforeAll(async () => {
    primary = await startPrivateCluster();
    fast = await startReplica(primary);
    slow = await startReplica(primary, { applyDelayMs: 200 });
  }, 120_000);
  afterAll(async () => {
    await killServer(server);
    for (const cluster of [slow, fast, primary]) cluster?.destroy();
  });

  const serve = async (replicas: PrivateCluster[]) => {
    await killServer(server);
    server = await startServer({
      DATABASE_URL: primary.url,
      DATABASE_REPLICA_URLS: replicas.map((r) => r.url).join(','),
      LOG_LEVEL: 'warn',
    });
    const s = server;
    await until('every replica in rotation', async () => (await metric(s, 'converge_replica_in_rotation{')) === replicas.length);
    return s;
  };

  it('500 create→read-with-token cycles, one replica 200 ms behind: every read is as new as its token, none stale', async () => {
    const s = await serve([slow, fast]);
    const listed = await s.gql(`{ replicas { state lagSeconds } }`);
    expect(listed.data?.replicas).toEqual([
      { state: 'IN_ROTATION', lagSeconds: expect.any(Number) },
      { state: 'IN_ROTATION', lagSeconds: expect.any(Number) },
    ]);
    let fresh = 0;
    const problems: string[] = [];
    for (let i = 0; i < 500; i++) {
      const created = (await s.gql(CREATE, input(`ryw-${i % 7}`))).data.createOrder;
      const r = await s.gql(READ, { id: created.orderId, after: created.consistencyToken });
      if (r.data?.order?.version === 1 && !(r as any).extensions?.consistency?.stale) fresh++;
      else problems.push(JSON.stringify(r));
    }
    expect(problems.slice(0, 3)).toEqual([]);
    expect(fresh).toBe(500);
    // Most went to the replica that keeps up; none was answered by the delayed one before its time.
    const onReplica = await metric(s, 'converge_query_reads_total{target="replica",token="yes"');
    expect(onReplica).toBeGreaterThan(250);
  }, 180_000);

  it('reads without a token land on the replicas: their statistics move, the primary does not see them', async () => {
    const s = await serve([fast]);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await s.gql(CREATE, input('stats'))).data.createOrder.orderId);
    await until('the replica has the orders', async () => (await s.gql(READ, { id: ids[4] })).data?.order !== null);
    await sleep(11_000); // backends report their statistics within 10 s of going idle
    const [primaryBefore, replicaBefore] = [await ordersScans(primary.url), await ordersScans(fast.url)];
    for (let i = 0; i < 200; i++) expect((await s.gql(READ, { id: ids[i % 5] })).data.order.id).toBe(ids[i % 5]);
    await until('the replica counts 200 more reads of orders', async () => (await ordersScans(fast.url)) >= replicaBefore + 200);
    await sleep(11_000);
    expect(await ordersScans(primary.url)).toBeLessThan(primaryBefore + 20);
  }, 120_000);

  it('a replica stopped under load fails no request, and is used again once it is back', async () => {
    const s = await serve([fast]);
    let failures = 0;
    let done = 0;
    let running = true;
    const errors: string[] = [];
    const workers = Array.from({ length: 4 }, async (_, w) => {
      while (running) {
        try {
          const created = (await s.gql(CREATE, input(`load-${w}`))).data?.createOrder;
          if (!created) throw new Error('createOrder failed');
          const withToken = await s.gql(READ, { id: created.orderId, after: created.consistencyToken });
          const without = await s.gql(READ, { id: created.orderId });
          if (withToken.errors || without.errors || withToken.data.order.version !== 1)
            throw new Error(JSON.stringify([withToken, without]));
          done++;
        } catch (error) {
          failures++;
          errors.push((error as Error).message);
        }
      }
    });
    await sleep(2000);
    fast.stop();
    await until('the stopped replica is out of rotation', async () => (await metric(s, 'converge_replica_in_rotation{')) === 0);
    await sleep(2000);
    fast.start();
    await until('the replica is back in rotation', async () => (await metric(s, 'converge_replica_in_rotation{')) === 1);
    const before = await metric(s, 'converge_query_reads_total{target="replica"');
    await sleep(1000);
    running = false;
    await Promise.all(workers);
    expect(errors.slice(0, 3)).toEqual([]);
    expect(failures).toBe(0);
    expect(done).toBeGreaterThan(50);
    expect(await metric(s, 'converge_query_reads_total{target="replica"')).toBeGreaterThan(before);
  }, 120_000);

  it('orderChanged emits every change of an order when its reads go to a replica', async () => {
    const s = await serve([fast]);
    const created = (await s.gql(CREATE, input('watched'))).data.createOrder;
    const client = createClient({ url: s.url.replace(/^http/, 'ws'), webSocketImpl: WebSocket });
    const seen: number[] = [];
    const stop = client.subscribe<{ orderChanged: { version: number } }>(
      { query: `subscription($id: ID!) { orderChanged(id: $id) { version } }`, variables: { id: created.orderId } },
      { next: ({ data }) => void seen.push(data!.orderChanged.version), error: () => {}, complete: () => {} },
    );
    try {
      await sleep(500); // subscribed
      const ADD = `mutation($input: AddOrderItemInput!) { addOrderItem(input: $input) { version } }`;
      for (let i = 0; i < 30; i++) {
        const r = await s.gql(ADD, { input: { orderId: created.orderId, productId: `p${i}`, quantity: 1, unitPrice: '1.00' } });
        expect(r.data.addOrderItem.version).toBe(i + 2);
      }
      await until('the last change is emitted', async () => seen.at(-1) === 31);
      // Each change once, in order (two changes projected in one step come as one emission of the later).
      expect(seen).toEqual([...seen].sort((a, b) => a - b));
      expect(new Set(seen).size).toBe(seen.length);
      expect(await metric(s, 'converge_query_reads_total{target="replica",token="yes"')).toBeGreaterThan(0);
    } finally {
      stop();
      await client.dispose();
    }
  }, 60_000);

  it('a replica URL that reaches another cluster, or a server not in recovery, is refused at start in one line', async () => {
    const other = await startPrivateCluster();
    try {
      const foreign = await runMainToExit({ DATABASE_URL: primary.url, DATABASE_REPLICA_URLS: other.url, PORT: '0' });
      expect(foreign.code).toBe(1);
      expect(foreign.stderr.trim().split('\n')).toEqual([
        expect.stringMatching(
          /^converge: .*DATABASE_REPLICA_URLS: 127\.0\.0\.1:\d+\/postgres: it is not a replica of DATABASE_URL: its system identifier is \d+, the primary's \d+$/,
        ),
      ]);
      const itself = await runMainToExit({ DATABASE_URL: primary.url, DATABASE_REPLICA_URLS: primary.url, PORT: '0' });
      expect(itself.code).toBe(1);
      expect(itself.stderr.trim().split('\n')).toEqual([
        expect.stringMatching(/^converge: .*DATABASE_REPLICA_URLS: .*: it is not in recovery/),
      ]);
    } finally {
      other.destroy();
    }
  }, 60_000);

  it('a replica promoted away leaves the rotation, and /ready says so', async () => {
    const s = await serve([slow]);
    slow.promote();
    await until('the promoted replica is out', async () => {
      const ready = (await (await fetch(`${s.origin}/ready`)).json()) as { ready: boolean; replicas?: { state: string }[] };
      return ready.ready && ready.replicas?.[0]?.state === 'PROMOTED';
    });
    const listed = await s.gql(`{ replicas { name state reason } }`);
    expect(listed.data?.replicas).toEqual([
      { name: expect.stringMatching(/:\d+\//), state: 'PROMOTED', reason: expect.stringMatching(/not in recovery/) },
    ]);
    const created = (await s.gql(CREATE, input('promoted'))).data.createOrder;
    const r = await s.gql(READ, { id: created.orderId, after: created.consistencyToken });
    expect(r.data.order.version).toBe(1);
    expect(s.logs.some((line) => line.includes('replica out of rotation'))).toBe(true);
  }, 60_000);
});

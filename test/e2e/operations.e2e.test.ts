// Running it for real: several server processes on one PostgreSQL, a killed projection holder, SIGTERM
// under load, a PostgreSQL restart under load, and /metrics. Real processes, real PostgreSQL (the
// metrics test runs on both drivers).
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Database } from '../../src/infra/db/database.ts';
import { openDatabase } from '../../src/infra/db/open-database.ts';
import { createPostgresEventStore } from '../../src/infra/event-store/postgres-event-store.ts';
import { orderEventSchemas } from '../../src/orders/events.ts';
import { createTestDatabase, driverName, type TestDatabase, testDataKeys } from '../support/db.ts';
import { killServer, startPrivateCluster, startServer, type ServerProcess } from '../support/processes.ts';
import { startTestServer } from '../support/server.ts';
import { startTcpProxy } from '../support/tcp-proxy.ts';
import { expectOrdersMatchStore } from '../support/services.ts';
import { sql } from 'drizzle-orm';
import { describeIf, needsPostgres, needsPrivateCluster } from '../support/skip.ts';

const CREATE = `mutation($input: CreateOrderInput!) { createOrder(input: $input) { orderId version consistencyToken } }`;
const input = (customerId: string, commandId?: string) => ({
  input: {
    ...(commandId && { commandId }),
    customerId,
    items: [{ productId: 'p', quantity: 1, unitPrice: '2.50' }],
    shippingAddress: { line1: '1 Main St', city: 'Berlin', postalCode: '10115', country: 'DE' },
  },
});

/** Closed-loop writers; every order the server acknowledged is kept. */
function load(servers: () => ServerProcess[], writers = 6) {
  const acked: { orderId: string; token: string }[] = [];
  let failures = 0;
  let running = true;
  const done = Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      for (let i = 0; running; i++) {
        const list = servers();
        const server = list[i % list.length]!;
        try {
          const r = await server.gql(CREATE, input(`c-${w}`));
          if (r.data?.createOrder) acked.push({ orderId: r.data.createOrder.orderId, token: r.data.createOrder.consistencyToken });
          else failures++;
        } catch {
          failures++;
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    }),
  );
  return {
    acked,
    failures: () => failures,
    async stop() {
      running = false;
      await done;
    },
  };
}

async function progressCompletes(server: ServerProcess, token: string, timeoutMs: number): Promise<number> {
  const started = Date.now();
  const client = createClient({ url: server.url.replace('http', 'ws'), webSocketImpl: WebSocket, retryAttempts: 5, lazy: true });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`projectionProgress did not complete in ${timeoutMs} ms`)), timeoutMs);
      client.subscribe(
        { query: `subscription($t: ConsistencyToken) { projectionProgress(until: $t) { caughtUp } }`, variables: { t: token } },
        {
          next() {},
          error: (e) => {
            clearTimeout(timer);
            reject(e);
          },
          complete: () => {
            clearTimeout(timer);
            resolve();
          },
        },
      );
    });
  } finally {
    await client.dispose();
  }
  return Date.now() - started;
}

async function expectAllAcked(database: Database, acked: { orderId: string }[]) {
  const rows = await database.rows<{ id: string }>(sql`select distinct stream_id as id from events`);
  const stored = new Set(rows.map((r) => r.id));
  expect(acked.filter((a) => !stored.has(a.orderId))).toEqual([]);
}

describeIf(needsPostgres('several server processes on one database'), 'several server processes on one PostgreSQL', () => {
  let t: TestDatabase;
  const servers: ServerProcess[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) {
      if (s.child.exitCode === null) s.kill('SIGKILL');
      await s.exited;
    }
    await t?.close();
  });

  const url = () => (t.options as { url: string }).url;

  it('a mutation on one instance, projectionProgress(until:) on another completes', async () => {
    t = await createTestDatabase();
    const a = await startServer({ DATABASE_URL: url() });
    servers.push(a);
    const b = await startServer({ DATABASE_URL: url(), PROJECTIONS: 'off' });
    servers.push(b);
    const r = await a.gql(CREATE, input('c-1'));
    expect(r.errors).toBeUndefined();
    expect(await progressCompletes(b, r.data.createOrder.consistencyToken, 10_000)).toBeLessThan(10_000);
    const read = await b.gql(`query($id: ID!, $t: ConsistencyToken) { order(id: $id, after: $t) { id } }`, {
      id: r.data.createOrder.orderId,
      t: r.data.createOrder.consistencyToken,
    });
    expect(read.data).toEqual({ order: { id: r.data.createOrder.orderId } });
  });

  it('kill -9 of the projection holder under load: the other catches up within 5 s, nothing missing or doubled', async () => {
    t = await createTestDatabase();
    const holder = await startServer({ DATABASE_URL: url() });
    servers.push(holder);
    const other = await startServer({ DATABASE_URL: url() });
    servers.push(other);
    const writes = load(() => [other]);
    await new Promise((r) => setTimeout(r, 1000));
    holder.kill('SIGKILL');
    await holder.exited;
    const killedAt = Date.now();
    await new Promise((r) => setTimeout(r, 1000));
    await writes.stop();
    const last = writes.acked.at(-1)!;
    const waited = await progressCompletes(other, last.token, 10_000);
    expect(Date.now() - killedAt).toBeLessThan(5000 + 1500); // takeover, plus the extra second of load
    expect(waited).toBeLessThan(5000);
    expect(writes.acked.length).toBeGreaterThan(10);
    const store = createPostgresEventStore({ db: t.database, schemas: orderEventSchemas, personal: testDataKeys(t.database) });
    await expectOrdersMatchStore(t.database, store);
  });

  it('SIGTERM under load loses no acknowledged command and exits within 10 s', async () => {
    t = await createTestDatabase();
    const server = await startServer({ DATABASE_URL: url() });
    servers.push(server);
    const writes = load(() => [server], 8);
    await new Promise((r) => setTimeout(r, 1000));
    const sentAt = Date.now();
    server.kill('SIGTERM');
    const code = await server.exited;
    const tookMs = Date.now() - sentAt;
    await writes.stop();
    expect(code).toBe(0);
    expect(tookMs).toBeLessThan(10_000);
    expect(writes.acked.length).toBeGreaterThan(10);
    await expectAllAcked(t.database, writes.acked);
    expect(server.logs.some((l) => l.includes('"msg":"stopped"'))).toBe(true);
  });
});

describeIf(needsPostgres('the postgres.js driver behind a TCP proxy'), 'database sockets that die mid-write (postgres.js #1154)', () => {
  it('lose no acknowledged command, and a command retried with its commandId gets its first result', async () => {
    const t = await createTestDatabase();
    const proxy = await startTcpProxy((t.options as { url: string }).url);
    let server: ServerProcess | undefined;
    try {
      server = await startServer({ DATABASE_URL: proxy.url });
      const s = server;
      const acked = new Map<string, string>(); // commandId -> orderId
      const failed: { commandId: string; customer: string }[] = [];
      // A request left unanswered would otherwise hold the test until vitest's timeout, which says nothing
      // and prints no logs: past the deadline (CONSISTENCY_TIMEOUT_MS and a connect timeout, with room to
      // spare) it fails, naming the command.
      const unanswered: string[] = [];
      const send = async (customer: string, commandId: string) => {
        const started = Date.now();
        try {
          return await s.gql(CREATE, input(customer, commandId), { signal: AbortSignal.timeout(15_000) });
        } catch (error) {
          if (!(error instanceof Error && error.name === 'TimeoutError')) throw error;
          unanswered.push(`${commandId} (no answer in ${Date.now() - started} ms)`);
          throw new Error(`the server did not answer ${commandId} in ${Date.now() - started} ms`, { cause: error });
        }
      };
      let running = true;
      const writers = Array.from({ length: 8 }, async (_, w) => {
        for (let i = 0; running; i++) {
          const commandId = `cut-${w}-${i}`;
          try {
            const r = await send(`c-${w}`, commandId);
            if (r.data?.createOrder) acked.set(commandId, r.data.createOrder.orderId);
            else failed.push({ commandId, customer: `c-${w}` });
          } catch {
            failed.push({ commandId, customer: `c-${w}` });
          }
        }
      });
      let cuts = 0;
      for (let i = 0; i < 6; i++) {
        await new Promise((r) => setTimeout(r, 300));
        cuts += proxy.cutAll();
      }
      // The writers go on after the last cut until more than ten commands were acknowledged in all: on a
      // loaded machine reconnecting every connection takes seconds (a fixed 0.5 s failed 15 runs in 128).
      const settleBy = Date.now() + 10_000;
      await new Promise((r) => setTimeout(r, 500));
      while (acked.size <= 10 && Date.now() < settleBy) await new Promise((r) => setTimeout(r, 100));
      running = false;
      await Promise.all(writers);
      expect(unanswered, 'commands the server did not answer').toEqual([]);
      expect(cuts).toBeGreaterThan(0);
      expect(acked.size).toBeGreaterThan(10);
      expect(s.child.exitCode).toBeNull(); // the process lived through it

      // Every acknowledged command's events are there, exactly once.
      const rows = await t.database.rows<{ command_id: string; stream_id: string; n: number }>(sql`
        select c.command_id, c.stream_id, (select count(*)::int from events e where e.stream_id = c.stream_id) as n
        from commands c`);
      const stored = new Map(rows.map((r) => [r.command_id, r]));
      for (const [commandId, orderId] of acked) {
        expect(stored.get(commandId), commandId).toMatchObject({ stream_id: orderId, n: 1 });
      }
      // A failed command, retried with its commandId, answers its first result if it had one.
      for (const { commandId, customer } of failed.slice(0, 20)) {
        const retried = await send(customer, commandId);
        expect(retried.errors, commandId).toBeUndefined();
        const first = stored.get(commandId);
        if (first) expect(retried.data.createOrder.orderId).toBe(first.stream_id);
      }
    } catch (error) {
      console.error(server?.logs.slice(-40).join('\n'));
      throw error;
    } finally {
      await killServer(server);
      await proxy.close();
      await t.close();
    }
  });
});

describeIf(needsPrivateCluster('a PostgreSQL outage'), 'a PostgreSQL outage (a private cluster, stopped and restarted)', () => {
  it('/ready goes false and commands fail within CONSISTENCY_TIMEOUT_MS, saying nothing was done, while it is down; everything recovers without a server restart', async () => {
    const cluster = await startPrivateCluster();
    let server: ServerProcess | undefined;
    try {
      server = await startServer({ DATABASE_URL: cluster.url });
      const s = server;
      const writes = load(() => [s], 4);
      await new Promise((r) => setTimeout(r, 800));
      cluster.restart(); // in the middle of the load
      await new Promise((r) => setTimeout(r, 1500));
      await writes.stop();
      expect(writes.acked.length).toBeGreaterThan(5);

      cluster.stop();
      const ready = await fetch(`${s.origin}/ready`);
      expect(ready.status).toBe(503);
      const started = Date.now();
      const refused = await s.gql(CREATE, input('c-down'));
      // Tried again for CONSISTENCY_TIMEOUT_MS (5 s here): nothing was sent, so nothing can be applied twice.
      expect(Date.now() - started).toBeLessThan(8000);
      expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'SERVICE_UNAVAILABLE', retryable: true, outcome: 'none' });
      expect(refused.errors?.[0]?.message).toMatch(/database is unavailable right now and nothing was done/);

      cluster.start();
      let recovered = false;
      for (let i = 0; i < 100 && !recovered; i++) {
        recovered = (await fetch(`${s.origin}/ready`)).ok;
        if (!recovered) await new Promise((r) => setTimeout(r, 100));
      }
      expect(recovered).toBe(true);
      const after = await s.gql(CREATE, input('c-after'));
      expect(after.errors).toBeUndefined();
      expect(await progressCompletes(s, after.data.createOrder.consistencyToken, 15_000)).toBeLessThan(15_000);

      const database = await openDatabase({ url: cluster.url });
      try {
        await expectAllAcked(database, writes.acked);
        await expectOrdersMatchStore(database, createPostgresEventStore({ db: database, schemas: orderEventSchemas }));
      } finally {
        await database.close();
      }
    } catch (error) {
      console.error(server?.logs.slice(-40).join('\n'));
      throw error;
    } finally {
      await killServer(server);
      cluster.destroy();
    }
  });
});

describe(`/metrics on ${driverName}`, () => {
  let s: Awaited<ReturnType<typeof startTestServer>>;
  afterAll(() => s?.close());

  it('shows every family, and the numbers move when traffic flows', async () => {
    s = await startTestServer();
    const scrape = async () => {
      const text = await (await fetch(`${s.origin}/metrics`)).text();
      const value = (line: string) =>
        Number(
          text
            .split('\n')
            .find((l) => l.startsWith(line))
            ?.split(' ')
            .at(-1) ?? NaN,
        );
      return { text, value };
    };
    const before = await scrape();
    for (const family of [
      'converge_http_requests_total',
      'converge_http_request_duration_seconds',
      'converge_graphql_operations_total',
      'converge_graphql_operation_duration_seconds',
      'converge_commands_total',
      'converge_command_duration_seconds',
      'converge_event_store_append_duration_seconds',
      'converge_projection_position',
      'converge_projection_lag_events',
      'converge_projection_lag_seconds',
      'converge_projection_state',
      'converge_websocket_connections',
      'converge_subscriptions_active',
      'converge_db_queries_in_flight',
      'converge_db_pool_max',
    ]) {
      expect(before.text, family).toMatch(new RegExp(`^# TYPE ${family} `, 'm'));
    }
    const created = await s.gql(CREATE, input('metrics-1'));
    await s.gql(`mutation { shipOrder(input: { orderId: "no-such-order" }) { version } }`);
    // Caught up first, so that the open subscription below waits for the next order.
    await s.subscribe(`subscription($t: ConsistencyToken) { projectionProgress(until: $t) { caughtUp } }`, {
      t: created.data.createOrder.consistencyToken,
    });
    const client = s.wsClient();
    const open = s.subscribe(`subscription { projectionProgress(projections: ["orders"]) { caughtUp } }`, undefined, { client, take: 2 });
    await new Promise((r) => setTimeout(r, 300));
    const during = await scrape();
    expect(during.value('converge_websocket_connections')).toBe(1);
    expect(during.value('converge_subscriptions_active{name="projectionProgress"}')).toBe(1);
    const second = await s.gql(CREATE, input('metrics-2'));
    await open;
    await s.subscribe(`subscription($t: ConsistencyToken) { projectionProgress(until: $t) { caughtUp } }`, {
      t: second.data.createOrder.consistencyToken,
    });
    const after = await scrape();
    expect(after.value('converge_commands_total{type="CreateOrder",outcome="ok",code="OK"}')).toBe(2);
    expect(after.value('converge_commands_total{type="ShipOrder",outcome="error",code="NOT_FOUND"}')).toBe(1);
    // Two orders (of no stock-controlled product: the fulfilment process appends nothing for them).
    expect(after.value('converge_event_store_append_duration_seconds_count')).toBe(2);
    expect(after.value('converge_graphql_operations_total{type="mutation",name="createOrder",outcome="ok"}')).toBe(2);
    expect(after.value('converge_http_requests_total{route="/graphql",method="POST",status="200"}')).toBeGreaterThanOrEqual(3);
    expect(after.value('converge_projection_position{projection="orders"}')).toBeGreaterThan(0);
    expect(after.value('converge_projection_state{projection="orders",state="RUNNING"}')).toBe(1);
    expect(after.value('converge_db_pool_max')).toBeGreaterThanOrEqual(1);
  });
});

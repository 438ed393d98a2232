// Integration events through faults, with the compiled server and a private nats-server: NATS down at
// start, killed mid-publish and restarted, restarted under load, and the server itself killed mid-publish.
// GraphQL keeps serving, /ready reports NATS without becoming unready, and stream CONVERGE ends up
// holding every public event exactly once, in order per stream. On PostgreSQL or PGlite (a data folder).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { createTestDatabase, driverName, onPostgres, type TestDatabase } from '../support/db.ts';
import { awaitStreamCount, natsClient, natsMissing, type NatsServer, startNatsServer, streamMessages } from '../support/nats.ts';
import { killServer, type ServerProcess, startServer } from '../support/processes.ts';
import { describeIf } from '../support/skip.ts';

const CREATE = `mutation($input: CreateOrderInput!) { createOrder(input: $input) { orderId } }`;
const ADD = `mutation($id: ID!, $commandId: ID!) {
  addOrderItem(input: { commandId: $commandId, orderId: $id, productId: "p-2", quantity: 1, unitPrice: "1.00" }) { version } }`;

describeIf(natsMissing, `integration events through faults (${driverName})`, () => {
  let t: TestDatabase | undefined;
  let dataDir: string | undefined;
  let nats: NatsServer | undefined;
  let nc: NatsConnection | undefined;
  let server: ServerProcess | undefined;

  beforeAll(async () => {
    if (onPostgres) t = await createTestDatabase();
  });
  afterAll(async () => {
    await t?.close();
  });
  afterEach(async () => {
    await killServer(server);
    await nc?.close();
    await nats?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    server = nc = nats = dataDir = undefined;
    await t?.reset();
  });

  /** The server on this test's database (a fresh PGlite folder, or the PostgreSQL test database), publishing to `nats`. */
  const serve = () => {
    dataDir ??= mkdtempSync(join(tmpdir(), 'converge-nats-e2e-'));
    const database: Record<string, string> = t && 'url' in t.options ? { DATABASE_URL: t.options.url } : { PGLITE_DIR: dataDir };
    return startServer({ ...database, NATS_URL: nats!.url, LOG_LEVEL: 'warn' });
  };

  /** `orders` orders of two events each (created, item-added), `concurrency` at a time; `during` runs after half. */
  let loads = 0;
  async function load(orders: number, during?: () => Promise<void>, concurrency = 4) {
    const ids: string[] = [];
    const run = ++loads; // commandIds unique to this call: another load's would answer with its orders
    let next = 0;
    let halfway: Promise<void> | undefined;
    const worker = async () => {
      while (next < orders) {
        const n = next++;
        if (n === Math.floor(orders / 2) && during) halfway = during();
        const created = await command(CREATE, {
          input: {
            commandId: `create-${run}-${n}`,
            customerId: `c-${n}`,
            items: [{ productId: 'p-1', quantity: 1, unitPrice: '9.99' }],
            shippingAddress: { line1: '1 Main St', city: 'Berlin', postalCode: '10115', country: 'DE' },
          },
        });
        const id = created.createOrder.orderId as string;
        await command(ADD, { id, commandId: `add-${run}-${n}` });
        ids.push(id);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    await halfway;
    return ids;
  }

  /**
   * A command, sent again (its commandId makes that safe) while the server is away: one killed in this
   * test is being started again, and its requests in flight had no answer.
   */
  async function command(query: string, variables: Record<string, unknown>) {
    for (const deadline = Date.now() + 60_000; ; ) {
      const answer = await server!
        .gql(query, variables)
        .catch((error: unknown) => ({ errors: [error] }) as { data?: any; errors: unknown[] });
      if (!answer.errors) return answer.data;
      if (Date.now() > deadline) throw new Error(`command failed for 60 s: ${JSON.stringify(answer.errors)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Every order's events are in the stream once each, created before item-added, and ids rise per stream. */
  async function expectExactlyOnceInOrder(orderIds: readonly string[]) {
    await awaitStreamCount(nc!, 'CONVERGE', orderIds.length * 2, 60_000);
    const messages = await streamMessages(nc!, 'CONVERGE');
    const ids = messages.map((m) => m.header.get('Nats-Msg-Id'));
    expect(new Set(ids).size).toBe(ids.length);
    expect(messages).toHaveLength(orderIds.length * 2);
    const byStream = new Map<string, string[]>();
    for (const m of messages) {
      const event = JSON.parse(m.string());
      expect(event.id).toBe(m.header.get('Nats-Msg-Id'));
      byStream.set(event.subject, [...(byStream.get(event.subject) ?? []), event.type]);
    }
    expect([...byStream.keys()].sort()).toEqual([...orderIds].sort());
    for (const types of byStream.values()) expect(types).toEqual(['converge.order.created.v1', 'converge.order.item-added.v1']);
  }

  // NATS down never makes the service unready; the database check can, for a moment, when a busy PGlite
  // answers `select 1` later than /ready's 2 s: so ask again until the database answers in time.
  async function readyWhileNatsDown() {
    let ready: { ready: boolean; checks: Record<string, unknown>; nats?: { connected: boolean } } | undefined;
    for (const deadline = Date.now() + 20_000; Date.now() < deadline; ) {
      ready = await (await fetch(`${server!.origin}/ready`)).json();
      if (ready!.checks.database === true) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    return ready;
  }

  it('NATS down at start: GraphQL serves, /ready reports NATS and stays ready, and the publisher catches up once NATS is up', async () => {
    nats = await startNatsServer({ started: false });
    server = await serve();
    const ready = await (await fetch(`${server.origin}/ready`)).json();
    expect(ready).toMatchObject({ ready: true, nats: { connected: false } });
    const orders = await load(10);
    await nats.start();
    nc = await natsClient(nats.url);
    await expectExactlyOnceInOrder(orders);
    expect(await (await fetch(`${server.origin}/ready`)).json()).toMatchObject({ ready: true, nats: { connected: true } });
    const metrics = await (await fetch(`${server.origin}/metrics`)).text();
    expect(metrics).toMatch(/converge_projection_lag_events\{projection="integration_events"\} 0/);
    expect(metrics).toMatch(/converge_nats_connected 1/);
  }, 180_000);

  for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
    it(`NATS stopped (${signal}) mid-publish and restarted under load: every public event once, in order per stream`, async () => {
      nats = await startNatsServer();
      nc = await natsClient(nats.url);
      server = await serve();
      const orders = await load(40, async () => {
        await nats!.stop(signal);
        expect(await readyWhileNatsDown()).toMatchObject({ ready: true, nats: { connected: false } });
        await nats!.start();
      });
      await expectExactlyOnceInOrder(orders);
    }, 180_000);
  }

  it('the server killed mid-publish and started again: the publisher resumes where it was, nothing twice', async () => {
    nats = await startNatsServer();
    nc = await natsClient(nats.url);
    server = await serve();
    const before = await load(40, async () => {
      await killServer(server);
      server = await serve();
    });
    expect(before.length).toBeGreaterThan(0);
    const after = await load(10);
    await expectExactlyOnceInOrder([...before, ...after]);
  }, 180_000);
});

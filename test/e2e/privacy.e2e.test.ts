// The proof of crypto-shredding (issue 27), with real processes: two servers on one PostgreSQL database
// (LOG_LEVEL debug) and a nats-server, orders of a customer with a recognisable address through every kind
// of command, a rebuild and a restart; then the customer is forgotten. Before, both servers answer the
// address; after the forget's token, both answer it erased; and a full pg_dump of the database, every log
// line of every server and every message of the integration stream hold none of the address's strings.
import { spawnSync } from 'node:child_process';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { natsClient, natsMissing, type NatsServer, startNatsServer, streamMessages } from '../support/nats.ts';
import { killServer, type ServerProcess, startServer } from '../support/processes.ts';
import { describeIf, needsPostgres } from '../support/skip.ts';

// Strings no one else uses: any hit is the address leaking.
const LINE1 = 'Quibblewick Terrace 481';
const CITY = 'Snorrehavn';
const POSTAL = 'QX7 4ZR';
const NEEDLES = [LINE1, CITY, POSTAL, 'Quibblewick', 'Snorrehavn', 'QX7'];
const address = { line1: LINE1, city: CITY, postalCode: POSTAL, country: 'NO' };
const CUSTOMER = 'shred-me';

const ADDRESS = 'shippingAddress { line1 city postalCode country erased }';
const ORDER = `query($id: ID!, $after: ConsistencyToken) { order(id: $id, after: $after) { id status paymentStatus ${ADDRESS} } }`;

const hits = (text: string) => NEEDLES.filter((needle) => text.toLowerCase().includes(needle.toLowerCase()));

describeIf(needsPostgres('pg_dump of the whole database'), 'crypto-shredding across two server processes, a rebuild and a restart', () => {
  let t: TestDatabase;
  let url: string;
  let nats: NatsServer | undefined;
  let nc: NatsConnection | undefined;
  let env: Record<string, string>;
  const servers: ServerProcess[] = [];
  /** Every log line of every server this test started, the stopped ones too. */
  const logs = () => servers.flatMap((s) => s.logs).join('\n');

  beforeAll(async () => {
    t = await createTestDatabase({ migrate: false });
    await t.database.close();
    url = (t.options as { url: string }).url;
    if (!natsMissing) {
      nats = await startNatsServer();
      nc = await natsClient(nats.url);
    }
    env = {
      DATABASE_URL: url,
      LOG_LEVEL: 'debug',
      CONSISTENCY_TIMEOUT_MS: '15000',
      ...(nats && { NATS_URL: nats.url }),
    };
    servers.push(await startServer(env), await startServer(env));
  });
  afterAll(async () => {
    for (const server of servers) await killServer(server);
    await nc?.close();
    await nats?.close();
    await t?.close();
  });

  const gql = async (server: ServerProcess, query: string, variables: Record<string, unknown> = {}) => {
    const r = await server.gql(query, variables);
    expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
    return r.data;
  };
  const waitFor = async <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  it('answers the address before the forget, erased after it on both servers, and leaves it nowhere in clear', async () => {
    const [a, b] = servers as [ServerProcess, ServerProcess];
    const items = [{ productId: 'lamp', quantity: 1, unitPrice: '20.00' }];
    const create = (server: ServerProcess, commandId?: string) =>
      gql(server, `mutation($input: CreateOrderInput!) { createOrder(input: $input) { orderId consistencyToken order { ${ADDRESS} } } }`, {
        input: { customerId: CUSTOMER, items, shippingAddress: address, ...(commandId && { commandId }) },
      }).then((d) => d.createOrder);

    // Every kind of command: createOrder (once with a commandId, and its repeat), addOrderItem, cancelOrder,
    // shipOrder, createProduct, restockProduct, and markOrderPaid from payments.captured when NATS is there.
    const first = await create(a, 'shred-create-1');
    expect(first.order.shippingAddress).toEqual({ ...address, erased: false });
    expect((await create(a, 'shred-create-1')).orderId).toBe(first.orderId);
    const second = await create(b);
    const third = await create(b);
    await gql(b, 'mutation($input: CreateProductInput!) { createProduct(input: $input) { sku } }', {
      input: { sku: 'shred-kettle', name: 'Kettle', onHand: 1 },
    });
    await gql(a, 'mutation($input: RestockProductInput!) { restockProduct(input: $input) { sku } }', {
      input: { sku: 'shred-kettle', quantity: 3 },
    });
    await gql(a, 'mutation($input: AddOrderItemInput!) { addOrderItem(input: $input) { orderId } }', {
      input: { orderId: first.orderId, productId: 'shred-kettle', quantity: 1, unitPrice: '5.00' },
    });
    await gql(b, 'mutation($input: CancelOrderInput!) { cancelOrder(input: $input) { orderId } }', {
      input: { orderId: second.orderId, reason: 'changed my mind' },
    });
    const shipped = await gql(a, 'mutation($input: ShipOrderInput!) { shipOrder(input: $input) { consistencyToken } }', {
      input: { orderId: third.orderId },
    });
    if (nc) {
      await jetstream(nc).publish(
        'payments.captured',
        JSON.stringify({ paymentId: 'shred-pay-1', orderId: first.orderId, amount: '25.00' }),
      );
      await waitFor('the payment', async () => {
        const order = (await gql(a, ORDER, { id: first.orderId })).order;
        return order.paymentStatus === 'PAID' ? order : undefined;
      });
    }

    // Before the forget both servers answer the address.
    for (const server of [a, b]) {
      const read = await gql(server, ORDER, { id: third.orderId, after: shipped.shipOrder.consistencyToken });
      expect(read.order).toMatchObject({ status: 'SHIPPED', shippingAddress: { ...address, erased: false } });
    }

    // A rebuild of the orders read model, then a restart of the second server.
    expect((await gql(a, 'mutation { rebuildProjection(name: "orders") { state } }')).rebuildProjection.state).toBe('REBUILDING');
    await waitFor('the rebuild', async () => {
      const list = (await gql(a, '{ projections { name state } }')).projections as { name: string; state: string }[];
      const orders = list.find((p) => p.name === 'orders')!;
      expect(orders.state).not.toBe('FAILED');
      return orders.state === 'RUNNING' ? true : undefined;
    });
    b.kill('SIGTERM');
    await b.exited;
    const b2 = await startServer(env);
    servers.push(b2);
    expect((await gql(b2, ORDER, { id: first.orderId })).order.shippingAddress).toEqual({ ...address, erased: false });

    // The forget, on the first server; both answer erased once past its token.
    const forgot = (
      await gql(a, 'mutation($id: ID!) { forgetCustomer(customerId: $id) { customerId consistencyToken } }', { id: CUSTOMER })
    ).forgetCustomer;
    for (const server of [a, b2]) {
      for (const order of [first, second, third]) {
        const read = await gql(server, ORDER, { id: order.orderId, after: forgot.consistencyToken });
        expect(read.order.shippingAddress).toEqual({
          line1: '[erased]',
          city: '[erased]',
          postalCode: '[erased]',
          country: 'NO',
          erased: true,
        });
      }
    }
    // The other server heard of it too: a new order of the customer there gets a new key.
    const fresh = { line1: 'New Street 1', city: 'Oslo', postalCode: '0150', country: 'NO' };
    const again = await gql(b2, `mutation($input: CreateOrderInput!) { createOrder(input: $input) { orderId order { ${ADDRESS} } } }`, {
      input: { customerId: CUSTOMER, items, shippingAddress: fresh },
    });
    expect(again.createOrder.order.shippingAddress).toEqual({ ...fresh, erased: false });

    // Nothing of the forgotten address anywhere: the whole database, every log line, the integration stream.
    const dump = spawnSync('pg_dump', ['--no-owner', url], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
    expect(dump.status, dump.stderr).toBe(0);
    expect(dump.stdout).toContain('PersonalDataForgotten'); // the dump is the database's, events and all
    expect(dump.stdout).toContain('shred-me');
    expect(hits(dump.stdout)).toEqual([]);
    expect(logs()).toContain('"level":20'); // debug lines were written
    expect(hits(logs())).toEqual([]);
    if (nc) {
      const messages = await streamMessages(nc, 'CONVERGE');
      expect(messages.length).toBeGreaterThan(0);
      expect(hits(messages.map((m) => new TextDecoder().decode(m.data)).join('\n'))).toEqual([]);
    }
  });
});

// Integration events on a private nats-server (JetStream): the public events published once each, in
// order, as CloudEvents; a restart whose checkpoint is behind the stream sends nothing again; an event that
// cannot be published fails only the publisher; payments.captured pays orders once, and what cannot be
// applied goes to converge.dead.payments with the reason while the consumer goes on. On both drivers.
import type { NatsConnection } from '@nats-io/transport-node';
import { sql } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SYSTEM_CALLER } from '../../src/core/caller.ts';
import type { Command, StoredEvent } from '../../src/core/messages.ts';
import type { DomainModule } from '../../src/core/module.ts';
import type { IntegrationBroker, IntegrationMessage } from '../../src/core/publisher.ts';
import { PUBLISHER_NAME } from '../../src/core/publisher.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { createIntegration, type Integration } from '../../src/integration.ts';
import type { Tenancy } from '../../src/core/tenancy.ts';
import { MODULES } from '../../src/modules.ts';
import type { Services } from '../../src/services.ts';
import { createTestDatabase, driverName, type TestDatabase } from '../support/db.ts';
import { natsClient, natsMissing, type NatsServer, startNatsServer, streamMessages } from '../support/nats.ts';
import { command, createOrderInput } from '../support/orders.ts';
import { allEvents, startServices } from '../support/services.ts';
import { describeIf } from '../support/skip.ts';

const modules = MODULES.map((m) => m.module);
const PUBLIC_TYPES = new Set(Object.keys(modules.find((m) => m.name === 'orders')!.publicEvents ?? {}));

describeIf(natsMissing, `integration events on NATS JetStream (${driverName})`, () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  let t: TestDatabase;
  let services: Services | undefined;
  let integration: Integration | undefined;
  const sent: IntegrationMessage[][] = [];

  beforeAll(async () => {
    nats = await startNatsServer();
    nc = await natsClient(nats.url);
    t = await createTestDatabase();
  });
  afterAll(async () => {
    await nc?.close();
    await nats?.close();
    await t?.close();
  });

  /** The services with the publisher and the consumers; every publish the broker got is recorded in `sent`. */
  async function start(options: { modules?: readonly DomainModule[]; tenancy?: Tenancy } = {}) {
    integration = createIntegration({
      servers: [nats.url],
      modules: options.modules ?? modules,
      tenancy: options.tenancy ?? 'single',
      log: silentLogger,
      retryMs: 200,
    });
    const broker = integration.publisher.broker;
    const recording: IntegrationBroker = {
      lastPublished: () => broker.lastPublished(),
      publish(messages, previous) {
        sent.push([...messages]);
        return broker.publish(messages, previous);
      },
    };
    services = await startServices(t.database, {
      modules: options.modules,
      tenancy: options.tenancy,
      publisher: { ...integration.publisher, broker: recording },
    });
    integration.start(services.commands.dispatch);
    return services;
  }
  async function stop() {
    await services?.stop();
    await integration?.stop();
    services = integration = undefined;
  }

  beforeEach(async () => {
    sent.length = 0;
    const { jetstreamManager } = await import('@nats-io/jetstream');
    const jsm = await jetstreamManager(nc);
    for await (const name of jsm.streams.names()) await jsm.streams.delete(name);
    await t.reset();
  });
  afterEach(stop);

  const dispatch = (c: Command) => services!.commands.dispatch(c);
  const publicEvents = async () => (await allEvents(services!.store)).filter((e) => PUBLIC_TYPES.has(e.type));
  const published = async () => {
    const head = await services!.store.lastPosition();
    if (head) await services!.tracker.waitFor(head, [PUBLISHER_NAME], 20_000);
    return streamMessages(nc, 'CONVERGE');
  };
  const body = (m: { string(): string }) => JSON.parse(m.string());

  it('publishes each public event once, in order, as a CloudEvent without personal data', async () => {
    await start();
    const a = await dispatch(command('CreateOrder', createOrderInput()));
    const b = await dispatch(command('CreateOrder', createOrderInput({ customerId: 'c-2' })));
    await dispatch(command('AddOrderItem', { orderId: a.streamId, productId: 'p-2', quantity: 3, unitPrice: '2.50' }));
    await dispatch(command('CancelOrder', { orderId: b.streamId, reason: 'changed my mind' }));
    await dispatch(command('ShipOrder', { orderId: a.streamId }));

    const messages = await published();
    const events = await publicEvents();
    expect(messages.map((m) => m.header.get('Nats-Msg-Id'))).toEqual(events.map(encode));
    expect(messages.map((m) => m.subject)).toEqual([
      'converge.orders.created',
      'converge.orders.created',
      'converge.orders.item-added',
      'converge.orders.cancelled',
      'converge.orders.shipped',
    ]);
    const created = body(messages[0]!);
    expect(created).toMatchObject({
      specversion: '1.0',
      id: encode(events[0]!),
      source: '/converge/orders',
      type: 'converge.order.created.v1',
      subject: a.streamId,
      time: events[0]!.createdAt,
      datacontenttype: 'application/json',
      data: { orderId: a.streamId, customerId: 'customer-1', totalAmount: '19.98', shippingCountry: 'DE' },
    });
    expect(JSON.stringify(messages.map(body))).not.toMatch(/Main St|Berlin|10115|line1|postalCode/);
    expect(body(messages[2]!).data).toEqual({
      orderId: a.streamId,
      productId: 'p-2',
      quantity: 3,
      unitPrice: '2.50',
      lineTotal: '7.50',
      addedAt: (events[2]!.data as { addedAt: string }).addedAt,
    });
    const [status] = (await services!.admin.status(SYSTEM_CALLER)).filter((s) => s.name === PUBLISHER_NAME);
    expect(status).toMatchObject({ kind: 'PUBLISHER', state: 'RUNNING' }); // its lag moves with the fulfilment process's events
    await expect(services!.admin.rebuild(PUBLISHER_NAME, SYSTEM_CALLER)).rejects.toThrow(/is a publisher/);
  });

  it('restarted with its checkpoint behind the stream (beyond any de-duplication window), sends nothing again', async () => {
    await start();
    for (let i = 0; i < 5; i++) await dispatch(command('CreateOrder', createOrderInput({ customerId: `c-${i}` })));
    expect(await published()).toHaveLength(5);
    await stop();
    // As if it had crashed after publishing and before its checkpoint moved: back to the start.
    await t.database.rows(sql`update projections set position_tx = '0'::xid8, position = 0 where name = ${PUBLISHER_NAME}`);
    sent.length = 0;

    await start();
    await dispatch(command('CreateOrder', createOrderInput({ customerId: 'c-after' })));
    const messages = await published();
    expect(messages.map((m) => body(m).data.customerId)).toEqual(['c-0', 'c-1', 'c-2', 'c-3', 'c-4', 'c-after']);
    // Not de-duplicated by JetStream: never sent at all.
    expect(sent.flat().map((m) => JSON.parse(m.body).data.customerId)).toEqual(['c-after']);
  });

  it('fails on an event it cannot publish, while the projections go on', async () => {
    const orders = modules.find((m) => m.name === 'orders')!;
    const poisoned: DomainModule = {
      ...orders,
      publicEvents: {
        ...orders.publicEvents,
        OrderCancelled: {
          name: 'cancelled',
          version: 1,
          data: () => {
            throw new Error('no public shape for this one');
          },
        },
      },
    };
    await start({ modules: [poisoned, ...modules.filter((m) => m !== orders)] });
    const a = await dispatch(command('CreateOrder', createOrderInput()));
    const cancelled = await dispatch(command('CancelOrder', { orderId: a.streamId, reason: 'no' }));
    await services!.tracker.waitFor(cancelled.position, ['orders'], 10_000);
    const statuses = await services!.admin.status(SYSTEM_CALLER);
    const failed = await waitForState(services!, 'FAILED');
    expect(failed.lastError).toMatch(/OrderCancelled .* no public shape for this one/);
    expect(statuses.find((s) => s.name === 'orders')).toMatchObject({ state: 'RUNNING' });
    expect((await streamMessages(nc, 'CONVERGE')).map((m) => m.subject)).toEqual(['converge.orders.created']);
  });

  it('stops at any moment of its start (the consumers setting up included)', async () => {
    for (let i = 0; i < 15; i++) {
      await start();
      await new Promise((resolve) => setTimeout(resolve, i * 2));
      let timer: NodeJS.Timeout | undefined;
      const stopped = await Promise.race([
        stop().then(() => true),
        new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), 5_000))),
      ]);
      clearTimeout(timer);
      expect(stopped, `stopped ${i * 2} ms after its start, within 5 s`).toBe(true);
    }
  });

  describe('payments.captured', () => {
    const pay = (message: unknown) => nc.publish('payments.captured', typeof message === 'string' ? message : JSON.stringify(message));

    it("with many tenants: each message carries its tenant, in the log's order across tenants; a payment names its tenant", async () => {
      await start({ tenancy: 'multi' });
      const inTenant = (tenant: string) => ({ caller: { userId: null, roles: ['admin' as const], tenant } });
      const orders = [];
      for (const tenant of ['a', 'b', 'a', 'b', 'b', 'a']) {
        orders.push({ tenant, ...(await dispatch(command('CreateOrder', createOrderInput(), inTenant(tenant)))) });
      }
      const messages = await published();
      const created = messages.map(body).filter((m) => m.type === 'converge.order.created.v1');
      expect(created.map((m) => [m.tenant, m.subject])).toEqual(orders.map((o) => [o.tenant, o.streamId]));

      await consumerReady();
      const dead = nc.subscribe('converge.dead.payments', { max: 2 });
      const [a, b] = [orders[0]!, orders[1]!];
      pay({ paymentId: 'pay-1', orderId: b.streamId, amount: '19.98' }); // no tenant
      pay({ paymentId: 'pay-2', orderId: b.streamId, amount: '19.98', tenant: 'a' }); // b's order, from a
      pay({ paymentId: 'pay-3', orderId: b.streamId, amount: '19.98', tenant: 'b' });
      const reasons: string[] = [];
      for await (const m of dead) reasons.push(JSON.parse(m.string()).reason);
      expect(reasons).toEqual([expect.stringMatching(/^BAD_USER_INPUT: .*tenant/), expect.stringMatching(/^NOT_FOUND: /)]);
      const paid = async () => (await allEvents(services!.store)).filter((e) => e.type === 'OrderPaid').map((e) => [e.tenant, e.streamId]);
      for (const deadline = Date.now() + 10_000; (await paid()).length === 0 && Date.now() < deadline; ) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(await paid()).toEqual([['b', b.streamId]]);
      expect(a.streamId).not.toBe(b.streamId);
    });

    it('pays the order once per paymentId, and dead-letters what cannot be applied, going on after each', async () => {
      await start();
      const order = await dispatch(command('CreateOrder', createOrderInput()));
      const other = await dispatch(command('CreateOrder', createOrderInput({ customerId: 'c-2' })));
      await consumerReady();
      const dead = nc.subscribe('converge.dead.payments', { max: 5 });
      const paid = nc.subscribe('converge.orders.paid', { max: 2 });

      pay({ paymentId: 'pay-1', orderId: order.streamId, amount: '19.98' });
      pay({ paymentId: 'pay-1', orderId: order.streamId, amount: '19.98' }); // redelivered by the payment service
      pay('{ not json');
      pay({ paymentId: 'pay-2', orderId: 'no-such-order', amount: '1.00' });
      pay({ paymentId: 'pay-3', orderId: other.streamId, amount: '5.00' });
      pay({ paymentId: 'pay-4', orderId: order.streamId, amount: '19.98' }); // a second payment of a paid order
      pay({ orderId: other.streamId, amount: '19.98' });
      pay({ paymentId: 'pay-5', orderId: other.streamId, amount: 19.98 });

      const reasons: string[] = [];
      for await (const m of dead) reasons.push(JSON.parse(m.string()).reason);
      expect(reasons).toEqual([
        expect.stringMatching(/^BAD_USER_INPUT: .*is not JSON/),
        expect.stringMatching(/^NOT_FOUND: Order no-such-order not found/),
        expect.stringMatching(/^RULE_VIOLATION: Payment pay-3 of 5.00 does not match the total 19.98/),
        expect.stringMatching(/^RULE_VIOLATION: Order .* is already paid \(payment pay-1\)/),
        expect.stringMatching(/^BAD_USER_INPUT: .*paymentId/),
      ]);
      const paidOrders: string[] = [];
      for await (const m of paid) paidOrders.push(JSON.parse(m.string()).data.orderId);
      expect(paidOrders).toEqual([order.streamId, other.streamId]);

      const events = await allEvents(services!.store);
      expect(events.filter((e) => e.type === 'OrderPaid').map((e) => (e.data as { paymentId: string }).paymentId)).toEqual([
        'pay-1',
        'pay-5',
      ]);
      const after = (await services!.store.lastPosition())!;
      const view = await services!.queries.execute('order', { id: order.streamId }, { caller: SYSTEM_CALLER, consistency: { after } });
      expect(view).toMatchObject({ paymentStatus: 'PAID', paidAt: expect.any(String) });
      expect((await streamMessages(nc, 'CONVERGE_DEAD'))[0]!.header.get('Converge-Dead-Reason')).toMatch(/^BAD_USER_INPUT/);
    });

    it('uses the stream that captures payments.captured when there is one, and creates PAYMENTS otherwise', async () => {
      const { jetstreamManager } = await import('@nats-io/jetstream');
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: 'SHOP_PAYMENTS', subjects: ['payments.captured', 'payments.refunded'] });
      await start();
      await consumerReady();
      const names: string[] = [];
      for await (const name of jsm.streams.names()) names.push(name);
      expect(names.sort()).toEqual(['CONVERGE_DEAD', 'SHOP_PAYMENTS']);
    });

    /** The durable consumer exists (messages published before it are kept by the stream anyway, once it does). */
    async function consumerReady() {
      const { jetstreamManager } = await import('@nats-io/jetstream');
      const jsm = await jetstreamManager(nc);
      for (const deadline = Date.now() + 10_000; Date.now() < deadline; ) {
        try {
          const stream = await jsm.streams.find('payments.captured');
          await jsm.consumers.info(stream, 'converge-payments-captured');
          return;
        } catch {
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      throw new Error('the payments consumer was not created in 10 s');
    }
  });
});

const encode = (event: StoredEvent) => `c1.${event.position.tx.toString(36)}.${event.position.pos.toString(36)}`;

/** The publisher's status once it is in `state` (woken by the tracker's advances is not enough: failing does not advance). */
async function waitForState(services: Services, state: string) {
  for (const deadline = Date.now() + 20_000; Date.now() < deadline; ) {
    const status = (await services.admin.status(SYSTEM_CALLER)).find((s) => s.name === PUBLISHER_NAME)!;
    if (status.state === state) return status;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the publisher did not reach ${state} in 20 s`);
}

// Live queries end to end (issue 30): `@live` query operations over graphql-ws and SSE, each field pushed
// after a change of what it read and not after an unrelated one, bursts coalesced, identical ones sharing
// one execution, access lost mid-stream, a leaving client's resources freed, and a projection rebuild.
import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { comparePositions, decodeToken } from '../../src/core/position.ts';
import { driverName } from '../support/db.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { bearer, signToken, TEST_SECRET } from '../support/tokens.ts';
import { untilWithin } from '../support/until.ts';

type Result = { data?: any; errors?: any[]; extensions?: any };

const address = { line1: '1 Main St', city: 'Berlin', postalCode: '10115', country: 'DE' };
const CREATE = `mutation($input: CreateOrderInput!) { createOrder(input: $input) { orderId consistencyToken } }`;
const ADD = `mutation($input: AddOrderItemInput!) { addOrderItem(input: $input) { consistencyToken } }`;
const SHIP = `mutation($input: ShipOrderInput!) { shipOrder(input: $input) { consistencyToken } }`;
const CREATE_PRODUCT = `mutation($input: CreateProductInput!) { createProduct(input: $input) { consistencyToken } }`;
const RESTOCK = `mutation($input: RestockProductInput!) { restockProduct(input: $input) { consistencyToken } }`;

const until = untilWithin({ timeoutMs: 10_000, intervalMs: 10 });

/** A live query's results as they arrive, over graphql-ws or SSE. */
type LiveStream = { results: Result[]; ended: Promise<void>; stop(): void; next(after: number, what?: string): Promise<Result> };

function collect(results: Result[], ended: Promise<void>, stop: () => void): LiveStream {
  return {
    results,
    ended,
    stop,
    next: (after, what = 'a live result') => until(what, () => results.length > after && results[after]),
  };
}

function liveOverWs(client: Client, query: string, variables?: Record<string, unknown>): LiveStream {
  const results: Result[] = [];
  let unsubscribe = () => {};
  const ended = new Promise<void>((resolve) => {
    unsubscribe = client.subscribe(
      { query, variables },
      { next: (value) => void results.push(value as Result), error: () => resolve(), complete: () => resolve() },
    );
  });
  return collect(results, ended, unsubscribe);
}

function liveOverSse(url: string, query: string, variables?: Record<string, unknown>, headers: Record<string, string> = {}): LiveStream {
  const results: Result[] = [];
  const controller = new AbortController();
  const ended = (async () => {
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...headers },
        body: JSON.stringify({ query, variables }),
        signal: controller.signal,
      });
      let buffer = '';
      const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
      for (let read = await reader.read(); !read.done; read = await reader.read()) {
        buffer += read.value;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const event = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = /^data: (.+)$/m.exec(event)?.[1];
          if (data && /^event: next$/m.test(event)) results.push(JSON.parse(data));
        }
      }
    } catch {
      // aborted by stop()
    }
  })();
  return collect(results, ended, () => controller.abort());
}

const atOrAfter = (a: string, b: string) => comparePositions(decodeToken(a), decodeToken(b)) >= 0;

type Transport = 'ws' | 'sse';

/** A server, its clients and the helpers every live test uses. */
function liveSuite(env: Record<string, string> = {}) {
  const t = {} as {
    s: TestServer;
    client: Client;
    open(transport: Transport, query: string, variables?: Record<string, unknown>, headers?: Record<string, string>): LiveStream;
    gql(query: string, variables?: Record<string, unknown>, headers?: Record<string, string>): Promise<any>;
    createOrder(
      customerId: string,
      city?: string,
      headers?: Record<string, string>,
    ): Promise<{ orderId: string; consistencyToken: string }>;
    addItem(orderId: string, headers?: Record<string, string>): Promise<string>;
    handled(token: string, projections: readonly string[]): Promise<void>;
    runs(): number;
  };
  beforeAll(async () => {
    t.s = await startTestServer(env);
    t.client = t.s.wsClient();
    // Every processor past a first event before any test: a result that reads a projection which has
    // processed nothing yet carries no token (no token says "before the first event"), and on a fresh
    // database the first test's order could be projected before the fulfilment process first stepped.
    const admin = env.JWT_SECRET ? bearer(await signToken({ sub: 'ops', roles: ['admin'] }, { expiresIn: '1h' })) : undefined;
    const warm = await t.createOrder('warm-up', 'Berlin', admin);
    const passed = await t.s.subscribe(
      `subscription($t: ConsistencyToken) { projectionProgress(until: $t) { caughtUp } }`,
      { t: warm.consistencyToken },
      { client: admin ? t.s.wsClient(admin) : t.client },
    );
    expect(passed.errors).toBeUndefined();
  });
  afterAll(() => t.s.close());
  t.open = (transport, query, variables, headers = {}) =>
    transport === 'ws'
      ? liveOverWs(Object.keys(headers).length > 0 ? t.s.wsClient(headers) : t.client, query, variables)
      : liveOverSse(t.s.url, query, variables, headers);
  t.gql = async (query, variables, headers) => {
    const r = await t.s.gql(query, variables, headers);
    expect(r.errors, query).toBeUndefined();
    return r.data;
  };
  t.createOrder = async (customerId, city = 'Berlin', headers) =>
    (
      await t.gql(
        CREATE,
        { input: { customerId, items: [{ productId: 'p-1', quantity: 1, unitPrice: '2.00' }], shippingAddress: { ...address, city } } },
        headers,
      )
    ).createOrder;
  t.addItem = async (orderId, headers) =>
    (await t.gql(ADD, { input: { orderId, productId: 'p-2', quantity: 1, unitPrice: '1.00' } }, headers)).addOrderItem.consistencyToken;
  // Once the live queries have been handed every change up to `token` of these projections (the runs
  // those changes caused have started, and are counted).
  t.handled = async (token, projections) => {
    for (const projection of projections)
      await until(`${projection} handled`, () => {
        const at = t.s.app.live.handledUpTo(projection);
        return at !== null && comparePositions(at, decodeToken(token)) >= 0;
      });
  };
  t.runs = () => t.s.app.live.stats().runs;
  return t;
}

// What order(id) { fulfilment } reads.
const ORDER_PROJECTIONS = ['orders', 'fulfilment', 'order_fulfilments'];

describe(`live queries on ${driverName}`, () => {
  const t = liveSuite();

  /**
   * A live query is pushed its new result after `related` changes what it read, and neither runs again nor
   * is pushed after `unrelated` (the same projections, another key), unless it reads every row (`runsOnAny`).
   */
  async function pushedOnlyByItsOwnChanges(
    transport: Transport,
    options: {
      query: string;
      variables?: Record<string, unknown>;
      projections: readonly string[];
      ready(result: Result): boolean;
      settle: string;
      unrelated(): Promise<string>;
      related(): Promise<string>;
      changed(result: Result): boolean;
      runsOnAny?: boolean;
    },
  ) {
    const live = t.open(transport, options.query, options.variables);
    try {
      await until('the first result', () => live.results.some(options.ready));
      await t.handled(options.settle, options.projections);
      const runs = t.runs();
      const seen = live.results.length;
      await t.handled(await options.unrelated(), options.projections);
      if (!options.runsOnAny) expect(t.runs(), 'runs after an unrelated change').toBe(runs);
      expect(live.results.length, 'results after an unrelated change').toBe(seen);
      const token = await options.related();
      const next = await until('the changed result', () => live.results.slice(seen).find(options.changed));
      expect(next.errors).toBeUndefined();
      expect(atOrAfter(next.extensions.consistency.token, token), 'its token covers the change').toBe(true);
    } finally {
      live.stop();
    }
  }

  for (const transport of ['ws', 'sse'] as const) {
    describe(`over ${transport === 'ws' ? 'graphql-ws' : 'SSE'}`, () => {
      it('order(id) and Order.fulfilment', async () => {
        const a = await t.createOrder(`${transport}-c1`);
        const b = await t.createOrder(`${transport}-c2`);
        const live = t.open(transport, `query($id: ID!) @live { order(id: $id) { id version fulfilment } }`, { id: a.orderId });
        // null until `orders` has projected it (createOrder did not wait), then pushed; then RESERVED once
        // the fulfilment process has handled it (nothing is stock-controlled).
        const first = await until('the order', () => live.results.find((r) => r.data.order));
        expect(first.data.order).toMatchObject({ id: a.orderId, version: 1 });
        expect(first.extensions.consistency.token).toMatch(/^c1\./);
        await until('RESERVED', () => live.results.at(-1)?.data.order.fulfilment === 'RESERVED');
        live.stop();
        await pushedOnlyByItsOwnChanges(transport, {
          query: `query($id: ID!) @live { order(id: $id) { id version status fulfilment } }`,
          variables: { id: a.orderId },
          projections: ORDER_PROJECTIONS,
          ready: (r) => r.data.order?.fulfilment === 'RESERVED',
          settle: b.consistencyToken,
          unrelated: () => t.addItem(b.orderId),
          related: async () => (await t.gql(SHIP, { input: { orderId: a.orderId } })).shipOrder.consistencyToken,
          changed: (r) => r.data.order.status === 'SHIPPED' && r.data.order.fulfilment === 'SHIPPED',
        });
      });

      it('customerOrders(customerId)', async () => {
        const first = await t.createOrder(`${transport}-co1`);
        await pushedOnlyByItsOwnChanges(transport, {
          query: `query($c: ID!) @live { customerOrders(customerId: $c) { total items { id version } } }`,
          variables: { c: `${transport}-co1` },
          projections: ['orders'],
          ready: (r) => r.data.customerOrders.total === 1,
          settle: first.consistencyToken,
          unrelated: async () => (await t.createOrder(`${transport}-co2`)).consistencyToken,
          related: async () => (await t.createOrder(`${transport}-co1`)).consistencyToken,
          changed: (r) => r.data.customerOrders.total === 2,
        });
      });

      it('customerSummary(customerId)', async () => {
        const first = await t.createOrder(`${transport}-cs1`);
        await pushedOnlyByItsOwnChanges(transport, {
          query: `query($c: ID!) @live { customerSummary(customerId: $c) { orderCount totalSpent } }`,
          variables: { c: `${transport}-cs1` },
          projections: ['customer_summaries'],
          ready: (r) => r.data.customerSummary?.orderCount === 1,
          settle: first.consistencyToken,
          unrelated: async () => (await t.createOrder(`${transport}-cs2`)).consistencyToken,
          related: () => t.addItem(first.orderId),
          changed: (r) => r.data.customerSummary.totalSpent === '3.00',
        });
      });

      it('searchOrders(query): an admin search runs again on any order, but is pushed only when its result changes', async () => {
        // Search matches ids (an address is personal data, sealed): the customer's id is what it finds.
        const customer = `live-search-${transport.toLowerCase()}`;
        const first = await t.createOrder(customer);
        await pushedOnlyByItsOwnChanges(transport, {
          query: `query($q: String!) @live { searchOrders(query: $q) { total items { id itemCount } } }`,
          variables: { q: customer },
          projections: ['orders'],
          ready: (r) => r.data.searchOrders.total === 1,
          settle: first.consistencyToken,
          unrelated: async () => (await t.createOrder(`${transport}-so2`)).consistencyToken,
          related: () => t.addItem(first.orderId),
          changed: (r) => r.data.searchOrders.items[0].itemCount === 2,
          runsOnAny: true,
        });
      });

      it('product(sku) and products', async () => {
        const make = async (sku: string) =>
          (await t.gql(CREATE_PRODUCT, { input: { sku, name: sku, onHand: 5 } })).createProduct.consistencyToken as string;
        const restock = async (sku: string) =>
          (await t.gql(RESTOCK, { input: { sku, quantity: 1 } })).restockProduct.consistencyToken as string;
        const [one, two] = [`${transport}-sku-1`, `${transport}-sku-2`];
        await make(one);
        const settle = await make(two);
        await pushedOnlyByItsOwnChanges(transport, {
          query: `query($sku: ID!) @live { product(sku: $sku) { sku onHand } }`,
          variables: { sku: one },
          projections: ['products'],
          ready: (r) => r.data.product?.onHand === 5,
          settle,
          unrelated: () => restock(two),
          related: () => restock(one),
          changed: (r) => r.data.product.onHand === 6,
        });
        // The list reads every product: another product's change is its change.
        const live = t.open(transport, `query @live { products(pageSize: 100) { total items { sku onHand } } }`);
        try {
          const at = await until('the list', () => live.results.find((r) => r.data.products.items.some((p: any) => p.sku === two)));
          const before = at.data.products.items.find((p: any) => p.sku === two).onHand;
          const token = await restock(two);
          const next = await until('the list after a restock', () =>
            live.results.find((r) => r.data.products.items.find((p: any) => p.sku === two)?.onHand === before + 1),
          );
          expect(atOrAfter(next.extensions.consistency.token, token)).toBe(true);
        } finally {
          live.stop();
        }
      });
    });
  }

  it('coalesces a burst: at most one run and one result per projection advance', async () => {
    const a = await t.createOrder('burst-c1');
    const live = t.open('ws', `query($id: ID!) @live { order(id: $id) { id version } }`, { id: a.orderId });
    await until('the order', () => live.results.some((r) => r.data.order));
    await t.handled(a.consistencyToken, ['orders']);
    let advances = 0;
    const stop = t.s.app.services.tracker.subscribe((p) => {
      if (p.projection === 'orders') advances++;
    });
    const runs = t.runs();
    const seen = live.results.length;
    const burst = await Promise.all(Array.from({ length: 20 }, () => t.addItem(a.orderId)));
    const last = burst.reduce((max, token) => (atOrAfter(token, max) ? token : max));
    await until('the last version', () => live.results.at(-1)?.data.order.version === 21);
    await t.handled(last, ['orders']);
    stop();
    expect(t.runs() - runs).toBeLessThanOrEqual(advances);
    expect(live.results.length - seen).toBeLessThanOrEqual(advances);
    // Versions only go up: a result is never older than the one before it.
    const versions = live.results.map((r) => r.data.order?.version ?? 0);
    expect([...versions].sort((x, y) => x - y)).toEqual(versions);
    live.stop();
  });

  it('identical live queries share one execution; a client that leaves frees what it held', async () => {
    const a = await t.createOrder('share-c1');
    const b = await t.createOrder('share-c2');
    const query = `query($id: ID!) @live { order(id: $id) { id version } }`;
    const streams = [
      t.open('ws', query, { id: a.orderId }),
      t.open('ws', query, { id: a.orderId }),
      t.open('sse', query, { id: a.orderId }),
      t.open('sse', query, { id: b.orderId }),
    ];
    await until('every first result', () => streams.every((live) => live.results.some((r) => r.data.order)));
    expect(t.s.app.live.stats()).toMatchObject({ executions: 2, subscribers: 4, keys: 2, projections: 1 });
    await t.s.subscribed('live', 4);
    await t.handled(b.consistencyToken, ['orders']);
    const runs = t.runs();
    const token = await t.addItem(a.orderId);
    await until('all three sharers pushed', () => streams.slice(0, 3).every((live) => live.results.at(-1)?.data.order.version === 2));
    await t.handled(token, ['orders']);
    expect(t.runs() - runs).toBe(1);
    for (const live of streams) live.stop();
    await until('everything freed', () => {
      const stats = t.s.app.live.stats();
      return stats.executions === 0 && stats.subscribers === 0 && stats.keys === 0 && stats.projections === 0;
    });
    const metrics = await (await fetch(`${t.s.origin}/metrics`)).text();
    expect(metrics).toMatch(/^converge_subscriptions_active\{name="live"\} 0$/m);
    expect(metrics).toMatch(/^converge_live_queries\{what="executions"\} 0$/m);
  });

  it('a live query goes on answering across a rebuild of its projection', async () => {
    const customer = 'rebuild-c1';
    const first = await t.createOrder(customer);
    const live = t.open('ws', `query($c: ID!) @live { customerOrders(customerId: $c) { total } }`, { c: customer });
    await until('the first result', () => live.results.some((r) => r.data.customerOrders.total === 1));
    await t.handled(first.consistencyToken, ['orders']);
    expect((await t.gql(`mutation { rebuildProjection(name: "orders") { state } }`)).rebuildProjection.state).toBe('REBUILDING');
    await until(
      'the rebuild',
      async () => (await t.gql(`{ projections { name state } }`)).projections.find((p: any) => p.name === 'orders').state === 'RUNNING',
    );
    const token = (await t.createOrder(customer)).consistencyToken;
    const next = await until('the result after the rebuild', () => live.results.find((r) => r.data.customerOrders.total === 2));
    expect(atOrAfter(next.extensions.consistency.token, token)).toBe(true);
    live.stop();
  });
});

describe(`live queries: access, on ${driverName}`, () => {
  const t = liveSuite({ JWT_SECRET: TEST_SECRET, CONSISTENCY_TIMEOUT_MS: '3000' });
  const query = `query @live { customerOrders(customerId: "alice") { total } }`;

  it('every pushed result is authorized as the first was: another customer gets FORBIDDEN and none of the data', async () => {
    const alice = bearer(await signToken({ sub: 'alice', roles: ['customer'] }, { expiresIn: '1h' }));
    const bob = bearer(await signToken({ sub: 'bob', roles: ['customer'] }, { expiresIn: '1h' }));
    const own = t.open('sse', query, undefined, alice);
    const other = t.open('ws', query, undefined, bob);
    await until('both first results', () => own.results.length > 0 && other.results.length > 0);
    expect(other.results[0]!.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    // The same document with another caller's access is another execution.
    expect(t.s.app.live.stats()).toMatchObject({ executions: 2, subscribers: 2 });
    const total = own.results.at(-1)!.data.customerOrders.total;
    const token = (await t.createOrder('alice', 'Berlin', alice)).consistencyToken;
    await until('alice pushed', () => own.results.at(-1)!.data.customerOrders.total === total + 1);
    await t.handled(token, ['orders']);
    for (const r of other.results) {
      expect(r.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      expect(r.data?.customerOrders ?? null).toBeNull();
    }
    own.stop();
    other.stop();
  });

  it('a client whose token expires stops receiving: SSE ends with UNAUTHENTICATED, graphql-ws closes 4403; what it held is freed', async () => {
    const shortLived = async () => bearer(await signToken({ sub: 'alice', roles: ['customer'] }, { expiresIn: '2s' }));
    const sse = t.open('sse', query, undefined, await shortLived());
    const client = t.s.wsClient(await shortLived());
    const closed = new Promise<number>((resolve) => client.on('closed', (event) => resolve((event as { code: number }).code)));
    const ws = liveOverWs(client, query);
    await until('both first results', () => sse.results.length > 0 && ws.results.length > 0);
    expect(sse.results[0]!.data.customerOrders).toBeDefined();
    await sse.ended;
    expect(sse.results.at(-1)!.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(await closed).toBe(4403);
    // Nothing after the expiry: a change reaches neither.
    const seen = [sse.results.length, ws.results.length];
    const admin = bearer(await signToken({ sub: 'ops', roles: ['admin'] }, { expiresIn: '1h' }));
    await t.createOrder('alice', 'Berlin', admin);
    await until('everything freed', () => {
      const stats = t.s.app.live.stats();
      return stats.executions === 0 && stats.subscribers === 0 && stats.keys === 0;
    });
    expect([sse.results.length, ws.results.length]).toEqual(seen);
  });
});

describe(`live queries: tenants, on ${driverName}`, () => {
  const t = liveSuite({ TENANCY: 'multi' });

  it("a tenant's live query follows its own tenant's rows only, though another tenant has the same customer id", async () => {
    const query = `query @live { customerOrders(customerId: "same-customer") { total } }`;
    const acme = t.open('ws', query, undefined, { 'x-tenant': 'acme' });
    const globex = t.open('sse', query, undefined, { 'x-tenant': 'globex' });
    await until('both first results', () => acme.results.length > 0 && globex.results.length > 0);
    expect(t.s.app.live.stats()).toMatchObject({ executions: 2, subscribers: 2 });
    const token = (await t.createOrder('same-customer', 'Berlin', { 'x-tenant': 'globex' })).consistencyToken;
    await until('globex pushed', () => globex.results.at(-1)!.data.customerOrders.total === 1);
    await t.handled(token, ['orders']);
    expect(acme.results.map((r) => r.data.customerOrders.total)).toEqual([0]);
    await t.createOrder('same-customer', 'Berlin', { 'x-tenant': 'acme' });
    await until('acme pushed', () => acme.results.at(-1)!.data.customerOrders.total === 1);
    expect(globex.results.at(-1)!.data.customerOrders.total).toBe(1);
    acme.stop();
    globex.stop();
  });
});

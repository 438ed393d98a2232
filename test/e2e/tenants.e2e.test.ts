// Two tenants on one server (TENANCY=multi) doing everything at once over HTTP and graphql-ws: no query,
// mutation, subscription, search, after: or token of one ever returns, changes or reveals data of the
// other; another tenant's id answers exactly as an id that does not exist. Also the open development
// mode's x-tenant header, the operator role, and TENANT_COMMANDS_PER_SECOND.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { driverName } from '../support/db.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { bearer, signToken, TEST_SECRET } from '../support/tokens.ts';

const address = { line1: '1 Main St', city: 'Berlin', postalCode: '10115', country: 'DE' };
const ORDER = 'id customerId status totalAmount items { productId quantity }';
const CREATE = `mutation($input: CreateOrderInput!) { createOrder(input: $input) { orderId consistencyToken order { ${ORDER} } } }`;
const CREATE_BARE = 'mutation($input: CreateOrderInput!) { createOrder(input: $input) { orderId consistencyToken } }';
const PRODUCT = 'mutation($input: CreateProductInput!) { createProduct(input: $input) { sku consistencyToken product { name onHand } } }';

const orderInput = (customerId: string, overrides: Record<string, unknown> = {}) => ({
  customerId,
  items: [{ productId: 'widget', quantity: 1, unitPrice: '5.00' }],
  shippingAddress: address,
  ...overrides,
});

/** The same answer, with one id written as another (what an unknown id's answer looks like for `id`). */
const asIf = (response: unknown, id: string, instead: string) => JSON.parse(JSON.stringify(response).replaceAll(id, instead));

describe(`two tenants on one server on ${driverName}`, () => {
  let s: TestServer;
  const headers: Record<string, Record<string, string>> = {};
  beforeAll(async () => {
    s = await startTestServer({ TENANCY: 'multi', JWT_SECRET: TEST_SECRET });
    for (const tenant of ['a', 'b']) {
      headers[`admin-${tenant}`] = bearer(await signToken({ sub: `admin-${tenant}`, roles: ['admin'], tenant }));
      // The same customer id in both tenants: two different customers.
      headers[`customer-${tenant}`] = bearer(await signToken({ sub: 'customer-1', roles: ['customer'], tenant }));
    }
    headers.operator = bearer(await signToken({ sub: 'ops', roles: ['operator'] }));
  });
  afterAll(() => s.close());

  it('refuses a token without a tenant (but an operator), or with a malformed one', async () => {
    const none = await s.gql('{ order(id: "x") { id } }', undefined, bearer(await signToken({ sub: 'c', roles: ['customer'] })));
    expect(none.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(none.errors?.[0]?.message).toMatch(/tenant/);
    const bad = await s.gql(
      '{ order(id: "x") { id } }',
      undefined,
      bearer(await signToken({ sub: 'c', roles: ['customer'], tenant: 'A B' })),
    );
    expect(bad.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const projections = await s.gql('{ projections { name } }', undefined, headers.operator);
    expect(projections.errors).toBeUndefined();
    expect(projections.data.projections.length).toBeGreaterThan(0);
  });

  it("projection operations and progress are an operator's: a tenant's admin is refused", async () => {
    for (const query of ['{ projections { name } }', '{ eventLog { appendedEvents } }']) {
      const r = await s.gql(query, undefined, headers['admin-a']);
      expect(r.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    }
    const pause = await s.gql('mutation { pauseProjection(name: "orders") { state } }', undefined, headers['admin-a']);
    expect(pause.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const client = s.wsClient(headers['admin-a']);
    const progress = await s.subscribe('subscription { projectionProgress { projection } }', undefined, { take: 1, client });
    expect(JSON.stringify(progress.errors)).toMatch(/FORBIDDEN|operator/);
    const own = await s.subscribe('subscription { projectionProgress { projection } }', undefined, {
      take: 1,
      client: s.wsClient(headers.operator),
    });
    expect(own.events.length).toBeGreaterThan(0);
    // An operator of no tenant sees no tenant's data.
    const order = await s.gql('{ order(id: "x") { id } }', undefined, headers.operator);
    expect(order.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('two tenants doing everything at once see only their own', async () => {
    const work = async (tenant: 'a' | 'b', onHand: number, orders: number) => {
      const admin = headers[`admin-${tenant}`]!;
      const customer = headers[`customer-${tenant}`]!;
      const product = await s.gql(PRODUCT, { input: { sku: 'widget', name: `Widget of ${tenant}`, onHand, commandId: 'same' } }, admin);
      expect(product.errors).toBeUndefined();
      // One after another within a tenant (the two tenants run at once), so that the last token covers them all.
      const created = [];
      for (let i = 0; i < orders; i++)
        created.push(await s.gql(CREATE, { input: orderInput('customer-1', { commandId: `order-${i}` }) }, customer));
      for (const r of created) expect(r.errors).toBeUndefined();
      return { product: product.data.createProduct, orders: created.map((r) => r.data.createOrder) };
    };
    const [a, b] = await Promise.all([work('a', 5, 4), work('b', 50, 7)]);
    expect(a.product.product).toEqual({ name: 'Widget of a', onHand: 5 });
    expect(b.product.product).toEqual({ name: 'Widget of b', onHand: 50 });
    // The same commandIds in both tenants made different orders.
    const idsA = a.orders.map((o) => o.orderId);
    const idsB = b.orders.map((o) => o.orderId);
    expect(idsA.filter((id) => idsB.includes(id))).toEqual([]);

    const last = { a: a.orders.at(-1)!.consistencyToken, b: b.orders.at(-1)!.consistencyToken };
    for (const [tenant, count, ids] of [
      ['a', 4, idsA],
      ['b', 7, idsB],
    ] as const) {
      const admin = headers[`admin-${tenant}`]!;
      const customer = headers[`customer-${tenant}`]!;
      // after: the other tenant's token is only a position in the log: the answer is still one's own.
      const other = tenant === 'a' ? last.b : last.a;
      const mine = tenant === 'a' ? last.a : last.b;
      const list = await s.gql(
        `query($t: ConsistencyToken, $o: ConsistencyToken) {
          mine: customerOrders(customerId: "customer-1", after: $t, pageSize: 50) { total items { id } }
          other: customerOrders(customerId: "customer-1", after: $o, pageSize: 50) { total }
          summary: customerSummary(customerId: "customer-1", after: $t) { orderCount }
        }`,
        { t: mine, o: other },
        customer,
      );
      expect(list.errors).toBeUndefined();
      expect(list.data.mine.total).toBe(count);
      expect(list.data.other.total).toBe(count);
      expect(list.data.mine.items.map((o: { id: string }) => o.id).sort()).toEqual([...ids].sort());
      expect(list.data.summary.orderCount).toBe(count);
      const search = await s.gql(
        `query($t: ConsistencyToken) { searchOrders(query: "widget", after: $t, pageSize: 50) { total items { id } }
          products(after: $t) { total items { sku name } } }`,
        { t: mine },
        admin,
      );
      expect(search.errors).toBeUndefined();
      expect(search.data.searchOrders.total).toBe(count);
      expect(search.data.products).toEqual({ total: 1, items: [{ sku: 'widget', name: `Widget of ${tenant}` }] });
    }
  });

  it("another tenant's order answers exactly as one that does not exist, to every query, mutation and subscription", async () => {
    const created = await s.gql(CREATE, { input: orderInput('customer-1') }, headers['customer-a']);
    const id = created.data.createOrder.orderId as string;
    const missing = 'order-that-does-not-exist';
    const probes: [string, Record<string, unknown>][] = [
      [`query($id: ID!) { order(id: $id) { ${ORDER} } }`, { id }],
      ['mutation($id: ID!) { cancelOrder(input: { orderId: $id, reason: "mine now" }) { orderId } }', { id }],
      ['mutation($id: ID!) { shipOrder(input: { orderId: $id }) { orderId } }', { id }],
      [
        'mutation($id: ID!) { addOrderItem(input: { orderId: $id, productId: "widget", quantity: 1, unitPrice: "1.00" }) { orderId } }',
        { id },
      ],
    ];
    for (const who of ['customer-b', 'admin-b']) {
      for (const [query, variables] of probes) {
        const theirs = await s.gql(query, variables, headers[who]);
        const none = await s.gql(query, { ...variables, id: missing }, headers[who]);
        expect(asIf(theirs, id, missing), `${who}: ${query}`).toEqual(none);
      }
      const client = s.wsClient(headers[who]);
      const watch = (orderId: string) =>
        s.subscribe('subscription($id: ID!) { orderChanged(id: $id) { id status } }', { id: orderId }, { take: 1, client });
      const [theirs, none] = await Promise.all([watch(id), watch(missing)]);
      expect(asIf(theirs, id, missing)).toEqual(none);
      expect(JSON.stringify(none.errors)).toMatch(/NOT_FOUND/);
    }
    // Still a's, unchanged.
    const order = await s.gql(`query($id: ID!) { order(id: $id) { status items { quantity } } }`, { id }, headers['customer-a']);
    expect(order.data.order).toEqual({ status: created.data.createOrder.order.status, items: [{ quantity: 1 }] });
  });

  it("a subscriber of a tenant sees its order's changes", async () => {
    const created = await s.gql(CREATE_BARE, { input: orderInput('customer-1') }, headers['customer-b']);
    const id = created.data.createOrder.orderId as string;
    // Projected and reserved (read-your-writes is causal) before subscribing, so that the first change
    // the subscriber sees is the cancellation (a fulfilment change would be emitted too).
    const placed = await s.gql(
      'query($id: ID!, $t: ConsistencyToken) { order(id: $id, after: $t) { status fulfilment } }',
      { id, t: created.data.createOrder.consistencyToken },
      headers['customer-b'],
    );
    expect(placed.data.order).toEqual({ status: 'PLACED', fulfilment: 'RESERVED' });
    const changes = s.subscribe(
      'subscription($id: ID!) { orderChanged(id: $id) { id status } }',
      { id },
      {
        take: 1,
        client: s.wsClient(headers['customer-b']),
      },
    );
    await s.subscribed('orderChanged', 1, changes);
    await s.gql('mutation($id: ID!) { cancelOrder(input: { orderId: $id, reason: "x" }) { orderId } }', { id }, headers['customer-b']);
    expect((await changes).events).toEqual([{ orderChanged: { id, status: 'CANCELLED' } }]);
  });
});

describe(`open development mode with many tenants on ${driverName}`, () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ TENANCY: 'multi' });
  });
  afterAll(() => s.close());

  it('takes the tenant from x-tenant (default when absent) and refuses a malformed one', async () => {
    const make = (tenant?: string) =>
      s.gql(
        PRODUCT,
        { input: { sku: 'widget', name: `Widget of ${tenant ?? 'default'}`, onHand: 1 } },
        tenant ? { 'x-tenant': tenant } : {},
      );
    for (const tenant of ['acme', 'globex', undefined]) expect((await make(tenant)).errors).toBeUndefined();
    for (const tenant of ['acme', 'globex']) {
      const r = await s.gql('{ product(sku: "widget") { name } }', undefined, { 'x-tenant': tenant });
      expect(r.data.product).toEqual({ name: `Widget of ${tenant}` });
    }
    expect((await s.gql('{ product(sku: "widget") { name } }')).data.product).toEqual({ name: 'Widget of default' });
    const bad = await s.gql('{ product(sku: "widget") { name } }', undefined, { 'x-tenant': 'Acme Corp' });
    expect(bad.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });
});

describe(`TENANT_COMMANDS_PER_SECOND on ${driverName}`, () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ TENANCY: 'multi', TENANT_COMMANDS_PER_SECOND: '2' });
  });
  afterAll(() => s.close());

  it("limits each tenant's commands on its own, with retryAfterMs, counted per tenant; the process's commands are not limited", async () => {
    const product = await s.gql(PRODUCT, { input: { sku: 'widget', name: 'Widget', onHand: 100 } }, { 'x-tenant': 'noisy' });
    expect(product.errors).toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, 1200)); // the bucket is full again
    const started = performance.now();
    const flood = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        s.gql(CREATE_BARE, { input: orderInput('c', { commandId: `flood-${i}` }) }, { 'x-tenant': 'noisy' }),
      ),
    );
    const limited = flood.filter((r) => r.errors?.[0]?.extensions?.code === 'RATE_LIMITED');
    const accepted = flood.filter((r) => !r.errors);
    const seconds = (performance.now() - started) / 1000;
    expect(limited.length + accepted.length).toBe(40);
    // A second's worth of burst, then 2 a second: how many got through depends on how long the flood took
    // (on a busy machine, seconds: the limit is low so that most of the flood is refused even then).
    expect(accepted.length).toBeGreaterThanOrEqual(2);
    expect(accepted.length).toBeLessThanOrEqual(2 + Math.ceil(2 * seconds));
    expect(limited.length).toBeGreaterThan(0);
    expect(limited[0]!.errors![0]!.extensions!.retryAfterMs).toBeGreaterThan(0);
    expect(limited[0]!.errors![0]!.extensions!.retryAfterMs).toBeLessThanOrEqual(1000);
    expect(limited[0]!.errors![0]!.message).toMatch(/nothing was done/);
    // The quiet tenant is not held back by the noisy one.
    const quiet = await s.gql(CREATE_BARE, { input: orderInput('c') }, { 'x-tenant': 'quiet' });
    expect(quiet.errors).toBeUndefined();
    // Refused means not done: the noisy tenant has exactly the orders it was told were accepted.
    // The quiet tenant's order came after every accepted one (a token is a position in the one log).
    const token = quiet.data.createOrder.consistencyToken;
    const list = await s.gql(
      'query($t: ConsistencyToken) { customerOrders(customerId: "c", after: $t, pageSize: 50) { total } }',
      { t: token },
      {
        'x-tenant': 'noisy',
      },
    );
    expect(list.data.customerOrders.total).toBe(accepted.length);
    // The fulfilment process reserved stock for each accepted order, its commands not limited.
    let reserved = 0;
    for (const deadline = Date.now() + 15_000; reserved < accepted.length && Date.now() < deadline; ) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      reserved = (await s.gql('{ product(sku: "widget") { reserved } }', undefined, { 'x-tenant': 'noisy' })).data.product.reserved;
    }
    expect(reserved).toBe(accepted.length);
    const metrics = await (await fetch(`${s.origin}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`converge_commands_rate_limited_total\\{tenant="noisy"\\} ${limited.length}\\b`));
    expect(metrics).not.toMatch(/converge_commands_rate_limited_total\{tenant="quiet"\}/);
  });
});

// The GraphQL API end to end: a started server, real HTTP and a real graphql-ws client, on the driver
// the suite runs on (PostgreSQL with TEST_DATABASE_URL, PGlite otherwise).
import { sql } from 'drizzle-orm';
import { serverAudits } from 'graphql-http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UnavailableError } from '../../src/core/errors.ts';
import { driverName } from '../support/db.ts';
import { PROCESSOR_NAMES, PROCESSORS } from '../support/processors.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const ORDER_FIELDS = `id customerId status itemCount totalAmount version createdAt updatedAt shippedAt cancelledAt cancelReason
  items { productId quantity unitPrice lineTotal } shippingAddress { line1 city postalCode country }`;
const PAYLOAD = `orderId version consistencyToken`;

const CREATE = `mutation Create($input: CreateOrderInput!) { createOrder(input: $input) { ${PAYLOAD} order { ${ORDER_FIELDS} } } }`;
const ADD = `mutation Add($input: AddOrderItemInput!) { addOrderItem(input: $input) { ${PAYLOAD} } }`;
const CANCEL = `mutation Cancel($input: CancelOrderInput!) { cancelOrder(input: $input) { ${PAYLOAD} order { status cancelReason cancelledAt } } }`;
const SHIP = `mutation Ship($input: ShipOrderInput!) { shipOrder(input: $input) { ${PAYLOAD} order { status shippedAt } } }`;

const address = { line1: '1 Main St', city: 'Berlin', postalCode: '10115', country: 'DE' };
/** Every projection and process manager, in the order the modules list them. */
const orderInput = (overrides: Record<string, unknown> = {}) => ({
  customerId: 'customer-1',
  items: [{ productId: 'p-1', quantity: 2, unitPrice: '9.99' }],
  shippingAddress: address,
  ...overrides,
});

describe(`GraphQL API end to end on ${driverName}`, () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(() => s.close());

  /** createOrder without selecting `order`, so nothing waits for the projections. */
  const createBare = async (overrides: Record<string, unknown> = {}) => {
    const r = await s.gql(`mutation($input: CreateOrderInput!) { createOrder(input: $input) { ${PAYLOAD} } }`, {
      input: orderInput(overrides),
    });
    expect(r.errors).toBeUndefined();
    return r.data.createOrder as { orderId: string; version: number; consistencyToken: string };
  };

  const create = async (overrides: Record<string, unknown> = {}) => {
    const r = await s.gql(CREATE, { input: orderInput(overrides) });
    expect(r.errors).toBeUndefined();
    return r.data.createOrder as { orderId: string; version: number; consistencyToken: string; order: any };
  };

  it('serves /health and /ready', async () => {
    expect(await (await fetch(`${s.origin}/health`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${s.origin}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ready: true, checks: { database: true, migrations: true, projections: true } });
    expect((await fetch(`${s.origin}/nope`)).status).toBe(404);
  });

  it('createOrder returns version, token and — read-your-writes — the projected order', async () => {
    const created = await create();
    expect(created).toMatchObject({ version: 1, consistencyToken: expect.any(String) });
    expect(created.order).toMatchObject({
      id: created.orderId,
      customerId: 'customer-1',
      status: 'PLACED',
      itemCount: 2,
      totalAmount: '19.98',
      version: 1,
      items: [{ productId: 'p-1', quantity: 2, unitPrice: '9.99', lineTotal: '19.98' }],
      shippingAddress: address,
      shippedAt: null,
      cancelledAt: null,
      cancelReason: null,
    });
    expect(created.order.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('sums money exactly and accepts numbers for Money', async () => {
    const { order } = await create({
      items: [
        { productId: 'a', quantity: 1, unitPrice: 0.1 },
        { productId: 'b', quantity: 1, unitPrice: '0.20' },
        { productId: 'c', quantity: 1, unitPrice: 0.6 },
      ],
    });
    expect(order.totalAmount).toBe('0.90');
  });

  it('addOrderItem, cancelOrder and shipOrder apply with their rules', async () => {
    const a = await create();
    const added = await s.gql(ADD, { input: { orderId: a.orderId, productId: 'p-2', quantity: 3, unitPrice: '1.50' } });
    expect(added.data.addOrderItem).toMatchObject({ orderId: a.orderId, version: 2 });
    const shipped = await s.gql(SHIP, { input: { orderId: a.orderId } });
    expect(shipped.data.shipOrder).toMatchObject({ version: 3, order: { status: 'SHIPPED', shippedAt: expect.stringMatching(/Z$/) } });

    const afterShip = await s.gql(CANCEL, { input: { orderId: a.orderId, reason: 'too late' } });
    expect(afterShip.errors?.[0]?.extensions).toEqual({ code: 'RULE_VIOLATION' });
    expect(afterShip.errors?.[0]?.message).toMatch(/Only a PLACED order can be cancelled/);
    const addAfterShip = await s.gql(ADD, { input: { orderId: a.orderId, productId: 'x', quantity: 1, unitPrice: 1 } });
    expect(addAfterShip.errors?.[0]?.extensions?.code).toBe('RULE_VIOLATION');

    const b = await create();
    const cancelled = await s.gql(CANCEL, { input: { orderId: b.orderId, reason: 'changed my mind' } });
    expect(cancelled.data.cancelOrder).toMatchObject({ version: 2, order: { status: 'CANCELLED', cancelReason: 'changed my mind' } });
    const shipCancelled = await s.gql(SHIP, { input: { orderId: b.orderId } });
    expect(shipCancelled.errors?.[0]?.extensions?.code).toBe('RULE_VIOLATION');
  });

  it('a 101st line is RULE_VIOLATION; an input over the limits is BAD_USER_INPUT', async () => {
    const many = Array.from({ length: 100 }, (_, i) => ({ productId: `p-${i}`, quantity: 1, unitPrice: '1' }));
    const full = await create({ items: many });
    const extra = await s.gql(ADD, { input: { orderId: full.orderId, productId: 'one-more', quantity: 1, unitPrice: '1' } });
    expect(extra.errors?.[0]?.extensions?.code).toBe('RULE_VIOLATION');
    const tooMany = await s.gql(CREATE, { input: orderInput({ items: [...many, many[0]] }) });
    expect(tooMany.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', issues: [{ path: ['input', 'items'] }] });
  });

  it('a command on an unknown order is NOT_FOUND; the order query answers null', async () => {
    const r = await s.gql(SHIP, { input: { orderId: 'no-such-order' } });
    expect(r.errors?.[0]).toMatchObject({ extensions: { code: 'NOT_FOUND' }, path: ['shipOrder'] });
    expect(r.data).toBeNull();
    const q = await s.gql(`{ order(id: "no-such-order") { id } }`);
    expect(q).toMatchObject({ status: 200, data: { order: null } });
    expect(q.errors).toBeUndefined();
  });

  it('expectedVersion: a stale one is CONCURRENCY_CONFLICT with actualVersion, and appends nothing', async () => {
    const a = await create();
    const ok = await s.gql(ADD, { input: { orderId: a.orderId, expectedVersion: 1, productId: 'x', quantity: 1, unitPrice: '1' } });
    expect(ok.data.addOrderItem.version).toBe(2);
    const stale = await s.gql(ADD, { input: { orderId: a.orderId, expectedVersion: 1, productId: 'y', quantity: 1, unitPrice: '1' } });
    expect(stale.errors?.[0]?.extensions).toEqual({ code: 'CONCURRENCY_CONFLICT', actualVersion: 2 });
    const order = await s.gql(
      `query($id: ID!, $after: ConsistencyToken) { order(id: $id, after: $after) { version items { productId } } }`,
      {
        id: a.orderId,
        after: ok.data.addOrderItem.consistencyToken,
      },
    );
    expect(order.data.order).toEqual({ version: 2, items: [{ productId: 'p-1' }, { productId: 'x' }] });
  });

  it('commandId: a repeat returns the first result; other input with it is IDEMPOTENCY_CONFLICT', async () => {
    const first = await s.gql(CREATE, { input: orderInput({ commandId: 'e2e-create-1' }) });
    const again = await s.gql(CREATE, { input: orderInput({ commandId: 'e2e-create-1' }) });
    const pick = (r: any) => ({
      orderId: r.data.createOrder.orderId,
      version: r.data.createOrder.version,
      token: r.data.createOrder.consistencyToken,
    });
    expect(pick(again)).toEqual(pick(first));
    const other = await s.gql(CREATE, { input: orderInput({ commandId: 'e2e-create-1', customerId: 'someone-else' }) });
    expect(other.errors?.[0]?.extensions).toEqual({ code: 'IDEMPOTENCY_CONFLICT' });
    const page = await s.gql(`{ customerOrders(customerId: "someone-else") { total } }`);
    expect(page.data.customerOrders.total).toBe(0);
  });

  it('refuses bad input with BAD_USER_INPUT and the path of each problem', async () => {
    for (const [unitPrice, message] of [
      ['1.234', /at most 2 fraction digits/],
      [-1, /negative/],
      ['abc', /decimal amount/],
    ] as const) {
      const r = await s.gql(CREATE, { input: orderInput({ items: [{ productId: 'a', quantity: 1, unitPrice }] }) });
      expect(r.status).toBe(400); // a variable that does not coerce is a request error (GraphQL over HTTP)
      const error = r.errors?.[0];
      expect(error?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(error?.extensions?.issues).toEqual([{ path: ['input', 'items', 0, 'unitPrice'], message: expect.stringMatching(message) }]);
    }
    const literal =
      await s.gql(`mutation { createOrder(input: { customerId: "c", items: [{ productId: "a", quantity: 1, unitPrice: 1.234 }],
      shippingAddress: { line1: "a", city: "b", postalCode: "c", country: "DE" } }) { orderId } }`);
    expect(literal.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(literal.errors?.[0]?.message).toMatch(/Money.*at most 2 fraction digits/);

    const zod = await s.gql(CREATE, {
      input: orderInput({
        customerId: 'x'.repeat(101),
        items: [{ productId: 'a', quantity: 0, unitPrice: '1' }],
        shippingAddress: { ...address, country: 'XX' },
      }),
    });
    expect(zod.errors?.[0]?.extensions?.issues.map((i: { path: unknown[] }) => i.path)).toEqual([
      ['input', 'customerId'],
      ['input', 'items', 0, 'quantity'],
      ['input', 'shippingAddress', 'country'],
    ]);
    const nul = await s.gql(CANCEL, { input: { orderId: 'o', reason: 'bad\u0000reason' } });
    expect(nul.errors?.[0]?.extensions?.issues?.[0]?.path).toEqual(['input', 'reason']);
    const page = await s.gql(`{ customerOrders(customerId: "c", pageSize: 101) { total } }`);
    expect(page.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', issues: [{ path: ['pageSize'] }] });
    const token = await s.gql(`query($t: ConsistencyToken) { order(id: "x", after: $t) { id } }`, { t: 'not-a-token' });
    expect(token.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', issues: [{ path: ['t'] }] });
    const version = await s.gql(SHIP, { input: { orderId: 'o', expectedVersion: -1 } });
    expect(version.errors?.[0]?.extensions?.issues?.[0]?.path).toEqual(['input', 'expectedVersion']);
  });

  it('customerOrders, searchOrders and customerSummary read the projections, with after:', async () => {
    const customerId = 'reader-1';
    const a = await create({ customerId, items: [{ productId: 'kettle', quantity: 1, unitPrice: '30.00' }] });
    const b = await create({
      customerId,
      items: [{ productId: 'teapot', quantity: 2, unitPrice: '5.00' }],
      shippingAddress: { ...address, city: 'Hamburg' },
    });
    const c = await s.gql(CANCEL, { input: { orderId: b.orderId, reason: 'duplicate' } });
    const token = c.data.cancelOrder.consistencyToken;

    const r = await s.gql(
      `query($c: ID!, $t: ConsistencyToken) {
        all: customerOrders(customerId: $c, after: $t) { total page pageSize totalPages items { id status } }
        cancelled: customerOrders(customerId: $c, status: CANCELLED, after: $t) { total items { id } }
        paged: customerOrders(customerId: $c, page: 2, pageSize: 1, after: $t) { total page totalPages items { id } }
        summary: customerSummary(customerId: $c, after: $t) { customerId orderCount cancelledCount totalSpent lastOrderAt }
        byCity: searchOrders(query: "hamburg", after: $t) { total items { id } }
        byTeapot: searchOrders(query: "teapot", after: $t) { total items { id } }
        byProduct: searchOrders(query: "KETTLE", after: $t) { total items { id } }
        sorted: searchOrders(query: "reader-1", sortBy: TOTAL_AMOUNT, sortOrder: ASC, after: $t) { items { id totalAmount } }
        placed: searchOrders(query: "reader-1", status: PLACED, after: $t) { total }
        none: customerSummary(customerId: "nobody") { orderCount }
      }`,
      { c: customerId, t: token },
    );
    expect(r.errors).toBeUndefined();
    expect(r.extensions?.consistency).toBeUndefined();
    expect(r.data.all).toMatchObject({ total: 2, page: 1, pageSize: 20, totalPages: 1 });
    expect(r.data.all.items.map((o: any) => o.id)).toEqual([b.orderId, a.orderId]); // newest first
    expect(r.data.cancelled).toEqual({ total: 1, items: [{ id: b.orderId }] });
    expect(r.data.paged).toEqual({ total: 2, page: 2, totalPages: 2, items: [{ id: a.orderId }] });
    expect(r.data.summary).toMatchObject({ customerId, orderCount: 2, cancelledCount: 1, totalSpent: '30.00' });
    // The city is personal data, sealed: searchOrders does not match it (API.md, Personal data).
    expect(r.data.byCity).toEqual({ total: 0, items: [] });
    expect(r.data.byTeapot.items).toEqual([{ id: b.orderId }]);
    expect(r.data.byProduct.items).toEqual([{ id: a.orderId }]);
    expect(r.data.sorted.items).toEqual([
      { id: b.orderId, totalAmount: '10.00' },
      { id: a.orderId, totalAmount: '30.00' },
    ]);
    expect(r.data.placed.total).toBe(1);
    expect(r.data.none).toBeNull();
  });

  it('GET serves queries and refuses mutations (GraphQL over HTTP)', async () => {
    const q = encodeURIComponent('{ order(id: "nope") { id } }');
    const get = await fetch(`${s.url}?query=${q}`, { headers: { accept: 'application/graphql-response+json' } });
    expect(get.status).toBe(200);
    expect(await get.json()).toEqual({ data: { order: null } });
    const m = encodeURIComponent('mutation { shipOrder(input: { orderId: "x" }) { version } }');
    const refused = await fetch(`${s.url}?query=${m}`, { headers: { accept: 'application/graphql-response+json' } });
    expect(refused.status).toBe(405);
  });

  it('projections, pauseProjection, resumeProjection and rebuildProjection', async () => {
    const list = await s.gql(`{ projections { name kind state position lagEvents lastError updatedAt } }`);
    expect(list.data.projections.map((p: any) => [p.name, p.kind])).toEqual(PROCESSORS.map(({ name, kind }) => [name, kind]));
    const refused = await s.gql(`mutation { rebuildProjection(name: "fulfilment") { state } }`);
    expect(refused.errors?.[0]).toMatchObject({
      message: expect.stringMatching(/process manager/),
      extensions: { code: 'RULE_VIOLATION' },
    });
    // Everything of earlier tests processed (the fulfilment process appends after them), then paused.
    const quiet = await createBare({ customerId: 'quiet' });
    await s.subscribe(`subscription($t: ConsistencyToken) { projectionProgress(until: $t) { caughtUp } }`, { t: quiet.consistencyToken });
    const paused = await s.gql(`mutation { pauseProjection(name: "customer_summaries") { name state } }`);
    expect(paused.data.pauseProjection).toEqual({ name: 'customer_summaries', state: 'PAUSED' });
    const a = await createBare({ customerId: 'lagging' });
    // Once the fulfilment process has handled the order (no stock-controlled line: it appends nothing),
    // the paused projection lags by the order's one event.
    await s.subscribe(
      `subscription($t: ConsistencyToken) { projectionProgress(projections: ["fulfilment", "order_fulfilments"], until: $t) { caughtUp } }`,
      {
        t: a.consistencyToken,
      },
    );
    const lag = await s.gql(`{ projections { name state lagEvents } }`);
    expect(lag.data.projections.find((p: any) => p.name === 'customer_summaries')).toMatchObject({ state: 'PAUSED', lagEvents: 1 });
    const again = await s.gql(`mutation { resumeProjection(name: "orders") { state } }`);
    expect(again.errors?.[0]?.extensions?.code).toBe('RULE_VIOLATION');
    const resumed = await s.gql(`mutation { resumeProjection(name: "customer_summaries") { state } }`);
    expect(resumed.data.resumeProjection.state).toBe('RUNNING');
    const summary = await s.gql(`query($t: ConsistencyToken) { customerSummary(customerId: "lagging", after: $t) { orderCount } }`, {
      t: a.consistencyToken,
    });
    expect(summary.data.customerSummary).toEqual({ orderCount: 1 });

    const rebuild = await s.gql(`mutation { rebuildProjection(name: "orders") { name state } }`);
    expect(rebuild.data.rebuildProjection).toEqual({ name: 'orders', state: 'REBUILDING' });
    const done = await s.subscribe(
      `subscription($t: ConsistencyToken) { projectionProgress(projections: ["orders"], until: $t) { caughtUp } }`,
      {
        t: a.consistencyToken,
      },
    );
    expect(done.events.at(-1)).toEqual({ projectionProgress: { caughtUp: true } });
    const unknown = await s.gql(`mutation { pauseProjection(name: "nope") { state } }`);
    expect(unknown.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });

  it('projectionProgress without until goes on through a moment the database cannot answer (not caught up then)', async () => {
    const client = s.wsClient();
    const stream = s.subscribe(`subscription { projectionProgress(projections: ["orders"]) { projection caughtUp } }`, undefined, {
      take: 3,
      client,
    });
    await s.subscribed('projectionProgress');
    const services = s.app.services as { headPosition: () => Promise<unknown> };
    const headPosition = services.headPosition;
    services.headPosition = () => Promise.reject(new UnavailableError());
    try {
      await create();
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      services.headPosition = headPosition;
    }
    await create();
    const { events, errors } = await stream;
    expect(errors).toBeUndefined();
    expect(events.map((e) => e.projectionProgress.caughtUp)).toEqual([true, false, true]);
  });

  it('projectionProgress: current positions first, then progress; with until it completes once all caught up', async () => {
    const sub = `subscription($t: ConsistencyToken, $p: [String!]) { projectionProgress(projections: $p, until: $t) { projection position caughtUp } }`;
    const a = await create();
    const first = await s.subscribe(sub, { t: a.consistencyToken });
    expect(
      first.events
        .filter((e) => e.projectionProgress.caughtUp)
        .map((e) => e.projectionProgress.projection)
        .sort(),
    ).toEqual([...PROCESSOR_NAMES].sort());
    // Already caught up: one event per projection, then complete.
    const immediate = await s.subscribe(sub, { t: a.consistencyToken });
    expect(immediate.errors).toBeUndefined();
    expect(immediate.events.map((e) => e.projectionProgress.projection).sort()).toEqual([...PROCESSOR_NAMES].sort());
    expect(immediate.events.every((e) => e.projectionProgress.caughtUp)).toBe(true);

    // Not yet caught up: pause, subscribe, write, resume; it completes once the projection passes the token.
    await s.gql(`mutation { pauseProjection(name: "orders") { state } }`);
    const b = await createBare();
    const pending = s.subscribe(sub, { t: b.consistencyToken, p: ['orders'] });
    await s.subscribed('projectionProgress');
    await s.gql(`mutation { resumeProjection(name: "orders") { state } }`);
    const { events, errors } = await pending;
    expect(errors).toBeUndefined();
    expect(events[0].projectionProgress).toMatchObject({ projection: 'orders', caughtUp: false });
    expect(events.at(-1).projectionProgress).toEqual({ projection: 'orders', position: expect.any(String), caughtUp: true });

    // Without until: the current position, then one event per advance.
    const client = s.wsClient();
    const stream = s.subscribe(`subscription { projectionProgress(projections: ["orders"]) { projection caughtUp } }`, undefined, {
      take: 2,
      client,
    });
    await s.subscribed('projectionProgress');
    await create();
    const open = await stream;
    expect(open.events).toHaveLength(2);

    const bad = await s.subscribe(`subscription { projectionProgress(projections: ["nope"]) { caughtUp } }`);
    expect(JSON.stringify(bad.errors)).toMatch(/NOT_FOUND/);
  });

  it('orderChanged emits the read model after every projected change of the order', async () => {
    const a = await create();
    // Reserved before subscribing (read-your-writes is causal): a fulfilment change would be emitted too.
    const reserved = await s.gql('query($id: ID!, $t: ConsistencyToken) { order(id: $id, after: $t) { fulfilment } }', {
      id: a.orderId,
      t: a.consistencyToken,
    });
    expect(reserved.data.order).toEqual({ fulfilment: 'RESERVED' });
    const changes = s.subscribe(
      `subscription($id: ID!) { orderChanged(id: $id) { id version status itemCount } }`,
      { id: a.orderId },
      { take: 2 },
    );
    await s.subscribed('orderChanged', 1, changes);
    await s.gql(ADD, { input: { orderId: a.orderId, productId: 'p-9', quantity: 1, unitPrice: '1' } });
    await new Promise((r) => setTimeout(r, 100));
    await s.gql(SHIP, { input: { orderId: a.orderId } });
    const { events, errors } = await changes;
    expect(errors).toBeUndefined();
    expect(events).toEqual([
      { orderChanged: { id: a.orderId, version: 2, status: 'PLACED', itemCount: 3 } },
      { orderChanged: { id: a.orderId, version: 3, status: 'SHIPPED', itemCount: 3 } },
    ]);
    const unknown = await s.subscribe(`subscription { orderChanged(id: "no-such-order") { id } }`);
    expect(JSON.stringify(unknown.errors)).toMatch(/NOT_FOUND/);
  });

  it('subscriptions work over SSE too', async () => {
    const a = await create();
    const response = await fetch(s.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({
        query: `subscription($t: ConsistencyToken) { projectionProgress(until: $t) { projection caughtUp } }`,
        variables: { t: a.consistencyToken },
      }),
    });
    expect(response.headers.get('content-type')).toMatch(/text\/event-stream/);
    const text = await response.text(); // the stream ends when the subscription completes
    const events = [...text.matchAll(/^data: (.+)$/gm)].map((m) => JSON.parse(m[1]!)).filter((e) => e.data);
    const last = new Map(events.map((e) => [e.data.projectionProgress.projection, e.data.projectionProgress.caughtUp]));
    expect(Object.fromEntries(last)).toEqual(Object.fromEntries(PROCESSOR_NAMES.map((name) => [name, true])));
    expect(text).toMatch(/event: complete/);
  });

  it('passes every graphql-http server audit, the SHOULDs and MAYs included', async () => {
    const results = await Promise.all(serverAudits({ url: s.url, fetchFn: fetch }).map((audit) => audit.fn()));
    const notOk = results.filter((r) => r.status !== 'ok');
    expect(notOk.map((f) => `${f.status} ${f.name}: ${'reason' in f ? f.reason : ''}`)).toEqual([]);
  });
});

describe(`read-your-writes timeout on ${driverName}`, () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ CONSISTENCY_TIMEOUT_MS: '300' });
  });
  afterAll(() => s.close());

  it('answers with what it has and extensions.consistency.stale when the projection does not catch up in time', async () => {
    await s.gql(`mutation { pauseProjection(name: "orders") { state } }`);
    const created = await s.gql(CREATE, { input: orderInput() });
    expect(created.errors).toBeUndefined();
    expect(created.data.createOrder.order).toBeNull();
    expect(created.extensions?.consistency).toEqual({ token: created.data.createOrder.consistencyToken, stale: true });
    const q = await s.gql(`query($id: ID!, $t: ConsistencyToken) { order(id: $id, after: $t) { id } }`, {
      id: created.data.createOrder.orderId,
      t: created.data.createOrder.consistencyToken,
    });
    expect(q.data.order).toBeNull();
    expect(q.extensions?.consistency).toEqual({ stale: true });
    await s.gql(`mutation { resumeProjection(name: "orders") { state } }`);
    const fresh = await s.gql(`query($id: ID!, $t: ConsistencyToken) { order(id: $id, after: $t) { id } }`, {
      id: created.data.createOrder.orderId,
      t: created.data.createOrder.consistencyToken,
    });
    expect(fresh.data.order).toEqual({ id: created.data.createOrder.orderId });
    expect(fresh.extensions?.consistency).toBeUndefined();
  });

  it('masks unexpected errors: INTERNAL_SERVER_ERROR with no SQL, stack or path', async () => {
    // An operator's mistake the code cannot foresee: the read model's table is gone.
    await s.app.services.database.rows(sql`drop table customer_summaries`);
    const r = await s.gql(`{ customerSummary(customerId: "c") { orderCount } }`);
    expect(r.errors?.[0]).toMatchObject({ message: 'Unexpected error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } });
    const text = JSON.stringify(r);
    expect(text).not.toMatch(/select|from orders|customer_summaries|relation|node_modules|\.ts:|at .*\(/i);
  });
});

describe(`a client that leaves ends its read-your-writes wait, on ${driverName}`, () => {
  let s: TestServer;
  let token: string;
  let orderId: string;
  beforeAll(async () => {
    s = await startTestServer({ CONSISTENCY_TIMEOUT_MS: '60000' });
    await s.gql(`mutation { pauseProjection(name: "orders") { state } }`);
    const r = await s.gql(`mutation($input: CreateOrderInput!) { createOrder(input: $input) { orderId consistencyToken } }`, {
      input: orderInput(),
    });
    ({ orderId, consistencyToken: token } = r.data.createOrder);
  });
  afterAll(() => s.close());

  const QUERY = `query($id: ID!, $t: ConsistencyToken) { order(id: $id, after: $t) { id } }`;
  const waiting = () => s.app.services.tracker.waiting();
  /** Resolves once the server holds `n` waits (each arrives in its own time). */
  const waitsHeld = async (n: number) => {
    for (let i = 0; i < 500 && waiting() !== n; i++) await new Promise((r) => setTimeout(r, 10));
    expect(waiting()).toBe(n);
  };

  it('over HTTP, when the request is aborted', async () => {
    const left = new AbortController();
    const request = fetch(s.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: QUERY, variables: { id: orderId, t: token } }),
      signal: left.signal,
    }).catch((error: unknown) => error);
    await waitsHeld(1);
    left.abort();
    await request;
    await waitsHeld(0);
  });

  it('over WebSocket, when the client completes the operation or closes the socket', async () => {
    const client = s.wsClient();
    const unsubscribe = client.subscribe({ query: QUERY, variables: { id: orderId, t: token } }, { next() {}, error() {}, complete() {} });
    await waitsHeld(1);
    unsubscribe(); // graphql-ws sends `complete`
    await waitsHeld(0);
    client.subscribe({ query: QUERY, variables: { id: orderId, t: token } }, { next() {}, error() {}, complete() {} });
    await waitsHeld(1);
    await client.dispose(); // closes the socket
    await waitsHeld(0);
  });
});

describe(`session consistency: extensions.consistency on ${driverName}`, () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ CONSISTENCY_TIMEOUT_MS: '2000' });
  });
  afterAll(() => s.close());

  const post = async (body: Record<string, unknown>): Promise<Record<string, any>> => {
    const response = await fetch(s.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: response.status, ...((await response.json()) as Record<string, any>) };
  };
  const CREATE_BARE = `mutation($input: CreateOrderInput!) { createOrder(input: $input) { orderId consistencyToken } }`;
  const ORDER = `query($id: ID!) { order(id: $id) { id version } }`;
  /** An order created while `orders` is paused (resumed after `resumeMs`): a read without a wait misses it. */
  const heldBack = async (resumeMs: number) => {
    await s.gql(`mutation { pauseProjection(name: "orders") { state } }`);
    const created = await post({ query: CREATE_BARE, variables: { input: orderInput() } });
    setTimeout(() => void s.gql(`mutation { resumeProjection(name: "orders") { state } }`), resumeMs);
    return created.data.createOrder as { orderId: string; consistencyToken: string };
  };

  it('a request token applies to every field without after:, over POST, GET and graphql-ws', async () => {
    const a = await heldBack(50);
    const r = await post({ query: ORDER, variables: { id: a.orderId }, extensions: { consistency: { after: a.consistencyToken } } });
    expect(r.data.order).toEqual({ id: a.orderId, version: 1 });
    expect(r.extensions).toEqual({ consistency: { token: a.consistencyToken } });

    const b = await heldBack(50);
    const params = new URLSearchParams({
      query: ORDER,
      variables: JSON.stringify({ id: b.orderId }),
      extensions: JSON.stringify({ consistency: { after: b.consistencyToken } }),
    });
    const get = (await (await fetch(`${s.url}?${params}`, { headers: { accept: 'application/json' } })).json()) as Record<string, any>;
    expect(get.data.order).toEqual({ id: b.orderId, version: 1 });

    const c = await heldBack(50);
    const ws = s.wsClient();
    const over = await new Promise<any>((resolve, reject) =>
      ws.subscribe(
        { query: ORDER, variables: { id: c.orderId }, extensions: { consistency: { after: c.consistencyToken } } },
        { next: resolve, error: reject, complete() {} },
      ),
    );
    expect(over.data.order).toEqual({ id: c.orderId, version: 1 });
    expect(over.extensions).toEqual({ consistency: { token: c.consistencyToken } });
  });

  it("a field's own after: wins over the request token", async () => {
    const old = await post({
      query: CREATE_BARE.replace('consistencyToken }', 'consistencyToken order { id } }'),
      variables: { input: orderInput() },
    });
    await s.gql(`mutation { pauseProjection(name: "orders") { state } }`);
    try {
      const held = (await post({ query: CREATE_BARE, variables: { input: orderInput() } })).data.createOrder;
      // The field waits for its own (older, reached) token: were it waiting for the request's, which the
      // paused projection never reaches, the answer would come back stale.
      const r = await post({
        query: `query($id: ID!, $t: ConsistencyToken) { order(id: $id, after: $t) { id } }`,
        variables: { id: old.data.createOrder.orderId, t: old.data.createOrder.consistencyToken },
        extensions: { consistency: { after: held.consistencyToken } },
      });
      expect(r.data.order).toEqual({ id: old.data.createOrder.orderId });
      // Not stale, and the response still covers the request's token.
      expect(r.extensions).toEqual({ consistency: { token: held.consistencyToken } });
    } finally {
      await s.gql(`mutation { resumeProjection(name: "orders") { state } }`);
    }
  });

  it('the response token covers the request token and every command the operation ran; a stale answer says so beside it', async () => {
    const first = await post({ query: CREATE_BARE, variables: { input: orderInput() } });
    expect(first.extensions).toEqual({ consistency: { token: first.data.createOrder.consistencyToken } });
    const two = await post({
      query: `mutation($a: CreateOrderInput!, $b: CreateOrderInput!) { a: createOrder(input: $a) { consistencyToken } b: createOrder(input: $b) { consistencyToken } }`,
      variables: { a: orderInput(), b: orderInput() },
      extensions: { consistency: { after: first.data.createOrder.consistencyToken } },
    });
    const newest = [two.data.a.consistencyToken, two.data.b.consistencyToken].sort(byPosition).at(-1);
    expect(two.extensions).toEqual({ consistency: { token: newest } });
    // A query that carried no token and ran no command gets none back.
    expect((await post({ query: `{ __typename }` })).extensions).toBeUndefined();

    await s.gql(`mutation { pauseProjection(name: "orders") { state } }`);
    try {
      const late = await post({
        query: CREATE_BARE.replace('consistencyToken }', 'consistencyToken order { id } }'),
        variables: { input: orderInput() },
      });
      expect(late.extensions).toEqual({ consistency: { token: late.data.createOrder.consistencyToken, stale: true } });
    } finally {
      await s.gql(`mutation { resumeProjection(name: "orders") { state } }`);
    }
  });

  it('a malformed request token is BAD_USER_INPUT, as in an argument, and nothing runs', async () => {
    for (const after of ['not-a-token', 42, 'c1.zz']) {
      const r = await post({
        query: CREATE_BARE,
        variables: { input: orderInput({ customerId: 'never-stored' }) },
        extensions: { consistency: { after } },
      });
      expect(r.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(r.data ?? null).toBeNull();
    }
    const ws = s.wsClient();
    const refused = await new Promise<any>((resolve) =>
      ws.subscribe(
        { query: ORDER, variables: { id: 'x' }, extensions: { consistency: { after: 'nope' } } },
        { next: resolve, error: resolve, complete() {} },
      ),
    );
    expect(JSON.stringify(refused)).toMatch(/BAD_USER_INPUT/);
    const none = await s.gql(`{ customerOrders(customerId: "never-stored") { total } }`);
    expect(none.data.customerOrders.total).toBe(0);
  });
});

/** Orders tokens by their position (transaction id, then position), as the server does. */
function byPosition(a: string, b: string) {
  const parse = (t: string) =>
    t
      .split('.')
      .slice(1)
      .map((part) => BigInt(parseInt(part, 36)));
  const [pa, pb] = [parse(a), parse(b)];
  return pa[0]! !== pb[0]! ? (pa[0]! < pb[0]! ? -1 : 1) : pa[1]! < pb[1]! ? -1 : pa[1]! > pb[1]! ? 1 : 0;
}

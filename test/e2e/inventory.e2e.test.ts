// Inventory and fulfilment over GraphQL: products for admins, reads for any caller, bad input refused
// with nothing changed, and `createOrder { order { fulfilment } }` answered with the outcome in the
// same response (causal read-your-writes), never PENDING.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { driverName } from '../support/db.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { bearer, signToken, TEST_SECRET } from '../support/tokens.ts';

const address = { line1: '1 Main St', city: 'Berlin', postalCode: '10115', country: 'DE' };
const CREATE_PRODUCT = `mutation($input: CreateProductInput!) { createProduct(input: $input) { sku version consistencyToken product { sku name onHand reserved available version } } }`;
const RESTOCK = `mutation($input: RestockProductInput!) { restockProduct(input: $input) { sku version product { onHand available } } }`;
const ORDER = `mutation($input: CreateOrderInput!) { createOrder(input: $input) { orderId consistencyToken order { status fulfilment } } }`;

describe(`inventory and fulfilment over GraphQL on ${driverName}`, () => {
  let s: TestServer;
  let admin: Record<string, string>;
  let alice: Record<string, string>;
  beforeAll(async () => {
    s = await startTestServer({ JWT_SECRET: TEST_SECRET });
    admin = bearer(await signToken({ sub: 'ops', roles: ['admin'] }, { expiresIn: '1h' }));
    alice = bearer(await signToken({ sub: 'alice', roles: ['customer'] }, { expiresIn: '1h' }));
  });
  afterAll(() => s.close());

  const order = (items: { productId: string; quantity: number }[], headers = alice) =>
    s.gql(
      ORDER,
      { input: { customerId: 'alice', items: items.map((i) => ({ ...i, unitPrice: '10.00' })), shippingAddress: address } },
      headers,
    );
  const products = async () =>
    (await s.gql(`{ products(pageSize: 100) { total items { sku name onHand reserved available version updatedAt } } }`, undefined, admin))
      .data.products;

  it('an admin creates and restocks a product, and reads it back in the same response', async () => {
    const created = await s.gql(CREATE_PRODUCT, { input: { sku: 'grinder', name: 'Burr grinder', onHand: 3 } }, admin);
    expect(created.errors).toBeUndefined();
    expect(created.data.createProduct).toMatchObject({
      sku: 'grinder',
      version: 1,
      product: { sku: 'grinder', onHand: 3, reserved: 0, available: 3, version: 1 },
    });
    const restocked = await s.gql(RESTOCK, { input: { sku: 'grinder', quantity: 2 } }, admin);
    expect(restocked.data.restockProduct).toEqual({ sku: 'grinder', version: 2, product: { onHand: 5, available: 5 } });
    // Any authenticated caller reads products.
    const read = await s.gql(`{ product(sku: "grinder") { name available } }`, undefined, alice);
    expect(read.data.product).toEqual({ name: 'Burr grinder', available: 5 });
    expect((await s.gql(`{ product(sku: "nope") { sku } }`, undefined, alice)).data.product).toBeNull();
  });

  it('createOrder { order { fulfilment } } answers the outcome at once: RESERVED, or BACKORDERED past the stock', async () => {
    await s.gql(CREATE_PRODUCT, { input: { sku: 'kettle', name: 'Kettle', onHand: 2 } }, admin);
    const reserved = await order([{ productId: 'kettle', quantity: 2 }]);
    expect(reserved.errors).toBeUndefined();
    // Not stale: the outcome was there in time (the response token is the command's).
    expect(reserved.extensions?.consistency).toEqual({ token: reserved.data.createOrder.consistencyToken });
    expect(reserved.data.createOrder.order).toEqual({ status: 'PLACED', fulfilment: 'RESERVED' });
    const stock = await s.gql(
      `query($t: ConsistencyToken) { product(sku: "kettle", after: $t) { reserved available } }`,
      { t: reserved.data.createOrder.consistencyToken },
      alice,
    );
    expect(stock.data.product).toEqual({ reserved: 2, available: 0 });
    const backordered = await order([{ productId: 'kettle', quantity: 1 }]);
    expect(backordered.data.createOrder.order).toEqual({ status: 'PLACED', fulfilment: 'BACKORDERED' });
    // Lines of unknown products are not stock-controlled.
    expect((await order([{ productId: 'no-such-sku', quantity: 9 }])).data.createOrder.order.fulfilment).toBe('RESERVED');

    const cancelled = await s.gql(
      `mutation($id: ID!) { cancelOrder(input: { orderId: $id, reason: "changed my mind" }) { order { status fulfilment cancelledBy } } }`,
      { id: reserved.data.createOrder.orderId },
      alice,
    );
    expect(cancelled.data.cancelOrder.order).toEqual({ status: 'CANCELLED', fulfilment: 'RELEASED', cancelledBy: 'alice' });
  });

  it("a list of orders shows each one's fulfilment, as fresh as the list was read", async () => {
    const placed = await order([{ productId: 'grinder', quantity: 1 }]);
    const page = await s.gql(
      `query($t: ConsistencyToken) { customerOrders(customerId: "alice", after: $t) { items { id fulfilment } } }`,
      { t: placed.data.createOrder.consistencyToken },
      alice,
    );
    const mine = page.data.customerOrders.items.find((o: { id: string }) => o.id === placed.data.createOrder.orderId);
    expect(mine.fulfilment).toBe('RESERVED');
    expect(page.data.customerOrders.items.every((o: { fulfilment: string }) => o.fulfilment !== 'PENDING')).toBe(true);
  });

  it('refuses bad input and callers who may not, and changes nothing', async () => {
    // As fresh as everything before: a change that slipped through would show.
    const head = (await order([{ productId: 'no-such-sku', quantity: 1 }])).data.createOrder.consistencyToken;
    const fresh = await s.gql(`query($t: ConsistencyToken) { products(pageSize: 100, after: $t) { total } }`, { t: head }, admin);
    expect(fresh.extensions?.consistency).toBeUndefined();
    const before = await products();
    const cases: [string, Record<string, unknown>, Record<string, string>, string][] = [
      [CREATE_PRODUCT, { input: { sku: 'x', name: 'X', onHand: 1 } }, alice, 'FORBIDDEN'],
      [RESTOCK, { input: { sku: 'grinder', quantity: 1 } }, alice, 'FORBIDDEN'],
      [RESTOCK, { input: { sku: 'unknown-sku', quantity: 1 } }, admin, 'NOT_FOUND'],
      [RESTOCK, { input: { sku: 'grinder', quantity: -1 } }, admin, 'BAD_USER_INPUT'],
      [RESTOCK, { input: { sku: 'grinder', quantity: 1_000_001 } }, admin, 'BAD_USER_INPUT'],
      [CREATE_PRODUCT, { input: { sku: 'y', name: '', onHand: 1 } }, admin, 'BAD_USER_INPUT'],
      [CREATE_PRODUCT, { input: { sku: 'y', name: 'Y', onHand: -5 } }, admin, 'BAD_USER_INPUT'],
      [CREATE_PRODUCT, { input: { sku: 'grinder', name: 'Again', onHand: 1 } }, admin, 'RULE_VIOLATION'],
      [CREATE_PRODUCT, { input: { sku: 'z', name: 'Z', onHand: 1, commandId: 'converge:fulfilment:x' } }, admin, 'BAD_USER_INPUT'],
    ];
    for (const [query, variables, headers, code] of cases) {
      const r = await s.gql(query, variables, headers);
      expect(r.errors?.[0]?.extensions?.code, JSON.stringify(variables)).toBe(code);
    }
    const negative = await s.gql(RESTOCK, { input: { sku: 'grinder', quantity: -1 } }, admin);
    expect(negative.errors?.[0]?.extensions?.issues).toEqual([{ path: ['input', 'quantity'], message: 'must be at least 1' }]);
    // Read after a command that follows them all: whatever they had appended would be in.
    const last = (await order([{ productId: 'no-such-sku', quantity: 1 }])).data.createOrder.consistencyToken;
    const after = await s.gql(
      `query($t: ConsistencyToken) { products(pageSize: 100, after: $t) { total items { sku name onHand reserved available version updatedAt } } }`,
      { t: last },
      admin,
    );
    expect(after.data.products).toEqual(before);
    expect(before.items.find((p: { sku: string }) => p.sku === 'grinder')).toMatchObject({ onHand: 5 });
  });

  it('lists the fulfilment process manager among the projections, and refuses to rebuild it', async () => {
    const list = await s.gql(`{ projections { name kind } }`, undefined, admin);
    expect(list.data.projections).toContainEqual({ name: 'fulfilment', kind: 'PROCESS_MANAGER' });
    const rebuild = await s.gql(`mutation { rebuildProjection(name: "fulfilment") { state } }`, undefined, admin);
    expect(rebuild.errors?.[0]?.extensions?.code).toBe('RULE_VIOLATION');
  });

  it('orderChanged emits an order again when its fulfilment changes: a restock fills its backorder', async () => {
    await s.gql(CREATE_PRODUCT, { input: { sku: 'kettle', name: 'Kettle', onHand: 1 } }, admin);
    const placed = (await order([{ productId: 'kettle', quantity: 2 }])).data.createOrder;
    expect(placed.order).toEqual({ status: 'PLACED', fulfilment: 'BACKORDERED' });
    const changes = s.subscribe(
      `subscription($id: ID!) { orderChanged(id: $id) { id version fulfilment } }`,
      { id: placed.orderId },
      { take: 1, client: s.wsClient(admin) },
    );
    await s.subscribed('orderChanged', 1, changes);
    await s.gql(RESTOCK, { input: { sku: 'kettle', quantity: 1 } }, admin);
    expect(await changes).toEqual({ events: [{ orderChanged: { id: placed.orderId, version: 1, fulfilment: 'RESERVED' } }] });
  });
});

// Personal data through the whole service, on the suite's driver: the address's personal fields never
// reach a table in clear, reads open them, searchOrders does not match them, and forgetCustomer erases
// them everywhere while the events stay and commands on the customer's orders still work (issue 27).
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYSTEM_CALLER } from '../../src/core/caller.ts';
import { driverName } from '../support/db.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { bearer, signToken, TEST_SECRET } from '../support/tokens.ts';

// Recognisable strings: a hit anywhere in the database is a leak.
const LINE1 = 'Zyxwvut Privacy Lane 77';
const CITY = 'Qwertyburg';
const POSTAL = 'ZZ9 9QX';
const address = { line1: LINE1, city: CITY, postalCode: POSTAL, country: 'DE' };
const other = { line1: '1 Main St', city: 'Berlin', postalCode: '10115', country: 'DE' };

const ADDRESS = 'shippingAddress { line1 city postalCode country erased }';
const CREATE = `mutation($input: CreateOrderInput!) { createOrder(input: $input) { orderId consistencyToken order { id ${ADDRESS} } } }`;
const ORDER = `query($id: ID!, $after: ConsistencyToken) { order(id: $id, after: $after) { id status itemCount ${ADDRESS} } }`;
const FORGET = 'mutation($id: ID!) { forgetCustomer(customerId: $id) { customerId consistencyToken } }';

describe(`personal data on ${driverName}`, () => {
  let s: TestServer;
  let admin: Record<string, string>;
  beforeAll(async () => {
    s = await startTestServer({ JWT_SECRET: TEST_SECRET });
    admin = bearer(await signToken({ sub: 'admin-1', roles: ['admin'] }));
  });
  afterAll(() => s.close());

  const gql = async (query: string, variables: Record<string, unknown>) => {
    const r = await s.gql(query, variables, admin);
    expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
    return r.data;
  };
  const create = async (customerId: string, shippingAddress = address) =>
    (await gql(CREATE, { input: { customerId, items: [{ productId: 'p-1', quantity: 1, unitPrice: '5.00' }], shippingAddress } }))
      .createOrder;
  /** Every row of every table in the public schema, as text. */
  const everything = async () => {
    const tables = await s.app.services.database.rows<{ name: string }>(
      sql`select format('%I', tablename) as name from pg_tables where schemaname = 'public'`,
    );
    const texts = await Promise.all(
      tables.map(async ({ name }) =>
        (await s.app.services.database.rows<{ t: string }>(sql`select coalesce(string_agg(x::text, ' '), '') as t from ${sql.raw(name)} x`))
          .map((r) => r.t)
          .join(' '),
      ),
    );
    return texts.join('\n');
  };
  const leaks = (text: string) => [LINE1, CITY, POSTAL].filter((needle) => text.toLowerCase().includes(needle.toLowerCase()));

  it('stores the address sealed everywhere, reads it in clear, and searchOrders does not match it', async () => {
    const created = await create('privacy-c1');
    expect(created.order.shippingAddress).toEqual({ ...address, erased: false });
    const read = await gql(ORDER, { id: created.orderId, after: created.consistencyToken });
    expect(read.order.shippingAddress).toEqual({ ...address, erased: false });

    expect(leaks(await everything())).toEqual([]);
    const [event] = await s.app.services.database.rows<{ data: { shippingAddress: Record<string, string> } }>(
      sql`select data from events where stream_id = ${created.orderId} and version = 1`,
    );
    expect(event!.data.shippingAddress.line1).toMatch(/^pd1\./);
    expect(event!.data.shippingAddress.country).toBe('DE');

    const search = `query($q: String!, $after: ConsistencyToken) { searchOrders(query: $q, after: $after) { total items { id } } }`;
    expect((await gql(search, { q: CITY, after: created.consistencyToken })).searchOrders.total).toBe(0);
    expect((await gql(search, { q: 'privacy-c1' })).searchOrders.items.map((o: { id: string }) => o.id)).toContain(created.orderId);
  });

  it('forgetCustomer erases the personal fields everywhere after its token; events stay; commands still work; a new order gets a new key', async () => {
    const first = await create('privacy-c2');
    const second = await create('privacy-c2');
    const bystander = await create('privacy-c3', other);
    const eventsBefore = await s.app.services.database.rows<{ n: number }>(sql`select count(*)::int as n from events`);

    const forgot = (await gql(FORGET, { id: 'privacy-c2' })).forgetCustomer;
    expect(forgot.customerId).toBe('privacy-c2');
    for (const order of [first, second]) {
      const read = await gql(ORDER, { id: order.orderId, after: forgot.consistencyToken });
      expect(read.order.shippingAddress).toEqual({
        line1: '[erased]',
        city: '[erased]',
        postalCode: '[erased]',
        country: 'DE',
        erased: true,
      });
    }
    expect((await gql(ORDER, { id: bystander.orderId, after: forgot.consistencyToken })).order.shippingAddress).toEqual({
      ...other,
      erased: false,
    });
    const eventsAfter = await s.app.services.database.rows<{ n: number }>(sql`select count(*)::int as n from events`);
    expect(eventsAfter[0]!.n).toBe(eventsBefore[0]!.n + 1); // the PersonalDataForgotten event, nothing removed

    // Commands on the forgotten customer's orders work where the rules allow.
    const add = await gql(`mutation($input: AddOrderItemInput!) { addOrderItem(input: $input) { order { itemCount ${ADDRESS} } } }`, {
      input: { orderId: first.orderId, productId: 'p-2', quantity: 1, unitPrice: '1.00' },
    });
    expect(add.addOrderItem.order.itemCount).toBe(2);
    expect(add.addOrderItem.order.shippingAddress.erased).toBe(true);
    const cancel = await gql(`mutation($input: CancelOrderInput!) { cancelOrder(input: $input) { order { status } } }`, {
      input: { orderId: second.orderId, reason: 'forgotten' },
    });
    expect(cancel.cancelOrder.order.status).toBe('CANCELLED');

    // A new order of the customer gets a new key: readable, while the old ones stay erased.
    const again = await create('privacy-c2');
    expect(again.order.shippingAddress).toEqual({ ...address, erased: false });
    expect((await gql(ORDER, { id: first.orderId })).order.shippingAddress.erased).toBe(true);
    const keys = await s.app.services.database.rows<{ n: number }>(
      sql`select count(*)::int as n from data_keys where subject = 'privacy-c2'`,
    );
    expect(keys[0]!.n).toBe(1);
  });

  it('a rebuild after a forget keeps the forgotten addresses erased and the others readable', async () => {
    const kept = await create('privacy-c4', other);
    const gone = await create('privacy-c5');
    const forgot = (await gql(FORGET, { id: 'privacy-c5' })).forgetCustomer;
    const { admin: projections } = s.app.services;
    await projections.rebuild('orders', SYSTEM_CALLER);
    const deadline = Date.now() + 30_000;
    for (;;) {
      const status = (await projections.status(SYSTEM_CALLER)).find((p) => p.name === 'orders')!;
      if (status.state === 'RUNNING' && status.rebuildPosition === null) break;
      expect(status.state).not.toBe('FAILED');
      if (Date.now() > deadline) throw new Error(`orders not rebuilt in 30 s: ${JSON.stringify(status)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect((await gql(ORDER, { id: gone.orderId, after: forgot.consistencyToken })).order.shippingAddress.erased).toBe(true);
    expect((await gql(ORDER, { id: kept.orderId })).order.shippingAddress).toEqual({ ...other, erased: false });
    expect(leaks(await everything())).toEqual([]);
  });

  it('only an admin may forget, and a bad customer id changes nothing', async () => {
    const customer = bearer(await signToken({ sub: 'privacy-c6', roles: ['customer'] }));
    const refused = await s.gql(FORGET, { id: 'privacy-c6' }, customer);
    expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const bad = await s.gql(FORGET, { id: 'x'.repeat(101) }, admin);
    expect(bad.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const forgets = await s.app.services.database.rows<{ n: number }>(
      sql`select count(*)::int as n from events where type = 'PersonalDataForgotten' and stream_id in ('personal-data:privacy-c6', ${`personal-data:${'x'.repeat(101)}`})`,
    );
    expect(forgets[0]!.n).toBe(0);
  });
});

describe(`personal data with TENANCY=multi on ${driverName}`, () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ TENANCY: 'multi' });
  });
  afterAll(() => s.close());

  it("keys are each tenant's: forgetting a customer in one tenant leaves the same customer id of another readable", async () => {
    const as = (tenant: string) => ({ 'x-tenant': tenant });
    const created: Record<string, { orderId: string }> = {};
    for (const tenant of ['acme', 'globex']) {
      const r = await s.gql(
        'mutation($input: CreateOrderInput!) { createOrder(input: $input) { orderId } }',
        { input: { customerId: 'same-customer', items: [{ productId: 'p', quantity: 1, unitPrice: '1.00' }], shippingAddress: address } },
        as(tenant),
      );
      expect(r.errors).toBeUndefined();
      created[tenant] = r.data.createOrder;
    }
    const forgot = await s.gql(FORGET, { id: 'same-customer' }, as('acme'));
    expect(forgot.errors).toBeUndefined();
    const token = forgot.data.forgetCustomer.consistencyToken;
    const read = async (tenant: string) =>
      (await s.gql(ORDER, { id: created[tenant]!.orderId, after: token }, as(tenant))).data.order.shippingAddress;
    expect((await read('acme')).erased).toBe(true);
    expect(await read('globex')).toEqual({ ...address, erased: false });
    const keys = await s.app.services.database.rows<{ tenant_id: string }>(
      sql`select tenant_id from data_keys where subject = 'same-customer' order by tenant_id`,
    );
    expect(keys).toEqual([{ tenant_id: 'globex' }]);
  });
});

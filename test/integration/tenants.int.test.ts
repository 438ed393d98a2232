// Tenants isolated by PostgreSQL itself (TENANCY=multi): the API's statements run as converge_api under
// row-level security, so that a read-model query with no tenant filter (the domain's queries have none)
// returns nothing of another tenant, and a write into another tenant's rows is refused by the database.
// The projections and process managers run across tenants as the owner.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '../../src/core/caller.ts';
import { parseCommand } from '../../src/core/command-input.ts';
import { decodeToken } from '../../src/core/position.ts';
import { inTenant } from '../../src/core/tenancy.ts';
import { prepareApiRole, tablesWithoutTenants, tenantScoped } from '../../src/infra/db/tenant-scope.ts';
import { productAggregate } from '../../src/inventory/product-aggregate.ts';
import type { Services } from '../../src/services.ts';
import { createTestDatabase, driverName, type TestDatabase } from '../support/db.ts';
import { command } from '../support/orders.ts';
import { startServices } from '../support/services.ts';
import { describeIf, pgliteOnly } from '../support/skip.ts';

const admin = (tenant: string): Caller => ({ userId: `admin-${tenant}`, roles: ['admin'], tenant });
const customer = (tenant: string, id = 'customer-1'): Caller => ({ userId: id, roles: ['customer'], tenant });

describe(`tenants on ${driverName}`, () => {
  let t: TestDatabase;
  let services: Services;
  beforeAll(async () => {
    t = await createTestDatabase({ poolMax: 20 });
    expect(await prepareApiRole(t.database)).toBeNull();
    services = await startServices(t.database, { tenancy: 'multi' });
  });
  afterAll(async () => {
    await services?.stop();
    await t.close();
  });

  const createOrder = (caller: Caller, overrides: Record<string, unknown> = {}) =>
    services.commands.dispatch(
      command(
        'CreateOrder',
        {
          customerId: caller.userId,
          items: [{ productId: 'widget', quantity: 1, unitPrice: '5.00' }],
          shippingAddress: { line1: '1 Main St', city: 'Berlin', postalCode: '10115', country: 'DE' },
          ...overrides,
        },
        { caller },
      ),
    );
  const read = (caller: Caller, name: string, params: Record<string, unknown>, after?: string) =>
    services.queries.execute(name as 'order', params as { id: string }, {
      caller,
      ...(after && { consistency: { after: decodeToken(after)! } }),
    });

  it('a read-model query without a tenant filter sees only its tenant: the database hides the rest', async () => {
    const a = await createOrder(customer('a'));
    const b = await createOrder(customer('b'), { commandId: 'same-id' });
    await services.tracker.waitFor(a.position, ['orders'], 10_000);
    await services.tracker.waitFor(b.position, ['orders'], 10_000);

    // The order query reads `orders` by id alone; the owner (no tenant) sees both rows.
    const owner = await t.database.rows<{ id: string; tenant_id: string }>(
      sql`select id, tenant_id from orders where id in (${a.streamId}, ${b.streamId}) order by tenant_id`,
    );
    expect(owner).toEqual([
      { id: a.streamId, tenant_id: 'a' },
      { id: b.streamId, tenant_id: 'b' },
    ]);
    expect(await read(customer('a'), 'order', { id: a.streamId })).toMatchObject({ id: a.streamId });
    expect(await read(customer('b'), 'order', { id: a.streamId })).toBeNull();
    expect(await read(admin('b'), 'order', { id: a.streamId })).toBeNull();

    // A statement with no tenant filter at all, as converge_api in tenant b.
    const api = tenantScoped(t.database);
    const seen = await inTenant('b', () => api.rows<{ id: string }>(sql`select id from orders`));
    expect(seen.map((r) => r.id)).toEqual([b.streamId]);
    const events = await inTenant('b', () => api.rows<{ n: number }>(sql`select count(*)::int as n from events`));
    expect(events[0]!.n).toBe(1);
    // Nor can it write another tenant's rows.
    await expect(inTenant('b', () => api.rows(sql`update orders set status = 'CANCELLED' where id = ${a.streamId}`))).resolves.toEqual([]);
    await expect(inTenant('b', () => api.rows(sql`update orders set tenant_id = 'a' where id = ${b.streamId}`))).rejects.toThrow(
      /row-level security/,
    );
    const [after] = await t.database.rows<{ status: string }>(sql`select status from orders where id = ${a.streamId} and tenant_id = 'a'`);
    expect(after!.status).toBe('PLACED');
  });

  it('the same sku and the same commandId in two tenants are independent', async () => {
    const product = (tenant: string, onHand: number) =>
      services.commands.dispatch(
        parseCommand(
          productAggregate.inputs,
          'CreateProduct',
          { sku: 'gadget', name: `Gadget of ${tenant}`, onHand, commandId: 'p-1' },
          {
            caller: admin(tenant),
          },
        ),
      );
    const [pa, pb] = await Promise.all([product('a', 3), product('b', 9)]);
    expect(pa.streamId).toBe(pb.streamId);
    const [oa, ob] = await Promise.all([
      createOrder(customer('a'), { commandId: 'cmd-1' }),
      createOrder(customer('b'), { commandId: 'cmd-1' }),
    ]);
    expect(oa.streamId).not.toBe(ob.streamId);
    // A repeat in one tenant answers that tenant's first result.
    expect((await createOrder(customer('b'), { commandId: 'cmd-1' })).streamId).toBe(ob.streamId);
    const [ra, rb] = await Promise.all([
      read(admin('a'), 'product', { sku: 'gadget' }, pa.consistencyToken),
      read(admin('b'), 'product', { sku: 'gadget' }, pb.consistencyToken),
    ]);
    expect(ra).toMatchObject({ name: 'Gadget of a', onHand: 3 });
    expect(rb).toMatchObject({ name: 'Gadget of b', onHand: 9 });
  });

  it('an operator of no tenant reads and changes no tenant data; the service itself acts in its work tenant', async () => {
    const operator: Caller = { userId: 'ops', roles: ['operator'] };
    await expect(read(operator, 'order', { id: 'x' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(createOrder(operator)).rejects.toMatchObject({ code: 'FORBIDDEN' });
  });

  it('every read-model table carries tenants under the policies', async () => {
    const tables = await projectionTables();
    expect(tables.length).toBeGreaterThan(5);
    expect(await tablesWithoutTenants(t.database, tables)).toEqual([]);
    const [unpoliced] = await t.database.rows<{ n: number }>(sql`select count(*)::int as n from pg_class
      where relname in ('events', 'commands', 'snapshots') and not relrowsecurity`);
    expect(unpoliced!.n).toBe(0);
  });

  const projectionTables = async () => {
    const rows = await t.database.rows<{ name: string }>(sql`
      select c.relname as name from pg_class c join pg_attribute a on a.attrelid = c.oid and a.attname = 'tenant_id'
      where c.relkind = 'r' and c.relnamespace = 'public'::regnamespace and c.relname not in ('events', 'commands', 'snapshots')`);
    return rows.map((r) => r.name);
  };
});

describeIf(
  pgliteOnly('converge_api is shared by the whole PostgreSQL cluster, so changing it would disturb the other test files'),
  'TENANCY=multi refuses a role the policies would not apply to',
  () => {
    it('names the role, what is wrong and the fix, in one line', async () => {
      const t = await createTestDatabase();
      try {
        expect(await prepareApiRole(t.database)).toBeNull();
        await t.database.query('alter role converge_api bypassrls', []);
        expect(await prepareApiRole(t.database)).toMatch(
          /^TENANCY=multi needs converge_api to be subject to row-level security.*NOBYPASSRLS$/,
        );
        await t.database.query('alter role converge_api nobypassrls', []);
        await t.database.query('alter role converge_api superuser', []);
        expect(await prepareApiRole(t.database)).toMatch(/^TENANCY=multi needs converge_api to be subject to row-level security/);
      } finally {
        await t.close();
      }
    });
  },
);

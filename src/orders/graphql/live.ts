// What the Orders queries read, for live queries: an order ('order:<id>'), a customer's orders and
// summary ('customer:<id>'), or every order (ANY_ROW, an admin's search); and which of those keys each
// advance of `orders` and `customer_summaries` touched (the changed orders, and their customers as each
// projection's own tables know them, kept once read).
import { LRUCache } from 'lru-cache';
import { SYSTEM_CALLER } from '../../core/caller.ts';
import type { Position } from '../../core/position.ts';
import { tenantKey, tenantOrDefault } from '../../core/tenancy.ts';
import type { Builder } from '../../graphql/builder.ts';
import { type GraphQLServices, queriesOf } from '../../graphql/context.ts';
import { ANY_ROW, liveSources } from '../../graphql/live-sources.ts';
import type { OrderQueries } from '../module.ts';
import { CUSTOMER_SUMMARIES_PROJECTION } from '../read-models/customer-summaries.ts';
import { ORDERS_PROJECTION } from '../read-models/orders.ts';

export const orderKey = (id: string) => `order:${id}`;
export const customerKey = (id: string) => `customer:${id}`;

/**
 * The customers of the orders `ids` (as `query` reads them, at least as new as `at`). An order's customer
 * never changes, so what was read once is kept (per tenant), and only orders not seen yet cost a read.
 */
function orderCustomers(cache: LRUCache<string, string>) {
  return async (services: GraphQLServices, query: 'orderCustomers' | 'summaryCustomers', ids: readonly string[], at: Position) => {
    const tenant = tenantOrDefault();
    const found = new Map<string, string>();
    const missing: string[] = [];
    for (const id of ids) {
      const customerId = cache.get(tenantKey(tenant, id));
      if (customerId === undefined) missing.push(id);
      else found.set(id, customerId);
    }
    if (missing.length > 0) {
      const rows = await queriesOf<OrderQueries>({ services }).execute(
        query,
        { ids: missing },
        { caller: SYSTEM_CALLER, consistency: { after: at } },
      );
      for (const row of rows) {
        cache.set(tenantKey(tenant, row.id), row.customerId);
        found.set(row.id, row.customerId);
      }
    }
    return found;
  };
}

export function orderLiveSources(builder: Builder): void {
  const customersOf = orderCustomers(new LRUCache<string, string>({ max: 100_000 }));
  liveSources(builder).push(
    {
      projection: ORDERS_PROJECTION,
      async keys(services, ids, at) {
        const customers = await customersOf(services, 'orderCustomers', ids, at);
        return customers.size === 0
          ? []
          : [ANY_ROW, ...[...customers].flatMap(([id, customerId]) => [orderKey(id), customerKey(customerId)])];
      },
    },
    {
      projection: CUSTOMER_SUMMARIES_PROJECTION,
      async keys(services, ids, at) {
        const customers = await customersOf(services, 'summaryCustomers', ids, at);
        return [...customers.values()].map(customerKey);
      },
    },
  );
}

// What the Orders queries read, for live queries: an order ('order:<id>'), a customer's orders and
// summary ('customer:<id>'), or every order (ANY_ROW, an admin's search); and which of those keys each
// advance of `orders` and `customer_summaries` touched (the changed orders, and their customers as each
// projection's own tables know them).
import { SYSTEM_CALLER } from '../../core/caller.ts';
import type { Position } from '../../core/position.ts';
import type { Builder } from '../../graphql/builder.ts';
import { type GraphQLServices, queriesOf } from '../../graphql/context.ts';
import { ANY_ROW, liveSources } from '../../graphql/live-sources.ts';
import type { OrderQueries } from '../module.ts';
import { CUSTOMER_SUMMARIES_PROJECTION } from '../read-models/customer-summaries.ts';
import { ORDERS_PROJECTION } from '../read-models/orders.ts';

export const orderKey = (id: string) => `order:${id}`;
export const customerKey = (id: string) => `customer:${id}`;

const customersOf = (services: GraphQLServices, query: 'orderCustomers' | 'summaryCustomers', ids: readonly string[], at: Position) =>
  queriesOf<OrderQueries>({ services }).execute(query, { ids: [...ids] }, { caller: SYSTEM_CALLER, consistency: { after: at } });

export function orderLiveSources(builder: Builder): void {
  liveSources(builder).push(
    {
      projection: ORDERS_PROJECTION,
      async keys(services, ids, at) {
        const rows = await customersOf(services, 'orderCustomers', ids, at);
        return rows.length === 0 ? [] : [ANY_ROW, ...rows.flatMap((row) => [orderKey(row.id), customerKey(row.customerId)])];
      },
    },
    {
      projection: CUSTOMER_SUMMARIES_PROJECTION,
      async keys(services, ids, at) {
        const rows = await customersOf(services, 'summaryCustomers', ids, at);
        return rows.map((row) => customerKey(row.customerId));
      },
    },
  );
}

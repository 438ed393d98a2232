// The Orders domain as a DomainModule: the Order aggregate, its events' schema versions, the `orders` and
// `customer_summaries` read models (projections and queries), and the access check on the event store.
import { defineModule, type QueryTypes } from '../core/module.ts';
import { orderEventSchemas } from './events.ts';
import { orderAccessQuery } from './order-access.ts';
import { orderAggregate } from './order-aggregate.ts';
import { customerSummariesProjection, customerSummaryQuery } from './read-models/customer-summaries.ts';
import { customerOrdersQuery, orderQuery, ordersProjection, searchOrdersQuery } from './read-models/orders.ts';

export const ordersModule = defineModule({
  name: 'orders',
  events: orderEventSchemas,
  aggregates: [orderAggregate],
  projections: [ordersProjection, customerSummariesProjection],
  queries: {
    order: orderQuery,
    customerOrders: customerOrdersQuery,
    searchOrders: searchOrdersQuery,
    customerSummary: customerSummaryQuery,
    orderAccess: orderAccessQuery,
  },
});

export type OrderQueries = QueryTypes<typeof ordersModule.queries>;

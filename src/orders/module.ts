// The Orders domain as a DomainModule: the Order aggregate and each order's fulfilment (the outcome the
// fulfilment process records, which shipping rests on), their events' schema versions, the `orders` and
// `customer_summaries` read models (projections and queries), the access check on the event store, the
// public events other services see and the payments they send back.
import { defineModule, type QueryTypes } from '../core/module.ts';
import { orderEventSchemas } from './events.ts';
import { fulfilmentEventSchemas } from './fulfilment/events.ts';
import { fulfilmentAggregate } from './fulfilment/fulfilment-aggregate.ts';
import { orderAccessQuery } from './order-access.ts';
import { orderAggregate } from './order-aggregate.ts';
import { paymentsCaptured } from './payments.ts';
import { orderPublicEvents } from './public-events.ts';
import { customerSummariesProjection, customerSummaryQuery, summaryCustomersQuery } from './read-models/customer-summaries.ts';
import { customerOrdersQuery, orderCustomersQuery, orderQuery, ordersProjection, searchOrdersQuery } from './read-models/orders.ts';

export const ordersModule = defineModule({
  name: 'orders',
  events: { ...orderEventSchemas, ...fulfilmentEventSchemas },
  aggregates: [orderAggregate, fulfilmentAggregate],
  projections: [ordersProjection, customerSummariesProjection],
  queries: {
    order: orderQuery,
    customerOrders: customerOrdersQuery,
    searchOrders: searchOrdersQuery,
    customerSummary: customerSummaryQuery,
    orderAccess: orderAccessQuery,
    orderCustomers: orderCustomersQuery,
    summaryCustomers: summaryCustomersQuery,
  },
  publicEvents: orderPublicEvents,
  inbound: [paymentsCaptured],
});

export type OrderQueries = QueryTypes<typeof ordersModule.queries>;

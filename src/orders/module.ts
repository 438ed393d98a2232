// The Orders domain as a DomainModule: the Order aggregate, its events' schema versions, the `orders` and
// `customer_summaries` projections, and the queries over them.
import type { DomainModule } from '../core/module.ts';
import { orderEventSchemas } from './events.ts';
import { orderAggregate } from './order-aggregate.ts';
import { customerSummariesProjection } from './projections/customer-summaries.ts';
import { ordersProjection } from './projections/orders.ts';
import { orderQueries } from './queries/index.ts';

export const ordersModule: DomainModule = {
  name: 'orders',
  events: orderEventSchemas,
  aggregates: [orderAggregate],
  projections: [ordersProjection, customerSummariesProjection],
  queries: orderQueries,
};
